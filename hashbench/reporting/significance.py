"""Which differences in a table are real: intervals per cell, ties with each column's best.

Each cell's interval is the bootstrap interval of its mean over the queries of its runs (each
seed's queries resampled on their own; :mod:`hashbench.evaluation.inference`). Each cell of a
column is compared with the column's best by the paired sign-flip test over the queries both
searched, pooled over the seeds both have (each seed draws its own queries, so only runs of
one seed pair); the column's p-values are Holm-corrected, and a cell whose corrected p-value
is not below ``ALPHA`` is *tied* with the best. A cell with a run lacking codes, or no seed in
common with the best, is not tested (``tied`` is missing) and says so.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np
import pandas as pd

from hashbench.evaluation.inference import (
    ALPHA,
    Interval,
    bootstrap_interval,
    holm,
    sign_flip_tests,
)
from hashbench.reporting.runs import Run, score_all
from hashbench.reporting.tables import (
    VALIDATION,
    TableFilter,
    cell_key,
    method_title,
    metric_value,
    summarise,
)


def per_query(run: Run, metric: str) -> np.ndarray | None:
    """The run's per-query values of ``metric`` (as tables name it), None without them."""
    if run.scores is None:
        return None
    return run.scores.values.get(metric_value(run.record, metric)[0])


def by_seed(a: Sequence[Run], b: Sequence[Run]) -> list[tuple[Run, Run]]:
    """The runs of ``a`` and ``b`` paired by seed, for the seeds both have, in seed order."""
    others = {run.seed: run for run in b}
    pairs = [(run, others[run.seed]) for run in a if run.seed in others]
    return sorted(pairs, key=lambda pair: pair[0].seed)


def unpaired(a: Run, b: Run, metric: str) -> str | None:
    """Why ``a``'s and ``b``'s queries cannot be paired one by one; None when they can."""
    for run in (a, b):
        if per_query(run, metric) is None:
            return f"{run.name} has no per-query {metric}: {run.missing or 'not a query metric'}"
    if a.queries != b.queries:
        return (
            f"{a.name} and {b.name} searched different queries (their data set or splits "
            "checksums differ: another protocol, seed or data set)"
        )
    first, second = a.codes.query_indices, b.codes.query_indices
    if len(a.codes.query_codes) != len(b.codes.query_codes) or (
        first is not None and second is not None and not np.array_equal(first, second)
    ):
        return f"{a.name} and {b.name} share a splits checksum but not their queries"
    return None


def differences(pairs: Sequence[tuple[Run, Run]], metric: str) -> list[np.ndarray]:
    """Per pair, the first run's per-query values less the second's (pairs checked first
    with :func:`unpaired`)."""
    return [per_query(a, metric) - per_query(b, metric) for a, b in pairs]


def summarise_runs(
    runs: Sequence[Run], metric: str = "map", keep: TableFilter | None = None
) -> pd.DataFrame:
    """The runs' table (:func:`~hashbench.reporting.tables.summarise`) with each cell's
    interval and its test against its column's best: ``ci_low``, ``ci_high``, ``p_vs_best``
    (Holm-corrected) and ``tied``. ``val_map`` has no per-query values: no intervals."""
    summary = summarise([run.record for run in runs], metric, keep or TableFilter())
    if metric == VALIDATION:
        return summary
    cells: dict[tuple, list[Run]] = defaultdict(list)
    for run in runs:
        cells[cell_key(run.record)].append(run)
    keys = {
        row.Index: (row.method, row.variant, row.protocol, int(row.bits))
        for row in summary.itertuples()
    }
    score_all(run for key in keys.values() for run in cells[key])
    intervals = [_interval(cells[keys[index]], metric) for index in summary.index]
    summary["ci_low"] = [np.nan if i is None else i.low for i in intervals]
    summary["ci_high"] = [np.nan if i is None else i.high for i in intervals]
    summary["p_vs_best"] = np.nan
    summary["tied"] = pd.Series([None] * len(summary), dtype=object, index=summary.index)
    columns = [summary["variant"] == "", summary["protocol"], summary["bits"]]
    for _, column in summary.groupby(columns, sort=False):
        best = column.index[column["best"]][0]
        tested, tests = [], []
        for index in column.index[~column["best"]]:
            pairs = by_seed(cells[keys[index]], cells[keys[best]])
            if pairs and not any(unpaired(a, b, metric) for a, b in pairs):
                tested.append(index)
                tests.append(differences(pairs, metric))
        if tested:
            adjusted = holm(sign_flip_tests(tests))
            summary.loc[tested, "p_vs_best"] = adjusted
            for index, p in zip(tested, adjusted, strict=True):
                summary.at[index, "tied"] = bool(p >= ALPHA)
    return summary


def _interval(runs: Sequence[Run], metric: str) -> Interval | None:
    strata = [per_query(run, metric) for run in runs]
    if not strata or any(values is None for values in strata):
        return None
    return bootstrap_interval(strata)


def ranks_resolved(summary: pd.DataFrame, protocol: str) -> str:
    """A sentence per code length of the protocol's defaults table: whether the first place
    is resolved, who shares it, and how many are significantly below."""
    rows = summary[(summary["protocol"] == protocol) & (summary["variant"] == "")]
    sentences = []
    for bits, column in rows.groupby("bits"):
        leader = ", ".join(_title(row) for row in column[column["best"]].itertuples())
        others = column[~column["best"]]
        tied = [_title(row) for row in others.itertuples() if row.tied is True]
        below = sum(row.tied is False for row in others.itertuples())
        untested = len(others) - len(tied) - below
        if len(others) == 0:
            sentences.append(f"At {bits} bits only {leader} ran.")
            continue
        if untested == len(others):
            sentences.append(f"At {bits} bits {leader} leads; no rank could be tested.")
            continue
        if tied:
            text = (
                f"At {bits} bits the first place is not resolved: {leader} leads, but "
                f"{_listed(tied)} {'does' if len(tied) == 1 else 'do'} not differ from it "
                f"significantly; {below}"
            )
        else:
            text = f"At {bits} bits the first place is resolved: {leader} leads, and {below}"
        text += f" {'is' if below == 1 else 'are'} significantly below"
        if untested:
            text += f", {untested} not tested"
        sentences.append(text + ".")
    return " ".join(sentences)


def _title(row: tuple) -> str:
    return method_title(row.method)


def _listed(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
