"""Provenance: a record's commit, whether the code (not the results) had changes, and the
device the run computed on."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from hashbench.cli import main
from hashbench.experiment import provenance
from hashbench.experiment.runner import GridRunner, RunPlan


@pytest.mark.parametrize(
    ("porcelain", "dirty"),
    [
        ("", False),
        (" M results/records/cifar10/lsh-16bits-seed0-abc.json\n M results/table.md\n", False),
        (" M methods/fssh.py\n M results/table.md\n", True),
    ],
)
def test_only_changes_outside_results_make_a_checkout_dirty(
    monkeypatch: pytest.MonkeyPatch, porcelain: str, dirty: bool
) -> None:
    def fake_git(command: list[str], **_: object) -> SimpleNamespace:
        output = "0123abcd" if "rev-parse" in command else porcelain
        return SimpleNamespace(returncode=0, stdout=output)

    monkeypatch.setattr(subprocess, "run", fake_git)
    provenance.git_state.cache_clear()  # computed once per process
    try:
        assert provenance.git_state() == {"commit": "0123abcd", "dirty": dirty}
    finally:
        provenance.git_state.cache_clear()


def test_the_commit_is_the_one_checked_out_when_the_runs_began(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    heads = iter(["0000aaaa", "1111bbbb"])  # a checkout updated while the runs train

    def fake_git(command: list[str], **_: object) -> SimpleNamespace:
        return SimpleNamespace(returncode=0, stdout=next(heads) if "rev-parse" in command else "")

    monkeypatch.setattr(subprocess, "run", fake_git)
    provenance.git_state.cache_clear()
    try:
        GridRunner(RunPlan(("lsh",), "digits", tmp_path))
        assert provenance.git_state.cache_info().currsize == 1  # read before any run trained
        assert next(heads) == "1111bbbb"  # the checkout moved on
        assert provenance.git_state()["commit"] == "0000aaaa"  # the records keep the first
    finally:
        provenance.git_state.cache_clear()


def test_a_run_on_the_cpu_is_evaluated_and_described_there_on_a_gpu_machine(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A machine PyTorch says has GPUs, though it has none here: evaluating or naming one would
    # fail, so the run finishing shows that HASHBENCH_DEVICE kept it off them.
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setenv("HASHBENCH_DEVICE", "cpu")
    results = tmp_path / "results"
    assert main(["run", "--methods", "lsh", "--bits", "8", "--results", str(results)]) == 0
    (record,) = (json.loads(p.read_text()) for p in (results / "records").rglob("*.json"))
    hardware = record["provenance"]["hardware"]
    assert (hardware["device"], hardware["gpu"]) == ("cpu", None)
    capsys.readouterr()


@pytest.mark.cuda
def test_the_hardware_names_the_gpu_the_run_used() -> None:
    for index in range(torch.cuda.device_count()):
        gpu = torch.device("cuda", index)
        assert provenance.hardware(gpu)["gpu"] == torch.cuda.get_device_name(index)
        assert provenance.hardware(gpu)["device"] == f"cuda:{index}"
    assert provenance.hardware(torch.device("cpu"))["gpu"] is None
