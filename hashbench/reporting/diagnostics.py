"""Code diagnostics: whether a method's bits are balanced, uncorrelated and spread out.

Two methods with the same mAP can hash very differently; these are what a reviewer asks about
first. They are computed on the database codes (what a retrieval system indexes):

* the fraction of ones per bit (0.5 is a balanced bit, 0 or 1 a wasted one);
* the mean absolute Pearson correlation between pairs of distinct bits (0: independent bits;
  a constant bit has no correlation and is left out of the pairs);
* the number of distinct codes, and the size of the largest bucket (items sharing one code),
  which bounds how many items tie at Hamming distance 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CodeDiagnostics:
    items: int
    ones_per_bit: np.ndarray  # float (bits,)
    mean_abs_correlation: float  # NaN when fewer than two bits vary
    constant_bits: int
    distinct_codes: int
    largest_bucket: int

    @property
    def bits(self) -> int:
        return len(self.ones_per_bit)


def diagnose(codes: np.ndarray) -> CodeDiagnostics:
    """``codes``: uint8 {0, 1} (items, bits)."""
    codes = np.asarray(codes, dtype=np.uint8)
    ones = codes.mean(axis=0, dtype=np.float64)
    varying = np.flatnonzero((ones > 0) & (ones < 1))
    if len(varying) >= 2:
        # bits x bits, never items x items: the correlation of the varying columns.
        correlation = np.corrcoef(codes[:, varying], rowvar=False)
        pairs = np.triu_indices(len(varying), k=1)
        mean_abs = float(np.abs(correlation[pairs]).mean())
    else:
        mean_abs = float("nan")
    packed = np.packbits(codes, axis=1)
    _, counts = np.unique(packed, axis=0, return_counts=True)
    return CodeDiagnostics(
        items=len(codes),
        ones_per_bit=ones,
        mean_abs_correlation=mean_abs,
        constant_bits=codes.shape[1] - len(varying),
        distinct_codes=len(counts),
        largest_bucket=int(counts.max()),
    )
