"""The machine hashbench runs on, as records and measurements name it."""

from __future__ import annotations

import functools
import platform
from pathlib import Path

#: The CPU features that decide how fast (and in what precision) hashbench computes on a CPU:
#: what records keep of the CPU's flags.
SPEED_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16")


@functools.cache
def cpuinfo() -> dict[str, str]:
    """The first processor's fields in Linux's /proc/cpuinfo; empty elsewhere."""
    try:
        return parse_cpuinfo(Path("/proc/cpuinfo").read_text())
    except OSError:
        return {}


def parse_cpuinfo(text: str) -> dict[str, str]:
    """``key: value`` lines of the first processor's block (the others repeat it)."""
    fields: dict[str, str] = {}
    for line in text.strip().split("\n\n", 1)[0].splitlines():
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return fields


def cpu_name() -> str:
    return cpuinfo().get("model name") or platform.processor() or platform.machine()


def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (``avx512_bf16``, ``amx_bf16``, ...); empty where unknown."""
    return frozenset(cpuinfo().get("flags", "").split())


def cpu_identity() -> dict[str, object]:
    """What tells two CPUs of one marketing name apart (an "AMD EPYC" may be Zen 3 or Zen 4):
    family, model and stepping where the CPU reports them, and which of its
    :data:`SPEED_FLAGS` it has (None where it lists no flags: unknown, not none)."""
    info = cpuinfo()
    numbers = {key: info[key] for key in ("cpu family", "model", "stepping") if key in info}
    features = [flag for flag in SPEED_FLAGS if flag in cpu_flags()] if "flags" in info else None
    return {
        "cpu_id": " ".join(f"{key} {value}" for key, value in numbers.items()) or None,
        "cpu_features": features,
    }
