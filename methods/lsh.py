"""LSH: random Gaussian projections of centred features (Charikar 2002; Gionis et al. 1999)."""

from __future__ import annotations

import numpy as np

from hashbench.classic.preprocess import fit_centring
from hashbench.method import HashingMethod, Subset
from hashbench.registry import register_method


@register_method("lsh")
class LSH(HashingMethod):
    """Sign of random projections: W ~ N(0, I), code = sign((x - mean) W).

    Two items collide on a bit with probability 1 - angle / pi, the property the tests pin.
    """

    def _fit(self, train: Subset, validation: Subset | None) -> None:
        self.standardiser_ = fit_centring(train.inputs)
        rng = np.random.default_rng(self.seed)
        projection = rng.standard_normal((train.inputs.shape[1], self.bits))
        self.projection_ = projection.astype(np.float32)

    def _encode(self, inputs: np.ndarray) -> np.ndarray:
        return self.standardiser_.transform(inputs) @ self.projection_
