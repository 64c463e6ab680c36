"""Grids shared by several workers: claims, local workers, concurrent commands, kill -9, SLURM."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import torch

from hashbench.cli import main
from hashbench.deep import device
from hashbench.experiment import claims, executors
from hashbench.experiment.runner import RunPlan

CLASSIC = ["--methods", "lsh,itq,sh,pcah", "--bits", "16,32"]


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def journal(results: Path) -> Counter[str]:
    lines = (results / claims.JOURNAL).read_text().splitlines()
    return Counter(line.split()[-1] for line in lines)


def records(results: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((results / "records").rglob("*.json"))]


def spawn(*args: str, cwd: Path) -> subprocess.Popen[bytes]:
    environment = {**os.environ, "HASHBENCH_DEVICE": "cpu", "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "hashbench", *args]
    return subprocess.Popen(
        command, cwd=cwd, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def test_local_workers_land_every_record_exactly_once(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    results = tmp_path / "results"
    status, stdout, err = run_cli(capsys, "run", *CLASSIC, "--executor", "local", "--jobs", "2",
                                  "--results", str(results))  # fmt: skip
    assert status == 0, err
    assert "8 run(s) done, 0 already recorded" in stdout
    assert len(records(results)) == 8
    assert sorted(journal(results).values()) == [1] * 8
    assert not list((results / claims.CLAIMS).rglob("*.json"))
    status, stdout, _ = run_cli(capsys, "status", "--results", str(results))
    assert status == 0 and "8 done" in stdout and "pending" not in stdout


def test_two_concurrent_commands_on_one_folder_run_each_cell_once(tmp_path: Path) -> None:
    results = tmp_path / "results"
    grid = ["run", *CLASSIC[:2], "--bits", "8,16,24,32", "--results", str(results)]
    first, second = spawn(*grid, cwd=tmp_path), spawn(*grid, cwd=tmp_path)
    for process in (first, second):
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err.decode()
    assert len(records(results)) == 16
    assert sorted(journal(results).values()) == [1] * 16


def test_a_worker_killed_mid_grid_leaves_no_corrupt_record_and_the_rerun_completes(
    tmp_path: Path,
) -> None:
    results = tmp_path / "results"
    tiny = ["--set", "dpsh.width=0.125", "--set", "dpsh.warm_start_epochs=0",
            "--set", "dpsh.epochs=3", "--set", "dpsh.batch_size=64"]  # fmt: skip
    grid = ["run", "--methods", "dpsh", "--bits", "8,12,16,20", *tiny, "--results", str(results)]
    worker = spawn(*grid, cwd=tmp_path)
    deadline = time.monotonic() + 300
    while not list((results / "records").rglob("*.json")) and time.monotonic() < deadline:
        assert worker.poll() is None, worker.stderr.read().decode()
        time.sleep(0.2)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    before = {path.stem for path in (results / "records").rglob("*.json")}
    assert 1 <= len(records(results)) < 4  # every record there parses
    # The kill lands in a run (its claim left, stale at once: its process is dead) or, rarely,
    # in the instant between one run's release and the next one's claim.
    assert len(list((results / claims.CLAIMS).rglob("*.json"))) <= 1
    rerun = spawn(*grid, cwd=tmp_path)
    _, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err.decode()
    assert len(records(results)) == 4
    ran = journal(results)
    assert set(ran.values()) == {1}  # no cell ran twice
    finished = {name.split("/")[-1] for name in ran}
    # A kill between a record and its journal line loses that line, never the record: at most
    # one cell recorded before the kill lacks a line, and every cell run by the rerun has one.
    after = {path.stem for path in (results / "records").rglob("*.json")}
    assert finished <= after and after - before <= finished and len(before - finished) <= 1
    assert not list((results / claims.CLAIMS).rglob("*.json"))


def test_a_live_claim_is_respected_and_a_stale_one_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "claims" / "p" / "run.json"
    held = claims.try_claim(path, timeout=60)
    assert held is not None
    assert claims.try_claim(path, timeout=60) is None  # same host, live process: respected
    stale = json.loads(path.read_text())
    stale["heartbeat"] -= 120
    path.write_text(json.dumps(stale))
    taker = claims.try_claim(path, timeout=60, worker="other:1")
    assert taker is not None and json.loads(path.read_text())["worker"] == "other:1"
    assert held.beat() is False  # the first holder sees it lost the claim
    held.release()
    assert path.exists()  # releasing a lost claim leaves the new holder's
    taker.release()
    assert not path.exists()


def test_a_takeover_never_moves_a_fresh_claim(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Worker A judges a claim stale; before A acts on it, worker B takes it over. A must leave
    B's claim where it is: moved aside even briefly, B's heartbeat would stop for good and a
    third worker could create a claim in the gap."""
    path = tmp_path / "claims" / "p" / "run.json"
    path.parent.mkdir(parents=True)
    stale = {"state": "running", "worker": "gone:1", "host": "elsewhere", "heartbeat": 0.0}
    path.write_text(json.dumps(stale))
    judge, taken = claims.is_stale, []

    def b_takes_over_meanwhile(claim: dict, timeout: float, now: float | None = None) -> bool:
        if not taken:
            taken.append(None)
            taken[0] = claims.try_claim(path, timeout, worker="B:2")
        return judge(claim, timeout, now)

    moved: list[str] = []
    replace = os.replace

    def watched(source: object, target: object) -> None:
        if Path(source) == path:
            moved.append(json.loads(path.read_text())["worker"])
        replace(source, target)

    monkeypatch.setattr(claims, "is_stale", b_takes_over_meanwhile)
    monkeypatch.setattr(os, "replace", watched)
    assert claims.try_claim(path, timeout=60, worker="A:1") is None
    assert taken[0] is not None and moved == []
    assert json.loads(path.read_text())["worker"] == "B:2"
    assert taken[0].beat() is True  # B's heartbeat goes on
    taken[0].release()
    assert not path.exists()


