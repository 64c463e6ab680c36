"""LSH: random Gaussian projections of centred features (Charikar 2002; Gionis et al. 1999).

Papers: Charikar, "Similarity estimation techniques from rounding algorithms", STOC 2002 (the
signs of random projections: collision probability 1 - angle / pi); Gionis, Indyk & Motwani,
"Similarity search in high dimensions via hashing", VLDB 1999. No authors' code: the reference
is the LSH case of main.m in Gong & Lazebnik's ITQ package (www.unc.edu/~yunchao/itq.htm),
XX * randn(d, bits) on centred features, read in the copy
willard-yuan/hashing-baseline-for-image-retrieval (Method-LSH/, utils/construct_data.m).
Departures: hashbench centres by the training mean (main.m: by the mean of the training and test
items together) and codes a projection of exactly 0 as bit 0 (main.m: XX >= 0 gives 1).
"""

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
