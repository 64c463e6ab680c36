"""``results/gpu-check.sh`` at its tiny size, end to end, on the device hashbench picks (the CPU
here): every step runs and writes what the run on a GPU will; and the full size, which needs
CUDA, stops at once without one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from hashbench.deep.device import select_device
from hashbench.experiment import gpucheck
from hashbench.registry import REGISTRY

SCRIPT = Path(__file__).resolve().parents[1] / "results" / "gpu-check.sh"


def run_check(out: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "GPU_CHECK_OUT": str(out), "PYTHON": sys.executable,
                   "OMP_NUM_THREADS": "1", **variables}  # fmt: skip
    return subprocess.run(
        ["bash", str(SCRIPT)], env=environment, capture_output=True, text=True, timeout=600
    )


def test_the_tiny_gpu_check_runs_every_step_and_names_the_device(tmp_path: Path) -> None:
    done = run_check(tmp_path, GPU_CHECK_SIZE="tiny")
    assert done.returncode == 0, done.stdout + done.stderr
    where = select_device()
    summary = (tmp_path / "summary.txt").read_text().splitlines()
    assert summary[0].startswith(f"torch={torch.__version__} ") and f"device={where}" in summary[0]
    assert not [line for line in summary if line.startswith("FAIL")]
    steps = [" ".join(line.split()[:2]).rstrip(":") for line in summary if " exit " in line]
    assert steps == ["PASS checks", "PASS cuda-tests", "PASS paper", "PASS records"]
    assert "SKIP benchmarks: not at the tiny size" in summary

    fits = json.loads((tmp_path / "fits.json").read_text())
    deep = {name for name in REGISTRY.names() if REGISTRY.get(name).input_kind == "images"}
    assert set(fits) == deep
    assert {torch.device(fit["device"]).type for fit in fits.values()} == {where.type}
    resume = json.loads((tmp_path / "resume.json").read_text())
    assert resume["epochs_after_resuming"] == [["hashing", 2]]
    assert [entry["epoch"] for entry in resume["history"]] == [1, 1, 2]
    evaluation = json.loads((tmp_path / "evaluator.json").read_text())
    assert evaluation["gap"] <= gpucheck.SAME_METRICS
    assert 0 < evaluation["runs"]["cpu"]["metrics"]["map@5000"] < 1

    records = [json.loads(p.read_text()) for p in (tmp_path / "paper" / "records").rglob("*.json")]
    assert sorted((r["method"], r["bits"]) for r in records) == [("dmrh", 48), ("dpsh", 48)]
    for record in records:
        assert record["provenance"]["hardware"]["device"] == str(where)
        assert record["report"]["device"] == str(where)
    assert summary[-1] == f"PASS 2 record(s) under {tmp_path / 'paper' / 'records'}"


def test_the_full_gpu_check_without_cuda_stops_at_once_in_one_line(tmp_path: Path) -> None:
    done = run_check(tmp_path, HASHBENCH_DEVICE="cpu")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "gpucheck: error: the full GPU check needs a CUDA device, and this run would be on the "
        "CPU; GPU_CHECK_SIZE=tiny runs it at a tiny size on the CPU"
    ]
    assert not (tmp_path / "paper").exists() and not (tmp_path / "environment.json").exists()


@pytest.mark.parametrize(
    ("syncs", "expected"),
    [
        ([("loss.py:5", batch) for batch in range(1, 9)], ["loss.py:5"]),  # at every batch
        # Once an epoch, many times (a loop over bits), at the epochs' ends: not every batch.
        ([("step.py:9", batch) for batch in (0, 8, 16, 24) for _ in range(32)], []),
        ([("a.py:1", 3), ("a.py:1", 3), ("b.py:2", 1)], []),
    ],
)
def test_a_host_sync_every_batch_is_told_from_one_every_epoch(
    syncs: list[tuple[str, int]], expected: list[str]
) -> None:
    assert gpucheck.every_batch(syncs) == expected