def test_a_queued_claim_is_free_for_its_own_job_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "claims" / "p" / "run.json"
    claims.mark_queued(path, "4242_1")
    for name in ("SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID", "SLURM_JOB_ID"):
        monkeypatch.delenv(name, raising=False)
    assert claims.try_claim(path, timeout=0) is None  # queued claims never age
    monkeypatch.setenv("SLURM_ARRAY_JOB_ID", "4242")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "0")
    assert claims.try_claim(path, timeout=0) is None
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "1")
    claim = claims.try_claim(path, timeout=0)
    assert claim is not None and json.loads(path.read_text())["state"] == "running"


@pytest.fixture
def fake_sbatch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An ``sbatch`` on PATH that records its arguments and answers like SLURM (and an
    ``srun``, whose presence submitit takes for a cluster)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    srun = folder / "srun"
    srun.write_text("#!/bin/sh\nexit 0\n")
    srun.chmod(srun.stat().st_mode | stat.S_IEXEC)
    calls = tmp_path / "sbatch-calls"
    script = folder / "sbatch"
    script.write_text(f'#!/bin/sh\necho "$@" >> {calls}\necho "Submitted batch job 4242"\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    return calls


def test_slurm_submits_one_array_task_per_missing_cell_with_the_settings(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, fake_sbatch: Path
) -> None:
    results = tmp_path / "results"
    slurm = ["--executor", "slurm", "--slurm-partition", "gpu", "--slurm-time", "30",
             "--slurm-gpus-per-task", "1", "--slurm-cpus-per-task", "4", "--slurm-mem", "16G",
             "--slurm-extra", "account=myproject", "--results", str(results)]  # fmt: skip
    status, stdout, err = run_cli(capsys, "run", "--methods", "lsh,itq", "--bits", "16", *slurm)
    assert status == 0, err
    assert "2 submitted to SLURM" in stdout
    (script,) = (results / "slurm-logs").glob("*_submission.sh")
    text = script.read_text()
    for line in ("#SBATCH --partition=gpu", "#SBATCH --time=30", "#SBATCH --gpus-per-task=1",
                 "#SBATCH --cpus-per-task=4", "#SBATCH --mem=16G", "#SBATCH --account=myproject",
                 "#SBATCH --array=0-1"):  # fmt: skip
        assert line in text, text
    assert "-m submitit.core._submit" in text
    queued = [json.loads(p.read_text()) for p in (results / claims.CLAIMS).rglob("*.json")]
    assert sorted(c["job"] for c in queued) == ["4242_0", "4242_1"]
    _, stdout, _ = run_cli(capsys, "status", "--results", str(results))
    assert "2 queued" in stdout

    status, stdout, _ = run_cli(capsys, "run", "--methods", "lsh,itq", "--bits", "16", *slurm)
    assert status == 0 and "2 held by other workers" in stdout
    assert len(fake_sbatch.read_text().splitlines()) == 1  # nothing submitted twice


def test_slurm_refuses_deep_methods_without_gpus_unless_told_none_on_purpose(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, fake_sbatch: Path
) -> None:
    results = tmp_path / "results"
    grid = ["run", "--methods", "itq,dpsh", "--bits", "16", "--executor", "slurm", "--results",
            str(results)]  # fmt: skip
    status, _, err = run_cli(capsys, *grid)
    assert status == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert "would train dpsh on the nodes' CPUs: pass --slurm-gpus-per-task 1" in err
    assert not fake_sbatch.exists() and not results.exists()  # nothing submitted or written
    status, stdout, err = run_cli(capsys, *grid, "--slurm-gpus-per-task", "0")
    assert status == 0 and "2 submitted to SLURM" in stdout, err
    (script,) = (results / "slurm-logs").glob("*_submission.sh")
    assert "gpus" not in script.read_text()


def test_a_local_worker_runs_on_the_device_it_is_placed_on(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen: list[tuple[str | None, str | None]] = []

    class Runner:
        def __init__(self, plan: object) -> None:
            variables = (device.DEVICE_VARIABLE, device.WORKERS_PER_GPU_VARIABLE)
            seen.append(tuple(os.environ.get(name) for name in variables))

        def run(self) -> list:
            return []

    monkeypatch.setattr(executors, "GridRunner", Runner)
    for name in (device.DEVICE_VARIABLE, device.WORKERS_PER_GPU_VARIABLE):
        monkeypatch.setenv(name, "")  # undone after the test, as the worker's settings are
    placement = {device.DEVICE_VARIABLE: "cuda:1", device.WORKERS_PER_GPU_VARIABLE: "2"}
    plan, threads = RunPlan(("lsh",), "digits", tmp_path), torch.get_num_threads()
    assert executors._local_worker(plan, threads, placement) == []
    assert seen == [("cuda:1", "2")]


def test_slurm_without_a_cluster_is_one_clear_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no srun, no sbatch
    status, _, err = run_cli(capsys, "run", "--methods", "lsh", "--bits", "16", "--executor",
                             "slurm", "--results", str(tmp_path / "results"))  # fmt: skip
    assert status == 2 and err.count("\n") == 1 and "srun" in err and "Traceback" not in err


def test_a_run_name_gives_back_its_method_bits_and_seed(tmp_path: Path) -> None:
    from hashbench.records import record_path, run_of

    config = {"method": "my-method", "bits": 48, "seed": 2, "protocol": "p", "params": {}}
    assert run_of(record_path(tmp_path, config).stem, "a record") == ("my-method", 48, 2)
