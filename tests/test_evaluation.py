"""The evaluator against a brute force written from the definitions, python loops and all."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from hashbench.errors import HashbenchError
from hashbench.evaluation import cuda, ranking
from hashbench.evaluation import evaluator as evaluation
from hashbench.evaluation.evaluator import evaluate, mean_average_precision
from hashbench.evaluation.hamming import HammingDistances
from hashbench.evaluation.relevance import Relevance

# -- brute force ---------------------------------------------------------------------------


def distances(query: np.ndarray, database: np.ndarray) -> list[int]:
    return [int(np.count_nonzero(query != item)) for item in database]


def is_relevant(query_label: np.ndarray, item_label: np.ndarray) -> bool:
    if np.ndim(query_label):  # multi-hot
        return bool(np.any(query_label & item_label))
    return bool(query_label == item_label)


def ranked(query: np.ndarray, database: np.ndarray) -> list[int]:
    """Database indices by (distance, index): Python's sort is stable."""
    d = distances(query, database)
    return sorted(range(len(database)), key=lambda j: (d[j], j))


def average_precision(relevant_in_order: list[bool], k: int) -> float:
    hits, total = 0, 0.0
    for rank, relevant in enumerate(relevant_in_order[:k], start=1):
        if relevant:
            hits += 1
            total += hits / rank
    return total / hits if hits else 0.0


def brute_map(queries, database, query_labels, database_labels, k) -> float:
    values = []
    for query, label in zip(queries, query_labels, strict=True):
        order = ranked(query, database)
        values.append(average_precision([is_relevant(label, database_labels[j]) for j in order], k))
    return float(np.mean(values))


def brute_tie_map(queries, database, query_labels, database_labels, k) -> float:
    """Mean over queries of AP@k averaged over every order within every tie."""
    values = []
    for query, label in zip(queries, query_labels, strict=True):
        d = distances(query, database)
        ties = [[j for j in range(len(database)) if d[j] == v] for v in sorted(set(d))]
        orders = itertools.product(*(itertools.permutations(tie) for tie in ties))
        aps = [
            average_precision(
                [is_relevant(label, database_labels[j]) for tie in order for j in tie], k
            )
            for order in orders
        ]
        values.append(np.mean(aps))
    return float(np.mean(values))


def brute_radius_counts(query, label, database, database_labels, radius) -> tuple[int, int]:
    d = distances(query, database)
    inside = [j for j in range(len(database)) if d[j] <= radius]
    return len(inside), sum(is_relevant(label, database_labels[j]) for j in inside)


def brute_precision_at_radius(queries, database, query_labels, database_labels, radius):
    values = []
    for query, label in zip(queries, query_labels, strict=True):
        inside, hits = brute_radius_counts(query, label, database, database_labels, radius)
        values.append(hits / inside if inside else 0.0)
    return float(np.mean(values))


def brute_recall_at_radius(queries, database, query_labels, database_labels, radius):
    values = []
    for query, label in zip(queries, query_labels, strict=True):
        _, hits = brute_radius_counts(query, label, database, database_labels, radius)
        total = sum(is_relevant(label, item) for item in database_labels)
        values.append(hits / total if total else 0.0)
    return float(np.mean(values))


def brute_precision_at(queries, database, query_labels, database_labels, n):
    values = []
    for query, label in zip(queries, query_labels, strict=True):
        order = ranked(query, database)[:n]
        values.append(sum(is_relevant(label, database_labels[j]) for j in order) / len(order))
    return float(np.mean(values))


# -- data ---------------------------------------------------------------------------------


def random_problem(seed: int, queries: int, items: int, bits: int, classes: int = 4):
    rng = np.random.default_rng(seed)
    return (
        rng.integers(0, 2, (queries, bits), dtype=np.uint8),
        rng.integers(0, 2, (items, bits), dtype=np.uint8),
        rng.integers(0, classes, queries),
        rng.integers(0, classes, items),
    )


def clustered_problem(seed: int, queries: int, items: int, bits: int, flip: float):
    """Codes near one centre per class, so distances tie a lot and mAP is far from chance."""
    rng = np.random.default_rng(seed)
    centres = rng.integers(0, 2, (10, bits), dtype=np.uint8)
    query_labels, item_labels = rng.integers(0, 10, queries), rng.integers(0, 10, items)
    queries_ = centres[query_labels] ^ (rng.random((queries, bits)) < flip)
    items_ = centres[item_labels] ^ (rng.random((items, bits)) < flip)
    return queries_.astype(np.uint8), items_.astype(np.uint8), query_labels, item_labels


