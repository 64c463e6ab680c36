"""CIFAR-10 mosaics: a real multi-label data set that needs nothing but CIFAR-10.

Each image is a 2 x 2 mosaic of four CIFAR-10 images (64 x 64); its labels are the union of
their classes (multi-hot, 10 columns). Training mosaics take their tiles from CIFAR-10's
training images only, test mosaics from its test images only, so no query shares a tile with
the database. Each quadrant holds one object, which is what DMRH's multi-region hashing claims
to exploit: the data set probes that claim where COCO and NUS-WIDE cannot be had.

The construction is seeded with a fixed seed: the data set is the same for everyone, and the
protocol's seed draws the splits from it. Building takes a fraction of a second from the
cached CIFAR-10 array, so the mosaics themselves are never cached.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hashbench.data.cifar import CLASSES, load_cifar10
from hashbench.data.dataset import Dataset
from hashbench.data.imagefolder import resize_images

TRAIN_MOSAICS = 20_000
TEST_MOSAICS = 2_000
GRID = 2
SEED = 0
#: Bump when the construction changes: it is part of the data set's checksum.
VERSION = 1


def draw_tiles(pool: np.ndarray, count: int, tiles: int, rng: np.random.Generator) -> np.ndarray:
    """(count, tiles) items of ``pool``: shuffled passes through the pool, so every item is
    used as evenly as possible and never twice in one mosaic."""
    per_pass = len(pool) // tiles
    if per_pass == 0:
        raise ValueError(f"a pool of {len(pool)} items cannot fill a mosaic of {tiles} tiles")
    passes = -(-count // per_pass)
    rows = [
        pool[rng.permutation(len(pool))[: per_pass * tiles]].reshape(per_pass, tiles)
        for _ in range(passes)
    ]
    return np.concatenate(rows)[:count]


def assemble(images: np.ndarray, tiles: np.ndarray, grid: int) -> np.ndarray:
    """(n, grid * h, grid * w, c) mosaics of ``images[tiles[i]]`` (h, w, c), row by row."""
    count, (height, width, channels) = len(tiles), images.shape[1:]
    mosaics = np.empty((count, grid * height, grid * width, channels), dtype=images.dtype)
    for k in range(grid * grid):
        row, column = divmod(k, grid)
        mosaics[:, row * height : (row + 1) * height, column * width : (column + 1) * width] = (
            images[tiles[:, k]]
        )
    return mosaics


def build_mosaics(
    images: np.ndarray,
    labels: np.ndarray,
    pool: np.ndarray,
    count: int,
    rng: np.random.Generator,
    classes: int,
    grid: int = GRID,
) -> tuple[np.ndarray, np.ndarray]:
    """``count`` mosaics of tiles from ``images[pool]`` and their multi-hot label unions."""
    tiles = draw_tiles(pool, count, grid * grid, rng)
    multi_hot = np.zeros((count, classes), dtype=np.uint8)
    multi_hot[np.arange(count)[:, None], labels[tiles]] = 1
    return assemble(images, tiles, grid), multi_hot


def load_cifar10_mosaic(roots: Sequence[Path], image_size: int | None = None) -> Dataset:
    """The mosaics of the CIFAR-10 found in ``roots``: parts train (20,000) and test (2,000)."""
    cifar = load_cifar10(roots)
    rng = np.random.default_rng(SEED)
    built = [
        build_mosaics(cifar.images, cifar.labels, cifar.parts[part], count, rng, len(CLASSES))
        for part, count in (("train", TRAIN_MOSAICS), ("test", TEST_MOSAICS))
    ]
    images = resize_images(np.concatenate([mosaics for mosaics, _ in built]), image_size)
    recipe = f"v{VERSION} {GRID}x{GRID} {TRAIN_MOSAICS}/{TEST_MOSAICS} seed {SEED}"
    checksum = hashlib.sha256(
        f"cifar10-mosaic\0{recipe}\0{cifar.checksum}\0{image_size or 'native'}".encode()
    ).hexdigest()
    return Dataset(
        name="cifar10-mosaic",
        images=images,
        labels=np.concatenate([labels for _, labels in built]),
        parts={
            "train": np.arange(TRAIN_MOSAICS, dtype=np.int64),
            "test": np.arange(TRAIN_MOSAICS, TRAIN_MOSAICS + TEST_MOSAICS, dtype=np.int64),
        },
        class_names=CLASSES,
        checksum=checksum,
        source=f"{cifar.source} ({recipe})",
    )
