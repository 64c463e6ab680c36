"""Exhaustive Hamming search, two ways: faiss's binary flat index and hashbench's own ranking.

A run's quality is only half of what hashing promises; the other half is how fast its codes
are searched. Both engines return each query's ``k`` nearest database items in the order
(distance, database index), so their answers agree item for item (tested), and their time per
query can stand side by side: faiss's ``IndexBinaryFlat`` (a well-kept engine: popcounts
over packed codes) and the evaluator's ranking (numpy popcounts over packed codes, then
counting, :mod:`~hashbench.evaluation.ranking`). Latency is measured on one thread, a batch of
queries at a time, on the machine that runs this: compare it only with figures from the same
machine.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from hashbench.evaluation import ranking
from hashbench.evaluation.hamming import HammingDistances, as_bits
from hashbench.machine import cpu_name

#: Neighbours per query of the timed searches (the depth of precision@100).
K = 100
#: Queries per timed batch, and timed repetitions of it (the fastest counts).
BATCH = 64
REPEATS = 3


@dataclass(frozen=True)
class Latency:
    """Microseconds per query of an exhaustive top-``k`` search, on one thread."""

    faiss_us: float
    hashbench_us: float
    k: int
    queries: int
    machine: str


def faiss_search(
    query_codes: np.ndarray, database_codes: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """(distances, database indices), each (queries, k), from faiss's binary flat index."""
    index = _faiss_index(database_codes)
    return _faiss_query(index, query_codes, k)


def hashbench_search(
    query_codes: np.ndarray, database_codes: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """(distances, database indices), each (queries, k), from the evaluator's ranking."""
    queries, database = as_bits(query_codes, "query codes"), as_bits(database_codes, "codes")
    k = min(k, len(database))
    hamming = HammingDistances(queries, database)
    distances = hamming(0, len(queries))
    columns = ranking.top_columns(distances, hamming.bits, k).astype(np.int64)
    return np.take_along_axis(distances, columns, axis=1).astype(np.int64), columns


def search_latency(query_codes: np.ndarray, database_codes: np.ndarray, k: int = K) -> Latency:
    """Both engines' time per query on the first ``BATCH`` queries, one thread each, the
    fastest of ``REPEATS``; building faiss's index is not counted (it is built once)."""
    queries = np.asarray(query_codes)[:BATCH]
    index = _faiss_index(database_codes)
    with _one_thread():
        faiss_s = _fastest(lambda: _faiss_query(index, queries, k))
        hashbench_s = _fastest(lambda: hashbench_search(queries, database_codes, k))
    return Latency(
        faiss_us=faiss_s / len(queries) * 1e6,
        hashbench_us=hashbench_s / len(queries) * 1e6,
        k=min(k, len(database_codes)),
        queries=len(queries),
        machine=machine(),
    )


def machine() -> str:
    """The processor this runs on and its cores, as measurements here are labelled."""
    return f"{cpu_name()}, {os.cpu_count()} cores"


def _faiss_index(database_codes: np.ndarray):
    import faiss

    packed = np.packbits(as_bits(database_codes, "database codes"), axis=1)
    index = faiss.IndexBinaryFlat(8 * packed.shape[1])  # zero padding adds no distance
    index.add(packed)
    return index


def _faiss_query(index, query_codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    packed = np.packbits(as_bits(query_codes, "query codes"), axis=1)
    distances, indices = index.search(packed, min(k, index.ntotal))
    return distances.astype(np.int64), indices.astype(np.int64)


def _fastest(search) -> float:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        search()
        times.append(time.perf_counter() - start)
    return min(times)


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    import faiss

    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)  # hashbench's ranking runs on one thread: numpy's loops
    try:
        yield
    finally:
        faiss.omp_set_num_threads(threads)
