#!/usr/bin/env bash
# The DMRH paper's own table on its own protocol, `cifar10-dmrh` (the 50,000 training images
# are the training set and the database, the 10,000 test images the queries, mAP@5000 at
# 24/48/64/128 bits), in priority order: every step resumes from its records, so the script
# can be cut anywhere and run again. First the choices this protocol's budget and DMRH's
# defaults rest on, each on validation (the protocol's validation split searching a sample of
# the training items, never the queries); results/settled.py stops the script where a default
# is not the best of its comparison, so that it is moved (and named in a commit) before the
# grid runs on it. Then `hashbench reproduce dmrh`: the whole grid, the paper-layout table,
# the figures and a README in results/reproduce-dmrh/.
set -u
cd "$(dirname "$0")/.."
out=${OUT:-results}
data="--dataset cifar10 --protocol cifar10-dmrh"
# The warm starts this grid trained (one per seed, 25 minutes on the Xeon, 50 on the EPYC) are
# kept in results/warm-starts/: a grid resumed on another machine, whose cache is empty, then
# fine-tunes the same ones instead of training its own (not bit-identical across CPUs).
cache=$(python3 -c "from hashbench.data.cache import cache_root; print(cache_root())")
mkdir -p "$cache/warm-start" && cp -n results/warm-starts/*.pt "$cache/warm-start/"

# The protocol's budget (its [recipe]: epochs of 4,500 items, as protocol cifar10's): the warm
# start's length, which every method shares, compared on DPSH at its default rate with its
# authors' bank (its default then; the bank's comparison below came after). 200 epochs
# (900,000 images, 18 passes over the 49,000): about 23 minutes on the Xeon at its measured
# 6.8 s an epoch, within the 25-minute target the issue sets. The hashing phase keeps
# cifar10's 20 epochs (a run with encoding: 11-16 minutes on the 2-core EPYC, about 5-7 on the
# Xeon), so its length is set by the budget, not compared.
for epochs in 60 120 200; do
  hashbench run --methods dpsh $data --bits 48 --set dpsh.bank=true \
    --set dpsh.warm_start_epochs=$epochs --results "$out/sweep"
done
python3 results/settled.py "$out/sweep" cifar10-dmrh dpsh warm_start_epochs bank=true || exit 1
# DMRH as its authors train it pairs each batch with a bank of every training item's fused code
# and clips gradients to norm 1: each measured here under the shared recipe, at N = 2, DMRH's
# default then (the N sweep below later chose N = 1 on this protocol; pinned, so that the
# comparisons stand as they were made).
dmrh2="--methods dmrh $data --bits 48 --set dmrh.regions=2"
hashbench run $dmrh2 --results "$out/sweep"
hashbench run $dmrh2 --set dmrh.bank=true --results "$out/sweep"
hashbench run $dmrh2 --set dmrh.clip_grad_norm=1.0 --results "$out/sweep"
python3 results/settled.py "$out/sweep" cifar10-dmrh dmrh bank regions=2 || exit 1
python3 results/settled.py "$out/sweep" cifar10-dmrh dmrh clip_grad_norm regions=2 || exit 1
# The hashing phase's length, on DMRH, whose validation was still rising at the 20th epoch:
# 40 epochs scored 0.879 against 0.876, inside one seed's spread (0.011 on cifar10), for twice
# the time (34 minutes on the EPYC, past the issue's 6-minute target on the Xeon), so the
# budget keeps 20. Recorded, not settled-checked: the length is the budget's, not a tuning.
hashbench run $dmrh2 --set dmrh.epochs=40 --results "$out/sweep"
# DPSH's bank the same way: a bank's row is refreshed once a pass, and this budget's hashing
# phase makes 1.8 passes. The protocol's [recipe.dpsh] sets what won (in-batch pairs).
hashbench run --methods dpsh $data --bits 48 --results "$out/sweep"
python3 results/settled.py "$out/sweep" cifar10-dmrh dpsh bank || exit 1

# The grid: classic six on GIST, the paper's seven deep methods and HashNet, CSQ, HybridHash at
# 48 bits, DMRH's N sweep N = 1..6 at 48 bits (below, before reproduce), the ten at 24/64/128,
# seeds 1 and 2 of DPSH and DMRH at 48 bits.
# The sweeps' runs at the defaults (DPSH's and DMRH's 48-bit cells) are the grid's: copied in,
# not trained again.
python3 results/copy-default-runs.py "$out/sweep" "$out" cifar10-dmrh dpsh dmrh
# DMRH's number of regions on this protocol, chosen on validation as its other settings were:
# N = 1..6 at 48 bits (N = 2 was its default from protocol cifar10's validation), which are
# also the paper's figure. Where another N scores higher, the protocol's
# [recipe.dmrh] moves to it before DMRH runs at the other lengths and seeds (reproduce's own
# N sweep then finds these runs recorded). It moved to N = 1 (0.896 against N = 2's 0.876).
for n in 1 2 3 4 5 6; do
  hashbench run --methods dmrh $data --bits 48 --set dmrh.regions=$n --results "$out"
done
python3 results/settled.py "$out" cifar10-dmrh dmrh regions || exit 1
# DDSH's solver of each bit on validation at 48 bits, as on the mosaics, where its authors'
# Solve.m (a balanced split of every bit) beat the exact descent, 0.958 against 0.936: where it
# wins here too, the protocol's [recipe.ddsh] takes it before the tables.
hashbench run --methods ddsh $data --bits 48 --set ddsh.solver=balanced --results "$out"
python3 results/settled.py "$out" cifar10-dmrh ddsh solver || exit 1
# A cell's run that the fall rule below settled (trained in sweep/ at the rate the protocol's
# [recipe.<method>.<bits>] now gives) is its run at the defaults: copied in, not trained again.
python3 results/copy-default-runs.py --bits 24,48,64,128 "$out/sweep" "$out" cifar10-dmrh \
  dsh dpsh dsdh dch ddsh adsh dmrh hashnet csq hybridhash
# The control that separates the regions from the warm start's scale where the shared 32-px
# warm start meets the largest inputs: N = 5 and 6 (64- and 72-px inputs) end below FSSH on it
# (0.5915 and 0.4746 mAP@5000; FSSH 0.6275), their loss barely leaving log 2's plateau. Each
# here on a warm start of its own, trained at its input with region-averaged logits (a
# variant, drawn beside the N curve). On protocol cifar10 the same control at N = 1..4 kept
# N = 4 at 0.681 where the shared warm start gave 0.593. The most expensive step: about 2.3
# and 2.8 Xeon hours (a 64-px warm-start epoch costs about 4x a 32-px one), so it runs last
# before the tables.
for n in 5 6; do
  hashbench run --methods dmrh $data --bits 48 --set dmrh.regions=$n \
    --set dmrh.own_warm_start=true --results "$out"
done
hashbench reproduce dmrh --results "$out" --seeds 0,1,2
# One rule for every method where a run fell on validation (‡: its last hashing epoch more
# than 0.01 below its first; DSH, DDSH and ADSH at 128 bits, whose losses grow with the code
# length, at rates chosen at 48 bits): the cell is trained again at half the rate, then a
# quarter, ..., until a run holds (results/fallen.sh). It stops the script where one held, so
# that the protocol's [recipe.<method>.<bits>] takes that rate in a commit; run again, the
# script then copies that run in above and reproduce rewrites the table with it.
bash results/fallen.sh "$out" cifar10 cifar10-dmrh || exit 1
