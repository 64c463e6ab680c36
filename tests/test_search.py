"""Exhaustive search: faiss's binary flat index and hashbench's ranking give the same neighbours
and distances, both those of a brute force, ties in database order; latency is measured."""

from __future__ import annotations

import numpy as np
import pytest

from hashbench.evaluation.search import faiss_search, hashbench_search, search_latency


def brute_force(queries: np.ndarray, database: np.ndarray, k: int):
    """Distances by counting differing bits; order by (distance, index), a stable sort."""
    distances = (queries[:, None, :] != database[None, :, :]).sum(axis=2)
    order = np.argsort(distances, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(distances, order, axis=1), order


@pytest.mark.parametrize(("bits", "items", "k"), [(6, 200, 30), (12, 300, 50), (48, 500, 20)])
def test_faiss_and_hashbench_find_the_same_neighbours_as_brute_force(
    bits: int, items: int, k: int
) -> None:
    rng = np.random.default_rng(bits)
    queries = rng.integers(0, 2, (25, bits), dtype=np.uint8)
    database = rng.integers(0, 2, (items, bits), dtype=np.uint8)
    database[items // 2 :] = database[: items - items // 2]  # many exact ties
    expected_distances, expected_indices = brute_force(queries, database, k)
    for search in (faiss_search, hashbench_search):
        distances, indices = search(queries, database, k)
        np.testing.assert_array_equal(distances, expected_distances, err_msg=search.__name__)
        np.testing.assert_array_equal(indices, expected_indices, err_msg=search.__name__)


def test_k_beyond_the_database_returns_all_of_it() -> None:
    rng = np.random.default_rng(0)
    queries, database = rng.integers(0, 2, (3, 16), np.uint8), rng.integers(0, 2, (7, 16), np.uint8)
    for search in (faiss_search, hashbench_search):
        distances, indices = search(queries, database, 100)
        assert indices.shape == (3, 7) and sorted(indices[0]) == list(range(7))


def test_latency_is_per_query_and_labelled_with_the_machine() -> None:
    rng = np.random.default_rng(1)
    queries, database = (
        rng.integers(0, 2, (40, 32), np.uint8),
        rng.integers(0, 2, (900, 32), np.uint8),
    )
    latency = search_latency(queries, database, k=10)
    assert latency.queries == 40 and latency.k == 10
    assert latency.faiss_us > 0 and latency.hashbench_us > 0
    assert "cores" in latency.machine
