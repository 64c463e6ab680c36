"""NDCG@N, ACG@N and weighted mAP@K against a 3 x 5 case worked by hand and a brute force
written from DSRH's definitions (relevance: the number of labels shared)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from test_evaluation import distances, ranked

from hashbench.errors import HashbenchError
from hashbench.evaluation import cuda, ranking
from hashbench.evaluation import evaluator as evaluation
from hashbench.evaluation.evaluator import evaluate
from hashbench.evaluation.hamming import HammingDistances
from hashbench.evaluation.relevance import Relevance

# -- brute force ---------------------------------------------------------------------------


def shared(query_label: np.ndarray, item_label: np.ndarray) -> int:
    return int(np.sum(query_label & item_label))


def dcg(grades: list[int]) -> float:
    return sum((2**r - 1) / math.log2(1 + i) for i, r in enumerate(grades, start=1))


def scores(grades: list[int], everything: list[int], n: int, k: int) -> dict[str, float]:
    """ACG@n, NDCG@n and weighted AP@k of one query's grades in ranking order."""
    n = min(n, len(grades))
    ideal = dcg(sorted(everything, reverse=True)[:n])
    gain, total, found = 0, 0.0, 0
    for rank, r in enumerate(grades[:k], start=1):
        gain += r
        if r > 0:
            found += 1
            total += gain / rank
    return {
        "acg": sum(grades[:n]) / n,
        "ndcg": dcg(grades[:n]) / ideal if ideal else 0.0,
        "wap": total / found if found else 0.0,
    }


def brute_graded(queries, database, query_labels, database_labels, n, k) -> dict[str, list]:
    """Per query: the fixed order's ACG@n, NDCG@n and WAP@k, and ACG@n and NDCG@n averaged
    over every order within every tie of distances."""
    found: dict[str, list] = {"acg": [], "ndcg": [], "wap": [], "acg_tie": [], "ndcg_tie": []}
    for query, label in zip(queries, query_labels, strict=True):
        grade = [shared(label, item) for item in database_labels]
        for name, value in scores([grade[j] for j in ranked(query, database)], grade, n, k).items():
            found[name].append(value)
        d = distances(query, database)
        ties = [[j for j in range(len(database)) if d[j] == v] for v in sorted(set(d))]
        orders = itertools.product(*(itertools.permutations(tie) for tie in ties))
        each = [scores([grade[j] for tie in order for j in tie], grade, n, k) for order in orders]
        found["acg_tie"].append(np.mean([s["acg"] for s in each]))
        found["ndcg_tie"].append(np.mean([s["ndcg"] for s in each]))
    return found


def multi_label_problem(seed: int, queries: int, items: int, bits: int, classes: int = 5):
    rng = np.random.default_rng(seed)
    return (
        rng.integers(0, 2, (queries, bits), dtype=np.uint8),
        rng.integers(0, 2, (items, bits), dtype=np.uint8),
        (rng.random((queries, classes)) < 0.4).astype(np.uint8),
        (rng.random((items, classes)) < 0.4).astype(np.uint8),
    )


# -- by hand --------------------------------------------------------------------------------

HAND_QUERIES = np.array([[0, 0, 0, 0], [1, 1, 1, 1], [0, 0, 1, 1]], dtype=np.uint8)
HAND_DATABASE = np.array(
    [[0, 0, 0, 1], [0, 0, 0, 0], [0, 0, 1, 1], [0, 0, 0, 1], [1, 1, 1, 1]], dtype=np.uint8
)
HAND_QUERY_LABELS = np.array([[1, 1, 0], [0, 0, 1], [1, 1, 1]], dtype=np.uint8)
HAND_DATABASE_LABELS = np.array(
    [[1, 0, 0], [1, 1, 0], [0, 1, 1], [0, 0, 1], [1, 1, 1]], dtype=np.uint8
)
L3 = math.log2(3)  # the discount of rank 2; rank 1's is 1, rank 3's is 2


