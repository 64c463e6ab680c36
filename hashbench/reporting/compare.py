"""``hashbench compare A B``: is the difference between two runs, or two methods, real?

A and B are two runs (record files, or run names under ``--results``) or two methods on one
protocol and code length (their runs at the defaults, every seed). The runs are paired by
seed, and each pair must have searched the same queries; over those queries the command gives
the paired mean difference, its bootstrap interval and the sign-flip test's p-value
(:mod:`hashbench.evaluation.inference`), each run's own interval, and, where a side has
several seeds, how the spread across seeds compares with the spread from the queries alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hashbench.errors import HashbenchError
from hashbench.evaluation.inference import (
    ALPHA,
    FLIPS,
    LEVEL,
    RESAMPLES,
    bootstrap_interval,
    sign_flip_test,
)
from hashbench.records import iter_record_files, read_record, records_folder, variant
from hashbench.reporting.runs import Run, load_run
from hashbench.reporting.significance import by_seed, differences, per_query, unpaired
from hashbench.reporting.tables import method_title, metric_value


@dataclass(frozen=True)
class Side:
    """One side of a comparison: its runs (one per seed) and how to call it."""

    name: str
    runs: list[Run]


def compare(
    results: Path,
    first: str,
    second: str,
    protocol: str | None = None,
    bits: int | None = None,
    metric: str = "map",
) -> str:
    """The comparison's text; every reason it cannot be made is one HashbenchError line."""
    a, b, named_runs = _sides(results, first, second, protocol, bits)
    # Two runs named pair as they are (their queries are checked); methods pair by seed.
    pairs = [(a.runs[0], b.runs[0])] if named_runs else by_seed(a.runs, b.runs)
    if not pairs:
        raise HashbenchError(
            f"{a.name} (seeds {_seeds(a.runs)}) and {b.name} (seeds {_seeds(b.runs)}) have no "
            "seed in common, so no queries in common: each seed draws its own"
        )
    for run_a, run_b in pairs:
        if reason := unpaired(run_a, run_b, metric):
            raise HashbenchError(f"cannot pair {a.name} with {b.name}: {reason}")
    key = metric_value(pairs[0][0].record, metric)[0]
    lines = [
        f"A: {a.name}",
        f"B: {b.name}",
        f"{key}; {LEVEL:.0%} intervals from {RESAMPLES:,} bootstrap resamples of the queries",
        "",
        *_run_lines(a, b, metric),
        "",
        *_paired_lines(pairs, metric, key),
    ]
    for side in (a, b):
        lines += _spread_lines(side, metric)
    if len(pairs) > 1:
        lines += _difference_spread_lines(pairs, metric)
    return "\n".join(lines) + "\n"


def _sides(
    results: Path, first: str, second: str, protocol: str | None, bits: int | None
) -> tuple[Side, Side, bool]:
    """The two sides, and whether they are two named runs (else two methods)."""
    runs = [_named_run(results, operand) for operand in (first, second)]
    if runs[0] is not None and runs[1] is not None:
        return Side(runs[0].name, [runs[0]]), Side(runs[1].name, [runs[1]]), True
    if any(run is not None for run in runs):
        raise HashbenchError(
            f"compare two runs or two methods, not one of each ({first!r}, {second!r})"
        )
    if bits is None:
        raise HashbenchError(
            f"{first!r} and {second!r} are not runs; to compare two methods give --bits "
            "(and --protocol where they ran on several)"
        )
    everything = [
        load_run(results, path, record)
        for path, record in iter_record_files(records_folder(results))
    ]
    protocol = protocol or _shared_protocol(everything, (first, second), bits)
    sides = [_method_side(everything, method, protocol, bits) for method in (first, second)]
    return sides[0], sides[1], False


def _named_run(results: Path, operand: str) -> Run | None:
    """The run a record path or run name names; None for anything else (a method)."""
    path = Path(operand)
    if path.suffix == ".json":
        if not path.is_file():
            raise HashbenchError(f"no record {path}")
        if path.parent.parent.name != "records":
            raise HashbenchError(
                f"{path} is not under <results>/records/<protocol>/, so its codes cannot be "
                "found; give the record inside its results folder"
            )
        return load_run(path.parent.parent.parent, path, read_record(path))
    found = sorted((results / "records").glob(f"*/{operand}.json"))
    if len(found) > 1:
        raise HashbenchError(
            f"run {operand!r} is in several protocols ({', '.join(p.parent.name for p in found)});"
            " give its record file instead"
        )
    return load_run(results, found[0], read_record(found[0])) if found else None


