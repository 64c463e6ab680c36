"""GIST speed: 2,000 seeded random 32 x 32 images, the rate scaled to CIFAR-10's 60,000.

The answer is checked against images coded one at a time, so the benchmark cannot time a
wrong computation. Rates are in ``extra_info``; compare them on one machine only.
"""

from __future__ import annotations

import numpy as np

from hashbench.features.gist import gist_descriptor

IMAGES, CIFAR10_IMAGES = 2000, 60_000


def test_gist_2000_images(benchmark) -> None:
    images = np.random.default_rng(2024).integers(0, 256, (IMAGES, 32, 32, 3), dtype=np.uint8)
    features = benchmark.pedantic(gist_descriptor, args=(images,), rounds=3, iterations=1)
    assert features.shape == (IMAGES, 512)
    for index in (0, 777, IMAGES - 1):
        alone = gist_descriptor(images[index : index + 1])[0]
        np.testing.assert_allclose(features[index], alone, rtol=1e-5, atol=1e-7)
    benchmark.extra_info["images_per_s"] = IMAGES / benchmark.stats.stats.min
    benchmark.extra_info["cifar10_seconds"] = CIFAR10_IMAGES / benchmark.extra_info["images_per_s"]