def test_hand_computed_three_queries_five_items() -> None:
    # Query 0: distances 1 0 2 1 4, ranking 1 0 3 2 4, shared labels 2 1 0 1 2; its database
    # sorted by grade is 2 2 1 1 0. Items 0 and 3 tie at ranks 2-3 (grades 1 and 0).
    # Query 1: distances 3 4 2 3 0, ranking 4 2 0 3 1, grades 1 1 0 1 0; ideal 1 1 1 0 0.
    # Items 0 and 3 tie at ranks 3-4 (grades 0 and 1).
    # Query 2: distances 1 2 0 1 2, ranking 2 0 3 1 4, grades 2 1 1 2 3; ideal 3 2 2 1 1.
    # Its ties (items 0 and 3, both grade 1; items 1 and 4 beyond rank 3) change nothing.
    result = evaluate(
        HAND_QUERIES,
        HAND_DATABASE,
        HAND_QUERY_LABELS,
        HAND_DATABASE_LABELS,
        topk=5,
        precision_at=(),
        graded_at=(2, 3),
    )
    per_query = result.per_query
    ideal = [3 + 3 / L3 + 1 / 2, 1 + 1 / L3 + 1 / 2, 7 + 3 / L3 + 3 / 2]
    expected = {
        "acg@3": [3 / 3, 2 / 3, 4 / 3],
        "acg@2": [3 / 2, 2 / 2, 3 / 2],
        "acg_tie@2": [(2 + 1 / 2) / 2, 1, 3 / 2],
        "acg_tie@3": [1, (1 + 1 + 1 / 2) / 3, 4 / 3],
        "ndcg@3": [
            (3 + 1 / L3) / ideal[0],
            (1 + 1 / L3) / ideal[1],
            (3 + 1 / L3 + 1 / 2) / ideal[2],
        ],
        "ndcg_tie@3": [
            (3 + 0.5 / L3 + 0.5 / 2) / ideal[0],
            (1 + 1 / L3 + 0.5 / 2) / ideal[1],
            (3 + 1 / L3 + 1 / 2) / ideal[2],
        ],
        "ndcg@2": [(3 + 1 / L3) / (3 + 3 / L3), 1, (3 + 1 / L3) / (7 + 3 / L3)],
        # ACG at each relevant rank, averaged: ranks 1 2 4 5; 1 2 4; 1 2 3 4 5.
        "wap@5": [
            (2 + 3 / 2 + 4 / 4 + 6 / 5) / 4,
            (1 + 2 / 2 + 3 / 4) / 3,
            (2 + 3 / 2 + 4 / 3 + 6 / 4 + 9 / 5) / 5,
        ],
    }
    for name, values in expected.items():
        assert per_query[name] == pytest.approx(values, abs=1e-15), name
        assert result.metrics[name] == pytest.approx(np.mean(values), abs=1e-15), name
    # With binary grades (query 1 shares at most one label) weighted AP is AP.
    assert per_query["wap@5"][1] == pytest.approx(per_query["map@5"][1], abs=1e-15)


# -- against the brute force ----------------------------------------------------------------


@pytest.mark.parametrize(("bits", "items", "n", "k"), [(8, 120, 10, 40), (16, 90, 33, 90)])
def test_fixed_order_metrics_match_brute_force(bits: int, items: int, n: int, k: int) -> None:
    problem = multi_label_problem(bits, 19, items, bits)
    result = evaluate(*problem, topk=k, precision_at=(), graded_at=(n, items + 50))
    for depth in (n, items + 50):  # beyond the database: all of it
        expected = brute_graded_fixed(*problem, depth, k)
        for name in ("acg", "ndcg"):
            got = result.per_query[f"{name}@{depth}"]
            assert got == pytest.approx(expected[name], abs=1e-12), (name, depth)
    assert result.per_query[f"wap@{k}"] == pytest.approx(expected["wap"], abs=1e-12)


def brute_graded_fixed(queries, database, query_labels, database_labels, n, k) -> dict:
    """The fixed order's scores alone: ties too large to enumerate their orders."""
    found: dict[str, list] = {"acg": [], "ndcg": [], "wap": []}
    for query, label in zip(queries, query_labels, strict=True):
        grade = [shared(label, item) for item in database_labels]
        for name, value in scores([grade[j] for j in ranked(query, database)], grade, n, k).items():
            found[name].append(value)
    return found


@pytest.mark.parametrize("seed", range(5))
def test_tie_aware_forms_are_the_mean_over_all_tie_orders(seed: int) -> None:
    # 3-bit codes over 7 items: ties everywhere, few enough orders to enumerate.
    problem = multi_label_problem(seed, 4, 7, 3, classes=4)
    for n in (1, 2, 4, 7):
        result = evaluate(*problem, topk=None, precision_at=(), graded_at=(n,))
        expected = brute_graded(*problem, n, 7)
        for name in ("acg", "ndcg"):
            assert result.per_query[f"{name}@{n}"] == pytest.approx(expected[name], abs=1e-12)
            tie = result.per_query[f"{name}_tie@{n}"]
            assert tie == pytest.approx(expected[f"{name}_tie"], abs=1e-12), (name, n)
        assert result.per_query["wap@all"] == pytest.approx(expected["wap"], abs=1e-12)


def test_chunks_keep_per_query_values_in_query_order(monkeypatch: pytest.MonkeyPatch) -> None:
    problem = multi_label_problem(3, 23, 60, 10)
    reference = evaluate(*problem, topk=25, graded_at=(9,))
    monkeypatch.setattr(evaluation, "_CPU_CHUNK_ELEMENTS", 7 * 60)
    monkeypatch.setattr(evaluation, "_CPU_MIN_ROWS", 1)
    chunked = evaluate(*problem, topk=25, graded_at=(9,))
    expected = brute_graded_fixed(*problem, 9, 25)
    assert chunked.per_query["ndcg@9"] == pytest.approx(expected["ndcg"], abs=1e-12)
    for name, values in reference.per_query.items():
        assert chunked.per_query[name] == pytest.approx(values, abs=1e-12), name


