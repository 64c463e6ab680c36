#!/usr/bin/env bash
# One rule for every method where a run fell on validation (results/fallen.py): each fallen
# cell of PROTOCOL trained again at half the rate, then a quarter, ..., into OUT/sweep, until
# a run holds. Once every such cell has its runs, fails where a rate held (the protocol's
# [recipe.<method>.<bits>] then takes it in a commit); fails too where a run failed (it
# diverged: its line says why). A cell that fell at every rate stays marked, with a warning.
#
#     bash results/fallen.sh OUT DATASET PROTOCOL
set -u
[ $# -eq 3 ] || { echo "usage: bash results/fallen.sh OUT DATASET PROTOCOL" >&2; exit 2; }
out=$1 dataset=$2 protocol=$3
cd "$(dirname "$0")/.."
while true; do
  runs=$(python3 results/fallen.py "$out" "$out/sweep" "$protocol") || exit 1
  [ -n "$runs" ] || exit 0
  while read -r method bits seed lr; do
    hashbench run --methods "$method" --dataset "$dataset" --protocol "$protocol" \
      --bits "$bits" --seeds "$seed" --set "$method.lr=$lr" --results "$out/sweep" || exit 1
  done <<< "$runs"
done
