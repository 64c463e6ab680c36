"""PCAH: the signs of the top principal projections (Gong & Lazebnik's "PCA-Direct").

Paper: Gong & Lazebnik, "Iterative quantization: a Procrustean approach to learning binary codes",
CVPR 2011 (slazebni.cs.illinois.edu/publications/cvpr11_small_code.pdf), its PCA-Direct baseline.
Authors' code: the PCA step shared by the ITQ and RR cases of main.m in Gong's ITQ package
(www.unc.edu/~yunchao/itq.htm): eigs(cov(training features), bits), projections thresholded at 0
(compactbit(XX > 0)). It was read in the copy willard-yuan/hashing-baseline-for-image-retrieval
(Method-PCAH/trainPCAH.m, compressPCAH.m, utils/construct_data.m; its demo.m fits PCAH on the
training and test items, which hashbench does not follow). Departure: hashbench centres by the
training mean, where main.m centres by the mean of the training and test items together.
"""

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
