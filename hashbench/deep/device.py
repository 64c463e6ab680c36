"""Where deep methods run: the GPU when there is one, the CPU otherwise, and the same code path.

``HASHBENCH_DEVICE`` overrides the choice (``cpu``, ``cuda``, ``cuda:1``), so a user can keep a
method off a busy GPU or check a GPU run's numbers on the CPU.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import torch

from hashbench.errors import HashbenchError

DEVICE_VARIABLE = "HASHBENCH_DEVICE"


def select_device() -> torch.device:
    """``$HASHBENCH_DEVICE``, else the first CUDA device when present, else the CPU."""
    requested = os.environ.get(DEVICE_VARIABLE, "").strip()
    if not requested:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(requested)
    except RuntimeError as error:
        raise HashbenchError(
            f"{DEVICE_VARIABLE}={requested!r} is not a device; use cpu, cuda or cuda:N"
        ) from error
    if device.type not in ("cpu", "cuda"):
        raise HashbenchError(f"{DEVICE_VARIABLE}={requested!r}: only cpu and cuda are supported")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise HashbenchError(
                f"{DEVICE_VARIABLE}={requested!r} but PyTorch sees no CUDA device; "
                "unset it or set it to cpu"
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise HashbenchError(
                f"{DEVICE_VARIABLE}={requested!r} but only {torch.cuda.device_count()} "
                "CUDA device(s) exist"
            )
    return device


def configure(device: torch.device) -> None:
    """Fast kernels on the GPU: cuDNN picks the best convolution for the fixed input size."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


@contextlib.contextmanager
def autocast(device: torch.device) -> Iterator[None]:
    """bf16 on CUDA (no loss scaling needed); full float32 on the CPU, where bf16 is slow."""
    if device.type == "cuda":
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16):
            yield
    else:
        yield


def generator(device: torch.device, seed: int) -> torch.Generator:
    """A random stream of its own, so a checkpoint can save and restore it exactly."""
    stream = torch.Generator(device=device)
    stream.manual_seed(seed)
    return stream
