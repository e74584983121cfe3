#!/usr/bin/env bash
# Run the test suite once per Keras backend: tensorflow, jax, torch.
# Extra arguments go to pytest (e.g. tools/test.sh -x tests/layers).
#
# Each backend's suite is cut into three parts (nine pytest runs), which two
# workers take from one queue as they come free: much of a test's time is
# single-threaded tracing, compiling and subprocesses, so the two cores stay
# busy to the end whatever each part costs. With extra arguments each backend
# is one part. Each part writes its own log and temp folder; the logs are
# printed at the end, backend by backend, each with its ten slowest tests
# (where the suite's time goes). TEST_LANES=1 runs the parts one after another.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}  # torch stalls on a busy CPU otherwise
source tools/malloc_env.sh  # huge pages for big tensors
BACKENDS=(tensorflow jax torch)
ARGS=("$@")
if [ $# -eq 0 ]; then
  PARTS=("tests/models tests/tokenizers"
         "tests/training"
         "tests/experiments tests/tools tests/layers tests/data tests/utils $(echo tests/test_*.py)")
else
  PARTS=("$*")  # one part: the arguments, as given
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# JAX compiles the same tiny models again in many tests and in every script
# a test starts; a persistent cache, fresh for each run of the suite, keeps
# each compilation to once a suite. Its maximum size turns on the file locks
# that make it safe for the two workers at once. With a maximum size every
# write scans the whole cache, so only compilations of a second or more (the
# train steps) are kept: the thousands of sub-second eager ops would make
# each write slower than the compile it saves.
export JAX_COMPILATION_CACHE_DIR="$work/jax-cache"
export JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=1
export JAX_COMPILATION_CACHE_MAX_SIZE=$((4 * 1024 ** 3))
# Tests run tiny models a few steps each: most of JAX's time goes to LLVM
# optimising code that then runs for milliseconds. Results agree to float32
# rounding; users' own runs keep the default level.
export XLA_FLAGS="${XLA_FLAGS:+$XLA_FLAGS }--xla_backend_optimization_level=0"

# The queue: one line per part, "INDEX BACKEND".
for i in "${!PARTS[@]}"; do
  for backend in "${BACKENDS[@]}"; do echo "$i $backend"; done
done > "$work/queue"

run_part() {  # index, backend: the part's pytest run into $work/<backend>-<index>.log
  local i=$1 backend=$2 args
  if [ ${#ARGS[@]} -gt 0 ]; then args=("${ARGS[@]}"); else read -ra args <<< "${PARTS[$i]}"; fi
  if KERAS_BACKEND=$backend "$PY" -m pytest -q -p no:cacheprovider --durations=10 \
      --basetemp="$work/tmp-$backend-$i" "${args[@]}" > "$work/$backend-$i.log" 2>&1; then
    echo ok > "$work/$backend-$i.status"
  else
    echo failed > "$work/$backend-$i.status"
  fi
  echo "--- KERAS_BACKEND=$backend part $((i + 1))/${#PARTS[@]}:" \
    "$(cat "$work/$backend-$i.status") ($(date +%T))"
}

worker() {  # take parts from the queue until it is empty
  local line
  while true; do
    line=$(flock "$work/lock" sh -c 'head -n 1 "$1" && sed -i 1d "$1"' _ "$work/queue")
    [ -n "$line" ] || return 0
    run_part "${line% *}" "${line#* }"
  done
}

lanes=${TEST_LANES:-2}
for _ in $(seq "$lanes"); do worker & done
wait

failed=()
for backend in "${BACKENDS[@]}"; do
  echo "=== KERAS_BACKEND=$backend"
  for i in "${!PARTS[@]}"; do
    cat "$work/$backend-$i.log"
    if [ "$(cat "$work/$backend-$i.status" 2>/dev/null)" != ok ]; then
      failed+=("$backend (${PARTS[$i]})")
    fi
  done
done
if [ ${#failed[@]} -ne 0 ]; then
  printf 'FAILED on: %s\n' "${failed[@]}"
  exit 1
fi
echo "All three backends passed."
