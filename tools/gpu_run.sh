#!/usr/bin/env bash
# One command on an offline GPU host (Python 3.12, jax and torch with CUDA, no
# keras, keras_hub or TensorFlow), from a copy of the repository:
#
#   bash tools/gpu_run.sh [--smoke] [OUT_DIR [FLAGS...]]
#
# OUT_DIR defaults to $OUT, then runs/gpu; FLAGS go to tools/gpu_run.py (for
# example --backends=torch).
#
# 1. Installs the wheels carried in .whl/ (tools/gpu_wheels.txt says how to
#    download them) whose distribution the host lacks, and checks that the
#    pydocs token ids (.whl/pydocs.npz, `python tools/gpu_run.py --write_corpus`)
#    came along. It stops before any training if either is missing or wrong.
# 2. Runs tools/gpu_run.py: layer and step benchmarks at the paper preset,
#    generation speed, and a short side-by-side training run, on JAX and torch;
#    one results.json and the plots go to OUT_DIR.
#
# --smoke skips the install and runs tiny sizes on whatever device is there (a
# test runs it on CPU, so the script cannot rot between GPU runs).
set -euo pipefail
cd "$(dirname "$0")/.."
SMOKE=""
if [ "${1:-}" = "--smoke" ]; then SMOKE=--smoke; shift; fi
OUT_DIR=${1:-${OUT:-runs/gpu}}
if [ $# -gt 0 ]; then shift; fi
PY=${PYTHON:-python3}
if [ -z "$SMOKE" ]; then
  if ! "$PY" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))'; then
    echo "gpu_run: the wheels in .whl/ are for Python 3.12; this is $("$PY" -V 2>&1)" >&2
    exit 2
  fi
  shopt -s nullglob
  wheels=(.whl/*.whl)
  if [ ${#wheels[@]} = 0 ]; then
    echo "gpu_run: no wheels in .whl/; download them first (see tools/gpu_wheels.txt)" >&2
    exit 2
  fi
  for wheel in "${wheels[@]}"; do
    tags=$(basename "$wheel" .whl | rev | cut -d- -f1-3 | rev)
    case "$tags" in
      py3-none-any|py2.py3-none-any|cp312-*|cp3*-abi3-*) ;;
      *) echo "gpu_run: $wheel is not for Python 3.12 ($tags)" >&2; exit 2 ;;
    esac
  done
  if [ ! -f .whl/pydocs.npz ]; then
    echo "gpu_run: .whl/pydocs.npz is missing (python tools/gpu_run.py --write_corpus)" >&2
    exit 2
  fi
  for wheel in "${wheels[@]}"; do
    dist=$(basename "$wheel" | cut -d- -f1)
    "$PY" -m pip show -q "$dist" > /dev/null 2>&1 \
      || "$PY" -m pip install -q --no-index --no-deps "$wheel"
  done
fi
"$PY" tools/gpu_run.py --out_dir="$OUT_DIR" $SMOKE "$@"
