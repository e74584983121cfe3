#!/usr/bin/env bash
# The long pydocs runs of docs/results.md, one job per (variant, seed):
#
#   tools/long_runs.sh llama_haar_8e-3_s1 c512_fine_s2 ...   [extra text8.py flags]
#
# A job is VARIANT_s<SEED>; VARIANT is one of the names below with its study,
# its --variant spec, its peak rate and its extra flags. Job NAME trains in
# runs/long/NAME (OUT_ROOT overrides runs/long); a finished job is skipped
# and an interrupted one continues (--resume). A finished job of a study
# other than pydocs_long (whose runs predate records) publishes its run
# record to results/<study>/NAME.json (RESULTS_ROOT overrides results), which
# tools/compare_runs.py reads: commit it. One job uses one core: on 2 cores,
# run two of these commands side by side.
set -euo pipefail
cd "$(dirname "$0")/.."
out_root=${OUT_ROOT:-runs/long}
results_root=${RESULTS_ROOT:-results}
python=${PYTHON:-.venv/bin/python}
source tools/malloc_env.sh  # huge pages for big tensors

jobs=()
while [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; do
  jobs+=("$1")
  shift
done
if [ ${#jobs[@]} -eq 0 ]; then
  echo "usage: tools/long_runs.sh JOB [JOB ...] [text8.py flags]  (JOB: e.g. haar_s1)" >&2
  exit 2
fi

# variant, study, its --variant spec, its peak rate, extra text8.py flags. In
# pydocs_long each variant is at its best rate from the GPT sweep (those not
# swept take haar's); the newer studies name the rate.
table=(
  "none pydocs_long none 4e-3"
  "haar pydocs_long haar 8e-3"
  "haar_16e-3 pydocs_long haar 1.6e-2"
  "shift pydocs_long shift=haar:max_kernel=2 8e-3"
  "haar_q pydocs_long haar_q=haar:fraction=0.25 8e-3"
  "coarse pydocs_long coarse=haar:levels=(3,4,5,6,7) 8e-3"
  "fine pydocs_long fine=haar:max_kernel=4 8e-3"
  "learnable pydocs_long learnable 8e-3"
  "canon pydocs_long canon 8e-3"
  "canon_block pydocs_long canon_block 8e-3"
  "haar_canon pydocs_long haar_canon=haar+canon 8e-3"
  "llama_none pydocs_long none 4e-3 --architecture=llama"
  "llama_haar pydocs_long haar 8e-3 --architecture=llama"
  # Issue 29: more seeds of the GPT baseline (seeds 3, 4), now with records.
  "gpt_none_4e-3 pydocs none 4e-3"
  # Issue 29: keras_hub's Llama decoder, `small` dimensions, context 128; the
  # sweep's grid {2e-3, 4e-3, 8e-3} and a step beyond either edge.
  "llama_none_1e-3 llama none 1e-3 --architecture=llama"
  "llama_none_2e-3 llama none 2e-3 --architecture=llama"
  "llama_none_4e-3 llama none 4e-3 --architecture=llama"
  "llama_none_8e-3 llama none 8e-3 --architecture=llama"
  "llama_none_1.6e-2 llama none 1.6e-2 --architecture=llama"
  "llama_haar_1e-3 llama haar 1e-3 --architecture=llama"
  "llama_haar_2e-3 llama haar 2e-3 --architecture=llama"
  "llama_haar_4e-3 llama haar 4e-3 --architecture=llama"
  "llama_haar_8e-3 llama haar 8e-3 --architecture=llama"
  "llama_haar_1.6e-2 llama haar 1.6e-2 --architecture=llama"
  "llama_haar_canon_1e-3 llama haar_canon=haar+canon 1e-3 --architecture=llama"
  "llama_haar_canon_2e-3 llama haar_canon=haar+canon 2e-3 --architecture=llama"
  "llama_haar_canon_4e-3 llama haar_canon=haar+canon 4e-3 --architecture=llama"
  "llama_haar_canon_8e-3 llama haar_canon=haar+canon 8e-3 --architecture=llama"
  "llama_haar_canon_1.6e-2 llama haar_canon=haar+canon 1.6e-2 --architecture=llama"
  "llama_canon_1e-3 llama canon 1e-3 --architecture=llama"
  "llama_canon_2e-3 llama canon 2e-3 --architecture=llama"
  "llama_canon_4e-3 llama canon 4e-3 --architecture=llama"
  "llama_canon_8e-3 llama canon 8e-3 --architecture=llama"
  "llama_canon_1.6e-2 llama canon 1.6e-2 --architecture=llama"
  # Issue 29: WaveletGPT's decoder, `small` dimensions, context 512, batch 8.
  "c512_none_4e-3 context512 none 4e-3 --preset=small_512 --batch_size=8"
  "c512_none_1e-3 context512 none 1e-3 --preset=small_512 --batch_size=8"
  "c512_none_2e-3 context512 none 2e-3 --preset=small_512 --batch_size=8"
  "c512_none_8e-3 context512 none 8e-3 --preset=small_512 --batch_size=8"
  "c512_haar_8e-3 context512 haar 8e-3 --preset=small_512 --batch_size=8"
  "c512_haar_4e-3 context512 haar 4e-3 --preset=small_512 --batch_size=8"
  "c512_fine_8e-3 context512 fine=haar:max_kernel=4 8e-3 --preset=small_512 --batch_size=8"
  "c512_coarse_8e-3 context512 coarse=haar:levels=(3,4,5,6,7,8,9) 8e-3 --preset=small_512 --batch_size=8"
)

settings() {  # job -> study, spec, rate, seed, extra; 2 and one error line for a bad name
  local job=$1 row name known=()
  case "$job" in
    *_s[0-9]*) ;;
    *) echo "long_runs.sh: error: job $job is not VARIANT_s<SEED>" >&2; return 2 ;;
  esac
  variant=${job%_s*}
  seed=${job##*_s}
  for row in "${table[@]}"; do
    read -r name study spec rate extra <<< "$row"
    [ "$name" = "$variant" ] && return 0
    known+=("$name")
  done
  echo "long_runs.sh: error: unknown variant $variant in job $job; known: ${known[*]}" >&2
  return 2
}

publish() {  # the finished job's record -> results/<study>/<job>.json
  [ "$study" = pydocs_long ] && return 0
  local label=${spec%%=*} record="$results_root/$study/$job.json"
  [ -f "$record" ] && return 0
  "$python" -c 'import sys; from keras_wavegpt.training.records import publish_record
publish_record(sys.argv[1], sys.argv[2], study=sys.argv[3], name=sys.argv[4], job=sys.argv[5])' \
    "$out/seed_$seed/$label" "$record" "$study" "$variant" "$job"
  echo "$job: record $record"
}

for job in "${jobs[@]}"; do  # check every name before the first hour-long run
  settings "$job" || exit 2
done

for job in "${jobs[@]}"; do
  settings "$job"
  out="$out_root/$job"
  if [ -f "$out/summary.json" ]; then
    echo "$job: done already ($out/summary.json)"
    publish
    continue
  fi
  echo "$job: $spec at $rate, seed $seed -> $out"
  OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} KERAS_BACKEND=${KERAS_BACKEND:-tensorflow} \
    "$python" experiments/text8.py \
    --dataset=pydocs --preset=small --variants= --variant="$spec" --steps=4000 \
    --eval_every=200 --warmup_steps=200 --batch_size=32 --val_windows=512 \
    --learning_rate="$rate" --seeds="$seed" --out_dir="$out" --resume \
    $extra "$@"  # extra: the row's flags, split on purpose
  publish
done
