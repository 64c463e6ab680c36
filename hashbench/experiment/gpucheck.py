"""The Python steps of ``results/gpu-check.sh``: what a first run on a CUDA machine must show.

``steps`` writes one JSON file per step under ``--out``, and a line per check (PASS or FAIL) to
``summary.txt``, whose first line names the device:

- ``environment``: torch and CUDA versions, the device, its compute capability, the precision
  a fit chooses and the TF32 flags it leaves.
- ``evaluator``: random codes (10,000 queries x 50,000 items) evaluated on the GPU and on the
  CPU, each timed with its peak memory; the metrics must agree but for the order of sums.
- ``fits``: every deep method of the registry fitted at a tiny size (512 random 32-px images,
  1 warm-start and 2 hashing epochs) under ``torch.cuda.set_sync_debug_mode("warn")``: each
  must report the device, and no line of code may make the host wait for the GPU every batch.
- ``resume``: a fit stopped after its first hashing epoch resumes there; on a GPU, a CPU
  checkpoint of the same run (tiny, both in bf16, as the Xeon and the GPU train) is refused in
  one line.

``records`` checks that every record under a folder names the device type, and lists them.
``--size tiny`` shrinks every step so that the whole check runs on a CPU in seconds, as its
test does; the full size requires CUDA.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import sys
import tempfile
import time
import traceback
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import torch

from hashbench.deep import device as devices
from hashbench.deep.trainer import HASHING, Trainer
from hashbench.errors import HashbenchError
from hashbench.evaluation.evaluator import evaluate
from hashbench.fileio import atomic_write_text
from hashbench.method import HashingMethod, Subset
from hashbench.records import iter_records
from hashbench.registry import REGISTRY, create_method

SUMMARY = "summary.txt"
#: Two evaluations of the same codes differ only in the order of their float sums.
SAME_METRICS = 1e-12
#: A fit's epochs: 1 warm start and 2 hashing.
EPOCHS = 3


@dataclass(frozen=True)
class Size:
    """How big the steps are: the fits' images and batch, the evaluator's codes."""

    images: int
    validation: int
    batch: int
    queries: int
    database: int
    #: Training settings besides the epochs and batches (the tiny size's thin network).
    training: dict[str, Any]


SIZES = {
    "full": Size(512, 128, 64, 10_000, 50_000, {}),
    "tiny": Size(64, 24, 16, 500, 2_000, {"width": 0.125}),
}


class Check:
    """The checks' outcomes, one line each, printed as they come and saved at the end."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.failed = False

    def note(self, line: str) -> None:
        self.lines.append(line)
        print(line, flush=True)

    def verdict(self, passed: bool, what: str) -> None:
        self.failed |= not passed
        self.note(f"{'PASS' if passed else 'FAIL'} {what}")

    def failure(self, what: str, error: Exception) -> dict[str, str]:
        """A step that raised: one FAIL line, and its traceback for the step's file."""
        self.verdict(False, f"{what}: {type(error).__name__}: {' '.join(str(error).split())}")
        return {"error": traceback.format_exc()}

    def save(self, path: Path) -> None:
        atomic_write_text(path, "\n".join(self.lines) + "\n")


def write_json(path: Path, result: dict[str, Any]) -> None:
    atomic_write_text(path, json.dumps(result, indent=1) + "\n")


def environment(where: torch.device) -> dict[str, Any]:
    """Versions, the device and what a fit on it computes in."""
    devices.configure(where)
    info: dict[str, Any] = {
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "device": str(where),
        "precision": devices.precision(where),
    }
    if where.type == "cuda":
        major, minor = torch.cuda.get_device_capability(where)
        info |= {
            "gpu": torch.cuda.get_device_name(where),
            "gpus_visible": torch.cuda.device_count(),
            "compute_capability": f"{major}.{minor}",
            "memory_gib": round(torch.cuda.get_device_properties(where).total_memory / 2**30, 1),
            "tf32_matmul": torch.backends.cuda.matmul.allow_tf32,
            "tf32_cudnn": torch.backends.cudnn.allow_tf32,
        }
    return info


def evaluator_on_each_device(size: Size, where: torch.device) -> dict[str, Any]:
    """The same random codes evaluated on ``where`` and on the CPU."""
    rng = np.random.default_rng(0)
    codes = (
        rng.integers(0, 2, (size.queries, 64), dtype=np.uint8),
        rng.integers(0, 2, (size.database, 64), dtype=np.uint8),
        rng.integers(0, 10, size.queries),
        rng.integers(0, 10, size.database),
    )
    runs: dict[str, Any] = {}
    for name in dict.fromkeys(["cpu", str(where)]):  # the CPU first: its peak is the process's
        on_cuda = name != "cpu"
        if on_cuda:
            torch.cuda.synchronize(where)
            torch.cuda.reset_peak_memory_stats(where)
        started = time.perf_counter()
        result = evaluate(*codes, topk=5000, precision_at=(100, 1000), device=name)
        seconds = time.perf_counter() - started
        peak = (
            torch.cuda.max_memory_allocated(where)
            if on_cuda
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        )
        runs[name] = {
            "seconds": round(seconds, 3),
            "peak_mib": round(peak / 2**20, 1),
            "peak_of": "tensors on the GPU" if on_cuda else "the process (RSS)",
            "metrics": result.metrics,
            "curves": result.curves,
        }
    cpu, other = runs["cpu"], runs[str(where)]
    gaps = [abs(other["metrics"][k] - v) for k, v in cpu["metrics"].items()]
    gaps += [
        abs(a - b)
        for k, v in cpu["curves"].items()
        for a, b in zip(v, other["curves"][k], strict=True)
    ]
    return {"queries": size.queries, "database": size.database, "runs": runs, "gap": max(gaps)}


