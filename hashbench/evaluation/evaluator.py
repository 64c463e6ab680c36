"""The one evaluator: mAP@K (fixed and tie-aware), precision within radius 2, precision@N and
precision-recall by radius, for any codes and labels; on multi-label data also the graded
metrics NDCG@N, ACG@N (fixed and tie-aware) and weighted mAP@K (:mod:`.graded`).

Ranking: the database is ordered by Hamming distance, ties broken by database index (stable,
deterministic; see :mod:`~hashbench.evaluation.ranking`). Relevance: a query and an item
share at least one label; graded relevance: how many. Conventions (see
:mod:`~hashbench.evaluation.metrics`): AP@K divides by the relevant items found in the top K,
0 when none; ``topk=None`` or K beyond the database means all of it; an empty set has
precision 0 and a query with no relevant item has recall 0.

It computes on the CPU in numpy, unless ``device`` names a CUDA device (a run evaluates its
codes where it trained), where :mod:`~hashbench.evaluation.cuda` does the same steps in torch:
scoring codes never loads torch otherwise. Memory stays bounded: queries go through in chunks
(on CPU one per worker thread, a thread per core up to four), and nothing larger than a
chunk's distances is materialised; never a float64 queries x database matrix.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np

from hashbench.constraints import POSITIVE_INTEGER, check
from hashbench.errors import HashbenchError
from hashbench.evaluation import graded as graded_metrics
from hashbench.evaluation import metrics as per_query
from hashbench.evaluation import ranking
from hashbench.evaluation.hamming import HammingDistances, as_bits
from hashbench.evaluation.names import AT_CUT_OFF, GRADED_AT
from hashbench.evaluation.relevance import Relevance, as_labels

#: Elements (rows x database) of one chunk. On CPU small chunks keep each step's arrays in
#: cache (32 rows of 50,000: 20% faster than 240).
_CPU_CHUNK_ELEMENTS = 1_600_000
#: Each chunk reads the whole database operand: at least this many rows share that read.
_CPU_MIN_ROWS = 16
_CUDA_CHUNK_ELEMENTS = 100_000_000
_RADIUS = 2


@dataclass(frozen=True)
class Evaluation:
    """Means over queries. ``metrics`` keys: ``map@K``/``map@all``, ``map_tie@K``,
    ``precision@r2``, ``precision@N``; on multi-label data also ``wap@K``, ``ndcg@N``,
    ``ndcg_tie@N``, ``acg@N`` and ``acg_tie@N``; ``curves``: ``pr_radius``, ``pr_precision``,
    ``pr_recall``, one entry per Hamming radius 0..bits.

    ``per_query`` holds each metric's value for every query, in query order (confidence
    intervals and paired tests resample them); ``within_radius`` the number of database items
    within Hamming distance 0, 1 and 2 of each query (what a hash-table lookup visits).
    Arrays do not compare with ``==``, so equality looks at the means alone.
    """

    metrics: dict[str, float]
    curves: dict[str, list[float]]
    per_query: dict[str, np.ndarray] = field(default_factory=dict, compare=False, repr=False)
    within_radius: np.ndarray = field(
        default_factory=lambda: np.zeros((0, _RADIUS + 1), dtype=np.int64),
        compare=False,
        repr=False,
    )


def evaluate(
    query_codes: object,
    database_codes: object,
    query_labels: object,
    database_labels: object,
    *,
    topk: int | None = 5000,
    precision_at: Sequence[int] = (100, 1000),
    graded_at: Sequence[int] = GRADED_AT,
    device: str = "cpu",
) -> Evaluation:
    """All metrics in one pass over the queries.

    ``map_tie@K`` is the expected ``map@K`` when the order within each tie of distances is
    uniformly random: see :func:`hashbench.evaluation.metrics.tie_aware_average_precision`.
    ``precision@N`` ranks like ``map@K`` and divides by min(N, database size). On multi-hot
    labels, also the graded metrics of :mod:`~hashbench.evaluation.graded` (relevance: the
    number of shared labels): ``wap@K``, and at each N of ``graded_at`` ``ndcg@N``, ``acg@N``
    and their tie-aware forms ``ndcg_tie@N``, ``acg_tie@N`` (N beyond the database: all of it).
    """
    search = _Search.build(query_codes, database_codes, query_labels, database_labels, device)
    k = search.cutoff(topk)
    depths = [check(n, POSITIVE_INTEGER, "precision_at") for n in precision_at]
    graded = [check(n, POSITIVE_INTEGER, "graded_at") for n in graded_at]
    multi_label = search.relevance.multi_label
    graded = graded if multi_label else []
    length = min(max([k, *depths, *graded]), search.size)
    bits, ranks, levels = search.bits, search.ranking, search.relevance.levels

    def per_chunk(start: int, stop: int, distances: Any) -> dict[str, np.ndarray]:
        grades = search.relevance.grades(start, stop)
        histogram = ranks.distance_histogram(distances, grades, bits, levels)
        all_counts = histogram.sum(axis=2)
        relevant_counts = all_counts - histogram[:, :, 0]
        cutoffs = ranking.cutoff_distances(all_counts, length)
        columns = ranks.top_columns(distances, bits, length, cutoffs)
        top_grades = search.relevance.at(start, stop, columns, grades)
        top = top_grades > 0 if multi_label else top_grades
        precision, recall = per_query.precision_recall_by_radius(all_counts, relevant_counts)
        values = {
            "map": per_query.average_precision(top, k),
            "map_tie": per_query.tie_aware_average_precision(all_counts, relevant_counts, k),
            "precision@r2": per_query.precision_within_radius(all_counts, relevant_counts, _RADIUS),
            "pr_precision": precision,
            "pr_recall": recall,
            "within_radius": np.cumsum(all_counts[:, : _RADIUS + 1], axis=1),
        }
        for n in depths:
            values[f"precision@{n}"] = per_query.precision_at(top, n)
        if multi_label:
            values["wap"] = per_query.average_precision(top_grades, k)
        for depth in graded:
            values.update(_graded_at(histogram, top_grades, min(depth, search.size), depth, levels))
        return values

    values = search.per_query(per_chunk)
    curves = {
        "pr_radius": [float(r) for r in range(bits + 1)],
        "pr_precision": values.pop("pr_precision").mean(axis=0).tolist(),
        "pr_recall": values.pop("pr_recall").mean(axis=0).tolist(),
    }
    within_radius = values.pop("within_radius")
    suffix = "all" if topk is None else str(topk)
    names = {name: f"{name}@{suffix}" for name in AT_CUT_OFF}
    values = {names.get(name, name): value for name, value in values.items()}
    return Evaluation(
        metrics={name: float(value.mean()) for name, value in values.items()},
        curves=curves,
        per_query=values,
        within_radius=within_radius,
    )


def _graded_at(
    histogram: np.ndarray, top_grades: np.ndarray, n: int, depth: int, levels: int
) -> dict[str, np.ndarray]:
    """NDCG@n, ACG@n and their tie-aware forms, named by the ``depth`` asked for (``n``: it
    clipped to the database)."""
    ideal = graded_metrics.ideal_dcg(histogram, n)
    dcg = graded_metrics.dcg(top_grades, n, levels)
    expected = graded_metrics.expected_dcg(histogram, n)
    return {
        f"ndcg@{depth}": graded_metrics.normalised(dcg, ideal),
        f"ndcg_tie@{depth}": graded_metrics.normalised(expected, ideal),
        f"acg@{depth}": per_query.precision_at(top_grades, n),  # the mean grade
        f"acg_tie@{depth}": graded_metrics.expected_acg(histogram, n),
    }


def mean_average_precision(
    query_codes: object,
    database_codes: object,
    query_labels: object,
    database_labels: object,
    topk: int | None,
    device: str = "cpu",
) -> float:
    """mAP@topk alone (``None``: the whole database), as in :func:`evaluate`, but faster:
    no distance histograms, the cut-off distances are estimated instead."""
    search = _Search.build(query_codes, database_codes, query_labels, database_labels, device)
    k = search.cutoff(topk)
    bits = search.bits

    def per_chunk(start: int, stop: int, distances: Any) -> dict[str, np.ndarray]:
        top = search.relevance.at(start, stop, search.ranking.top_columns(distances, bits, k))
        return {"map": per_query.average_precision(top, k)}

    return float(search.per_query(per_chunk)["map"].mean())


#: Per-query values for the query rows start:stop, given their distances.
PerChunk = Callable[[int, int, Any], dict[str, np.ndarray]]


@dataclass(frozen=True)
class _Search:
    """Validated codes and labels, the steps for the device, and the chunked loop over
    queries."""

    query_count: int
    distances: Any  # HammingDistances, or on CUDA its torch twin
    relevance: Any  # Relevance, likewise
    #: distance_histogram and top_columns: the ranking module, or the CUDA one.
    ranking: ModuleType
    on_cuda: bool

    @classmethod
    def build(
        cls,
        query_codes: object,
        database_codes: object,
        query_labels: object,
        database_labels: object,
        device: str,
    ) -> _Search:
        queries = as_bits(query_codes, "query codes")
        database = as_bits(database_codes, "database codes")
        if queries.shape[1] != database.shape[1]:
            raise HashbenchError(
                f"query codes have {queries.shape[1]} bits but database codes "
                f"{database.shape[1]}; they must match"
            )
        query_labels = as_labels(query_labels, len(queries), "query labels")
        database_labels = as_labels(database_labels, len(database), "database labels")
        if device == "cpu":
            return cls(
                query_count=len(queries),
                distances=HammingDistances(queries, database),
                relevance=Relevance(query_labels, database_labels),
                ranking=ranking,
                on_cuda=False,
            )
        if not device.startswith("cuda"):
            raise HashbenchError(f"unknown device {device!r}; use cpu, cuda or cuda:N")
        from hashbench.evaluation import cuda

        where = cuda.cuda_device(device)
        return cls(
            query_count=len(queries),
            distances=cuda.HammingDistances(queries, database, where),
            relevance=cuda.Relevance(query_labels, database_labels, where),
            ranking=cuda,
            on_cuda=True,
        )

    @property
    def bits(self) -> int:
        return self.distances.bits

    @property
    def size(self) -> int:
        return self.distances.size

    def cutoff(self, topk: int | None) -> int:
        """K clipped to the database: None or anything larger means all of it."""
        return self.size if topk is None else min(check(topk, POSITIVE_INTEGER, "topk"), self.size)

    def per_query(self, per_chunk: PerChunk) -> dict[str, np.ndarray]:
        """The per-query arrays ``per_chunk`` returns, for all queries in query order; a mean
        over them does not depend on how the queries were chunked."""
        chunks = list(self._chunks(per_chunk))
        return {name: np.concatenate([chunk[name] for chunk in chunks]) for name in chunks[0]}

    def _chunks(self, per_chunk: PerChunk) -> Iterator[dict[str, np.ndarray]]:
        if self.on_cuda:
            rows = max(1, _CUDA_CHUNK_ELEMENTS // self.size)
        else:
            rows = max(_CPU_MIN_ROWS, _CPU_CHUNK_ELEMENTS // self.size)
        starts = range(0, self.query_count, rows)
        buffers = threading.local()

        def run(start: int) -> dict[str, np.ndarray]:
            stop = min(start + rows, self.query_count)
            if not hasattr(buffers, "room"):  # one per worker thread, reused chunk after chunk
                buffers.room = self.distances.workspace(rows)
            return per_chunk(start, stop, self.distances(start, stop, buffers.room))

        if self.on_cuda:
            yield from map(run, starts)
            return
        # numpy releases the GIL in its loops, so threads keep every core busy.
        with ThreadPoolExecutor(max_workers=min(os.cpu_count() or 1, 4)) as pool:
            yield from pool.map(run, starts)