# -- a case worked by hand ----------------------------------------------------------------

HAND_QUERIES = np.array([[0, 0, 0, 0], [1, 1, 1, 1]], dtype=np.uint8)
HAND_DATABASE = np.array(
    [[0, 0, 0, 1], [0, 0, 0, 0], [0, 0, 1, 1], [0, 0, 0, 1], [1, 1, 1, 1]], dtype=np.uint8
)
HAND_QUERY_LABELS = np.array([0, 7])  # nothing in the database carries label 7
HAND_DATABASE_LABELS = np.array([0, 1, 0, 1, 0])


def test_hand_computed_first_query() -> None:
    # Distances 1, 0, 2, 1, 4; ranking by (distance, index): 1 0 3 2 4 with relevance
    # no yes no yes yes.
    one = (HAND_QUERIES[:1], HAND_DATABASE, HAND_QUERY_LABELS[:1], HAND_DATABASE_LABELS)
    result = evaluate(*one, topk=3, precision_at=(2, 4))
    assert result.metrics["map@3"] == pytest.approx(1 / 2, abs=1e-15)  # one hit, at rank 2
    # The tie {0, 3} at distance 1 fills ranks 2-3: the hit lands at rank 2 or 3.
    assert result.metrics["map_tie@3"] == pytest.approx((1 / 2 + 1 / 3) / 2, abs=1e-15)
    assert result.metrics["precision@r2"] == pytest.approx(2 / 4, abs=1e-15)
    assert result.metrics["precision@2"] == pytest.approx(1 / 2, abs=1e-15)
    assert result.metrics["precision@4"] == pytest.approx(2 / 4, abs=1e-15)
    assert result.curves["pr_radius"] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert result.curves["pr_precision"] == pytest.approx([0, 1 / 3, 2 / 4, 2 / 4, 3 / 5])
    assert result.curves["pr_recall"] == pytest.approx([0, 1 / 3, 2 / 3, 2 / 3, 1])
    whole = evaluate(*one, topk=None)
    assert whole.metrics["map@all"] == pytest.approx((1 / 2 + 2 / 4 + 3 / 5) / 3, abs=1e-15)
    # Tie order (0, 3): hits at 2, 4, 5; order (3, 0): hits at 3, 4, 5.
    assert whole.metrics["map_tie@all"] == pytest.approx(91 / 180, abs=1e-15)
    # The cut at K = 2 takes one item of the tie: a hit half of the time, else nothing.
    assert evaluate(*one, topk=2).metrics["map_tie@2"] == pytest.approx(1 / 4, abs=1e-15)


def test_query_without_relevant_items_scores_zero_and_counts_in_the_mean() -> None:
    both = (HAND_QUERIES, HAND_DATABASE, HAND_QUERY_LABELS, HAND_DATABASE_LABELS)
    result = evaluate(*both, topk=3, precision_at=(2,))
    assert result.metrics["map@3"] == pytest.approx((1 / 2 + 0) / 2, abs=1e-15)
    assert result.metrics["map_tie@3"] == pytest.approx((5 / 12 + 0) / 2, abs=1e-15)
    # Second query: items 4 (distance 0) and 2 (distance 2) lie within radius 2, neither hits.
    assert result.metrics["precision@r2"] == pytest.approx((1 / 2 + 0) / 2, abs=1e-15)
    assert result.curves["pr_recall"][-1] == pytest.approx((1 + 0) / 2, abs=1e-15)
    assert mean_average_precision(*both, topk=3) == pytest.approx(1 / 4, abs=1e-15)


# -- against the brute force --------------------------------------------------------------


@pytest.mark.parametrize(
    ("bits", "items", "k"),
    [(8, 300, 40), (16, 200, 17), (64, 150, 150), (127, 90, 30), (128, 90, 30), (130, 80, 25)],
)
def test_random_codes_match_brute_force(bits: int, items: int, k: int) -> None:
    problem = random_problem(bits, 23, items, bits)
    expected = brute_map(*problem, k)
    assert mean_average_precision(*problem, topk=k) == pytest.approx(expected, abs=1e-12)
    assert evaluate(*problem, topk=k).metrics[f"map@{k}"] == pytest.approx(expected, abs=1e-12)


