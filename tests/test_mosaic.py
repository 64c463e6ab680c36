"""CIFAR-10 mosaics: the construction by hand, then the real data set and its protocol."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from hashbench.data import mosaic
from hashbench.data.cifar import CLASSES
from hashbench.data.dataset import Dataset
from hashbench.data.loading import load_dataset
from hashbench.splits.protocol import draw_splits, load_protocol


def test_tiles_use_the_pool_evenly_and_never_twice_in_a_mosaic() -> None:
    pool = np.arange(100, 150)  # 50 items: 12 mosaics of 4 per pass, 2 items left out
    tiles = mosaic.draw_tiles(pool, 30, 4, np.random.default_rng(0))
    assert tiles.shape == (30, 4)
    assert set(tiles.ravel()) <= set(pool.tolist())
    assert all(len(set(row)) == 4 for row in tiles.tolist())
    uses = np.bincount(tiles.ravel() - 100, minlength=50)
    assert uses.max() <= 3 and uses.sum() == 120
    first_pass = tiles[:12].ravel()
    assert len(set(first_pass.tolist())) == 48


def test_a_pool_too_small_for_one_mosaic_is_refused() -> None:
    with pytest.raises(ValueError, match="3 items cannot fill a mosaic of 4"):
        mosaic.draw_tiles(np.arange(3), 1, 4, np.random.default_rng(0))


def test_tiles_go_row_by_row() -> None:
    images = np.arange(6 * 3 * 5 * 1, dtype=np.uint8).reshape(6, 3, 5, 1)
    tiles = np.array([[0, 1, 2, 3], [5, 4, 1, 0]])
    mosaics = mosaic.assemble(images, tiles, 2)
    assert mosaics.shape == (2, 6, 10, 1)
    for n in range(2):
        np.testing.assert_array_equal(mosaics[n, :3, :5], images[tiles[n, 0]])
        np.testing.assert_array_equal(mosaics[n, :3, 5:], images[tiles[n, 1]])
        np.testing.assert_array_equal(mosaics[n, 3:, :5], images[tiles[n, 2]])
        np.testing.assert_array_equal(mosaics[n, 3:, 5:], images[tiles[n, 3]])


def test_labels_are_the_union_of_the_tiles_classes() -> None:
    rng = np.random.default_rng(5)
    images = rng.integers(0, 256, (40, 2, 2, 3), dtype=np.uint8)
    labels = rng.integers(0, 6, 40)
    mosaics, multi_hot = mosaic.build_mosaics(
        images, labels, np.arange(40), 25, np.random.default_rng(1), classes=6
    )
    tiles = mosaic.draw_tiles(np.arange(40), 25, 4, np.random.default_rng(1))
    for n in range(25):
        assert set(np.flatnonzero(multi_hot[n]).tolist()) == set(labels[tiles[n]].tolist())
        np.testing.assert_array_equal(mosaics[n, :2, 2:], images[tiles[n, 1]])
    assert multi_hot.dtype == np.uint8 and multi_hot.shape == (25, 6)


def small_cifar(checksum: str = "c" * 64) -> Dataset:
    """CIFAR-10's layout in miniature: 40 training and 12 test images of 32 x 32."""
    rng = np.random.default_rng(3)
    return Dataset(
        name="cifar10",
        images=rng.integers(0, 256, (52, 32, 32, 3), dtype=np.uint8),
        labels=np.arange(52) % 10,
        parts={"train": np.arange(40), "test": np.arange(40, 52)},
        class_names=CLASSES,
        checksum=checksum,
        source="small",
    )


