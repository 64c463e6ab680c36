"""The evaluator's steps on a CUDA device, in torch: imported only when codes are evaluated
there (a run on a GPU), so that the CPU path, and every command that scores codes, never
loads torch.

The same interface as the CPU path: :class:`HammingDistances` and :class:`Relevance` as in
:mod:`~hashbench.evaluation.hamming` and :mod:`~hashbench.evaluation.relevance`,
:func:`distance_histogram` and :func:`top_columns` as in
:mod:`~hashbench.evaluation.ranking`; the counts and the top items' relevance come back as numpy
arrays, so every metric is the CPU path's own code.
"""

from __future__ import annotations

import numpy as np
import torch

from hashbench.errors import HashbenchError
from hashbench.evaluation.relevance import check_same_kind, relevance_levels


def cuda_device(name: str) -> torch.device:
    """The CUDA device ``name`` names; one line if it is not one torch can use."""
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise HashbenchError(f"unknown device {name!r}: {error}") from None
    if device.type != "cuda":
        raise HashbenchError(f"device {name!r} is not supported; use 'cpu' or 'cuda'")
    if not torch.cuda.is_available():
        raise HashbenchError(f"device {name!r} requested but torch sees no CUDA device")
    return device


class HammingDistances:
    """A chunk's distances as one float32 product of +-1 codes: exact, TF32 or not."""

    def __init__(
        self, query_bits: np.ndarray, database_bits: np.ndarray, device: torch.device
    ) -> None:
        self.bits = database_bits.shape[1]
        self.size = database_bits.shape[0]
        self._queries = _signs(query_bits, device)
        self._database = _signs(database_bits, device).T.contiguous()

    def workspace(self, rows: int) -> None:
        """Nothing to reuse: the product is not written in place."""
        return None

    def __call__(self, start: int, stop: int, workspace: None = None) -> torch.Tensor:
        product = self._queries[start:stop] @ self._database
        return ((self.bits - product) * 0.5).to(torch.int16)


def _signs(bits: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(bits).to(device, torch.float32) * 2 - 1


class Relevance:
    """Relevance of query rows to database items, as tensors on the device; ``levels`` as in
    :class:`hashbench.evaluation.relevance.Relevance`."""

    def __init__(
        self, query_labels: np.ndarray, database_labels: np.ndarray, device: torch.device
    ) -> None:
        check_same_kind(query_labels, database_labels)
        self.multi_label = query_labels.ndim == 2
        self.levels = relevance_levels(query_labels, database_labels)
        if self.multi_label:
            # Exact for 0/1 inputs with fp32 accumulation, even in reduced-precision modes.
            self._query = torch.from_numpy(query_labels).to(device, torch.float32)
            database = torch.from_numpy(database_labels).to(device, torch.float32)
            self._database = database.T.contiguous()
            return
        self._query = torch.from_numpy(query_labels).to(device)
        self._database = torch.from_numpy(database_labels).to(device)

    def block(self, start: int, stop: int) -> torch.Tensor:
        """bool (rows, database size)."""
        if self.multi_label:
            return (self._query[start:stop] @ self._database) > 0
        return self._query[start:stop, None] == self._database[None, :]

    def grades(self, start: int, stop: int) -> torch.Tensor:
        """(rows, database size): uint8 numbers of shared labels for multi-hot labels, the
        bool :meth:`block` for class ids."""
        if self.multi_label:
            return (self._query[start:stop] @ self._database).to(torch.uint8)
        return self.block(start, stop)

    def at(
        self, start: int, stop: int, columns: torch.Tensor, block: torch.Tensor | None = None
    ) -> np.ndarray:
        """(rows, n) numpy: relevance of row r to database item ``columns[r, i]``, bool; the
        grades when ``block`` is this chunk's :meth:`grades`."""
        if self.multi_label:
            block = self.block(start, stop) if block is None else block
            return block.gather(1, columns).cpu().numpy()
        return (self._database[columns] == self._query[start:stop, None]).cpu().numpy()


def distance_histogram(
    distances: torch.Tensor, grades: torch.Tensor, bits: int, levels: int
) -> np.ndarray:
    """As :func:`hashbench.evaluation.ranking.distance_histogram`: row offsets split one
    bincount of the whole chunk."""
    rows = torch.arange(distances.shape[0], device=distances.device)[:, None] * (bits + 1)
    keys = ((distances.long() + rows) * levels + grades).flatten()
    counts = torch.bincount(keys, minlength=distances.shape[0] * (bits + 1) * levels)
    return counts.cpu().numpy().reshape(distances.shape[0], bits + 1, levels).astype(np.int64)


def top_columns(
    distances: torch.Tensor, bits: int, length: int, cutoffs: np.ndarray | None = None
) -> torch.Tensor:
    """As :func:`hashbench.evaluation.ranking.top_columns`: a per-row ``topk`` of the keys
    (distance, database index); it needs no cut-offs."""
    size = distances.shape[1]
    keys = distances.long() * size + torch.arange(size, device=distances.device)
    return torch.topk(keys, length, dim=1, largest=False, sorted=True).values % size
