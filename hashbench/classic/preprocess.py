"""Preprocessing the classic (non-deep) methods share: centring, scaling and PCA.

The reference MATLAB toolboxes (Gong & Lazebnik's ITQ package) centre the features and divide
them by the mean distance to the 50th nearest neighbour, so that kernel widths such as SKLSH's
``gamma = 1`` and FSSH's ``sigma = 0.4`` mean the same thing on every data set. Methods whose
codes do not change under scaling (LSH, PCAH, ITQ, SH) only centre. The toolboxes centre by
the mean of the training and test items together; hashbench learns both on the training split
alone, so that nothing about the queries enters a fit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: The reference toolbox's "average distance to the 50th nearest neighbour" (``Dball``).
NEIGHBOUR_RANK = 50
#: Training points whose neighbour distances estimate that scale (the toolbox uses 100).
SCALE_SAMPLE = 200
_ROWS_PER_CHUNK = 128
#: An eigenvalue of X X^T at most this share of the largest is no direction of the data.
_INDEPENDENT = 1e-9


@dataclass(frozen=True)
class Standardiser:
    """``(x - mean) / scale``, both learned on the training split only."""

    mean: np.ndarray
    scale: float = 1.0

    def transform(self, inputs: np.ndarray) -> np.ndarray:
        centred = np.asarray(inputs, dtype=np.float32) - self.mean
        return centred if self.scale == 1.0 else centred / np.float32(self.scale)


def fit_centring(inputs: np.ndarray) -> Standardiser:
    """Centre with the training mean (accumulated in float64)."""
    return Standardiser(mean=inputs.mean(axis=0, dtype=np.float64).astype(np.float32))


def fit_centring_and_scale(inputs: np.ndarray, seed: int) -> Standardiser:
    """Centre, and scale so that the mean distance to the 50th nearest neighbour is 1.

    The distance is estimated from a seeded sample of training points to all of them, in
    chunks, so memory stays at (chunk x n) whatever the size of the training set.
    """
    centring = fit_centring(inputs)
    centred = centring.transform(inputs)
    scale = neighbour_distance(centred, np.random.default_rng(seed))
    return Standardiser(mean=centring.mean, scale=scale if scale > 0 else 1.0)


def neighbour_distance(points: np.ndarray, rng: np.random.Generator) -> float:
    """Mean over sampled points of the distance to their ``NEIGHBOUR_RANK``-th nearest point.

    As in the toolbox, each sampled point counts itself (at distance 0) among its neighbours.
    """
    count = len(points)
    sample = points[rng.choice(count, size=min(SCALE_SAMPLE, count), replace=False)]
    rank = min(NEIGHBOUR_RANK, count) - 1
    squared_norms = np.einsum("ij,ij->i", points, points, dtype=np.float64)
    distances = []
    for start in range(0, len(sample), _ROWS_PER_CHUNK):
        chunk = sample[start : start + _ROWS_PER_CHUNK]
        chunk_norms = np.einsum("ij,ij->i", chunk, chunk, dtype=np.float64)
        squared = chunk_norms[:, None] + squared_norms[None, :] - 2.0 * (chunk @ points.T)
        nearest = np.partition(squared, rank, axis=1)[:, rank]
        distances.append(np.sqrt(np.maximum(nearest, 0.0)))
    return float(np.concatenate(distances).mean())


def principal_directions(centred: np.ndarray, count: int) -> np.ndarray:
    """(d, count) float32 top principal directions, largest variance first.

    The top right singular vectors of the centred data X (n x d), from the smaller of its two
    Gram matrices, so the cost follows min(n, d): with more items than features the
    eigenvectors of the covariance X^T X (d x d; float32 products summed in float64, as
    ever), else those u of X X^T (n x n, in float64), whose directions are X^T u / ||X^T u||;
    12,288 pixel values of 500 images never build a 12,288 x 12,288 matrix. Where the data has
    fewer than ``count`` independent directions the covariance's eigenvectors are taken, as any
    basis of its null space will do. Each direction is signed so that its largest-magnitude
    entry is positive: PCA fixes directions only up to sign, and codes must not flip between
    runs.
    """
    items, features = centred.shape
    top = None
    if items < features and count < items:
        rows = np.asarray(centred, dtype=np.float64)
        values, vectors = np.linalg.eigh(rows @ rows.T)
        if values[-count] > _INDEPENDENT * values[-1]:
            top = rows.T @ vectors[:, ::-1][:, :count]
            top /= np.linalg.norm(top, axis=0)
    if top is None:
        covariance = np.zeros((features,) * 2)
        for start in range(0, items, 8192):  # float32 products, float64 sum over chunks
            chunk = np.asarray(centred[start : start + 8192], dtype=np.float32)
            covariance += chunk.T @ chunk
        _, vectors = np.linalg.eigh(covariance)
        top = vectors[:, ::-1][:, :count]
    signs = np.sign(top[np.abs(top).argmax(axis=0), np.arange(count)])
    return (top * signs).astype(np.float32)
