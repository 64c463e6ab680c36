"""Rank the database for a chunk of queries by (Hamming distance, database index).

Input is the chunk's offset-distance matrix (``d(r, j) + r * (bits + 1)``, int16, see
:mod:`hashbench.hamming`) and its relevance block. Two outputs feed every metric:

* ``top_columns``: each row's first ``length`` database indices in the order (distance,
  database index) -- ties broken by the index, stable and deterministic;
* ``distance_counts``: per row and distance, how many items and how many relevant items.

On CPU, distances take only ``bits + 1`` values, so nothing sorts a whole row: the rows'
cut-off distances (exact, from the counts, or estimated from a column sample with a safety
margin and a fallback) select the few candidates, which ``np.flatnonzero`` yields in
(row, index) order; one sort of unique uint32 keys ``(row, distance, index)`` puts them in
ranking order. On CUDA a per-row ``topk`` over the same keys does it.
"""

from __future__ import annotations

import numpy as np
import torch

#: Estimates read every ``nd // _SAMPLE_COLUMNS``-th column of a row.
_SAMPLE_COLUMNS = 4096
#: Standard deviations of a sample count added to the estimated cut-off.
_SAFETY_SIGMAS = 4.0


def row_offsets(rows: int, bits: int) -> np.ndarray:
    return np.arange(rows, dtype=np.int64) * (bits + 1)


def distance_counts(
    offset: torch.Tensor, relevant: torch.Tensor, bits: int
) -> tuple[np.ndarray, np.ndarray]:
    """int64 (rows, bits + 1) counts of all items and of relevant items at each distance."""
    if offset.device.type == "cpu":
        both = _pair_counts_numpy(offset.numpy(), relevant.numpy(), bits)
    else:
        both = _pair_counts_torch(offset, relevant, bits)
    both = both.reshape(offset.shape[0], bits + 1, 2).astype(np.int64)
    return both.sum(axis=2), both[:, :, 1].copy()


def _pair_counts_numpy(offsets: np.ndarray, relevant: np.ndarray, bits: int) -> np.ndarray:
    """Per row, counts of 2 * distance + relevant: both histograms in one pass."""
    plain = offsets - row_offsets(len(offsets), bits).astype(np.int16)[:, None]
    keys = plain.astype(np.uint8 if bits < 127 else np.uint16)
    keys <<= 1
    keys |= relevant
    # Per-row bincounts of small unsigned keys are the fastest numpy histogram here.
    return np.stack([np.bincount(row, minlength=2 * (bits + 1)) for row in keys])


def _pair_counts_torch(offset: torch.Tensor, relevant: torch.Tensor, bits: int) -> np.ndarray:
    """As ``_pair_counts_numpy``, with the row offsets doing the per-row split of one bincount."""
    keys = (offset.long() * 2 + relevant).flatten()
    return torch.bincount(keys, minlength=2 * offset.shape[0] * (bits + 1)).cpu().numpy()


def cutoff_distances(all_counts: np.ndarray, length: int) -> np.ndarray:
    """Per row, the distance of the ``length``-th nearest item (``length`` <= items)."""
    return (np.cumsum(all_counts, axis=1) < length).sum(axis=1)


def top_columns(
    offset: torch.Tensor, bits: int, length: int, cutoffs: np.ndarray | None = None
) -> np.ndarray | torch.Tensor:
    """(rows, length) database indices of each row's first ``length`` items, in ranking order.

    A numpy array for a CPU chunk, a tensor on the chunk's device otherwise. ``cutoffs``
    (per-row distances at or beyond the ``length``-th item) spare the CPU path its estimate.
    """
    if offset.device.type != "cpu":
        return _top_columns_torch(offset, length)
    rows = offset.shape[0]
    offsets = offset.numpy()
    if cutoffs is None:
        thresholds = _estimate_thresholds(offsets, bits, length)
    else:
        thresholds = np.asarray(cutoffs, dtype=np.int64) + row_offsets(rows, bits)
    return _top_columns_numpy(offsets, bits, length, thresholds)


def _estimate_thresholds(offsets: np.ndarray, bits: int, length: int) -> np.ndarray:
    """Per-row offset distance that keeps at least ``length`` items, with high probability.

    The quantile of a column sample, raised by a few standard deviations of its count; a row
    that still falls short is redone with all its items (see ``_top_columns_numpy``).
    """
    rows, size = offsets.shape
    stride = size // _SAMPLE_COLUMNS
    everything = row_offsets(rows, bits) + bits
    if stride < 2:
        return everything
    sample = offsets[:, ::stride]
    fraction = length / size
    margin = _SAFETY_SIGMAS * np.sqrt(sample.shape[1] * fraction * (1 - fraction))
    kth = int(np.ceil(sample.shape[1] * fraction + margin))
    if kth >= sample.shape[1]:
        return everything
    return np.partition(sample, kth, axis=1)[:, kth].astype(np.int64)


def _top_columns_numpy(
    offsets: np.ndarray, bits: int, length: int, thresholds: np.ndarray
) -> np.ndarray:
    rows, size = offsets.shape
    starts = np.arange(rows + 1, dtype=np.int64) * size
    candidates = np.flatnonzero(offsets <= thresholds[:, None].astype(offsets.dtype))
    bounds = np.searchsorted(candidates, starts)
    short = np.diff(bounds) < length
    if short.any():
        thresholds = np.where(short, row_offsets(rows, bits) + bits, thresholds)
        candidates = np.flatnonzero(offsets <= thresholds[:, None].astype(offsets.dtype))
        bounds = np.searchsorted(candidates, starts)
    # key = offset * size + flat index = (row * (bits + 2) + distance) * size + column:
    # unique, ordered by (row, distance, column), and key % size is the column.
    key_dtype = np.uint32 if rows * (bits + 2) * size < 2**32 else np.uint64
    # Indices from flatnonzero are in range: mode='clip' skips numpy's slower bounds check.
    distances = offsets.view(np.uint16).ravel().take(candidates, mode="clip")
    keys = np.multiply(distances, size, dtype=key_dtype)
    np.add(keys, candidates, out=keys, casting="unsafe")
    keys.sort()
    top = keys.take(bounds[:-1, None] + np.arange(length), mode="clip")
    top %= key_dtype(size)
    return top


def _top_columns_torch(offset: torch.Tensor, length: int) -> torch.Tensor:
    size = offset.shape[1]
    keys = offset.long() * size + torch.arange(size, device=offset.device)
    return torch.topk(keys, length, dim=1, largest=False, sorted=True).values % size