def test_the_mosaic_data_set_follows_its_source_and_size(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    source = small_cifar()
    monkeypatch.setattr(mosaic, "load_cifar10", lambda roots: source)
    monkeypatch.setattr(mosaic, "TRAIN_MOSAICS", 30)
    monkeypatch.setattr(mosaic, "TEST_MOSAICS", 5)
    built = load_dataset("cifar10-mosaic", data_root=tmp_path)
    assert built.name == "cifar10-mosaic" and built.images.shape == (35, 64, 64, 3)
    assert built.parts["train"].tolist() == list(range(30))
    assert built.parts["test"].tolist() == list(range(30, 35))
    again = load_dataset("cifar10-mosaic", data_root=tmp_path)
    assert again.checksum == built.checksum
    np.testing.assert_array_equal(again.images, built.images)
    smaller = load_dataset("cifar10-mosaic", data_root=tmp_path, image_size=16)
    assert smaller.images.shape == (35, 16, 16, 3) and smaller.checksum != built.checksum
    monkeypatch.setattr(mosaic, "load_cifar10", lambda roots: small_cifar("d" * 64))
    assert load_dataset("cifar10-mosaic", data_root=tmp_path).checksum != built.checksum


@pytest.fixture(scope="module")
def mosaics(cifar10: Dataset, cifar10_root: Path, cifar10_cache: Path) -> Dataset:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HASHBENCH_CACHE", str(cifar10_cache))
        return load_dataset("cifar10-mosaic", data_root=cifar10_root)


def digests(images: np.ndarray) -> list[str]:
    return [hashlib.sha1(image.tobytes()).hexdigest() for image in images]


def quadrant_digests(mosaics: np.ndarray) -> np.ndarray:
    """(n, 4) digests of each mosaic's 32 x 32 quadrants, row by row."""
    quadrants = mosaics.reshape(len(mosaics), 2, 32, 2, 32, 3).transpose(0, 1, 3, 2, 4, 5)
    return np.array(digests(quadrants.reshape(len(mosaics) * 4, 32, 32, 3))).reshape(-1, 4)


def test_real_mosaics_are_made_of_cifar_images_of_their_own_part(
    mosaics: Dataset, cifar10: Dataset
) -> None:
    assert mosaics.images.shape == (22000, 64, 64, 3) and mosaics.labels.shape == (22000, 10)
    assert mosaics.class_names == cifar10.class_names
    train, test = mosaics.parts["train"], mosaics.parts["test"]
    assert train.tolist() == list(range(20000)) and test.tolist() == list(range(20000, 22000))
    for part, items in (("train", train), ("test", test)):
        pool = cifar10.parts[part]
        label_of = dict(zip(digests(cifar10.images[pool]), cifar10.labels[pool], strict=True))
        tiles = quadrant_digests(mosaics.images[items])
        assert all(tile in label_of for tile in tiles.ravel()), part
        union = np.zeros((len(items), 10), np.uint8)
        for column in range(4):
            union[np.arange(len(items)), [label_of[tile] for tile in tiles[:, column]]] = 1
        np.testing.assert_array_equal(mosaics.labels[items], union)
    query_tiles = set(quadrant_digests(mosaics.images[test]).ravel())
    assert len(query_tiles) == 8000  # 2,000 mosaics of distinct test images
    assert not query_tiles & set(quadrant_digests(mosaics.images[train]).ravel())


def test_real_mosaics_are_the_same_every_time(
    mosaics: Dataset, cifar10_root: Path, cifar10_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HASHBENCH_CACHE", str(cifar10_cache))
    again = load_dataset("cifar10-mosaic", data_root=cifar10_root)
    assert again.checksum == mosaics.checksum
    np.testing.assert_array_equal(again.images, mosaics.images)
    np.testing.assert_array_equal(again.labels, mosaics.labels)


def test_mosaic_protocol_on_the_real_mosaics(mosaics: Dataset) -> None:
    protocol = load_protocol("cifar10-mosaic")
    assert (protocol.dataset, protocol.topk, protocol.bits) == (
        "cifar10-mosaic",
        5000,
        (24, 48, 64, 128),
    )
    splits = draw_splits(protocol, mosaics, seed=0)
    assert splits.query.tolist() == mosaics.parts["test"].tolist()
    assert splits.database.tolist() == mosaics.parts["train"].tolist()
    assert len(splits.train) == 19000 and len(splits.validation) == 1000
    assert np.union1d(splits.train, splits.validation).tolist() == splits.database.tolist()
