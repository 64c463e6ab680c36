"""Exact Hamming distances between binary codes: XOR and popcount over packed 64-bit words.

Codes are packed once into uint64 words (the zero padding adds no distance); a chunk of
queries' distances to the whole database is then one XOR and one popcount (numpy's
``bitwise_count``) per word and query, exact, with no products and no conversion pass: uint8
distances up to 255 bits, uint16 beyond. This is the CPU path, numpy alone, so that scoring
codes (tables, the report, ``hashbench evaluate``) never loads torch; the CUDA path is
:mod:`hashbench.evaluation.cuda`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hashbench.errors import HashbenchError

_WORD = 64
#: Distances are counted in uint16.
_MAX_BITS = int(np.iinfo(np.uint16).max)


def as_bits(codes: object, what: str) -> np.ndarray:
    """Validate codes in {0,1} or {-1,+1} (any bool, integer or float dtype) as uint8 {0,1}.

    Each array picks its own convention, so {0,1} queries against {-1,+1} database codes work.
    """
    array = np.asarray(codes)
    if array.dtype.kind not in "biuf":
        raise HashbenchError(f"{what}: expected numeric codes, got dtype {array.dtype}")
    if array.ndim != 2:
        raise HashbenchError(
            f"{what}: expected a 2-D array (items x bits), got shape {array.shape}"
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise HashbenchError(f"{what}: empty array of shape {array.shape}")
    if array.shape[1] > _MAX_BITS:
        raise HashbenchError(f"{what}: {array.shape[1]} bits; at most {_MAX_BITS} are supported")
    if array.dtype.kind == "b":
        return array.astype(np.uint8)
    ones = array == 1
    if (ones | (array == 0)).all() or (ones | (array == -1)).all():
        return ones.astype(np.uint8)
    found = ", ".join(str(v) for v in np.unique(array)[:6])
    raise HashbenchError(
        f"{what}: values must be all in {{0,1}} or all in {{-1,+1}}; found {found}"
    )


def packed(bits: np.ndarray) -> np.ndarray:
    """uint8 {0,1} (n, bits) as uint64 (n, words), zero-padded to whole words."""
    words = -(-bits.shape[1] // _WORD)
    padded = np.zeros((len(bits), words * _WORD), dtype=np.uint8)
    padded[:, : bits.shape[1]] = bits
    return np.packbits(padded, axis=1).view(np.uint64)


@dataclass(frozen=True)
class Workspace:
    """Room for a chunk of rows, reused chunk after chunk: a fresh chunk-sized allocation each
    time costs page faults and cache misses that can double a chunk's time."""

    xor: np.ndarray
    counts: np.ndarray
    distances: np.ndarray


class HammingDistances:
    """Both sides packed once; called per chunk of queries, it returns their distances to
    every database item, (rows, database) uint8 (uint16 beyond 255 bits)."""

    def __init__(self, query_bits: np.ndarray, database_bits: np.ndarray) -> None:
        self.bits = database_bits.shape[1]
        self.size = database_bits.shape[0]
        self.dtype = np.uint8 if self.bits <= np.iinfo(np.uint8).max else np.uint16
        self._queries = packed(query_bits)
        self._database = np.ascontiguousarray(packed(database_bits).T)  # (words, database)

    def workspace(self, rows: int) -> Workspace:
        shape = (rows, self.size)
        return Workspace(
            xor=np.empty(shape, np.uint64),
            counts=np.empty(shape, np.uint8),
            distances=np.empty(shape, self.dtype),
        )

    def __call__(self, start: int, stop: int, workspace: Workspace | None = None) -> np.ndarray:
        """Distances of queries start:stop, in ``workspace`` (at least stop - start rows)."""
        rows = stop - start
        room = workspace or self.workspace(rows)
        xor, counts, distances = room.xor[:rows], room.counts[:rows], room.distances[:rows]
        for word, database in enumerate(self._database):
            np.bitwise_xor(self._queries[start:stop, word, None], database[None, :], out=xor)
            if word == 0:
                np.bitwise_count(xor, out=distances)
            else:
                np.bitwise_count(xor, out=counts)
                np.add(distances, counts, out=distances)
        return distances