@contextlib.contextmanager
def host_syncs(where: torch.device) -> Iterator[list[tuple[str, int]]]:
    """Every call in the block that made the host wait for the GPU, as (file:line, training
    batches so far): a line waiting at every batch shows up at many distinct counts, one
    waiting once an epoch at no more than one count per epoch."""
    syncs: list[tuple[str, int]] = []
    if where.type != "cuda":
        yield syncs
        return
    batches = [0]
    batch_loss = Trainer.batch_loss

    def counted(trainer: Trainer, indices: torch.Tensor) -> torch.Tensor:
        batches[0] += 1
        return batch_loss(trainer, indices)

    show = warnings.showwarning

    def record(message: Any, category: Any, filename: str, lineno: int, *rest: Any) -> None:
        if "synchroniz" in str(message):
            syncs.append((f"{filename}:{lineno}", batches[0]))
        else:
            show(message, category, filename, lineno, *rest)

    with warnings.catch_warnings(), mock.patch.object(Trainer, "batch_loss", counted):
        warnings.simplefilter("always")
        warnings.showwarning = record
        torch.cuda.set_sync_debug_mode("warn")
        try:
            yield syncs
        finally:
            torch.cuda.set_sync_debug_mode("default")


def every_batch(syncs: list[tuple[str, int]]) -> list[str]:
    """The lines of ``syncs`` (from :func:`host_syncs`) that waited at more distinct batch counts
    than a fit has epochs and one more (before the first): the ones waiting every batch."""
    batches_of: dict[str, set[int]] = {}
    for location, batch in syncs:
        batches_of.setdefault(location, set()).add(batch)
    return sorted(location for location, seen in batches_of.items() if len(seen) > EPOCHS + 1)


def random_subset(count: int, seed: int, offset: int = 0) -> Subset:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (count, 32, 32, 3), dtype=np.uint8)
    return Subset(np.arange(offset, offset + count), images, rng.integers(0, 10, count))


class Fits:
    """Tiny fits of the deep methods on random images, with the settings of ``size``."""

    def __init__(self, size: Size) -> None:
        self.size = size
        self.train = random_subset(size.images, 0)
        self.validation = random_subset(size.validation, 1, offset=size.images)

    def fit(self, name: str, workspace: Path | None = None) -> HashingMethod:
        size = self.size
        method = create_method(
            name,
            bits=16,
            seed=0,
            **size.training,
            warm_start_epochs=1,
            epochs=EPOCHS - 1,
            batch_size=size.batch,
            warm_start_batch_size=size.batch,
            val_topk=None,
        )
        method.workspace = workspace
        return method.fit(self.train, self.validation)


def fit_every_method(fits: Fits, where: torch.device, check: Check) -> dict[str, Any]:
    deep = [name for name in REGISTRY.names() if REGISTRY.get(name).input_kind == "images"]
    results = {}
    for name in deep:
        started = time.perf_counter()
        try:
            with host_syncs(where) as syncs:
                method = fits.fit(name)
        except Exception as error:  # one broken method must not hide the others' results
            results[name] = check.failure(f"fit {name}", error)
            continue
        report = getattr(method, "report_", {})
        waiting = every_batch(syncs)
        results[name] = {
            **report,
            "seconds": round(time.perf_counter() - started, 2),
            "host_syncs": dict(sorted(Counter(location for location, _ in syncs).items())),
            "host_syncs_every_batch": waiting,
        }
        on_device = torch.device(report.get("device", "meta")).type == where.type
        check.verdict(on_device, f"fit {name}: the record says {report.get('device')}")
        if where.type == "cuda":  # the CPU has nothing to wait for
            check.verdict(not waiting, f"fit {name}: no host sync every batch {waiting}")
    return results


