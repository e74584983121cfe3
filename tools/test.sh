#!/usr/bin/env bash
# Run the test suite once per Keras backend: tensorflow, jax, torch.
# Extra arguments go to pytest (e.g. tools/test.sh -x tests/layers).
#
# Two lanes run side by side (jax | tensorflow then torch): much of a test's
# time is single-threaded tracing and compiling, so on two cores this takes
# about half the time of one backend after another. Each backend writes its
# own log and temp folder; the logs are printed at the end, in order.
# TEST_LANES=1 runs the backends one after another.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}  # torch stalls on a busy CPU otherwise
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

run_backend() {  # backend, then pytest arguments; output to $work/<backend>.log
  local backend=$1
  shift
  if KERAS_BACKEND=$backend "$PY" -m pytest -q -p no:cacheprovider \
      --basetemp="$work/tmp-$backend" "$@" > "$work/$backend.log" 2>&1; then
    echo ok > "$work/$backend.status"
  else
    echo failed > "$work/$backend.status"
  fi
  echo "--- KERAS_BACKEND=$backend finished: $(cat "$work/$backend.status") ($(date +%T))"
}

if [ "${TEST_LANES:-2}" = 1 ]; then
  for backend in tensorflow jax torch; do run_backend "$backend" "$@"; done
else
  run_backend jax "$@" &
  jax_lane=$!
  run_backend tensorflow "$@"
  run_backend torch "$@"
  wait "$jax_lane"
fi

failed=()
for backend in tensorflow jax torch; do
  echo "=== KERAS_BACKEND=$backend"
  cat "$work/$backend.log"
  [ "$(cat "$work/$backend.status" 2>/dev/null)" = ok ] || failed+=("$backend")
done
if [ ${#failed[@]} -ne 0 ]; then
  echo "FAILED on: ${failed[*]}"
  exit 1
fi
echo "All three backends passed."
