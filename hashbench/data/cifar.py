"""CIFAR-10: finding it in the data roots and reading its official python release.

The python release (``cifar-10-batches-py/``, as torchvision downloads it) is a set of
pickles. They are read with an unpickler that accepts nothing but numpy arrays, so a
tampered file cannot run code. Whatever the source, labels follow CIFAR's own class order
(which is also alphabetical), so the pickle and the image-folder releases agree.
"""

from __future__ import annotations

import functools
import hashlib
import io
import pickle
import tarfile
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hashbench.data.cache import cached_array
from hashbench.data.dataset import Dataset
from hashbench.data.imagefolder import (
    DECODER_VERSION,
    load_image_folder,
    read_bounded,
    resize_images,
)
from hashbench.errors import DataNotFound, HashbenchError
from hashbench.fileio import sha256_file

CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
META = "batches.meta"
PYTHON_DIRECTORY = "cifar-10-batches-py"
PYTHON_ARCHIVE = "cifar-10-python.tar.gz"
#: What each data root is searched for, in order: the python release, unpacked or not, then
#: the image-folder release, archived or not.
CANDIDATES = (PYTHON_DIRECTORY, PYTHON_ARCHIVE, "cifar10-jpeg.tar.gz", "cifar10")
RELEASE_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
#: The globals a CIFAR pickle may name: numpy's array reconstruction, and byte strings
#: written by Python 3's protocol 2.
_SAFE_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
}


def find_cifar10(roots: Sequence[Path]) -> Path | None:
    """The first CIFAR-10 release found, searching each root for each candidate in order."""
    for root in roots:
        for candidate in CANDIDATES:
            path = Path(root) / candidate
            if path.is_dir() if candidate in (PYTHON_DIRECTORY, "cifar10") else path.is_file():
                return path
    return None


def download_cifar10(root: Path) -> Path:
    """Fetch the python release into ``root`` with torchvision (checks its md5)."""
    from torchvision.datasets import CIFAR10

    CIFAR10(str(root), train=True, download=True)
    return Path(root) / PYTHON_DIRECTORY


def load_cifar10(roots: Sequence[Path], image_size: int | None = None) -> Dataset:
    """CIFAR-10 from the first release found in ``roots``, downloading it when none is."""
    found = find_cifar10(roots)
    if found is None:
        try:
            found = download_cifar10(roots[0])
        except (OSError, RuntimeError) as error:
            looked = ", ".join(str(Path(root) / c) for root in roots for c in CANDIDATES)
            raise DataNotFound(
                f"CIFAR-10 not found (looked for {looked}) and downloading it into {roots[0]} "
                f"failed ({error}); put {PYTHON_ARCHIVE} or cifar10-jpeg.tar.gz in a folder "
                "and pass --data-root DIR (or set HASHBENCH_DATA)"
            ) from error
    if found.name in (PYTHON_DIRECTORY, PYTHON_ARCHIVE):
        return load_cifar10_python(found, image_size)
    return load_image_folder(found, image_size, name="cifar10", class_names=CLASSES)


def load_cifar10_python(path: Path, image_size: int | None = None) -> Dataset:
    """The python release, as ``cifar-10-batches-py/`` or ``cifar-10-python.tar.gz``."""
    path = Path(path)
    if path.is_dir():
        files = [path / name for name in (*TRAIN_BATCHES, TEST_BATCH, META)]
        digest = hashlib.sha256()
        for file in files:
            if not file.is_file():
                raise HashbenchError(
                    f"{file} is missing from the CIFAR-10 python release in {path}; "
                    f"download it again ({RELEASE_URL})"
                )
            digest.update(file.name.encode() + b"\0" + sha256_file(file).encode())
        checksum = digest.hexdigest()
        read = functools.cache(lambda: {file.name: _read_file(file) for file in files})
    else:
        checksum = sha256_file(path)
        read = functools.cache(lambda: _read_release_archive(path))
    decode = functools.cache(lambda: _decode_release(read(), path))
    key = f"{checksum}-v{DECODER_VERSION}"
    # Column 0: label; column 1: 0 for a training image, 1 for a test image.
    index = cached_array("cifar10-index", key, lambda: decode()[1])
    images = cached_array(
        "images",
        f"{key}-{image_size or 'native'}",
        lambda: resize_images(decode()[0], image_size),
    )
    labels, is_test = index[:, 0].copy(), index[:, 1] == 1
    return Dataset(
        name="cifar10",
        images=images,
        labels=labels,
        parts={
            "train": np.flatnonzero(~is_test).astype(np.int64),
            "test": np.flatnonzero(is_test).astype(np.int64),
        },
        class_names=CLASSES,
        checksum=checksum,
        source=str(path),
    )


