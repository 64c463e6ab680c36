"""Where a number came from: code version, commit, command line, software and hardware."""

from __future__ import annotations

import os
import platform
import shlex
import subprocess
import sys
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

import hashbench
from hashbench.machine import cpu_identity, cpu_name


@cache
def git_state() -> dict[str, Any]:
    """The commit of the hashbench checkout in use, and whether its code had uncommitted
    changes (records and tables under ``results/`` do not count: a grid rewrites them)."""
    root = Path(hashbench.__file__).resolve().parent.parent

    def git(*args: str) -> str | None:
        try:
            result = subprocess.run(
                ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return result.stdout.strip() if result.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return {"commit": None, "dirty": None}
    status = git("status", "--porcelain", "--untracked-files=no") or ""
    changed = [line.split(maxsplit=1)[-1] for line in status.splitlines() if line.strip()]
    return {"commit": commit, "dirty": any(not path.startswith("results/") for path in changed)}


def hardware(device: torch.device) -> dict[str, Any]:
    """The machine, and the device the run computed on (``gpu``: that device's name, none when
    the run was on the CPU, whatever GPUs the machine has)."""
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else None
    return {
        "cpu": cpu_name(),
        **cpu_identity(),
        "cpu_count": os.cpu_count(),
        "device": str(device),
        "gpu": gpu,
        "platform": platform.platform(),
    }


def software() -> dict[str, str]:
    return {
        "hashbench": hashbench.__version__,
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "torch": torch.__version__,
    }


def command_line(arguments: Sequence[str]) -> str:
    """The ``hashbench`` command as the user could type it again."""
    return " ".join(shlex.quote(part) for part in ["hashbench", *arguments])
