#!/usr/bin/env bash
# The long pydocs runs of docs/results.md, one job per (variant, seed):
#
#   tools/long_runs.sh haar_s1 shift_s2 ...   [extra text8.py flags]
#
# A job is VARIANT_s<SEED>; VARIANT is one of the names below, each at its
# best peak rate from the learning-rate sweep (the variants that were not swept
# take haar's). Job NAME writes runs/long/NAME (OUT_ROOT overrides runs/long);
# a finished job is skipped and an interrupted one continues (--resume). One
# job uses one core: on 2 cores, run two of these commands side by side.
set -euo pipefail
cd "$(dirname "$0")/.."
out_root=${OUT_ROOT:-runs/long}

jobs=()
while [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; do
  jobs+=("$1")
  shift
done
if [ ${#jobs[@]} -eq 0 ]; then
  echo "usage: tools/long_runs.sh JOB [JOB ...] [text8.py flags]  (JOB: e.g. haar_s1)" >&2
  exit 2
fi

table=(  # variant, its --variant spec, its peak rate, extra text8.py flags
  "none none 4e-3"
  "haar haar 8e-3"
  "haar_16e-3 haar 1.6e-2"
  "shift shift=haar:max_kernel=2 8e-3"
  "haar_q haar_q=haar:fraction=0.25 8e-3"
  "coarse coarse=haar:levels=(3,4,5,6,7) 8e-3"
  "fine fine=haar:max_kernel=4 8e-3"
  "learnable learnable 8e-3"
  "canon canon 8e-3"
  "canon_block canon_block 8e-3"
  "haar_canon haar_canon=haar+canon 8e-3"
  "llama_none none 4e-3 --architecture=llama"
  "llama_haar haar 8e-3 --architecture=llama"
)

settings() {  # job -> spec, rate, seed, extra; 2 and one error line for a bad name
  local job=$1 variant row name known=()
  case "$job" in
    *_s[0-9]*) ;;
    *) echo "long_runs.sh: error: job $job is not VARIANT_s<SEED>" >&2; return 2 ;;
  esac
  variant=${job%_s*}
  seed=${job##*_s}
  for row in "${table[@]}"; do
    read -r name spec rate extra <<< "$row"
    [ "$name" = "$variant" ] && return 0
    known+=("$name")
  done
  echo "long_runs.sh: error: unknown variant $variant in job $job; known: ${known[*]}" >&2
  return 2
}

for job in "${jobs[@]}"; do  # check every name before the first hour-long run
  settings "$job" || exit 2
done

for job in "${jobs[@]}"; do
  settings "$job"
  out="$out_root/$job"
  if [ -f "$out/summary.json" ]; then
    echo "$job: done already ($out/summary.json)"
    continue
  fi
  echo "$job: $spec at $rate, seed $seed -> $out"
  OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} KERAS_BACKEND=${KERAS_BACKEND:-tensorflow} \
    "${PYTHON:-.venv/bin/python}" experiments/text8.py \
    --dataset=pydocs --preset=small --variants= --variant="$spec" --steps=4000 \
    --eval_every=200 --warmup_steps=200 --batch_size=32 --val_windows=512 \
    --learning_rate="$rate" --seeds="$seed" --out_dir="$out" --resume \
    $extra "$@"  # extra: no flag or one, split on purpose
done