def _read_release_archive(path: Path) -> dict[str, bytes]:
    """The batch files of ``cifar-10-python.tar.gz`` by their base names."""
    wanted = {*TRAIN_BATCHES, TEST_BATCH, META}
    try:
        with tarfile.open(path, "r:*") as archive:
            files = {
                Path(entry.name).name: read_bounded(archive.extractfile(entry), entry.name)
                for entry in archive
                if entry.isfile() and Path(entry.name).name in wanted
            }
    except (tarfile.TarError, zlib.error, EOFError, OSError) as error:
        raise HashbenchError(
            f"cannot read archive {path}: {error}; the file is corrupt or truncated, "
            f"download it again ({RELEASE_URL})"
        ) from error
    missing = sorted(wanted - set(files))
    if missing:
        raise HashbenchError(
            f"{path} lacks {', '.join(missing)}; it is not the CIFAR-10 python release, "
            f"download it again ({RELEASE_URL})"
        )
    return files


def _read_file(path: Path) -> bytes:
    with open(path, "rb") as handle:
        return read_bounded(handle, str(path))


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in _SAFE_GLOBALS:
            raise pickle.UnpicklingError(f"it refers to {module}.{name}")
        return super().find_class(module, name)


def _unpickle(data: bytes, name: str, source: Path) -> dict:
    try:
        content = _ArrayUnpickler(io.BytesIO(data), encoding="bytes").load()
    except Exception as error:  # any failure to unpickle means the same thing: a bad file
        raise _malformed(name, source, f"{type(error).__name__}: {error}") from error
    if not isinstance(content, dict):
        raise _malformed(name, source, f"it holds a {type(content).__name__}, not a dict")
    return content


def _malformed(name: str, source: Path, why: str) -> HashbenchError:
    return HashbenchError(
        f"CIFAR-10 batch {name} in {source} is malformed ({why}); "
        f"download the python release again ({RELEASE_URL})"
    )


def _decode_batch(data: bytes, name: str, source: Path) -> tuple[np.ndarray, np.ndarray]:
    """uint8 (n, 32, 32, 3) images and int64 labels of one batch."""
    batch = _unpickle(data, name, source)
    images, labels = batch.get(b"data"), batch.get(b"labels")
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 2:
        raise _malformed(name, source, "b'data' is not a uint8 matrix")
    if images.shape[1] != 3 * 32 * 32:
        raise _malformed(name, source, f"rows have {images.shape[1]} values, not 3072")
    if not isinstance(labels, list) or len(labels) != len(images):
        raise _malformed(name, source, "b'labels' is not a list with one label per image")
    labels = np.asarray(labels)
    if labels.dtype.kind not in "iu" or (
        len(labels) and not 0 <= labels.min() <= labels.max() < 10
    ):
        raise _malformed(name, source, "labels are not integers 0..9")
    return images.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels.astype(np.int64)


def _decode_release(files: dict[str, bytes], source: Path) -> tuple[np.ndarray, np.ndarray]:
    """All images (training batches, then the test batch) and their (label, is test) rows."""
    meta = _unpickle(files[META], META, source)
    names = meta.get(b"label_names")
    if isinstance(names, list):
        names = tuple(n.decode() if isinstance(n, bytes) else n for n in names)
    if names != CLASSES:
        raise _malformed(META, source, f"label_names are {names}, expected {CLASSES}")
    batches = [(name, *_decode_batch(files[name], name, source)) for name in TRAIN_BATCHES]
    batches.append((TEST_BATCH, *_decode_batch(files[TEST_BATCH], TEST_BATCH, source)))
    images = np.ascontiguousarray(np.concatenate([images for _, images, _ in batches]))
    index = np.concatenate(
        [
            np.stack([labels, np.full_like(labels, name == TEST_BATCH)], axis=1)
            for name, _, labels in batches
        ]
    )
    return images, index
