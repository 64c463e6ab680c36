"""Where a grid's runs execute: in this process (default), in N local worker processes, or as
one SLURM job per (method, bits, seed) through submitit.

Every executor runs cells through :meth:`GridRunner.run_one`, which claims a cell before it
runs it, so workers never repeat each other's work and any mix of them can share one results
folder. Local workers each walk the whole grid and take whatever is unclaimed, worker i on GPU
i % count of the visible GPUs; SLURM jobs each run their one cell, whose claim reads ``queued``
from submission until the job starts.
"""

from __future__ import annotations

import dataclasses
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from hashbench.deep.device import worker_placement
from hashbench.errors import HashbenchError
from hashbench.experiment import claims
from hashbench.experiment.runner import GridRunner, RunOutcome, RunPlan
from hashbench.registry import get_method

EXECUTORS = ("inline", "local", "slurm")
#: The order of preference when several workers report on the same cell.
PRECEDENCE = ("done", "failed", "recorded", "elsewhere")


@dataclass(frozen=True)
class SlurmOptions:
    """The usual SLURM settings, as submitit's ``slurm_*`` parameters take them."""

    partition: str | None = None
    time_min: int = 60
    #: None: not given, which deep methods refuse; 0: none, on purpose (they train on CPUs).
    gpus_per_task: int | None = None
    cpus_per_task: int | None = None
    mem: str | None = None
    additional: dict[str, Any] = field(default_factory=dict)
    logs: Path | None = None  # default: <results>/slurm-logs


def run_grid(
    plan: RunPlan, executor: str = "inline", jobs: int = 1, slurm: SlurmOptions | None = None
) -> tuple[GridRunner, list[RunOutcome]]:
    """Check the plan, load the data, save the grid's cells (for ``hashbench status``), run."""
    if executor not in EXECUTORS:
        raise HashbenchError(f"unknown executor {executor!r}; choose one of {', '.join(EXECUTORS)}")
    if jobs < 1:
        raise HashbenchError(f"--jobs must be at least 1, got {jobs}")
    if executor == "slurm":
        check_slurm(plan, slurm or SlurmOptions())
    runner = GridRunner(plan)
    # A cluster that is not there is a user's mistake: found before anything is written.
    cluster = slurm_executor(plan, slurm or SlurmOptions()) if executor == "slurm" else None
    runner.save_grid()
    if executor == "local":
        return runner, run_local(plan, jobs)
    if cluster is not None:
        return runner, submit_slurm(runner, cluster)
    return runner, runner.run()


def _local_worker(plan: RunPlan, threads: int, environment: dict[str, str]) -> list[RunOutcome]:
    """One local worker: its share of the CPU's threads, its GPU (:func:`worker_placement`)."""
    import torch

    os.environ.update(environment)
    torch.set_num_threads(threads)
    return GridRunner(plan).run()


def merge(reports: list[list[RunOutcome]]) -> list[RunOutcome]:
    """One outcome per cell from every worker's: a run done or failed beats a skip."""
    best: dict[Path, RunOutcome] = {}
    for outcome in (o for report in reports for o in report):
        kept = best.get(outcome.record)
        if kept is None or PRECEDENCE.index(outcome.status) < PRECEDENCE.index(kept.status):
            best[outcome.record] = outcome
    return list(best.values())


def run_local(plan: RunPlan, jobs: int) -> list[RunOutcome]:
    """``jobs`` worker processes on this machine, the CPU's threads shared between them and the
    visible GPUs too (worker i on GPU i % count)."""
    threads = max(1, (os.cpu_count() or 1) // jobs)
    with ProcessPoolExecutor(jobs, mp_context=get_context("spawn")) as pool:
        futures = [
            pool.submit(_local_worker, plan, threads, worker_placement(worker, jobs))
            for worker in range(jobs)
        ]
        return merge([future.result() for future in futures])


def _slurm_cell(plan: RunPlan, name: str, bits: int, seed: int) -> RunOutcome:
    """One SLURM job: one cell, its failure file naming the job's log."""
    import submitit

    log = str(submitit.JobEnvironment().paths.stdout)
    return GridRunner(dataclasses.replace(plan, log=log)).run_one(name, bits, seed)


def check_slurm(plan: RunPlan, options: SlurmOptions) -> None:
    """Deep methods need GPUs, or a user who chose CPUs: a job without either would train them
    silently on the node's CPU, far past any usual time limit."""
    deep = [name for name in plan.methods if get_method(name).input_kind == "images"]
    if deep and options.gpus_per_task is None:
        raise HashbenchError(
            f"--executor slurm would train {', '.join(deep)} on the nodes' CPUs: pass "
            "--slurm-gpus-per-task 1 (or 0 to train them on CPUs on purpose)"
        )


def slurm_executor(plan: RunPlan, options: SlurmOptions) -> Any:
    """submitit's executor for SLURM with the options; one line where there is no cluster."""
    import submitit

    logs = options.logs or plan.out_dir / "slurm-logs"
    try:
        executor = submitit.AutoExecutor(folder=logs, cluster="slurm")
    except RuntimeError as error:
        raise HashbenchError(
            f"--executor slurm needs a SLURM cluster ({error}); run it on the cluster's login "
            "node, or use --executor local"
        ) from error
    executor.update_parameters(
        name="hashbench",
        timeout_min=options.time_min,
        slurm_partition=options.partition,
        slurm_gpus_per_task=options.gpus_per_task or None,  # 0: no GPU line at all
        slurm_cpus_per_task=options.cpus_per_task,
        slurm_mem=options.mem,
        slurm_additional_parameters=dict(options.additional),
    )
    return executor


def submit_slurm(runner: GridRunner, executor: Any) -> list[RunOutcome]:
    """Submit the cells that have neither a record nor a live claim, one job each."""
    plan = runner.plan
    pending: list[tuple[str, int, int]] = []
    outcomes: list[RunOutcome] = []
    for name, bits, seed in runner.cells():
        path = runner.record_path(name, bits, seed)
        claim_file = claims.claim_path(plan.out_dir, runner.protocol.name, path.stem)
        claim = claims.read_claim(claim_file)
        live = claim_file.exists() and (
            claim is None or not claims.is_stale(claim, plan.claim_timeout)
        )
        if runner.is_recorded(path):
            outcomes.append(RunOutcome(path, "recorded"))
        elif live:  # a torn claim is one being written: live too
            outcomes.append(RunOutcome(path, "elsewhere"))
        else:
            if claim is not None:  # stale: its worker is gone
                claims.remove_stale(claim_file, claim)
            pending.append((name, bits, seed))
    if not pending:
        return outcomes
    columns = list(zip(*pending, strict=True))
    submitted = executor.map_array(_slurm_cell, [plan] * len(pending), *columns)
    for (name, bits, seed), job in zip(pending, submitted, strict=True):
        path = runner.record_path(name, bits, seed)
        claim = claims.claim_path(plan.out_dir, runner.protocol.name, path.stem)
        claims.mark_queued(claim, str(job.job_id))
        outcomes.append(RunOutcome(path, "submitted"))
    return outcomes