def interrupted_and_resumed(
    fits: Fits, where: torch.device, root: Path, check: Check
) -> dict[str, Any]:
    """A DPSH fit stopped after its first hashing epoch's checkpoint, then the same fit again:
    it must train the last epoch only."""

    class Stopped(Exception):
        pass

    save = Trainer.save_checkpoint

    def save_then_stop(trainer: Trainer) -> None:
        save(trainer)
        if (trainer.phase, trainer.epoch) == (HASHING, 1):
            raise Stopped

    with (
        mock.patch.object(Trainer, "save_checkpoint", save_then_stop),
        contextlib.suppress(Stopped),
    ):
        fits.fit("dpsh", root / "interrupted")
    trained: list[list[Any]] = []
    run_epoch = Trainer.run_epoch

    def counted(trainer: Trainer, epoch: int, total: int) -> float:
        trained.append([trainer.phase, epoch + 1])
        return run_epoch(trainer, epoch, total)

    with mock.patch.object(Trainer, "run_epoch", counted):
        resumed = fits.fit("dpsh", root / "interrupted")
    result: dict[str, Any] = {"epochs_after_resuming": trained, "history": resumed.history_}
    check.verdict(trained == [[HASHING, 2]], f"resume: trained {trained} after the restart")
    if where.type == "cuda":
        result["cpu_checkpoint_on_the_gpu"] = cpu_checkpoint_refused(root, check)
    return result


def cpu_checkpoint_refused(root: Path, check: Check) -> str:
    """Finding 1 of issue 32: a CPU checkpoint in a shared folder, resumed on the GPU (both at
    the tiny size: a CPU without native bf16 emulates it, many times slower)."""
    fits, bf16 = Fits(SIZES["tiny"]), {devices.PRECISION_VARIABLE: "bf16"}
    with mock.patch.dict(os.environ, {**bf16, devices.DEVICE_VARIABLE: "cpu"}):
        fits.fit("dpsh", root / "shared")
    with mock.patch.dict(os.environ, bf16):
        try:
            fits.fit("dpsh", root / "shared")
            message = "accepted"
        except HashbenchError as error:
            message = str(error)
    check.verdict("different run" in message and "\n" not in message, f"cpu checkpoint: {message}")
    return message


def run_steps(size: Size, out: Path) -> bool:
    """Every step, each into its own file under ``out``; True when all passed."""
    where = devices.select_device()
    check = Check()
    info = environment(where)
    write_json(out / "environment.json", info)
    check.note(" ".join(f"{key}={value}" for key, value in info.items()))
    evaluation = evaluator_on_each_device(size, where)
    write_json(out / "evaluator.json", evaluation)
    for name, run in evaluation["runs"].items():
        check.note(f"evaluator on {name}: {run['seconds']} s, peak {run['peak_mib']} MiB")
    if len(evaluation["runs"]) > 1:
        check.verdict(evaluation["gap"] <= SAME_METRICS, f"evaluator: gap {evaluation['gap']:.3g}")
    fits = Fits(size)
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        with mock.patch.dict(os.environ, {"HASHBENCH_CACHE": str(root / "cache")}):
            write_json(out / "fits.json", fit_every_method(fits, where, check))
            try:
                resume = interrupted_and_resumed(fits, where, root, check)
            except Exception as error:  # reported like a failed check, not a crash
                resume = check.failure("resume", error)
            write_json(out / "resume.json", resume)
    check.save(out / SUMMARY)
    return not check.failed


def check_records(folder: Path, out: Path) -> bool:
    """Every record under ``folder`` trained (if deep) and was evaluated on the chosen device;
    its lines go to the file ``out``."""
    where = devices.select_device()
    check = Check()
    records = list(iter_records(folder))
    for record in records:
        report, hardware = record.get("report", {}), record["provenance"]["hardware"]
        used = {report.get("device", hardware["device"]), hardware["device"]}
        metric = next(v for k, v in record["metrics"].items() if k.startswith("map@"))
        check.verdict(
            {torch.device(name).type for name in used} == {where.type},
            f"{record['method']} {record['bits']} bits: {sorted(used)}, {report.get('precision')},"
            f" mAP {metric:.4f}, fit {record['timings']['fit_s']:.0f} s",
        )
    check.verdict(bool(records), f"{len(records)} record(s) under {folder}")
    check.save(out)
    return not check.failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hashbench.experiment.gpucheck")
    commands = parser.add_subparsers(dest="command", required=True)
    steps = commands.add_parser("steps", help="environment, evaluator, fits, resume")
    steps.add_argument("--size", choices=sorted(SIZES), default="full")
    steps.add_argument("--out", type=Path, required=True, help="folder of the step files")
    records = commands.add_parser("records", help="check the records under a folder")
    records.add_argument("folder", type=Path)
    records.add_argument("--out", type=Path, required=True, help="the file of their lines")
    args = parser.parse_args(argv)
    try:
        if args.command == "records":
            passed = check_records(args.folder, args.out)
        elif args.size == "full" and devices.select_device().type != "cuda":
            raise HashbenchError(
                "the full GPU check needs a CUDA device, and this run would be on the CPU; "
                "GPU_CHECK_SIZE=tiny runs it at a tiny size on the CPU"
            )
        else:
            passed = run_steps(SIZES[args.size], args.out)
    except HashbenchError as error:
        print(f"gpucheck: error: {error}", file=sys.stderr)
        return 2
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
