#!/usr/bin/env bash
# The prepared GPU check (issue 32): what hashbench's first run on a CUDA machine must show.
#
#   results/gpu-check.sh      # from any folder; needs hashbench installed with '.[test]'
#
# In under 10 minutes (each step has its own time limit: 100 + 120 + 45 + 300 + 20 s at most;
# the paper runs get the most, and a grid cut short keeps its finished records), into
# results/gpu/ (GPU_CHECK_OUT):
#   summary.txt      the device first (torch, CUDA, GPU, compute capability, precision), then a
#                    PASS or FAIL line per check and per step
#   environment.json, evaluator.json, fits.json, resume.json
#                    hashbench.experiment.gpucheck: the evaluator on 10K x 50K random codes on
#                    the GPU and the CPU (same metrics, time, peak memory); every deep method
#                    fitted at a tiny size under sync-debug mode (record on cuda, no host sync
#                    every batch); a fit interrupted and resumed; a CPU checkpoint refused
#   benchmarks.json  pytest tests/benchmarks --benchmarks
#   cuda-tests.log   the tests marked cuda (pytest -m cuda)
#   paper/           the paper protocol's DMRH and DPSH at 48 bits on CIFAR-10 (found where
#                    hashbench looks: $HASHBENCH_DATA, ./data, ../shared/data); records.txt
#                    says each trained and was evaluated on the GPU
#   *.log            each step's output
#
# GPU_CHECK_SIZE=tiny runs every step at a tiny size on whatever device hashbench picks (the
# CPU included): tiny fits and codes, no benchmarks, and the paper protocol's command on
# scikit-learn's digits with a thin network and 1 + 1 epochs, each step given 4 times its
# limit (the limits budget a GPU's 10 minutes; on a busy 2-core CPU importing torch alone can
# take 20 s). tests/test_gpu_check.py runs it so.
set -uo pipefail
cd "$(dirname "$0")/.."
size=${GPU_CHECK_SIZE:-full}
slack=1
[[ $size == tiny ]] && slack=4
out=${GPU_CHECK_OUT:-results/gpu}
python=${PYTHON:-python}
summary=$out/summary.txt
failed=0
mkdir -p "$out"
: >"$summary"

# step NAME SECONDS COMMAND...: run COMMAND within SECONDS (then interrupted as by Ctrl-C, so a
# grid keeps its finished runs), its output into NAME.log, a PASS or FAIL line into summary.txt.
step() {
  local name=$1 limit=$(($2 * slack)) started=$SECONDS status
  shift 2
  timeout -s INT -k 15 "$limit" "$@" >"$out/$name.log" 2>&1
  status=$?
  local verdict=PASS
  ((status == 0)) || { verdict=FAIL; failed=1; }
  echo "$verdict $name: exit $status after $((SECONDS - started)) s: $*" >>"$summary"
  return "$status"
}

# The Python checks write summary.txt's first lines; exit 2: no CUDA for the full size, stop.
step checks 100 "$python" -m hashbench.experiment.gpucheck steps --size "$size" --out "$out"
if (($? == 2)); then
  cat "$out/checks.log" >&2
  exit 2
fi

if [[ $size == full ]]; then
  step benchmarks 120 "$python" -m pytest tests/benchmarks --benchmarks -q -p no:cacheprovider \
    --benchmark-json "$out/benchmarks.json"
  paper=(--dataset cifar10 --protocol cifar10-dmrh)
else
  echo "SKIP benchmarks: not at the tiny size" >>"$summary"
  paper=(--dataset digits)
  for method in dmrh dpsh; do
    for setting in width=0.125 warm_start_epochs=1 epochs=1; do
      paper+=(--set "$method.$setting")
    done
  done
fi
step cuda-tests 45 "$python" -m pytest -m cuda tests -q -p no:cacheprovider
step paper 300 "$python" -m hashbench run --methods dmrh,dpsh "${paper[@]}" --bits 48 \
  --results "$out/paper"
step records 20 "$python" -m hashbench.experiment.gpucheck records "$out/paper/records" \
  --out "$out/records.txt"
[[ -f $out/records.txt ]] && cat "$out/records.txt" >>"$summary"

cat "$summary"
exit "$failed"
