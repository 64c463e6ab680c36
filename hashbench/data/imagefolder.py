"""Image folders and archives of them (``<part>/<class>/<image>``) as one :class:`Dataset`.

Decoding is the slow step (60,000 small JPEGs take seconds even in parallel), so the uint8
images are decoded once and cached, keyed by the checksum of the source's bytes. Decoding
runs in worker processes: for small images Pillow's header parsing holds the GIL, so threads
do not help. Archives are read in memory, never extracted; what is read is bounded
(:mod:`hashbench.limits`): each file, the whole source, and each image's pixels, checked before
the bytes are decompressed or decoded.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import os
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image
from tqdm import tqdm

from hashbench.data.cache import cached_array
from hashbench.data.containment import require_inside
from hashbench.data.dataset import Dataset
from hashbench.errors import HashbenchError
from hashbench.fileio import sha256_file
from hashbench.limits import ARRAY_BYTES, IMAGE_PIXELS, MEMBER_BYTES, SOURCE_BYTES

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".zip")
LAYOUT = "<part>/<class>/<image> with parts such as train/ and test/ (images: .jpg .jpeg .png .bmp)"
#: Bump when decoding changes (conversion, resizing), so stale cached images are never read.
DECODER_VERSION = 1
CHUNK_SIZE = 1000


@dataclass(frozen=True)
class Member:
    """One image file of a source: its path as ``part/class/file`` and its undecoded bytes."""

    path: str
    data: bytes


def is_archive(path: Path) -> bool:
    return path.name.lower().endswith(ARCHIVE_SUFFIXES)


def source_name(path: Path) -> str:
    """The data set's name: the folder's or archive's name without its archive suffix."""
    name = path.name
    for suffix in ARCHIVE_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def load_image_folder(
    path: Path,
    image_size: int | None = None,
    name: str | None = None,
    class_names: Sequence[str] | None = None,
) -> Dataset:
    """Read a folder or archive; ``class_names`` fixes the label order (else sorted names)."""
    path = Path(path)
    if path.is_dir():
        members = _arrange(_read_directory(path), path)
        checksum = _members_checksum(members)

        def read() -> list[Member]:
            return members

    else:
        checksum = sha256_file(path)
        read = functools.cache(lambda: _arrange(_read_archive(path), path))
    key = f"{checksum}-v{DECODER_VERSION}"
    paths = cached_array("image-paths", key, lambda: np.array([m.path for m in read()]))
    images = cached_array(
        "images",
        f"{key}-{image_size or 'native'}",
        lambda: decode_images(read(), image_size, str(path)),
    )
    parts, labels, classes = _index(paths.tolist(), class_names, path)
    return Dataset(
        name=name or source_name(path),
        images=images,
        labels=labels,
        parts=parts,
        class_names=classes,
        checksum=checksum,
        source=str(path),
    )


# -- reading ---------------------------------------------------------------------------------
def _is_image(relative: str) -> bool:
    hidden = any(part.startswith(".") or part == "__MACOSX" for part in relative.split("/"))
    return not hidden and relative.lower().endswith(IMAGE_SUFFIXES)


Opener = Callable[[], BinaryIO]


def read_bounded(handle: BinaryIO, what: str) -> bytes:
    """The file's bytes, refused past the member limit before more is decompressed."""
    limit = MEMBER_BYTES.value()
    data = handle.read(limit + 1)
    if len(data) > limit:
        raise MEMBER_BYTES.exceeded(what)
    return data


def read_members(files: Iterable[tuple[str, Opener]], source: Path) -> list[Member]:
    """Each file's bytes, within the limits on one file and on the whole source."""
    limit, total, members = SOURCE_BYTES.value(), 0, []
    for name, opened in files:
        with opened() as handle:
            members.append(Member(name, read_bounded(handle, f"{name} in {source}")))
        total += len(members[-1].data)
        if total > limit:
            raise SOURCE_BYTES.exceeded(f"reading the images of {source}")
    return members


def _read_directory(root: Path) -> list[Member]:
    def files() -> Iterator[tuple[str, Opener]]:
        for path in sorted(root.rglob("*")):
            name = path.relative_to(root).as_posix()
            if _is_image(name) and path.is_file():
                require_inside(root, path)
                yield name, functools.partial(open, path, "rb")

    return read_members(files(), root)


def _read_archive(path: Path) -> list[Member]:
    try:
        if path.name.lower().endswith(".zip"):
            with zipfile.ZipFile(path) as archive:
                return read_members(
                    (
                        (info.filename, functools.partial(archive.open, info))
                        for info in archive.infolist()
                        if not info.is_dir() and _is_image(info.filename)
                    ),
                    path,
                )
        with tarfile.open(path, "r:*") as archive:
            return read_members(
                (
                    (entry.name, functools.partial(archive.extractfile, entry))
                    for entry in archive
                    if entry.isfile() and _is_image(entry.name)
                ),
                path,
            )
    except (
        tarfile.TarError, zipfile.BadZipFile, zlib.error, EOFError, OSError,
        RuntimeError, NotImplementedError,  # zipfile's encrypted or unsupported members
    ) as error:  # fmt: skip
        raise HashbenchError(
            f"cannot read archive {path} ({type(error).__name__}: {error}); it is corrupt, "
            "truncated or encrypted: download or build it again"
        ) from error


