"""Rank the database for a chunk of queries by (Hamming distance, database index).

Input is the chunk's distance matrix as :class:`~.hamming.HammingDistances` returns it:
unsigned integers (rows, database). Two outputs feed every metric:

* ``top_columns``: each row's first ``length`` database indices in the order (distance,
  database index) -- ties broken by the index, stable and deterministic;
* ``distance_histogram``: per row, distance and relevance grade, how many items.

On CPU nothing sorts a whole row. Distances take only ``bits + 1`` values, so each row's
cut-off distance (exact, from the counts, or estimated from a column sample with a safety
margin) selects few candidates, which ``np.flatnonzero`` yields in (row, index) order; one
sort of unique integer keys ``(row, distance, index)`` puts them in ranking order. A row the
estimate leaves short takes all its items. :mod:`hashbench.evaluation.cuda` does the same on a
GPU, in torch, with the same two functions.
"""

from __future__ import annotations

import numpy as np

#: The estimate reads every ``size // _SAMPLE_COLUMNS``-th column of a row...
_SAMPLE_COLUMNS = 4096
#: ...and adds this many standard deviations of the sample count to its quantile.
_SAFETY_SIGMAS = 3.0
#: Sort keys are uint32 below this, uint64 above (bigger chunks or databases).
_UINT32_KEYS_BELOW = 2**32


def distance_histogram(
    distances: np.ndarray, grades: np.ndarray, bits: int, levels: int
) -> np.ndarray:
    """int64 (rows, bits + 1, levels): per row, how many items lie at each distance with each
    relevance grade (``grades``: bool, or uint8 below ``levels``; see
    :meth:`~hashbench.evaluation.relevance.Relevance.grades`). Summed over grades it counts
    all items per distance; over grades 1 and up, the relevant ones."""
    # Per row, counts of levels * distance + grade: every histogram in one pass. Per-row
    # bincounts of small unsigned keys are the fastest numpy histogram here.
    bins = (bits + 1) * levels
    key_type = np.uint8 if bins <= 1 << 8 else np.uint16 if bins <= 1 << 16 else np.uint32
    keys = distances.astype(key_type)
    keys *= levels
    keys += grades
    counts = np.stack([np.bincount(row, minlength=bins) for row in keys])
    return counts.reshape(distances.shape[0], bits + 1, levels).astype(np.int64)


def cutoff_distances(all_counts: np.ndarray, length: int) -> np.ndarray:
    """Per row, the distance of the ``length``-th nearest item (``length`` <= items)."""
    return (np.cumsum(all_counts, axis=1) < length).sum(axis=1)


def top_columns(
    distances: np.ndarray, bits: int, length: int, cutoffs: np.ndarray | None = None
) -> np.ndarray:
    """(rows, length) database indices of each row's first ``length`` items, in ranking order.

    ``cutoffs`` (per-row distances at or beyond the ``length``-th item) spare the estimate.
    """
    thresholds = _estimate_thresholds(distances, bits, length) if cutoffs is None else cutoffs
    return _top_columns(distances, bits, length, np.asarray(thresholds))


def _estimate_thresholds(values: np.ndarray, largest: int, length: int) -> np.ndarray:
    """Per-row value that keeps at least ``length`` items with high probability: the quantile
    of a column sample, raised by a few standard deviations of its count."""
    rows, size = values.shape
    stride = size // _SAMPLE_COLUMNS
    everything = np.full(rows, largest)
    if stride < 2:
        return everything
    sample = values[:, ::stride]
    fraction = length / size
    margin = _SAFETY_SIGMAS * np.sqrt(sample.shape[1] * fraction * (1 - fraction))
    kth = int(np.ceil(sample.shape[1] * fraction + margin))
    if kth >= sample.shape[1]:
        return everything
    return np.partition(sample, kth, axis=1)[:, kth]


def _top_columns(values: np.ndarray, bits: int, length: int, thresholds: np.ndarray) -> np.ndarray:
    rows, size = values.shape
    candidates = np.flatnonzero(values <= thresholds[:, None].astype(values.dtype))
    counts = np.diff(np.searchsorted(candidates, np.arange(rows + 1) * size))
    # key = ((row * (bits + 2) + distance) << shift) | column: unique, ordered by (row,
    # distance, column), a mask away from the column. From a candidate's distance and flat
    # index (row * size + column): (distance << shift) + flat + a per-row term.
    shift = max(size - 1, 1).bit_length()
    key_type = np.uint32 if rows * (bits + 2) << shift < _UINT32_KEYS_BELOW else np.uint64
    rows_ = np.arange(rows)
    row_terms = (rows_ * (bits + 2) * (1 << shift) - rows_ * size).astype(key_type)
    keys = _keys(values, candidates, shift, np.repeat(row_terms, counts), key_type)
    short = np.flatnonzero(counts < length)
    if len(short):  # the estimate fell short: these rows take all their other items too
        rest = [r * size + np.flatnonzero(values[r] > thresholds[r]) for r in short]
        terms = np.repeat(row_terms[short], [len(r) for r in rest])
        keys = np.concatenate([keys, _keys(values, np.concatenate(rest), shift, terms, key_type)])
    keys.sort()
    row_starts = (rows_ * (bits + 2) << shift).astype(key_type)
    top = keys.take(np.searchsorted(keys, row_starts)[:, None] + np.arange(length), mode="clip")
    top &= key_type((1 << shift) - 1)
    return top


def _keys(
    values: np.ndarray, flat: np.ndarray, shift: int, row_terms: np.ndarray, key_type: type
) -> np.ndarray:
    # Indices from flatnonzero are in range: mode="clip" skips numpy's slower bounds check.
    keys = values.ravel().take(flat, mode="clip").astype(key_type)
    keys <<= shift
    np.add(keys, flat, out=keys, casting="unsafe")
    keys += row_terms
    return keys
