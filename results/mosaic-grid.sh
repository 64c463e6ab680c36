#!/usr/bin/env bash
# The grid on protocol `cifar10-mosaic` (2 x 2 mosaics of CIFAR-10 images, up to four labels
# of ten; 2,000 queries, 20,000 training = database; mAP@5000, NDCG@1000, ACG@1000 and
# weighted mAP@5000), in priority order: every step resumes from its records, so the script
# can be cut anywhere and run again. Deep methods run at their defaults under the shared
# `scratch` recipe, with the protocol's [recipe] budget (4,500 items an epoch, the size of
# protocol cifar10's training set, and validation against 5,000 training items), its warm
# start's length first chosen on validation.
set -u
cd "$(dirname "$0")/.."
out=${OUT:-results}
data="--dataset cifar10-mosaic --protocol cifar10-mosaic"

# Records of the protocol file's earlier versions (the classic six's, before the graded metrics
# and the [recipe] table, kept no codes) move to superseded/, out of the tables: their runs
# come again below under the file as it is, with codes and every metric.
python3 - "$out" <<'EOF'
import json, shutil, sys
from pathlib import Path
from hashbench.splits.protocol import load_protocol
out, name = Path(sys.argv[1]), "cifar10-mosaic"
current = load_protocol(name).checksum
for record in sorted((out / "records" / name).glob("*.json")):
    if json.loads(record.read_text())["protocol"]["checksum"] == current:
        continue
    for kind, suffix in (("records", ".json"), ("codes", ".npz")):
        source = out / kind / name / (record.stem + suffix)
        if source.exists():
            target = out / "superseded" / kind / name / source.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(source, target)
EOF

# The classic six on GIST at the protocol's code lengths (24, 48, 64, 128).
hashbench run --methods lsh,sh,sklsh,pcah,itq,fssh $data --feature gist --results "$out"
# The protocol's budget, as the paper protocol's was chosen (results/cifar10-dmrh-grid.sh): the
# shared warm start's length compared on DPSH at 48 bits, with its authors' bank (pinned, so
# that the comparison stands whichever way the bank's goes) on validation (1,000 held-out training
# mosaics searching 5,000 others, never the queries); results/settled.py stops the script where
# the protocol's default is not the best, so that its [recipe] moves first (it moved from 60 to
# 200 epochs: validation 0.960 / 0.967 / 0.970). On the Xeon a warm-start epoch of 64-px
# mosaics takes 7.3-8 s with nothing beside it and a hashing epoch 15-17 s: the three runs
# took 24, 22 and 42 min wall, about 1.5 h (slowed by work beside them); the grid below reuses
# the 200-epoch warm start (seed 0) from the cache.
for epochs in 60 120 200; do
  hashbench run --methods dpsh $data --bits 48 --set dpsh.bank=true \
    --set dpsh.warm_start_epochs=$epochs --results "$out/sweep"
done
python3 results/settled.py "$out/sweep" cifar10-mosaic dpsh warm_start_epochs bank=true || exit 1
# DPSH's bank of every item's codes against in-batch pairs, as on the other protocols (its bank
# won on cifar10, whose epochs visit every item, and lost on cifar10-dmrh, where a row waits
# 11 epochs for its refresh; here 19,000 training mosaics, 4,500 an epoch: 4.2). Where in-batch
# pairs win, the protocol's [recipe.dpsh] moves before the grid runs.
hashbench run --methods dpsh $data --bits 48 --set dpsh.bank=false --results "$out/sweep"
python3 results/settled.py "$out/sweep" cifar10-mosaic dpsh bank || exit 1
python3 results/copy-default-runs.py "$out/sweep" "$out" cifar10-mosaic dpsh
# The nine deep methods at 48 bits, seed 0 (a cell's run that the fall rule at the end settled,
# in sweep/ at the rate the protocol's [recipe.<method>.<bits>] now gives, copied in first).
python3 results/copy-default-runs.py --bits 24,48,64,128 "$out/sweep" "$out" cifar10-mosaic \
  dsh dpsh dsdh dch ddsh adsh dmrh hashnet csq
hashbench run --methods dsh,dpsh,dsdh,dch,ddsh,adsh,hashnet,csq,dmrh $data --bits 48 \
  --results "$out"
# DMRH's N sweep at 48 bits (N = 1..4; the default's run above is one of them), before the
# other lengths: it is the question this protocol was built for, and costs less. The network
# reads a mosaic at 32 + 8 (N - 1) pixels and each region is a 32-pixel window of it, 8 pixels
# apart: at N = 2 (40 px) each of the four windows leans to one quadrant but covers 80% of the
# mosaic's side, so a region holds one tile whole and parts of the other three, not one object.
for n in 1 2 3 4; do
  hashbench run --methods dmrh $data --bits 48 --set dmrh.regions=$n --results "$out"
done
# As on cifar10-dmrh, DMRH takes the N that validation chose before it runs at the other
# lengths: where another N beats the default, the protocol's [recipe.dmrh] moves to it first.
python3 results/settled.py "$out" cifar10-mosaic dmrh regions || exit 1
# DPSH, CSQ and DMRH at the other code lengths.
hashbench run --methods dpsh,csq,dmrh $data --bits 24,64,128 --results "$out"
# DDSH's bits under its authors' solver before its fall is laddered: here about four pairs in
# five share a label, and with {0, 1} targets the exact per-entry descent may set a bit alike on
# most sampled items (a reviewer's numpy toy: 27 of 48 bits constant), where the authors'
# Solve.m splits every bit in half (`solver`, methods/ddsh.py); where it wins on validation, the
# protocol's [recipe.ddsh] takes it first.
hashbench run --methods ddsh $data --bits 48 --set ddsh.solver=balanced --results "$out"
python3 results/settled.py "$out" cifar10-mosaic ddsh solver || exit 1
# ADSH's similarity likewise: its authors' code replaces the paper's s in {-1, 1} by {-r, 1},
# r = similar / dissimilar pairs, which softens the dissimilar target on single labels
# (r = 0.11) and on their NUS-WIDE (r = 0.96) but here (r = 4) asks u^T v = -4K of dissimilar
# pairs, out of any code's reach; ADSH fell here under it (0.946 -> 0.924). The paper's
# {-1, 1} compared on validation.
hashbench run --methods adsh $data --bits 48 --set adsh.soft_similarity=false --results "$out"
python3 results/settled.py "$out" cifar10-mosaic adsh soft_similarity || exit 1
# One rule for every method where a run fell on validation, as on cifar10-dmrh: the cell
# trained again at half the rate until a run holds (results/fallen.sh); before the control
# below, so that the table's cells come first. DSH, DDSH and ADSH fell at 48 bits.
bash results/fallen.sh "$out" cifar10-mosaic cifar10-mosaic || exit 1
# The control that separates the regions from the warm start's scale, where they differ most:
# N = 4 on a warm start of its own, trained at its 56-px input (a variant). On cifar10 the
# shared 32-px warm start lost 0.09 mAP at N = 4 where DMRH's own lost nothing (results/README).
hashbench run --methods dmrh $data --bits 48 --set dmrh.regions=4 \
  --set dmrh.own_warm_start=true --results "$out"
