"""LSH: random Gaussian projections of centred features (Charikar 2002; Gionis et al. 1999)."""

from __future__ import annotations

import numpy as np

from hashbench.method import HashingMethod, Subset
from hashbench.registry import register_method


@register_method("lsh")
class LSH(HashingMethod):
    """Sign of random projections: W ~ N(0, I), code = sign((x - mean) W).

    Two items collide on a bit with probability 1 - angle / pi, the property the tests pin.
    """

    def _fit(self, train: Subset, validation: Subset | None) -> None:
        rng = np.random.default_rng(self.seed)
        self.mean_ = train.inputs.mean(axis=0, dtype=np.float64).astype(np.float32)
        dim = train.inputs.shape[1]
        self.projection_ = rng.standard_normal((dim, self.bits)).astype(np.float32)

    def _encode(self, inputs: np.ndarray) -> np.ndarray:
        return (inputs - self.mean_) @ self.projection_
