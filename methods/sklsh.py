"""SKLSH: binary codes from shift-invariant kernels (Raginsky & Lazebnik, NIPS 2009).

Paper: "Locality-sensitive binary codes from shift-invariant kernels", NIPS 2009
(papers.nips.cc/paper/2009/hash/a5e00132373a7031000fd987a3c9f87b-Abstract.html). Authors' code:
RF_train.m and RF_compress.m, distributed with Gong & Lazebnik's ITQ package
(www.unc.edu/~yunchao/itq.htm), whose main.m runs them with gamma = 1 on features divided by Dball;
read in the copy willard-yuan/hashing-baseline-for-image-retrieval (Method-SKLSH/,
utils/construct_data.m). hashbench follows them but for the centring: by the training mean, where
main.m centres by the mean of the training and test items together (a shift that, under the uniform
random phase, changes no code's distribution).
"""

from __future__ import annotations

import numpy as np

from hashbench.classic.preprocess import fit_centring_and_scale
from hashbench.constraints import Real
from hashbench.method import HashingMethod, Subset
from hashbench.registry import register_method


@register_method("sklsh")
class SKLSH(HashingMethod):
    """bit = sign(cos(x w + b) + t), w ~ N(0, gamma I), b ~ U[0, 2 pi], t ~ U[-1, 1].

    Random Fourier features of the Gaussian kernel exp(-gamma ||x - y||^2 / 2), thresholded
    at random: two items differ on a bit with probability
    (8 / pi^2) sum_m (1 - K(m (x - y))) / (4 m^2 - 1). Features are scaled as in the
    reference toolbox (mean distance to the 50th neighbour = 1), which ``gamma = 1`` assumes.
    The reference's sqrt(2) factors on both the feature and the threshold cancel in the sign.
    """

    parameters = {"gamma": Real(above=0)}

    def __init__(self, bits: int, seed: int = 0, *, gamma: float = 1.0) -> None:
        super().__init__(bits, seed)
        self.gamma = gamma

    def _fit(self, train: Subset, validation: Subset | None) -> None:
        self.standardiser_ = fit_centring_and_scale(train.inputs, self.seed)
        rng = np.random.default_rng(self.seed)
        dimension = train.inputs.shape[1]
        frequencies = rng.standard_normal((dimension, self.bits)) * np.sqrt(self.gamma)
        self.frequencies_ = frequencies.astype(np.float32)
        self.phases_ = rng.uniform(0.0, 2 * np.pi, self.bits).astype(np.float32)
        self.thresholds_ = rng.uniform(-1.0, 1.0, self.bits).astype(np.float32)

    def _encode(self, inputs: np.ndarray) -> np.ndarray:
        features = np.cos(self.standardiser_.transform(inputs) @ self.frequencies_ + self.phases_)
        return features + self.thresholds_
