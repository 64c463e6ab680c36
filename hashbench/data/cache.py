"""The on-disk cache of decoded images and features, keyed by content checksums."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from hashbench.errors import HashbenchError
from hashbench.fileio import atomic_write
from hashbench.limits import read_array_header


def cache_root() -> Path:
    """``$HASHBENCH_CACHE``, else ``$XDG_CACHE_HOME/hashbench``, else ``~/.cache/hashbench``."""
    if "HASHBENCH_CACHE" in os.environ:
        return Path(os.environ["HASHBENCH_CACHE"])
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "hashbench"


def cached_array(kind: str, key: str, compute: Callable[[], np.ndarray]) -> np.ndarray:
    """Load ``<cache>/<kind>/<key>.npy``, or compute, store atomically and return it.

    The key must change whenever the bytes it was computed from change (use a checksum).
    """
    path = cache_root() / kind / f"{key}.npy"
    if path.exists():
        return load_entry(path)
    array = compute()
    atomic_write(path, lambda handle: np.save(handle, array))
    return array


def load_entry(path: Path, mmap_mode: str | None = None) -> np.ndarray:
    """A cached array, its header checked against the file's size first: a damaged entry (a
    full disk, an edit) is one line naming the file to delete."""
    what = f"cache entry {path}"
    try:
        with open(path, "rb") as handle:
            header = read_array_header(handle, "it")
        if header.offset + header.size != path.stat().st_size:
            raise ValueError(f"its header says {header.dtype} {header.shape}, its size differs")
        return np.load(path, mmap_mode=mmap_mode, allow_pickle=False)
    except (OSError, ValueError, EOFError, HashbenchError) as error:
        raise HashbenchError(
            f"{what} is damaged ({error}); delete it and it is rebuilt on the next run"
        ) from error