def test_graded_metrics_are_bounded_and_an_ideal_ranking_scores_one() -> None:
    problem = multi_label_problem(4, 30, 200, 12)
    metrics = evaluate(*problem, topk=50, graded_at=(10,)).metrics
    assert 0 < metrics["ndcg@10"] < 1 and 0 < metrics["ndcg_tie@10"] < 1
    assert 0 < metrics["acg@10"] <= problem[2].sum(axis=1).max()
    # Codes that put the items sharing the most labels nearest: item j's distance from the
    # query is 3 - (its grade), so the ranking is the ideal one and NDCG@N is 1.
    query_labels = np.array([[1, 1, 1, 0]], np.uint8)
    database_labels = np.array([[1, 0, 0, 0], [1, 1, 1, 1], [0, 0, 0, 1], [0, 1, 1, 0]], np.uint8)
    query = np.zeros((1, 3), np.uint8)
    database = np.array([[1, 1, 0], [0, 0, 0], [1, 1, 1], [1, 0, 0]], np.uint8)
    ideal = evaluate(query, database, query_labels, database_labels, topk=4, graded_at=(2, 4))
    assert ideal.metrics["ndcg@2"] == ideal.metrics["ndcg@4"] == pytest.approx(1, abs=1e-15)
    # Grades 3 2 1 0 in that order: ACG at the relevant ranks 1, 2, 3 is 3, 5/2, 2.
    assert ideal.metrics["wap@4"] == pytest.approx((3 + 5 / 2 + 2) / 3, abs=1e-15)


def test_single_label_data_has_no_graded_metrics_and_multi_label_names_follow_depths() -> None:
    codes = np.random.default_rng(0).integers(0, 2, (6, 8), dtype=np.uint8)
    single = evaluate(codes, codes, np.arange(6) % 2, np.arange(6) % 2, topk=4, graded_at=(3,))
    assert not any(name.startswith(("ndcg", "acg", "wap")) for name in single.metrics)
    labels = np.eye(3, dtype=np.uint8)[np.arange(6) % 3]
    multi = evaluate(codes, codes, labels, labels, topk=4, precision_at=(), graded_at=(3,))
    assert set(multi.metrics) == {
        "map@4", "map_tie@4", "precision@r2", "wap@4",
        "ndcg@3", "ndcg_tie@3", "acg@3", "acg_tie@3",
    }  # fmt: skip


def test_grades_and_histogram_match_brute_force_on_both_paths() -> None:
    # The CUDA path's torch code runs on CPU tensors too; it must grade and count identically.
    queries, database, query_labels, database_labels = multi_label_problem(8, 9, 300, 10)
    here, rows = torch.device("cpu"), len(queries)
    relevance = Relevance(query_labels, database_labels)
    on_cuda_path = cuda.Relevance(query_labels, database_labels, here)
    assert relevance.levels == on_cuda_path.levels
    grades = relevance.grades(0, rows)
    expected = query_labels.astype(np.int64) @ database_labels.T.astype(np.int64)
    np.testing.assert_array_equal(grades, expected)
    np.testing.assert_array_equal(on_cuda_path.grades(0, rows).numpy(), expected)
    d = HammingDistances(queries, database)(0, rows)
    histogram = ranking.distance_histogram(d, grades, 10, relevance.levels)
    on_torch = cuda.HammingDistances(queries, database, here)(0, rows)
    np.testing.assert_array_equal(
        histogram,
        cuda.distance_histogram(on_torch, torch.from_numpy(grades), 10, relevance.levels),
    )
    brute = np.array([distances(q, database) for q in queries])
    for distance, grade in itertools.product(range(11), range(relevance.levels)):
        count = ((brute == distance) & (expected == grade)).sum(axis=1)
        np.testing.assert_array_equal(histogram[:, distance, grade], count)
    columns = ranking.top_columns(d, 10, 50)
    top = relevance.at(0, rows, columns, grades)
    np.testing.assert_array_equal(top, np.take_along_axis(expected, columns.astype(np.int64), 1))
    torch_columns = torch.from_numpy(columns.astype(np.int64))
    np.testing.assert_array_equal(
        on_cuda_path.at(0, rows, torch_columns, on_cuda_path.grades(0, rows)), top
    )


def test_too_many_labels_per_item_are_one_clear_error() -> None:
    labels = np.ones((2, 300), np.uint8)
    codes = np.zeros((2, 4), np.uint8)
    with pytest.raises(HashbenchError, match="items carry up to 300 labels; at most 255"):
        evaluate(codes, codes, labels, labels)


def test_bad_graded_depth_is_refused() -> None:
    codes, labels = np.zeros((2, 3), np.uint8), np.eye(2, dtype=np.uint8)
    with pytest.raises(HashbenchError, match="graded_at must be an integer >= 1"):
        evaluate(codes, codes, labels, labels, graded_at=(10, 0))
