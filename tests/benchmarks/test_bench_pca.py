"""PCA on wide features: 500 training items of 12,288 values (64 x 64 x 3 pixels), 64 bits.

With fewer items than features hashbench's PCA works on the 500 x 500 Gram matrix instead of
the 12,288 x 12,288 covariance, so ITQ, PCAH and SH fit in well under a second. Each
benchmark checks its answer first: the directions are orthonormal and each is an eigenvector
of the covariance with the brute force's eigenvalue (the squared singular values of an SVD
of the data), so it cannot time a wrong computation. Times in ``extra_info``; compare them on
one machine only.
"""

from __future__ import annotations

import numpy as np
import pytest

from hashbench.classic.preprocess import principal_directions
from hashbench.method import Subset
from hashbench.registry import create_method

ITEMS, FEATURES, BITS = 500, 64 * 64 * 3, 64


@pytest.fixture(scope="module")
def pixels() -> np.ndarray:
    """Images-like rows: a few smooth patterns mixed per item, plus noise, in [0, 1]."""
    rng = np.random.default_rng(2024)
    patterns = np.cumsum(rng.standard_normal((20, FEATURES)), axis=1) / 100
    mixed = rng.standard_normal((ITEMS, 20)) @ patterns + rng.normal(0, 0.05, (ITEMS, FEATURES))
    return (1 / (1 + np.exp(-mixed))).astype(np.float32)


def test_principal_directions_500_by_12288(benchmark, pixels) -> None:
    centred = pixels - pixels.mean(axis=0)
    directions = benchmark.pedantic(
        principal_directions, args=(centred, BITS), rounds=3, iterations=1
    )
    np.testing.assert_allclose(directions.T @ directions, np.eye(BITS), atol=1e-4)
    singular = np.linalg.svd(centred.astype(np.float64), compute_uv=False)[:BITS]
    projected = centred.astype(np.float64) @ directions
    covariance_times = centred.T.astype(np.float64) @ projected  # X^T X v, without X^T X
    np.testing.assert_allclose(
        covariance_times, directions * singular**2, atol=1e-3 * singular[0] ** 2
    )
    benchmark.extra_info["seconds"] = benchmark.stats.stats.min


def test_itq_fit_on_500_by_12288(benchmark, pixels) -> None:
    labels = np.zeros(ITEMS, dtype=np.int64)
    train = Subset(indices=np.arange(ITEMS), inputs=pixels, labels=labels)

    def fit() -> object:
        return create_method("itq", bits=BITS).fit(train)

    method = benchmark.pedantic(fit, rounds=3, iterations=1)
    losses = method.quantisation_loss_
    assert all(b <= a + 1e-6 * a for a, b in zip(losses, losses[1:], strict=False))
    benchmark.extra_info["seconds"] = benchmark.stats.stats.min
