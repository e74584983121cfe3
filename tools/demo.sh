#!/usr/bin/env bash
# The main job, in two parts.
#
# 1. Live (about 10 minutes on 2 cores, 400 steps): the `small` GPT on the offline pydocs
#    corpus with none, haar and its local control shift (haar's kernel 2
#    alone), each at its own tuned peak rate with the long runs' cosine
#    schedule, shortened. Written to runs/demo.
# 2. The long-run studies redrawn from the records committed in results/
#    (4,000 steps, several seeds): their tables, and plots in runs/demo.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
source tools/malloc_env.sh  # huge pages for big tensors
py=.venv/bin/python
steps=${STEPS:-400}
KERAS_BACKEND=${KERAS_BACKEND:-tensorflow} "$py" experiments/text8.py \
  --dataset=pydocs --preset=small --steps="$steps" --eval_every=50 \
  --warmup_steps=$((steps / 20)) --batch_size=32 --val_windows=256 \
  --variants=none:learning_rate=4e-3,haar:learning_rate=8e-3 \
  --variant=shift=haar:max_kernel=2,learning_rate=8e-3 --out_dir=runs/demo "$@"
cat <<NOTE

That was $steps steps, one seed: a short run shows which way a mixer leans,
not by how much. The studies below are 4,000-step runs with several seeds,
redrawn from the records in results/ (docs/results.md has every command).
NOTE

# study, its baseline variant, what it ran
for study in "llama llama_none_4e-3 keras_hub's Llama decoder, small, context 128" \
             "context512 c512_none_2e-3 WaveletGPT's decoder, small, context 512"; do
  read -r name baseline about <<< "$study"
  [ -d "results/$name" ] || continue
  echo
  echo "== results/$name ($about)"
  "$py" tools/compare_runs.py "results/$name" --baseline="$baseline" \
    --out="runs/demo/$name.png"
done
