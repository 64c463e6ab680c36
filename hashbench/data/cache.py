"""The on-disk cache of decoded images and features, keyed by content checksums."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from hashbench.fileio import atomic_write


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
        return np.load(path, mmap_mode=None)
    array = compute()
    atomic_write(path, lambda handle: np.save(handle, array))
    return array
