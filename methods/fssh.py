"""FSSH: fast scalable supervised hashing (Luo, Nie, He, Wu, Chen, Xu; SIGIR 2018).

Follows the authors' ``FSSH.m`` / ``train_FSSH.m`` (SDU-MIMA/FSSH, FSSH-TS): RBF features
exp(-||x - a||^2 / (2 sigma^2)) of the features *as they are* (no centring or rescaling; sigma
0.4 as the reference, which suits GIST's scale: mean squared distance about 1.2 here) on 1,000
random training anchors, standardised per dimension (on the training set only: the reference
also uses the test items' statistics); then a few rounds of closed-form updates

    B = sign(mu Y G + theta X W)
    G = (Y'Y)^-1 (mu Y'B + A'W) (mu I + W'X'XW)^-1
    W = (X'X)^-1 (theta X'B + A G) (theta I + G'Y'YG)^-1,   A = X' S Y,

where S = 2 [labels shared] - 1 is the n x n pairwise similarity. S Y is never formed from S:
items with the same label vector have the same row of S, so S Y is computed over the distinct
label vectors (the "pre-computed intermediate term" of the paper). Queries are coded by
ridge regression from the RBF features to the learned training codes, and, as in the
reference, training items in the database keep their learned codes.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

from hashbench.constraints import Boolean, Integer, Real
from hashbench.errors import HashbenchError
from hashbench.method import HashingMethod, Subset
from hashbench.registry import register_method

_ROWS_PER_CHUNK = 8192
_RELATIVE_RANK_TOLERANCE = 1e-10


@register_method("fssh")
class FSSH(HashingMethod):
    """Supervised: fits codes to the pairwise label similarity and to a kernel regression."""

    supervised = True
    parameters = {
        "anchors": Integer(minimum=1),
        "sigma": Real(above=0),
        "mu": Real(above=0),
        "theta": Real(above=0),
        "iterations": Integer(minimum=1),
        "ridge": Real(above=0),
        "learned_database_codes": Boolean(),
    }

    def __init__(
        self,
        bits: int,
        seed: int = 0,
        *,
        anchors: int = 1000,
        sigma: float = 0.4,
        mu: float = 1e4,
        theta: float = 0.01,
        iterations: int = 5,
        ridge: float = 1.0,
        learned_database_codes: bool = True,
    ) -> None:
        super().__init__(bits, seed)
        self.anchors = anchors
        self.sigma = sigma
        self.mu = mu
        self.theta = theta
        self.iterations = iterations
        self.ridge = ridge
        self.learned_database_codes = learned_database_codes

    def _fit(self, train: Subset, validation: Subset | None) -> None:
        rng = np.random.default_rng(self.seed)
        inputs = np.asarray(train.inputs, dtype=np.float32)
        chosen = rng.choice(len(inputs), size=min(self.anchors, len(inputs)), replace=False)
        self.anchor_points_ = inputs[np.sort(chosen)]
        kernel = self._rbf(inputs)
        self._check_kernel_width(kernel, inputs)
        self.kernel_mean_ = kernel.mean(axis=0, dtype=np.float64).astype(np.float32)
        spread = kernel.std(axis=0, dtype=np.float64, ddof=1)
        self.kernel_scale_ = np.where(spread > 0, spread, 1.0).astype(np.float32)
        features = (kernel - self.kernel_mean_) / self.kernel_scale_
        del kernel

        labels = label_matrix(train.labels)
        label_gram = labels.T @ labels
        feature_gram = _gram(features)
        similarity_labels = similarity_times_labels(labels)  # S Y, (n, c)
        a = features.T.astype(np.float64) @ similarity_labels  # X' S Y, (m, c)
        label_gram_inverse = _inverse(label_gram)
        feature_gram_inverse = _inverse(feature_gram)

        codes = np.where(rng.standard_normal((len(features), self.bits)) > 0, 1.0, -1.0)
        g = rng.standard_normal((labels.shape[1], self.bits))
        w = rng.standard_normal((features.shape[1], self.bits))
        identity = np.eye(self.bits)
        for _ in range(self.iterations):
            codes = np.where(
                self.mu * labels @ g + self.theta * _times(features, w) >= 0, 1.0, -1.0
            )
            right = np.linalg.inv(self.mu * identity + w.T @ feature_gram @ w)
            g = label_gram_inverse @ (self.mu * labels.T @ codes + a.T @ w) @ right
            right = np.linalg.inv(self.theta * identity + g.T @ label_gram @ g)
            w = feature_gram_inverse @ (self.theta * _transpose_times(features, codes) + a @ g)
            w = w @ right

        self.train_indices_ = np.asarray(train.indices)
        self.train_codes_ = codes > 0
        regression = feature_gram + self.ridge * np.eye(len(feature_gram))
        targets = _transpose_times(features, codes)
        self.regression_ = scipy.linalg.solve(regression, targets, assume_a="pos")
        self.regression_ = self.regression_.astype(np.float32)

    def _check_kernel_width(self, kernel: np.ndarray, inputs: np.ndarray) -> None:
        """Refuse features on a scale where sigma leaves each item seeing no anchor but
        itself: the codes would be noise (raw pixels, say, have distances in the hundreds)."""
        if np.median((kernel > 1e-12).sum(axis=1)) > 1:
            return
        sample = inputs[:256]
        squared = ((sample[:, None, :] - self.anchor_points_[None, :64, :]) ** 2).sum(-1)
        typical = float(np.median(squared))
        raise HashbenchError(
            f"fssh: with sigma {self.sigma:g} the RBF kernel is zero between almost every item "
            f"and every anchor (median squared distance {typical:.3g}; sigma 0.4 is set for "
            "GIST's scale, about 1.2): use --feature gist, or --set "
            f"fssh.sigma={np.sqrt(typical) / 3:.3g} for these features"
        )

    def _rbf(self, inputs: np.ndarray) -> np.ndarray:
        """exp(-||x - anchor||^2 / (2 sigma^2)), float32 (n, anchors)."""
        inputs = np.asarray(inputs, dtype=np.float32)
        anchor_norms = np.einsum("ij,ij->i", self.anchor_points_, self.anchor_points_)
        norms = np.einsum("ij,ij->i", inputs, inputs)
        squared = norms[:, None] + anchor_norms[None, :] - 2.0 * (inputs @ self.anchor_points_.T)
        np.maximum(squared, 0.0, out=squared)
        return np.exp(-squared / np.float32(2.0 * self.sigma**2))

    def _encode(self, inputs: np.ndarray) -> np.ndarray:
        outputs = []
        for start in range(0, len(inputs), _ROWS_PER_CHUNK):
            kernel = self._rbf(inputs[start : start + _ROWS_PER_CHUNK])
            outputs.append(((kernel - self.kernel_mean_) / self.kernel_scale_) @ self.regression_)
        return np.concatenate(outputs) if outputs else np.zeros((0, self.bits), np.float32)

    def _encode_database(self, database: Subset) -> np.ndarray:
        """Training items keep their learned codes (as in the reference); others regress."""
        if not self.learned_database_codes:
            return super()._encode_database(database)
        return self._learned_or_encoded(database, self.train_indices_, self.train_codes_)


def label_matrix(labels: np.ndarray) -> np.ndarray:
    """float64 (n, c): one-hot for class ids, the multi-hot vectors as they are."""
    labels = np.asarray(labels)
    if labels.ndim == 2:
        return labels.astype(np.float64)
    return np.eye(int(labels.max()) + 1)[labels]


def similarity_times_labels(labels: np.ndarray) -> np.ndarray:
    """S Y for S_ij = 1 if items i and j share a label else -1, without the n x n matrix.

    Rows of S depend only on the item's label vector, so S Y is computed once per distinct
    label vector (p of them): cost p^2 c instead of n^2 c.
    """
    patterns, inverse, counts = np.unique(
        labels > 0, axis=0, return_inverse=True, return_counts=True
    )
    patterns = patterns.astype(np.float64)
    weighted = counts[:, None] * patterns  # sum of the label vectors of each pattern's items
    per_pattern = np.empty_like(patterns)
    for start in range(0, len(patterns), 4096):
        shared = patterns[start : start + 4096] @ patterns.T > 0
        per_pattern[start : start + 4096] = np.where(shared, 1.0, -1.0) @ weighted
    return per_pattern[inverse.ravel()]


def _inverse(gram: np.ndarray) -> np.ndarray:
    """The reference's inv(X'X), as a pseudo-inverse that ignores directions below 1e-10 of
    the largest eigenvalue: identical for a well-conditioned Gram matrix, and stable where
    it is singular (a class absent from the labels, or as many anchors as training items,
    whose centred kernel features then lose a rank)."""
    return np.linalg.pinv(gram, rtol=_RELATIVE_RANK_TOLERANCE, hermitian=True)


def _gram(features: np.ndarray) -> np.ndarray:
    """X'X accumulated in float64 over row chunks."""
    gram = np.zeros((features.shape[1],) * 2)
    for start in range(0, len(features), _ROWS_PER_CHUNK):
        chunk = features[start : start + _ROWS_PER_CHUNK].astype(np.float64)
        gram += chunk.T @ chunk
    return gram


def _times(features: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    return (features @ matrix.astype(np.float32)).astype(np.float64)


def _transpose_times(features: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    return (features.T @ matrix.astype(np.float32)).astype(np.float64)
