"""Data sets by name or by path: the one entry point the runner and the CLI load data through."""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hashbench.constraints import Integer, check
from hashbench.data.cifar import PYTHON_ARCHIVE, PYTHON_DIRECTORY, load_cifar10, load_cifar10_python
from hashbench.data.dataset import Dataset
from hashbench.data.imagefolder import is_archive, load_image_folder, resize_images
from hashbench.data.listfile import ListSource, is_list_folder, load_list_dataset, load_list_folder
from hashbench.data.mosaic import load_cifar10_mosaic
from hashbench.errors import HashbenchError

Loader = Callable[[list[Path], int | None], Dataset]
#: The side of the square images are resized to: past a large photograph's, memory runs out.
IMAGE_SIZE = Integer(minimum=1, maximum=4096)


@dataclass(frozen=True)
class _Entry:
    description: str
    load: Loader
    #: An environment variable naming the data set's own folder, searched first when no
    #: data root is given.
    env: str | None = None

    def default_roots(self) -> list[Path]:
        own = os.environ.get(self.env, "") if self.env else ""
        return ([Path(own)] if own else []) + default_data_roots()


def default_data_roots() -> list[Path]:
    """``$HASHBENCH_DATA`` (``os.pathsep``-separated), else ``./data`` and ``../shared/data``."""
    if os.environ.get("HASHBENCH_DATA"):
        return [Path(p) for p in os.environ["HASHBENCH_DATA"].split(os.pathsep) if p]
    return [Path("data"), Path("../shared/data")]


def load_digits(roots: list[Path], image_size: int | None = None) -> Dataset:
    """scikit-learn's bundled 8x8 digits, 0..16 scaled to 0..255: no download, ever."""
    from sklearn.datasets import load_digits as sklearn_digits

    digits = sklearn_digits()
    images = np.rint(digits.images * (255 / 16)).astype(np.uint8)[..., None]
    labels = digits.target.astype(np.int64)
    checksum = hashlib.sha256(images.tobytes() + labels.tobytes()).hexdigest()
    return Dataset(
        name="digits",
        images=resize_images(images, image_size),
        labels=labels,
        parts={"all": np.arange(len(labels), dtype=np.int64)},
        class_names=tuple(str(d) for d in range(10)),
        checksum=checksum,
        source="scikit-learn (bundled)",
    )


COCO = ListSource("coco", classes=80, folder="coco", env="HASHBENCH_COCO_ROOT")
NUSWIDE = ListSource("nuswide", classes=21, folder="nuswide", env="HASHBENCH_NUSWIDE_ROOT")
#: Label columns as the lists have them: DeepHash-pytorch's MIRFlickr lists carry 38, others 24.
MIRFLICKR = ListSource("mirflickr", None, folder="mirflickr", env="HASHBENCH_MIRFLICKR_ROOT")
VOC2012 = ListSource("voc2012", classes=20, folder="voc2012", env="HASHBENCH_VOC2012_ROOT")
IMAGENET100 = ListSource(
    "imagenet100", classes=100, folder="imagenet100", env="HASHBENCH_IMAGENET100_ROOT"
)


def _list_entry(source: ListSource, what: str) -> _Entry:
    description = (
        f"{what}; image root holding test.txt/train.txt/database.txt and/or all.txt: "
        f"--data-root DIR (or DIR/{source.folder}), else ${source.env}; "
        f"images resized to {source.image_size}x{source.image_size} unless --image-size"
    )
    return _Entry(description, functools.partial(load_list_dataset, source), source.env)


_DATASETS = {
    "cifar10": _Entry(
        "CIFAR-10: 60,000 32x32 colour images, 10 classes, parts train (50,000) / test (10,000)",
        load_cifar10,
    ),
    "digits": _Entry(
        "scikit-learn's handwritten digits: 1,797 8x8 grey images, 10 classes (bundled)",
        load_digits,
    ),
    "cifar10-mosaic": _Entry(
        "2x2 mosaics of CIFAR-10 images (64x64, multi-label: the tiles' classes): parts "
        "train (20,000, tiles from CIFAR train) / test (2,000, tiles from CIFAR test)",
        load_cifar10_mosaic,
    ),
    "coco": _list_entry(COCO, "MS-COCO 2014 (HashNet lists: 122,218 images, 80 labels)"),
    "imagenet100": _list_entry(
        IMAGENET100, "ImageNet-100 (HashNet lists: 100 classes as one-hot vectors)"
    ),
    "nuswide": _list_entry(NUSWIDE, "NUS-WIDE, 21 most frequent concepts (195,834 images)"),
    "mirflickr": _list_entry(
        MIRFLICKR, "MIRFlickr-25K (DeepHash-pytorch lists: 25,000 images, 38 or 24 labels)"
    ),
    "voc2012": _list_entry(
        VOC2012, "PASCAL VOC 2012 (DeepHash-pytorch lists: 11,540 images, 20 labels)"
    ),
}


def list_datasets() -> list[tuple[str, str]]:
    return [(name, entry.description) for name, entry in sorted(_DATASETS.items())]


def load_dataset(
    name_or_path: str,
    data_root: Sequence[Path] | Path | None = None,
    image_size: int | None = None,
) -> Dataset:
    """A known data set by name, or by path: a folder of list files (images relative to it,
    or to the first ``data_root``), an image folder or an archive of one."""
    if image_size is not None:
        check(image_size, IMAGE_SIZE, "image size")
    if name_or_path in _DATASETS:
        if data_root is None:
            roots = _DATASETS[name_or_path].default_roots()
        elif isinstance(data_root, (str, Path)):
            roots = [Path(data_root)]
        else:
            roots = [Path(root) for root in data_root]
        return _DATASETS[name_or_path].load(roots, image_size)
    path = Path(name_or_path)
    if path.name in (PYTHON_DIRECTORY, PYTHON_ARCHIVE) and path.exists():
        return load_cifar10_python(path, image_size)
    if is_list_folder(path):
        image_root = None
        if data_root is not None:
            image_root = (
                Path(data_root) if isinstance(data_root, (str, Path)) else Path(data_root[0])
            )
        return load_list_folder(path, image_size, image_root)
    if path.is_dir() or (path.is_file() and is_archive(path)):
        return load_image_folder(path, image_size)
    known = ", ".join(_DATASETS)
    what = (
        "is not a folder of list files (train.txt, test.txt, database.txt or all.txt), "
        "an image folder or an archive (.tar, .tar.gz, .tgz, .zip)"
    )
    raise HashbenchError(
        f"unknown data set {name_or_path!r}: not a known name ({known}) and "
        f"{what if path.exists() else 'no such file or folder'}; "
        "pass a known name or the path to an image folder or archive"
    )
