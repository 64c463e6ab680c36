"""Evaluator speed at CIFAR-10 scale: 10,000 queries against 50,000 database codes, 64 bits.

Codes are clustered by class (10 classes, each bit flipped with probability 1/4 away from its
class centre), so distances tie and mAP@5000 lands near 0.78, as with trained codes. Every
benchmark also checks its answer against an independent brute force on 50 of the queries, so
it cannot time a wrong computation. Rates (query-database pairs per second) are in
``extra_info``; compare them on one machine only. The bootstrap and the paired test over the
same 10,000 queries record their time as a fraction of one evaluation's.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from hashbench.evaluation.evaluator import evaluate, mean_average_precision
from hashbench.evaluation.inference import bootstrap_interval, sign_flip_test, sign_flip_tests

QUERIES, DATABASE, BITS, CLASSES, TOPK = 10_000, 50_000, 64, 10, 5000
CHECKED = 50


@pytest.fixture(scope="module")
def codes() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(2024)
    centres = rng.integers(0, 2, (CLASSES, BITS), dtype=np.uint8)
    query_labels = rng.integers(0, CLASSES, QUERIES)
    database_labels = rng.integers(0, CLASSES, DATABASE)
    queries = centres[query_labels] ^ (rng.random((QUERIES, BITS)) < 0.25)
    database = centres[database_labels] ^ (rng.random((DATABASE, BITS)) < 0.25)
    return queries.astype(np.uint8), database.astype(np.uint8), query_labels, database_labels


def brute_force_ap(query, label, database, database_labels) -> float:
    """One query: numpy's stable argsort of the distances, then the definition of AP@K."""
    order = np.argsort(np.count_nonzero(database != query, axis=1), kind="stable")[:TOPK]
    hits = np.flatnonzero(database_labels[order] == label)
    if len(hits) == 0:
        return 0.0
    return float(np.mean(np.arange(1, len(hits) + 1) / (hits + 1)))


def checked_subset(codes) -> tuple[np.ndarray, float]:
    queries, database, query_labels, database_labels = codes
    subset = np.random.default_rng(7).choice(QUERIES, CHECKED, replace=False)
    expected = np.mean(
        [brute_force_ap(queries[i], query_labels[i], database, database_labels) for i in subset]
    )
    return subset, float(expected)


def test_map_at_5000(benchmark, codes) -> None:
    queries, database, query_labels, database_labels = codes
    result = benchmark.pedantic(
        mean_average_precision,
        args=codes,
        kwargs={"topk": TOPK},
        rounds=3,
        iterations=1,
    )
    benchmark.extra_info["pairs_per_s"] = QUERIES * DATABASE / benchmark.stats.stats.min
    benchmark.extra_info["map@5000"] = result

    subset, expected = checked_subset(codes)
    on_subset = mean_average_precision(
        queries[subset], database, query_labels[subset], database_labels, topk=TOPK
    )
    assert on_subset == pytest.approx(expected, abs=1e-12)
    # Queries are scored independently, so the benchmarked mean splits into the checked
    # subset and the rest: this ties the timed number to the brute force.
    rest = np.setdiff1d(np.arange(QUERIES), subset)
    on_rest = mean_average_precision(
        queries[rest], database, query_labels[rest], database_labels, topk=TOPK
    )
    assert result == pytest.approx((on_subset * CHECKED + on_rest * len(rest)) / QUERIES, abs=1e-12)
    assert 0.7 < result < 0.9


def test_evaluate_all_metrics(benchmark, codes) -> None:
    queries, database, query_labels, database_labels = codes
    result = benchmark.pedantic(evaluate, args=codes, kwargs={"topk": TOPK}, rounds=1, iterations=1)
    benchmark.extra_info["pairs_per_s"] = QUERIES * DATABASE / benchmark.stats.stats.min
    subset, expected = checked_subset(codes)
    on_subset = evaluate(
        queries[subset], database, query_labels[subset], database_labels, topk=TOPK
    )
    assert on_subset.metrics["map@5000"] == pytest.approx(expected, abs=1e-12)
    assert result.metrics["map@5000"] == pytest.approx(
        mean_average_precision(*codes, topk=TOPK), abs=1e-12
    )
    # Few ties straddle the cut-off at this scale: the tie-aware mean stays close.
    assert result.metrics["map_tie@5000"] == pytest.approx(result.metrics["map@5000"], abs=1e-3)


@pytest.fixture(scope="module")
def evaluated(codes) -> tuple[np.ndarray, float]:
    """The per-query AP@5000 of all 10,000 queries, and one evaluation's time."""
    start = time.perf_counter()
    per_query = evaluate(*codes, topk=TOPK).per_query["map@5000"]
    return per_query, time.perf_counter() - start


def test_bootstrap_interval_of_10000_queries(benchmark, evaluated) -> None:
    """1,000 resamples of 10,000 queries: its target is well under one evaluation's time."""
    per_query, evaluation_s = evaluated
    interval = benchmark.pedantic(
        bootstrap_interval, args=([per_query],), kwargs={"resamples": 1000}, rounds=3
    )
    ratio = benchmark.stats.stats.min / evaluation_s
    benchmark.extra_info |= {"evaluation_s": evaluation_s, "of_one_evaluation": ratio}
    assert interval.low < per_query.mean() < interval.high
    normal_width = 2 * 1.96 * per_query.std() / np.sqrt(QUERIES)
    assert interval.high - interval.low == pytest.approx(normal_width, rel=0.1)
    assert ratio < 0.1


def test_sign_flip_test_of_10000_queries(benchmark, evaluated) -> None:
    """The paired test behind every tie, at 10,000 queries and 10,000 sign patterns."""
    per_query, evaluation_s = evaluated
    shifted = np.roll(per_query, 1)  # another run's values: a null difference
    p = benchmark.pedantic(sign_flip_test, args=([per_query - shifted],), rounds=3)
    benchmark.extra_info |= {"of_one_evaluation": benchmark.stats.stats.min / evaluation_s}
    assert 0 < p <= 1


def test_sign_flip_tests_of_a_column_of_ten_cells(benchmark, evaluated) -> None:
    """A table column's ten tests against its best at 10,000 queries: one draw of patterns."""
    per_query, evaluation_s = evaluated
    tests = [[per_query - np.roll(per_query, shift)] for shift in range(1, 11)]
    p = benchmark.pedantic(sign_flip_tests, args=(tests,), rounds=3)
    benchmark.extra_info |= {"of_one_evaluation": benchmark.stats.stats.min / evaluation_s}
    assert all(0 < value <= 1 for value in p)