def test_per_query_values_and_radius_counts_match_brute_force(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    queries, database, query_labels, database_labels = clustered_problem(8, 23, 90, 12, 0.2)
    # Chunks of 7, 7, 7 and 2 queries: the per-query arrays come back in query order.
    monkeypatch.setattr(evaluation, "_CPU_CHUNK_ELEMENTS", 7 * 90)
    monkeypatch.setattr(evaluation, "_CPU_MIN_ROWS", 1)
    result = evaluate(queries, database, query_labels, database_labels, topk=30, precision_at=(5,))
    one = [
        (queries[i : i + 1], database, query_labels[i : i + 1], database_labels)
        for i in range(len(queries))
    ]
    assert result.per_query["map@30"] == pytest.approx([brute_map(*q, 30) for q in one], abs=1e-12)
    assert result.per_query["precision@5"] == pytest.approx(
        [brute_precision_at(*q, 5) for q in one]
    )
    for name, values in result.per_query.items():
        assert values.shape == (23,) and values.mean() == pytest.approx(result.metrics[name])
        # Each query's value is what evaluating it alone gives (its ties are too large to
        # enumerate every order for the tie-aware brute force).
        alone = [evaluate(*q, topk=30, precision_at=(5,)).metrics[name] for q in one]
        assert values == pytest.approx(alone, abs=1e-12)
    expected = [
        [brute_radius_counts(q, label, database, database_labels, r)[0] for r in range(3)]
        for q, label in zip(queries, query_labels, strict=True)
    ]
    assert result.within_radius.tolist() == expected


def test_all_ties_rank_by_database_index() -> None:
    queries = np.ones((3, 16), np.uint8)
    database = np.ones((40, 16), np.uint8)
    query_labels, database_labels = np.array([0, 1, 2]), np.arange(40) % 3
    # Every distance is 0, so the ranking is 0, 1, 2, ...: label c hits at ranks c+1, c+4, ...
    by_label = [
        (1 / 1 + 2 / 4 + 3 / 7 + 4 / 10) / 4,
        (1 / 2 + 2 / 5 + 3 / 8) / 3,
        (1 / 3 + 2 / 6 + 3 / 9) / 3,
    ]
    expected = brute_map(queries, database, query_labels, database_labels, 10)
    assert expected == pytest.approx(np.mean(by_label), abs=1e-15)
    got = mean_average_precision(queries, database, query_labels, database_labels, topk=10)
    assert got == pytest.approx(expected, abs=1e-15)


def test_k_beyond_the_database_and_none_mean_all_of_it() -> None:
    problem = random_problem(1, 9, 30, 12)
    expected = brute_map(*problem, 30)
    for topk in (30, 31, 10_000, None):
        assert mean_average_precision(*problem, topk=topk) == pytest.approx(expected, abs=1e-12)
    metrics = evaluate(*problem, topk=None).metrics
    assert metrics["map@all"] == pytest.approx(expected, abs=1e-12)
    assert "map_tie@all" in metrics


def test_last_item_counts_when_k_is_all() -> None:
    # The only relevant item is the farthest: an off-by-one dropping it would score 0.
    queries = np.zeros((1, 4), np.uint8)
    database = np.array([[0, 0, 0, 0], [0, 0, 0, 1], [1, 1, 1, 1]], np.uint8)
    labels = np.array([5]), np.array([0, 0, 5])
    assert mean_average_precision(queries, database, *labels, topk=None) == pytest.approx(1 / 3)
    assert mean_average_precision(queries, database, *labels, topk=3) == pytest.approx(1 / 3)


def test_multi_label_relevance_is_sharing_a_label() -> None:
    rng = np.random.default_rng(5)
    queries, database, _, _ = random_problem(5, 17, 120, 10)
    query_labels = (rng.random((17, 6)) < 0.2).astype(np.uint8)
    database_labels = (rng.random((120, 6)) < 0.2).astype(np.uint8)
    for k in (15, None):
        expected = brute_map(queries, database, query_labels, database_labels, k or 120)
        got = mean_average_precision(queries, database, query_labels, database_labels, topk=k)
        assert got == pytest.approx(expected, abs=1e-12)
    result = evaluate(queries, database, query_labels, database_labels, topk=15, precision_at=(7,))
    problem = (queries, database, query_labels, database_labels)
    assert result.metrics["precision@7"] == pytest.approx(brute_precision_at(*problem, 7))
    assert result.metrics["precision@r2"] == pytest.approx(brute_precision_at_radius(*problem, 2))


def test_code_conventions_give_the_same_result() -> None:
    queries, database, query_labels, database_labels = random_problem(2, 11, 70, 24)
    reference = evaluate(queries, database, query_labels, database_labels, topk=20)
    for as_queries, as_database in [
        (queries.astype(np.int16) * 2 - 1, database.astype(np.int8) * 2 - 1),
        (queries.astype(bool), (database * 2.0 - 1.0).astype(np.float32)),
        (queries.astype(np.float64), database.astype(np.int64) * 2 - 1),
    ]:
        other = evaluate(as_queries, as_database, query_labels, database_labels, topk=20)
        assert other == reference


def test_chunk_boundaries_do_not_change_the_result(monkeypatch: pytest.MonkeyPatch) -> None:
    problem = random_problem(3, 23, 60, 16)
    expected = brute_map(*problem, 25)
    reference = evaluate(*problem, topk=25)
    # 60 items x 7 rows: 23 queries go through in chunks of 7, 7, 7 and 2.
    monkeypatch.setattr(evaluation, "_CPU_CHUNK_ELEMENTS", 7 * 60)
    monkeypatch.setattr(evaluation, "_CPU_MIN_ROWS", 1)
    assert mean_average_precision(*problem, topk=25) == pytest.approx(expected, abs=1e-12)
    chunked = evaluate(*problem, topk=25)
    assert chunked.metrics == pytest.approx(reference.metrics, abs=1e-12)
    for name, curve in reference.curves.items():
        assert chunked.curves[name] == pytest.approx(curve, abs=1e-12)


def test_large_database_uses_the_estimate_and_still_matches_brute_force() -> None:
    # 12,000 items: the CPU path estimates its cut-off from a column sample.
    queries, database, query_labels, database_labels = clustered_problem(4, 6, 12_000, 32, 0.2)
    k = 500
    problem = (queries, database, query_labels, database_labels)
    expected = np.mean(
        [
            numpy_stable_ap(query, label, database, database_labels, k)
            for query, label in zip(queries, query_labels, strict=True)
        ]
    )
    assert mean_average_precision(*problem, topk=k) == pytest.approx(expected, abs=1e-12)
    assert evaluate(*problem, topk=k).metrics[f"map@{k}"] == pytest.approx(expected, abs=1e-12)


def numpy_stable_ap(query, label, database, database_labels, k) -> float:
    """The brute force with numpy's stable argsort, for databases too big for Python loops."""
    order = np.argsort(np.count_nonzero(database != query, axis=1), kind="stable")[:k]
    return average_precision(list(database_labels[order] == label), k)


# -- tie-aware AP -------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_tie_aware_map_is_the_mean_over_all_tie_orders(seed: int) -> None:
    # 4-bit codes over 7 items: ties everywhere, few enough orders to enumerate.
    rng = np.random.default_rng(seed)
    queries = rng.integers(0, 2, (3, 4), dtype=np.uint8)
    database = rng.integers(0, 2, (7, 4), dtype=np.uint8)
    query_labels, database_labels = rng.integers(0, 2, 3), rng.integers(0, 2, 7)
    problem = (queries, database, query_labels, database_labels)
    for k in (1, 2, 3, 5, 7, None):
        got = evaluate(*problem, topk=k).metrics[f"map_tie@{k or 'all'}"]
        assert got == pytest.approx(brute_tie_map(*problem, k or 7), abs=1e-12)


def test_tie_aware_map_equals_fixed_map_without_ties() -> None:
    # Distinct distances: every tie has one item, so both orders are the same.
    queries = np.zeros((1, 6), np.uint8)
    database = np.tril(np.ones((6, 6), np.uint8))[::-1]  # distances 6, 5, ..., 1
    labels = np.array([1]), np.array([1, 0, 1, 1, 0, 0])
    metrics = evaluate(queries, database, *labels, topk=4).metrics
    assert metrics["map_tie@4"] == pytest.approx(metrics["map@4"], abs=1e-15)


# -- the other metrics --------------------------------------------------------------------


def test_precision_metrics_and_curves_match_brute_force() -> None:
    problem = random_problem(7, 13, 90, 8)
    result = evaluate(*problem, topk=30, precision_at=(1, 10, 90, 500))
    for n in (1, 10, 90, 500):
        expected = brute_precision_at(*problem, n)
        assert result.metrics[f"precision@{n}"] == pytest.approx(expected, abs=1e-12)
    radius_two = brute_precision_at_radius(*problem, 2)
    assert result.metrics["precision@r2"] == pytest.approx(radius_two, abs=1e-12)
    for radius in range(9):
        precision = brute_precision_at_radius(*problem, radius)
        recall = brute_recall_at_radius(*problem, radius)
        assert result.curves["pr_precision"][radius] == pytest.approx(precision, abs=1e-12)
        assert result.curves["pr_recall"][radius] == pytest.approx(recall, abs=1e-12)
    assert result.curves["pr_recall"][-1] == pytest.approx(1.0)


def test_cuda_steps_agree_with_the_cpu_path() -> None:
    # The CUDA path's torch code runs on CPU tensors too; it must rank and count identically.
    queries, database, query_labels, database_labels = random_problem(8, 9, 300, 10)
    here = torch.device("cpu")
    distances = HammingDistances(queries, database)(0, len(queries))
    on_torch = cuda.HammingDistances(queries, database, here)(0, len(queries))
    np.testing.assert_array_equal(distances, on_torch.numpy())
    relevant = query_labels[:, None] == database_labels[None, :]
    numpy_top = ranking.top_columns(distances, 10, 120)
    np.testing.assert_array_equal(numpy_top, cuda.top_columns(on_torch, 10, 120).numpy())
    np.testing.assert_array_equal(
        ranking.distance_histogram(distances, relevant, 10, 2),
        cuda.distance_histogram(on_torch, torch.from_numpy(relevant), 10, 2),
    )
    for labels in (query_labels, np.eye(4, dtype=np.uint8)[query_labels]):
        database_side = database_labels if labels.ndim == 1 else np.eye(4)[database_labels]
        on_numpy = Relevance(labels, database_side).at(2, 7, numpy_top[2:7])
        columns = torch.from_numpy(numpy_top[2:7].astype(np.int64))
        on_cuda_path = cuda.Relevance(labels, database_side, here).at(2, 7, columns)
        np.testing.assert_array_equal(on_numpy, on_cuda_path)
        expected = np.take_along_axis(relevant[2:7], numpy_top[2:7].astype(np.int64), 1)
        np.testing.assert_array_equal(on_numpy, expected)


@pytest.mark.parametrize("wide_keys", [False, True])
def test_rows_the_estimate_leaves_short_take_all_their_items(
    wide_keys: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if wide_keys:  # as for databases too large for uint32 sort keys
        monkeypatch.setattr(ranking, "_UINT32_KEYS_BELOW", 0)
    queries, database, _, _ = random_problem(9, 5, 200, 12)
    values = HammingDistances(queries, database)(0, len(queries))
    d = np.array([distances(q, database) for q in queries])
    expected = np.argsort(d, axis=1, kind="stable")[:, :150]
    for cutoffs in ([12] * 5, [0] * 5, [0, 12, 3, 0, 5]):  # 0 keeps too few items
        got = ranking._top_columns(values, 12, 150, np.array(cutoffs))
        assert got.dtype == (np.uint64 if wide_keys else np.uint32)
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("bits", [1, 7, 64, 65, 127, 128, 129, 200, 255, 256, 300])
def test_distances_are_exact(bits: int) -> None:
    rng = np.random.default_rng(bits)
    queries = rng.integers(0, 2, (6, bits), dtype=np.uint8)
    queries[0] = 0
    database = rng.integers(0, 2, (50, bits), dtype=np.uint8)
    database[0] = 1  # distance bits from query 0: the largest there is
    hamming = HammingDistances(queries, database)
    got = hamming(0, 6)
    expected = np.count_nonzero(queries[:, None, :] != database[None, :, :], axis=2)
    np.testing.assert_array_equal(got, expected)
    # A reused workspace larger than the chunk gives the same answer for a later chunk.
    np.testing.assert_array_equal(hamming(3, 6, hamming.workspace(6)), expected[3:])


# -- user errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"query_codes": np.array([[0, 2, 1]])}, r"query codes: values must be .*found 0, 1, 2"),
        ({"query_codes": np.array([[-1, 0, 1]])}, r"all in \{0,1\} or all in \{-1,\+1\}"),
        ({"database_codes": np.zeros((4, 3, 1))}, r"database codes: expected a 2-D array"),
        ({"database_codes": np.zeros((4, 5))}, r"3 bits but database codes 5"),
        ({"query_codes": np.zeros((0, 3))}, r"query codes: empty"),
        ({"query_codes": np.array([["a", "b", "c"]])}, r"query codes: expected numeric codes"),
        ({"query_labels": np.array([0, 1])}, r"query labels: 2 labels for 1 codes"),
        ({"database_labels": np.eye(4)}, r"class ids but database labels are multi-hot"),
        ({"query_labels": np.array([0.5])}, r"class ids must be whole numbers"),
    ],
)
def test_bad_inputs_are_one_clear_error(change: dict, message: str) -> None:
    inputs = {
        "query_codes": np.array([[0, 1, 1]]),
        "database_codes": np.zeros((4, 3)),
        "query_labels": np.array([1]),
        "database_labels": np.arange(4),
    } | change
    with pytest.raises(HashbenchError, match=message):
        evaluate(**inputs)


