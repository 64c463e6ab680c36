"""Where hashbench computes: the GPU when there is one, the CPU otherwise, and the same code path.

:func:`select_device` is the one place that decides: training, the evaluator, a record's
provenance and ``hashbench reproduce`` all ask it, so a run is evaluated and described on the
device it trained on. ``HASHBENCH_DEVICE`` overrides the choice (``cpu``, ``cuda``,
``cuda:1``), so a user can keep a run off a busy GPU or check a GPU run's numbers on the CPU;
``--executor local`` sets it per worker to spread them over the GPUs (:func:`worker_placement`).

The network runs under bf16 autocast wherever the hardware has fast bf16: CUDA GPUs from
Ampere (compute capability 8.0) on, and CPUs with AVX512-BF16 or AMX (2.7x the fp32 images/s
of a DPSH hashing epoch on a 2-core Xeon with AMX, 2.3x for DMRH's 2 x 2 regions: the training
benchmark); elsewhere, and
whenever ``HASHBENCH_PRECISION=fp32``, in float32. Losses and the evaluator work in float32,
and float32 means float32: TF32 (float32 products on a 10-bit mantissa) runs only when
``HASHBENCH_PRECISION=tf32`` asks for it, and then for the network and every float32 product
alike.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import torch

from hashbench.errors import HashbenchError
from hashbench.machine import cpu_flags

DEVICE_VARIABLE = "HASHBENCH_DEVICE"
PRECISION_VARIABLE = "HASHBENCH_PRECISION"
PRECISIONS = ("auto", "bf16", "fp32", "tf32")
#: Set by ``--executor local`` in each worker: how many workers share its GPU.
WORKERS_PER_GPU_VARIABLE = "HASHBENCH_WORKERS_PER_GPU"
#: The first compute capability with bf16 and TF32 units (Ampere).
AMPERE = (8, 0)
#: CPU flags (Linux /proc/cpuinfo) of native bf16 arithmetic, which oneDNN uses.
CPU_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


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
    """Fast kernels on the GPU: cuDNN picks the best convolution for the fixed input size; TF32
    only under ``HASHBENCH_PRECISION=tf32`` (PyTorch lets cuDNN use it by default)."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        tf32 = precision(device) == "tf32"
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32


def cpu_has_bf16() -> bool:
    """Whether this CPU computes in bf16 natively (AVX512-BF16 or AMX), not by emulation."""
    return bool(cpu_flags() & CPU_BF16_FLAGS)


def precision(device: torch.device) -> str:
    """``bf16``, ``fp32`` or ``tf32``: what the network computes in on ``device``."""
    requested = os.environ.get(PRECISION_VARIABLE, "auto").strip().lower() or "auto"
    if requested not in PRECISIONS:
        raise HashbenchError(
            f"{PRECISION_VARIABLE}={requested!r}; choose one of {', '.join(PRECISIONS)}"
        )
    if requested == "tf32" and (
        device.type != "cuda" or torch.cuda.get_device_capability(device) < AMPERE
    ):
        raise HashbenchError(
            f"{PRECISION_VARIABLE}=tf32 needs a CUDA GPU of compute capability 8.0 or later, "
            f"and this run is on {device}; use fp32 or bf16"
        )
    if requested != "auto":
        return requested
    if device.type == "cuda":
        return "bf16" if torch.cuda.get_device_capability(device) >= AMPERE else "fp32"
    return "bf16" if cpu_has_bf16() else "fp32"


@contextlib.contextmanager
def autocast(device: torch.device) -> Iterator[None]:
    """The network's forward pass in :func:`precision` (bf16 needs no loss scaling)."""
    if precision(device) == "bf16":
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16):
            yield
    else:
        yield


def generator(device: torch.device, seed: int) -> torch.Generator:
    """A random stream of its own, so a checkpoint can save and restore it exactly."""
    stream = torch.Generator(device=device)
    stream.manual_seed(seed)
    return stream


def staging_budget(device: torch.device) -> float:
    """Bytes of training images that may stay on the CUDA ``device``: half its free memory,
    counting as free what this process's allocator caches unused (a finished fit's tensors
    return there, not to the driver), and never more than half this worker's share of the GPU
    when ``--executor local`` runs several workers on it, which all stage at once."""
    free, total = torch.cuda.mem_get_info(device)
    free += torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
    return min(free, total / workers_per_gpu()) / 2


def workers_per_gpu() -> int:
    """``$HASHBENCH_WORKERS_PER_GPU``, else 1: how many processes stage images on this GPU."""
    text = os.environ.get(WORKERS_PER_GPU_VARIABLE, "").strip() or "1"
    if not text.isdigit() or int(text) < 1:
        raise HashbenchError(
            f"{WORKERS_PER_GPU_VARIABLE}={text!r} must be a positive whole number of workers; "
            "unset it or give the number of processes sharing the GPU"
        )
    return int(text)


def worker_placement(worker: int, jobs: int) -> dict[str, str]:
    """The environment local worker ``worker`` of ``jobs`` runs in: GPU ``worker % count`` of
    the visible GPUs and how many workers share it, unless ``HASHBENCH_DEVICE`` names one device
    (then all share it) or the run is on the CPU (then nothing to set)."""
    chosen = select_device()
    if chosen.type != "cuda":
        return {}
    if chosen.index is not None:
        return {WORKERS_PER_GPU_VARIABLE: str(jobs)}
    count = torch.cuda.device_count()
    gpu = worker % count
    return {
        DEVICE_VARIABLE: f"cuda:{gpu}",
        WORKERS_PER_GPU_VARIABLE: str(len(range(gpu, jobs, count))),
    }
