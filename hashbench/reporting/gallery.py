"""What a method's codes retrieve: the top database items for a seeded sample of queries.

Every method of a protocol and seed shares its queries (the split is seeded), so the sample is
drawn once, by data set position, and each method's ranking is shown for the same images. The
ranking is the evaluator's, by Hamming distance with ties in database order, the same order
for every method and every run; relevance is the protocol's (a shared label).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hashbench.evaluation.codes_file import CodesBundle
from hashbench.evaluation.relevance import Relevance
from hashbench.evaluation.search import hashbench_search


@dataclass(frozen=True)
class Ranking:
    """One query's top ``k``: database rows and data set positions, distances, relevance."""

    query_position: int  # in the data set
    rows: np.ndarray  # int64 (k,): rows of the database codes
    positions: np.ndarray  # int64 (k,): data set positions of those rows
    distances: np.ndarray  # int64 (k,)
    relevant: np.ndarray  # bool (k,)


def sample_queries(query_positions: np.ndarray, count: int, seed: int) -> np.ndarray:
    """``count`` query positions drawn without replacement, in data set order."""
    generator = np.random.default_rng(seed)
    chosen = generator.choice(len(query_positions), size=min(count, len(query_positions)),
                              replace=False)  # fmt: skip
    return np.sort(np.asarray(query_positions)[chosen])


def rank(bundle: CodesBundle, query_rows: np.ndarray, k: int) -> list[Ranking]:
    """The top ``k`` database items of each query row, nearest first, ties by database row.

    ``bundle`` must carry the data set positions of its queries and database items."""
    query_rows = np.asarray(query_rows, dtype=np.int64)
    distances, top = hashbench_search(bundle.query_codes[query_rows], bundle.database_codes, k)
    relevance = Relevance(bundle.query_labels[query_rows], bundle.database_labels)
    relevant = relevance.at(0, len(query_rows), top)
    return [
        Ranking(
            query_position=int(bundle.query_indices[row]),
            rows=top[i],
            positions=bundle.database_indices[top[i]],
            distances=distances[i],
            relevant=relevant[i],
        )
        for i, row in enumerate(query_rows)
    ]


def query_rows_of(bundle: CodesBundle, positions: np.ndarray) -> np.ndarray | None:
    """The rows of ``bundle``'s queries at those data set positions; None if any is absent."""
    if bundle.query_indices is None:
        return None
    where = {int(p): row for row, p in enumerate(bundle.query_indices)}
    rows = [where.get(int(p)) for p in positions]
    return None if any(r is None for r in rows) else np.array(rows, dtype=np.int64)
