#!/usr/bin/env bash
# Run the test suite once per Keras backend: tensorflow, jax, torch.
# Extra arguments go to pytest (e.g. tools/test.sh -x tests/layers).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}  # torch stalls on a busy CPU otherwise
failed=()
for backend in tensorflow jax torch; do
  echo "=== KERAS_BACKEND=$backend"
  KERAS_BACKEND=$backend "$PY" -m pytest -q "$@" || failed+=("$backend")
done
if [ ${#failed[@]} -ne 0 ]; then
  echo "FAILED on: ${failed[*]}"
  exit 1
fi
