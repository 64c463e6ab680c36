"""``hashbench list`` from a fresh process: its wall time and its peak memory.

The command lists every method's declarations without importing a method's module (or
torch: tests/test_startup.py), so it should answer in under half a second and 150 MiB; both
are checked here, with the figures in ``extra_info`` (compare them on one machine only).
"""

from __future__ import annotations

import subprocess
import sys

TARGET_S, TARGET_MIB = 0.5, 150
#: Runs the command as a child of a small launcher and prints the child's peak resident memory
#: (Linux: KiB). Not of a child of pytest: a forked process starts its peak at its parent's.
MEASURED = (
    "import resource, subprocess, sys; "
    "subprocess.run([sys.executable, '-m', 'hashbench', 'list'], check=True, "
    "stdout=subprocess.DEVNULL); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def run_list() -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hashbench", "list"], capture_output=True, text=True, check=True
    )


def test_hashbench_list(benchmark) -> None:
    result = benchmark.pedantic(run_list, rounds=5, iterations=1)
    assert "Methods:" in result.stdout and "dpsh" in result.stdout
    measured = subprocess.run(
        [sys.executable, "-c", MEASURED], capture_output=True, text=True, check=True
    )
    peak_mib = int(measured.stdout) / 1024
    benchmark.extra_info["seconds"] = benchmark.stats.stats.min
    benchmark.extra_info["peak_mib"] = peak_mib
    assert peak_mib < TARGET_MIB
    assert benchmark.stats.stats.min < TARGET_S
