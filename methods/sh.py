"""SH: spectral hashing (Weiss, Torralba & Fergus, NIPS 2008), as in ``trainSH.m``."""

from __future__ import annotations

import numpy as np

from hashbench.classic.preprocess import fit_centring, principal_directions
from hashbench.method import HashingMethod, Subset
from hashbench.registry import register_method


@register_method("sh")
class SH(HashingMethod):
    """Eigenfunctions of the Laplacian of a uniform box fitted to the PCA-projected data.

    PCA to min(bits, d) dimensions; each dimension i spans [mn_i, mx_i] on the training set
    and has one-dimensional modes of frequency omega = k pi / (mx_i - mn_i), k = 1, 2, ...
    The ``bits`` modes of smallest omega^2 over all dimensions are kept (the constant mode
    is not a bit), and bit = sign(sin(pi/2 + omega (x_i - mn_i))) = sign(cos(...)).
    Deterministic: the seed is unused.
    """

    def _fit(self, train: Subset, validation: Subset | None) -> None:
        self.standardiser_ = fit_centring(train.inputs)
        centred = self.standardiser_.transform(train.inputs)
        self.projection_ = principal_directions(centred, min(self.bits, centred.shape[1]))
        projected = centred @ self.projection_
        eps = np.finfo(np.float64).eps
        self.minimum_ = projected.min(axis=0).astype(np.float64) - eps
        spans = projected.max(axis=0).astype(np.float64) + eps - self.minimum_
        self.mode_dimension_, self.mode_frequency_ = smallest_modes(spans, self.bits)

    def _encode(self, inputs: np.ndarray) -> np.ndarray:
        projected = self.standardiser_.transform(inputs) @ self.projection_
        offset = projected[:, self.mode_dimension_] - self.minimum_[self.mode_dimension_]
        return np.cos(offset * self.mode_frequency_)


def smallest_modes(spans: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """(dimension, omega) of the ``count`` non-constant modes of smallest omega^2.

    As ``trainSH.m``: dimension i offers k = 1 .. ceil((count + 1) span_i / max span) - 1,
    which always holds enough modes (the widest dimension alone offers ``count``); ties are
    broken by enumeration order (dimension, then k), as MATLAB's stable sort does.
    """
    highest = np.ceil((count + 1) * spans / spans.max()).astype(int) - 1
    dimensions = np.repeat(np.arange(len(spans)), highest)
    ks = np.concatenate([np.arange(1, top + 1) for top in highest])
    omegas = ks * np.pi / spans[dimensions]
    chosen = np.argsort(omegas**2, kind="stable")[:count]
    return dimensions[chosen], omegas[chosen]
