"""Exact Hamming distances between binary codes: one matrix product per chunk of queries.

With codes as +-1 vectors, ``d(q, x) = (bits - q . x) / 2``, so a whole chunk of distances is
one GEMM. On CPU it is a bf16 GEMM whose output *bit patterns* are the distances plus a
constant bias (see ``_BF16_PATTERN_OF_128``): viewed as int16 they compare, sort and count
like distances, with no conversion pass over the chunk.
"""

from __future__ import annotations

import numpy as np
import torch

from hashbench.errors import HashbenchError

#: bf16 holds every integer up to 256 exactly, and in [128, 256] its bit pattern is
#: 0x4300 + (value - 128). A bf16 product of +-1/2 codes plus constant columns 128 + bits // 2
#: and (odd bits) 1/2, each exact in bf16, is 128 + distance, exactly (fp32 accumulation):
#: viewed as int16 it reads 0x4300 + distance.
_BF16_MAX_BITS = 128
_BF16_PATTERN_OF_128 = 0x4300
#: oneDNN's fast bf16 kernels want the inner dimension in multiples of 32 (66 -> 96: 1.6x).
_BF16_INNER_MULTIPLE = 32
_MAX_BITS = np.iinfo(np.int16).max - _BF16_PATTERN_OF_128


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


class HammingDistances:
    """Both sides of the product, prepared once on ``device``; called per chunk of queries.

    A call returns int16 (rows, database) holding ``distance + bias``, ``bias`` a constant.
    """

    def __init__(
        self, query_bits: np.ndarray, database_bits: np.ndarray, device: torch.device
    ) -> None:
        self.bits = database_bits.shape[1]
        self.size = database_bits.shape[0]
        self.device = device
        # bf16 products are exact on CPU (fp32 accumulation); CUDA may reduce in bf16, so
        # there the product stays fp32 on +-1 inputs, exact even under TF32.
        self._bf16 = device.type == "cpu" and self.bits <= _BF16_MAX_BITS
        self.bias = _BF16_PATTERN_OF_128 if self._bf16 else 0
        queries, database = _signs(query_bits, device), _signs(database_bits, device)
        if self._bf16:
            inner = -(-(self.bits + 2) // _BF16_INNER_MULTIPLE) * _BF16_INNER_MULTIPLE
            constants = torch.tensor([128 + self.bits // 2, self.bits % 2 / 2], device=device)
            self._queries = _padded(-0.5 * queries, constants, inner).bfloat16()
            self._database = (
                _padded(database, torch.ones(2, device=device), inner).bfloat16().T.contiguous()
            )
        else:
            self._queries, self._database = queries, database.T.contiguous()

    def buffer(self, rows: int) -> torch.Tensor | None:
        """Room for ``rows`` rows of products, to pass as ``out`` chunk after chunk: on CPU a
        fresh chunk-sized allocation each time costs page faults and cache misses that can
        double the product's time. None where the product is not written in place."""
        if not self._bf16:
            return None
        return torch.empty(rows, self.size, dtype=torch.bfloat16, device=self.device)

    def __call__(self, start: int, stop: int, out: torch.Tensor | None = None) -> torch.Tensor:
        """Distances of queries start:stop; ``out``: the first rows of a :meth:`buffer`."""
        if self._bf16:
            product = torch.mm(self._queries[start:stop], self._database, out=out)
            return product.view(torch.int16)
        product = self._queries[start:stop] @ self._database
        return ((self.bits - product) * 0.5).to(torch.int16)


def _signs(bits: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(bits).to(device, torch.float32) * 2 - 1


def _padded(signs: torch.Tensor, constants: torch.Tensor, width: int) -> torch.Tensor:
    """[signs | constants | zeros], ``width`` columns."""
    padded = torch.zeros(len(signs), width, device=signs.device)
    padded[:, : signs.shape[1]] = signs
    padded[:, signs.shape[1] : signs.shape[1] + len(constants)] = constants
    return padded
