"""PCAH: the signs of the top principal projections (as in Gong & Lazebnik's comparisons)."""

from __future__ import annotations

import numpy as np

from hashbench.classic.preprocess import fit_centring, principal_directions
from hashbench.method import HashingMethod, Subset
from hashbench.registry import register_method


@register_method("pcah")
class PCAH(HashingMethod):
    """code = sign((x - mean) P), P the top-``bits`` principal directions of the training set.

    Deterministic: the seed is unused. Long codes spend bits on low-variance directions,
    which is why PCAH falls behind the other methods as the code grows.
    """

    bits_within_dimension = True

    def _fit(self, train: Subset, validation: Subset | None) -> None:
        self.standardiser_ = fit_centring(train.inputs)
        centred = self.standardiser_.transform(train.inputs)
        self.projection_ = principal_directions(centred, self.bits)

    def _encode(self, inputs: np.ndarray) -> np.ndarray:
        return self.standardiser_.transform(inputs) @ self.projection_
