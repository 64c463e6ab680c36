"""Graded relevance for multi-label retrieval: NDCG@N and ACG@N (weighted mAP: see below).

On multi-label data "shares a label" saturates: on the CIFAR-10 mosaics four random pairs in
five share one. Zhao, Huang, Wang and Tan (DSRH, "Deep Semantic Ranking Based Hashing for
Multi-Label Image Retrieval", CVPR 2015), and after them IDHN (Zhang, Zou, Lin, Chen, Wang,
IEEE TMM 2019) and others, grade the item at rank i by r_i, the number of labels it shares
with the query, and report (as the authors' evaluate_nuswide.py computes them):

* ACG@N = (1/N) sum_{i<=N} r_i, the average cumulative gain;
* NDCG@N = DCG@N / IDCG@N with DCG@N = sum_{i<=N} (2^r_i - 1) / log2(1 + i) and IDCG@N the DCG@N
  of the ideal ranking: the whole database sorted by r, decreasing. The authors' code divides
  by ln(1 + i) in both, which gives the same ratio. A query that shares no label with any
  item (IDCG 0) scores 0, as its AP does (their code removes queries without labels);
* weighted mAP@K: AP@K with each relevant rank's precision replaced by its ACG, computed by
  :func:`~hashbench.evaluation.metrics.average_precision` on the grades (their code: K = 5000).

Ranks are the evaluator's (Hamming distance, ties by database index). The authors' NDCG is the
mean over 100 random orders within each tie of their top N; ``expected_*`` here is its exact
expectation over uniformly random orders within every tie, the one cut at N included: a
block of tied items spreads its mean gain over its ranks, so it costs one histogram per query
(:func:`~hashbench.evaluation.ranking.distance_histogram`), not an enumeration.
"""

from __future__ import annotations

import functools

import numpy as np


def expected_acg(histogram: np.ndarray, n: int) -> np.ndarray:
    """ACG@n averaged over every order within each tie of distances (``n`` <= items)."""
    grades = np.arange(histogram.shape[2], dtype=np.float64)
    counts, totals = histogram.sum(axis=2), histogram @ grades
    ranks = np.arange(n + 1, dtype=np.float64)  # ACG weighs every rank 1: ranks 1..m weigh m
    return _expected_sum(counts, totals, n, ranks) / n


def expected_dcg(histogram: np.ndarray, n: int) -> np.ndarray:
    """DCG@n averaged over every order within each tie of distances (``n`` <= items)."""
    counts, totals = histogram.sum(axis=2), histogram @ _gains(histogram.shape[2])
    return _expected_sum(counts, totals, n, _discounts(n))


def ideal_dcg(histogram: np.ndarray, n: int) -> np.ndarray:
    """IDCG@n: the DCG@n of the database sorted by grade, highest first."""
    counts = histogram.sum(axis=1)[:, ::-1]  # items of each grade, highest first
    totals = counts * _gains(histogram.shape[2])[::-1]
    return _expected_sum(counts, totals, n, _discounts(n))


def dcg(top_grades: np.ndarray, n: int, levels: int) -> np.ndarray:
    """DCG@n of the fixed ranking ``top_grades`` (rows x at least n, grades below ``levels``)."""
    return _gains(levels).take(top_grades[:, :n]) @ np.diff(_discounts(n))


def normalised(dcg_values: np.ndarray, ideal: np.ndarray) -> np.ndarray:
    """NDCG: DCG / IDCG, 0 where IDCG is 0 (no item shares a label with the query)."""
    return np.divide(dcg_values, ideal, out=np.zeros(len(ideal)), where=ideal > 0)


def _expected_sum(
    counts: np.ndarray, totals: np.ndarray, n: int, cumulative: np.ndarray
) -> np.ndarray:
    """Per row, the expected sum over ranks 1..n of weight(rank) x value(item), when blocks of
    ``counts[:, b]`` items whose values sum to ``totals[:, b]`` fill the ranking in order, each
    in a uniformly random order of its own: every rank of a block gets its mean value.
    ``cumulative[m]`` is the total weight of ranks 1..m."""
    ends = np.cumsum(counts, axis=1)
    weights = cumulative[np.minimum(ends, n)] - cumulative[np.minimum(ends - counts, n)]
    means = np.divide(totals, counts, out=np.zeros(counts.shape), where=counts > 0)
    return (means * weights).sum(axis=1)


def _gains(levels: int) -> np.ndarray:
    """2^r - 1 for r = 0..levels - 1."""
    return np.exp2(np.arange(levels, dtype=np.float64)) - 1


@functools.lru_cache(maxsize=8)
def _discounts(size: int) -> np.ndarray:
    """sum_{i<=m} 1 / log2(1 + i) for m = 0..size, computed once per size."""
    table = np.concatenate([[0.0], np.cumsum(1.0 / np.log2(np.arange(2, size + 2)))])
    table.flags.writeable = False
    return table
