"""Images of data sets too large for memory, decoded once into a memory-mapped file.

MS-COCO and NUS-WIDE hold 100K-200K full-size images: decoded at 224 x 224 they weigh 15-30 GB.
Worker processes each read and decode their own files (resized to a square with the image
folders' decoder), and the parent writes each chunk into a ``.npy`` in the cache as it comes
back, so memory holds a bounded number of chunks whatever the data set's size. The data set
then reads it memory-mapped.

The cache is keyed by every file's path, size and modification time, so a second load reads
no image byte; the sha256 of the bytes, taken while decoding, is stored beside it and is what
identifies the images in records.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import stat
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
from tqdm import tqdm

from hashbench.data.cache import cache_root, load_entry
from hashbench.data.imagefolder import (
    CHUNK_SIZE,
    DECODER_VERSION,
    Member,
    decode_image,
    decode_workers,
    read_bounded,
)
from hashbench.errors import HashbenchError
from hashbench.fileio import atomic_write_text

#: Bytes of decoded images per chunk a worker returns (at most CHUNK_SIZE images).
CHUNK_BYTES = 64 << 20
#: Chunks in flight per worker: enough to keep every worker busy, few enough to bound memory.
CHUNKS_PER_WORKER = 2
CACHE_KIND = "image-store"

Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclass(frozen=True)
class StoredImages:
    images: np.ndarray  # uint8 (n, size, size, 3), memory-mapped read-only
    checksum: str  # sha256 over every file's path and bytes, in order


def store_images(
    root: Path, paths: Sequence[str], image_size: int, where: Callable[[int], str]
) -> StoredImages:
    """Images ``root/paths[i]`` resized to ``image_size`` squares, decoding only when the
    files changed; ``where(i)`` says where path i was listed, for the error on a missing file.
    """
    key = _fingerprint(root, paths, where)
    directory = cache_root() / CACHE_KIND
    images_path = directory / f"{key}-{image_size}-v{DECODER_VERSION}.npy"
    checksum_path = directory / f"{key}.sha256"
    if not (images_path.is_file() and checksum_path.is_file()):
        checksum = _decode_into(images_path, root, paths, image_size)
        atomic_write_text(checksum_path, checksum)
    return StoredImages(load_entry(images_path, "r"), checksum_path.read_text().strip())


def _fingerprint(root: Path, paths: Sequence[str], where: Callable[[int], str]) -> str:
    """sha256 of each file's path, size and modification time; a missing file is named."""
    digest = hashlib.sha256()
    for index, relative in enumerate(paths):
        file = Path(root) / relative
        try:
            status = file.stat()
        except OSError:
            status = None
        if status is None or not stat.S_ISREG(status.st_mode):
            raise HashbenchError(
                f"image {relative} on {where(index)} is missing: no file {file}; listed paths "
                f"are relative to the image root {root}; restore the image or remove the line"
            )
        digest.update(f"{relative}\0{status.st_size}\0{status.st_mtime_ns}\0".encode())
    return digest.hexdigest()


def _decode_into(target: Path, root: Path, paths: Sequence[str], image_size: int) -> str:
    """Decode every image into the .npy ``target`` (written beside it, then renamed)."""
    per_chunk = max(1, min(CHUNK_SIZE, CHUNK_BYTES // (image_size * image_size * 3)))
    chunks = [paths[start : start + per_chunk] for start in range(0, len(paths), per_chunk)]
    decode = functools.partial(_decode_files, root=str(root), image_size=image_size)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    digest = hashlib.sha256()
    try:
        out = np.lib.format.open_memmap(
            temporary, mode="w+", dtype=np.uint8, shape=(len(paths), image_size, image_size, 3)
        )
        with contextlib.ExitStack() as stack:
            bar = stack.enter_context(
                tqdm(total=len(paths), desc="decoding images", unit="image", disable=None)
            )
            workers = min(decode_workers(), len(chunks))
            if workers <= 1:
                results: Iterable[tuple[np.ndarray, list[bytes]]] = map(decode, chunks)
            else:
                pool = stack.enter_context(ProcessPoolExecutor(workers))
                stack.callback(pool.shutdown, cancel_futures=True)
                results = _in_order(pool, decode, chunks, CHUNKS_PER_WORKER * workers)
            start = 0
            for images, digests in results:
                out[start : start + len(images)] = images
                for relative, file_digest in zip(paths[start:], digests, strict=False):
                    digest.update(relative.encode("utf-8") + b"\0" + file_digest)
                start += len(images)
                bar.update(len(images))
        out.flush()
        del out
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return digest.hexdigest()


def _in_order(
    pool: Executor, function: Callable[[Item], Result], items: Sequence[Item], window: int
) -> Iterator[Result]:
    """``pool.map`` with at most ``window`` results waiting, so memory stays bounded."""
    pending: deque = deque()
    for item in items:
        pending.append(pool.submit(function, item))
        if len(pending) >= window:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def _decode_files(
    paths: Sequence[str], root: str, image_size: int
) -> tuple[np.ndarray, list[bytes]]:
    """Worker: read, hash and decode one chunk of files."""
    images = np.empty((len(paths), image_size, image_size, 3), dtype=np.uint8)
    digests = []
    for index, relative in enumerate(paths):
        file = Path(root) / relative
        try:
            with open(file, "rb") as handle:
                data = read_bounded(handle, f"image {file}")
        except OSError as error:
            raise HashbenchError(f"cannot read image {file}: {error}") from error
        digests.append(hashlib.sha256(data).digest())
        images[index] = decode_image(Member(relative, data), image_size, root)
    return images, digests
