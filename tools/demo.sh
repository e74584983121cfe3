#!/usr/bin/env bash
# The main job: a short text8-style comparison of none / haar / learnable on
# the offline pydocs corpus (small preset), written to runs/demo.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
KERAS_BACKEND=${KERAS_BACKEND:-tensorflow} .venv/bin/python experiments/text8.py \
  --dataset=pydocs --preset=small --variants=none,haar,learnable \
  --steps=${STEPS:-300} --eval_every=50 --warmup_steps=30 --batch_size=32 \
  --learning_rate=3e-3 --out_dir=runs/demo "$@"
cat <<'NOTE'

Read the speedups above with care: in a run this short the baseline is still near its early
plateau, which overstates every mixer's gain. The long, tuned, multi-seed comparison (4,000
steps, each variant at its own best learning rate) is in docs/results.md.
NOTE