def _arrange(members: list[Member], source: Path) -> list[Member]:
    """Paths as ``part/class/file`` (one wrapping top-level folder dropped), sorted."""
    if not members:
        raise HashbenchError(f"no images found in {source}; expected the layout {LAYOUT}")
    split = [m.path.strip("/").split("/") for m in members]
    if all(len(p) == 4 for p in split) and len({p[0] for p in split}) == 1:
        split = [p[1:] for p in split]
    for parts, member in zip(split, members, strict=True):
        if len(parts) != 3:
            raise HashbenchError(
                f"{member.path} in {source} is not in the expected layout {LAYOUT}; "
                "move or remove it"
            )
    arranged = [Member("/".join(p), m.data) for p, m in zip(split, members, strict=True)]
    return sorted(arranged, key=lambda m: m.path)


def _members_checksum(members: Sequence[Member]) -> str:
    """sha256 over the sorted relative paths and each file's bytes."""
    digest = hashlib.sha256()
    for member in members:
        digest.update(member.path.encode("utf-8") + b"\0")
        digest.update(hashlib.sha256(member.data).digest())
    return digest.hexdigest()


def _index(
    paths: list[str], class_names: Sequence[str] | None, source: Path
) -> tuple[dict[str, np.ndarray], np.ndarray, tuple[str, ...]]:
    """Parts, labels and class names from ``part/class/file`` paths."""
    part_of, class_of = zip(*(p.split("/")[:2] for p in paths), strict=True)
    found = sorted(set(class_of))
    if class_names is None:
        class_names = found
    unknown = [name for name in found if name not in class_names]
    if unknown:
        raise HashbenchError(
            f"{source} has class folders {', '.join(unknown)}, which are not among its classes "
            f"{', '.join(class_names)}; remove them or load the folder by its path"
        )
    label_of = {name: label for label, name in enumerate(class_names)}
    labels = np.array([label_of[c] for c in class_of], dtype=np.int64)
    part_array = np.array(part_of)
    parts = {p: np.flatnonzero(part_array == p).astype(np.int64) for p in sorted(set(part_of))}
    return parts, labels, tuple(class_names)


# -- decoding --------------------------------------------------------------------------------
def to_array(image: Image.Image, image_size: int | None) -> np.ndarray:
    """uint8 (H, W, C) of ``image``, resized (bilinear) to a square when a size is given."""
    if image_size is not None and image.size != (image_size, image_size):
        image = image.resize((image_size, image_size), Image.Resampling.BILINEAR)
    array = np.asarray(image, dtype=np.uint8)
    return array[..., None] if array.ndim == 2 else array


def resize_images(images: np.ndarray, image_size: int | None) -> np.ndarray:
    """Resize a uint8 (n, H, W, C) array, for sources that are already arrays."""
    if image_size is None or images.shape[1:3] == (image_size, image_size):
        return images
    squeeze = images.shape[-1] == 1
    return np.stack(
        [to_array(Image.fromarray(x[..., 0] if squeeze else x), image_size) for x in images]
    )


def decode_image(member: Member, image_size: int | None, source: str) -> np.ndarray:
    try:
        with Image.open(io.BytesIO(member.data)) as image:
            width, height = image.size  # from the header: nothing is decoded yet
            IMAGE_PIXELS.require(f"image {member.path} in {source} ({width}x{height})",
                                 width * height)  # fmt: skip
            image.load()
            return to_array(image if image.mode == "RGB" else image.convert("RGB"), image_size)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise HashbenchError(
            f"cannot decode image {member.path} in {source} ({error}); remove or replace that file"
        ) from error


def _decode_chunk(
    chunk: Sequence[Member],
    image_size: int | None,
    reference: Member,
    shape: tuple[int, ...],
    source: str,
) -> np.ndarray:
    images = np.empty((len(chunk), *shape), dtype=np.uint8)
    for i, member in enumerate(chunk):
        image = decode_image(member, image_size, source)
        if image.shape != shape:
            raise HashbenchError(
                f"images in {source} differ in size: {reference.path} is "
                f"{shape[1]}x{shape[0]}, {member.path} is {image.shape[1]}x{image.shape[0]}; "
                "pass an image size (--image-size N) to resize them all to N x N"
            )
        images[i] = image
    return images


def decode_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def decode_images(
    members: Sequence[Member],
    image_size: int | None,
    source: str,
    chunk_size: int = CHUNK_SIZE,
) -> np.ndarray:
    """uint8 (n, H, W, 3) of every member in order, decoded in parallel when worthwhile."""
    shape = decode_image(members[0], image_size, source).shape
    ARRAY_BYTES.require(f"the decoded images of {source} ({len(members)} x {shape})",
                        len(members) * int(np.prod(shape)))  # fmt: skip
    chunks = [members[i : i + chunk_size] for i in range(0, len(members), chunk_size)]
    decode: Callable[[Sequence[Member]], np.ndarray] = functools.partial(
        _decode_chunk, image_size=image_size, reference=members[0], shape=shape, source=source
    )
    images = np.empty((len(members), *shape), dtype=np.uint8)
    workers = min(decode_workers(), len(chunks))
    with contextlib.ExitStack() as stack:
        bar = stack.enter_context(
            tqdm(total=len(members), desc="decoding images", unit="image", disable=None)
        )
        mapper = map if workers <= 1 else stack.enter_context(ProcessPoolExecutor(workers)).map
        starts = range(0, len(members), chunk_size)
        for start, block in zip(starts, mapper(decode, chunks), strict=True):
            images[start : start + len(block)] = block
            bar.update(len(block))
    return images