def test_multi_hot_widths_must_match() -> None:
    codes = np.zeros((2, 3), np.uint8)
    with pytest.raises(HashbenchError, match="multi-hot with 4 classes .* multi-hot with 5"):
        evaluate(codes, codes, np.zeros((2, 4)), np.zeros((2, 5)))


@pytest.mark.parametrize("topk", [0, -3, 2.5, True, "5"])
def test_bad_topk_is_refused(topk: object) -> None:
    codes = np.zeros((2, 3), np.uint8)
    with pytest.raises(HashbenchError, match="topk must be an integer >= 1"):
        mean_average_precision(codes, codes, np.zeros(2), np.zeros(2), topk=topk)


def test_bad_precision_depth_and_device_are_refused() -> None:
    codes, labels = np.zeros((2, 3), np.uint8), np.zeros(2)
    with pytest.raises(HashbenchError, match="precision_at must be an integer >= 1"):
        evaluate(codes, codes, labels, labels, precision_at=(10, 0))
    with pytest.raises(HashbenchError, match="unknown device 'gpu0'"):
        evaluate(codes, codes, labels, labels, device="gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(HashbenchError, match="torch sees no CUDA device"):
            evaluate(codes, codes, labels, labels, device="cuda")


def test_without_a_device_the_evaluator_computes_on_the_cpu(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A run names its device; anything else (tables, `hashbench evaluate`) computes on the CPU,
    # whatever HASHBENCH_DEVICE tells the training.
    problem = random_problem(11, 5, 40, 8)
    monkeypatch.setenv("HASHBENCH_DEVICE", "cuda:7")
    assert evaluate(*problem).metrics == evaluate(*problem, device="cpu").metrics


@pytest.mark.cuda
@pytest.mark.parametrize("multi_label", [False, True])
def test_cuda_and_cpu_give_the_same_metrics(multi_label: bool) -> None:
    queries, database, query_labels, database_labels = clustered_problem(12, 700, 3000, 48, 0.2)
    if multi_label:  # each query carries its class and the next one
        one_hot = np.eye(10, dtype=np.uint8)
        query_labels = one_hot[query_labels] | one_hot[(query_labels + 1) % 10]
        database_labels = one_hot[database_labels]
    problem = (queries, database, query_labels, database_labels)
    on_cuda = evaluate(*problem, topk=500, precision_at=(100, 1000), device="cuda")
    on_cpu = evaluate(*problem, topk=500, precision_at=(100, 1000), device="cpu")
    assert on_cuda.metrics.keys() == on_cpu.metrics.keys()
    for name, value in on_cpu.metrics.items():  # equal but for the order of the sums
        assert on_cuda.metrics[name] == pytest.approx(value, abs=1e-12), name
    for name, curve in on_cpu.curves.items():
        assert on_cuda.curves[name] == pytest.approx(curve, abs=1e-12), name


def test_metric_names_follow_the_cut_off() -> None:
    problem = random_problem(10, 4, 20, 6)
    metrics = evaluate(*problem, topk=5, precision_at=(3,)).metrics
    assert set(metrics) == {"map@5", "map_tie@5", "precision@r2", "precision@3"}
    assert all(isinstance(value, float) and 0 <= value <= 1 for value in metrics.values())
    assert math.isclose(sum(evaluate(*problem, topk=5).curves["pr_radius"]), sum(range(7)))