def _shared_protocol(runs: Sequence[Run], methods: Sequence[str], bits: int) -> str:
    protocols = []
    for method in methods:
        found = {r.protocol for r in runs if r.record["method"] == method and r.bits == bits}
        if not found:
            raise HashbenchError(
                f"no run of {method!r} at {bits} bits; `hashbench table` lists what there is, "
                "`hashbench list` the methods"
            )
        protocols.append(found)
    shared = sorted(set.intersection(*protocols))
    if len(shared) != 1:
        found = ", ".join(shared) if shared else "none"
        raise HashbenchError(
            f"{' and '.join(methods)} at {bits} bits share protocols: {found}; "
            "name one with --protocol"
        )
    return shared[0]


def _method_side(runs: Sequence[Run], method: str, protocol: str, bits: int) -> Side:
    chosen = [
        run
        for run in runs
        if run.record["method"] == method
        and run.protocol == protocol
        and run.bits == bits
        and not variant(run.record)
    ]
    if not chosen:
        raise HashbenchError(
            f"no run of {method!r} at its defaults, {bits} bits, protocol {protocol}; "
            "`hashbench table` lists what there is, `hashbench list` the methods"
        )
    seeds = [run.seed for run in chosen]
    if len(set(seeds)) != len(seeds):
        raise HashbenchError(f"{method} has several default runs of one seed at {bits} bits")
    name = f"{method_title(method)}, protocol {protocol}, {bits} bits, seeds {_seeds(chosen)}"
    return Side(name, sorted(chosen, key=lambda run: run.seed))


def _seeds(runs: Sequence[Run]) -> str:
    return ", ".join(str(run.seed) for run in runs)


def _run_lines(a: Side, b: Side, metric: str) -> list[str]:
    lines = []
    for letter, side in (("A", a), ("B", b)):
        for run in side.runs:
            interval = bootstrap_interval([per_query(run, metric)])
            lines.append(
                f"{letter}  {run.name:<40} seed {run.seed}  {interval.mean:.4f}  "
                f"({interval.low:.4f} to {interval.high:.4f})"
            )
    return lines


def _paired_lines(pairs: Sequence[tuple[Run, Run]], metric: str, key: str) -> list[str]:
    strata = differences(pairs, metric)
    interval = bootstrap_interval(strata)
    p = sign_flip_test(strata)
    count = sum(len(values) for values in strata)
    exact = 2**count <= FLIPS
    how = "every sign pattern" if exact else f"{FLIPS:,} random sign patterns"
    verdict = "significant" if p < ALPHA else "not significant"
    return [
        f"Paired over the {count:,} queries of seed(s) {_seeds([a for a, _ in pairs])}, "
        "the same queries on both sides:",
        f"  A - B = {interval.mean:+.4f} {key}, {LEVEL:.0%} interval {interval.low:+.4f} to "
        f"{interval.high:+.4f}",
        f"  sign-flip test p = {p:.4g} ({how}): {verdict} at alpha = {ALPHA}",
    ]


def _spread_lines(side: Side, metric: str) -> list[str]:
    """Seed-to-seed spread against the queries' own, where the side has several seeds."""
    if len(side.runs) < 2:
        return []
    values = [per_query(run, metric) for run in side.runs]
    means = [float(v.mean()) for v in values]
    errors = [bootstrap_interval([v]).std_error for v in values]
    return ["", *_sources(side.name, means, errors, "its mAP")]


def _difference_spread_lines(pairs: Sequence[tuple[Run, Run]], metric: str) -> list[str]:
    strata = differences(pairs, metric)
    means = [float(values.mean()) for values in strata]
    errors = [bootstrap_interval([values]).std_error for values in strata]
    return ["", *_sources("A - B", means, errors, "the difference")]


def _sources(name: str, means: list[float], errors: list[float], what: str) -> list[str]:
    """Which source dominates: each seed draws its own queries, so the variance across seeds
    holds the queries' (the mean squared bootstrap error) plus training's (the rest)."""
    across = float(np.std(means, ddof=1))
    queries = float(np.sqrt(np.mean(np.square(errors))))
    training = float(np.sqrt(max(across**2 - queries**2, 0.0)))
    dominant = "the seeds (training)" if training > queries else "the queries"
    return [
        f"Sources of variation, {name}: {what} varies by {across:.4f} across "
        f"{len(means)} seeds (standard deviation) and by {queries:.4f} from the queries alone "
        f"(bootstrap standard error of one seed); training adds about {training:.4f}: "
        f"{dominant} dominate."
    ]
