"""ITQ: iterative quantisation (Gong & Lazebnik, CVPR 2011), as in the authors' ``ITQ.m``."""

from __future__ import annotations

import numpy as np

from hashbench.classic.preprocess import fit_centring, principal_directions
from hashbench.constraints import Integer
from hashbench.method import HashingMethod, Subset
from hashbench.registry import register_method


@register_method("itq")
class ITQ(HashingMethod):
    """PCA to ``bits`` dimensions, then a rotation R that minimises ||B - V R||_F^2.

    Alternates B = sign(V R) with the orthogonal Procrustes solution for R (from the SVD of
    B^T V), starting from a random orthogonal matrix. Each step can only lower the
    quantisation loss; ``quantisation_loss_`` records it before and after every iteration.
    """

    parameters = {"iterations": Integer(minimum=0)}
    bits_within_dimension = True

    def __init__(self, bits: int, seed: int = 0, *, iterations: int = 50) -> None:
        super().__init__(bits, seed)
        self.iterations = iterations

    def _fit(self, train: Subset, validation: Subset | None) -> None:
        self.standardiser_ = fit_centring(train.inputs)
        centred = self.standardiser_.transform(train.inputs)
        principal = principal_directions(centred, self.bits)
        projected = centred @ principal
        rng = np.random.default_rng(self.seed)
        rotation, _, _ = np.linalg.svd(rng.standard_normal((self.bits, self.bits)))
        losses = []
        # ITQ.m loops ``for iter=0:n_iter``: n_iter + 1 updates of B and R.
        for _ in range(self.iterations + 1):
            binary, loss = _quantise(projected @ rotation.astype(np.float32))
            losses.append(loss)
            # Orthogonal Procrustes: the R minimising ||B - V R|| for this B.
            left, _, right_t = np.linalg.svd((binary.T @ projected).astype(np.float64))
            rotation = right_t.T @ left.T
        losses.append(_quantise(projected @ rotation.astype(np.float32))[1])
        self.quantisation_loss_ = losses
        self.rotation_ = rotation
        self.projection_ = (principal.astype(np.float64) @ rotation).astype(np.float32)

    def _encode(self, inputs: np.ndarray) -> np.ndarray:
        return self.standardiser_.transform(inputs) @ self.projection_


def _quantise(rotated: np.ndarray) -> tuple[np.ndarray, float]:
    """B = sign(V R) (0 counts as +1, as in ``ITQ.m``) and the loss ||B - V R||_F^2."""
    binary = np.where(rotated >= 0, np.float32(1), np.float32(-1))
    return binary, float(np.square(binary - rotated).sum(dtype=np.float64))
