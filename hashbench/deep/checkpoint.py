"""Checkpoints: one per epoch in the run's workspace, and a shared cache of warm starts.

A checkpoint holds everything the next epoch depends on (weights, optimiser, random streams,
the method's own state, history, best epoch so far), written atomically, so a run resumed
from it ends with the same weights and history as one never interrupted (on the CPU; cuDNN
kernels on the GPU are not bitwise deterministic).

The warm start (cross-entropy on the training labels) depends only on the data, the recipe,
the input size and the seed, never on the hashing method or the code length, so its result is
cached under a key made of exactly those and shared by every deep method: one grid of 4
methods x 4 code lengths trains it once per seed (and per DMRH input size).
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hashbench.data.cache import cache_root
from hashbench.errors import HashbenchError
from hashbench.fileio import atomic_write

CHECKPOINT_NAME = "checkpoint.pt"
#: Bump when the warm start's computation changes, so stale cache entries are never read.
WARM_START_VERSION = 1


def save(path: Path, state: dict[str, Any]) -> None:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write(path, lambda handle: handle.write(buffer.getvalue()))


def load(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise HashbenchError(
            f"cannot read checkpoint {path}: {error}; delete it to start that run afresh"
        ) from error


def digest(*parts: Any) -> str:
    """sha256 over arrays' bytes and other values' JSON, in order."""
    hasher = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            hasher.update(str((part.dtype.str, part.shape)).encode())
            hasher.update(np.ascontiguousarray(part).data)
        else:
            hasher.update(json.dumps(part, sort_keys=True, default=str).encode())
    return hasher.hexdigest()


def warm_start_path(key: str) -> Path:
    return cache_root() / "warm-start" / f"{key}.pt"


def file_identity(path: str | Path) -> dict[str, Any]:
    """Path, size and modification time: enough to notice a replaced weights file cheaply."""
    path = Path(path).resolve()
    stat = path.stat()
    return {"path": str(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
