"""Who is relevant to whom: a query and a database item are relevant when they share a label;
on multi-label data, how relevant: the number of labels they share (graded relevance)."""

from __future__ import annotations

import numpy as np

from hashbench.errors import HashbenchError


def as_labels(labels: object, count: int, what: str) -> np.ndarray:
    """Validate class ids (n,) as int64 or multi-hot (n, C) as uint8 {0,1}."""
    array = np.asarray(labels)
    if array.dtype.kind not in "biuf":
        raise HashbenchError(f"{what}: expected numeric labels, got dtype {array.dtype}")
    if array.ndim not in (1, 2):
        raise HashbenchError(
            f"{what}: expected class ids (n,) or multi-hot (n, C), got shape {array.shape}"
        )
    if len(array) != count:
        raise HashbenchError(f"{what}: {len(array)} labels for {count} codes")
    if array.ndim == 1:
        if array.dtype.kind == "f" and not np.array_equal(array, np.round(array)):
            raise HashbenchError(f"{what}: class ids must be whole numbers")
        return array.astype(np.int64)
    if not ((array == 0) | (array == 1)).all():
        raise HashbenchError(f"{what}: multi-hot labels must be 0 or 1")
    return array.astype(np.uint8)


def label_kind(labels: np.ndarray) -> str:
    return "class ids" if labels.ndim == 1 else f"multi-hot with {labels.shape[1]} classes"


def check_same_kind(query_labels: np.ndarray, database_labels: np.ndarray) -> None:
    """Class ids against class ids, multi-hot against multi-hot of the same width."""
    if query_labels.shape[1:] != database_labels.shape[1:]:
        raise HashbenchError(
            f"query labels are {label_kind(query_labels)} but database labels are "
            f"{label_kind(database_labels)}; both must be of the same kind"
        )


#: Shared-label counts travel as uint8.
_MAX_SHARED = np.iinfo(np.uint8).max


def relevance_levels(query_labels: np.ndarray, database_labels: np.ndarray) -> int:
    """How many relevance grades there are, 0 (nothing shared) to the most labels a query and
    an item can share: 2 for class ids (relevant or not)."""
    if query_labels.ndim == 1:
        return 2
    most = min(int(query_labels.sum(axis=1).max()), int(database_labels.sum(axis=1).max()))
    if most > _MAX_SHARED:
        raise HashbenchError(
            f"items carry up to {most} labels; at most {_MAX_SHARED} are supported"
        )
    return most + 1


class Relevance:
    """Relevance of query rows to database items, as numpy arrays.

    ``levels``: how many relevance grades :meth:`grades` gives (:func:`relevance_levels`).
    """

    def __init__(self, query_labels: np.ndarray, database_labels: np.ndarray) -> None:
        check_same_kind(query_labels, database_labels)
        self.multi_label = query_labels.ndim == 2
        self.levels = relevance_levels(query_labels, database_labels)
        if self.multi_label:
            # The product of multi-hot rows counts the labels shared: exact in float32 for 0/1
            # inputs (counts far below 2^24), and a BLAS product.
            self._query = query_labels.astype(np.float32)
            self._database = np.ascontiguousarray(database_labels.astype(np.float32).T)
            return
        # Dense small ids keep the per-item lookups in cache.
        everything = np.concatenate([query_labels, database_labels])
        classes, dense = np.unique(everything, return_inverse=True)
        dense = dense.astype(np.uint8 if len(classes) <= 256 else np.int32)
        self._query = dense[: len(query_labels)]
        self._database = dense[len(query_labels) :]

    def block(self, start: int, stop: int) -> np.ndarray:
        """bool (rows, database size)."""
        if self.multi_label:
            return (self._query[start:stop] @ self._database) > 0
        return self._query[start:stop, None] == self._database[None, :]

    def grades(self, start: int, stop: int) -> np.ndarray:
        """(rows, database size) graded relevance: uint8 numbers of shared labels for multi-hot
        labels, the bool :meth:`block` for class ids (whose grades are 0 and 1)."""
        if self.multi_label:
            return (self._query[start:stop] @ self._database).astype(np.uint8)
        return self.block(start, stop)

    def at(
        self, start: int, stop: int, columns: np.ndarray, block: np.ndarray | None = None
    ) -> np.ndarray:
        """(rows, n): relevance of row r to database item ``columns[r, i]``, bool.

        ``block``: this chunk's :meth:`block`, if already at hand; given its :meth:`grades`
        instead, the grades are gathered.
        """
        if self.multi_label:
            block = self.block(start, stop) if block is None else block
            return np.take_along_axis(block, columns, 1)
        return self._database.take(columns) == self._query[start:stop, None]
