"""Runs a grid of (method, bits, seed) on one protocol and writes one record per finished run.

Everything the user typed is checked before any work or any write, so bad input leaves the
results folder untouched. Each run writes its record last and atomically: a crash loses at
most the run in flight, and the same command resumes where it stopped. A run whose training
diverges writes no record but a failure file; the grid goes on and its outcome lists the
failure. Each run is claimed first (:mod:`hashbench.experiment.claims`), so any number of
workers, local or on a cluster, can run the same grid into one results folder.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from hashbench.constraints import check
from hashbench.data.dataset import Dataset
from hashbench.data.loading import load_dataset
from hashbench.deep.device import precision, select_device
from hashbench.errors import HashbenchError
from hashbench.evaluation.codes_file import CodesBundle, save_codes
from hashbench.evaluation.evaluator import evaluate
from hashbench.evaluation.names import GRADED_AT, graded_depth, is_graded
from hashbench.experiment import claims, provenance
from hashbench.experiment.claims import DEFAULT_TIMEOUT_S
from hashbench.features.extract import compute_features, default_feature, get_feature
from hashbench.fileio import atomic_write_text
from hashbench.method import BITS, SEED, Subset
from hashbench.records import (
    codes_path,
    config_hash,
    departures,
    record_path,
    validation_fall,
    write_record,
)
from hashbench.registry import check_params, create_method, get_method
from hashbench.splits.protocol import (
    Protocol,
    Splits,
    default_protocol,
    draw_splits,
    load_protocol,
    save_splits,
)

#: The depths N of precision@N in every record: the usual figures' x axis.
PRECISION_AT = (100, 200, 500, 1000, 2000, 5000)


@dataclass(frozen=True)
class RunPlan:
    """What ``hashbench run`` was asked to do."""

    methods: tuple[str, ...]
    dataset: str
    out_dir: Path
    protocol: str | None = None
    bits: tuple[int, ...] | None = None
    seeds: tuple[int, ...] = (0,)
    #: Non-deep methods' feature; None: the data set's default (features.extract).
    feature: str | None = None
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    data_root: tuple[Path, ...] | None = None
    image_size: int | None = None
    force: bool = False
    #: The command line that asked for this plan, for the records' provenance.
    command: str = ""
    #: Seconds without a heartbeat after which another worker's claim is taken over.
    claim_timeout: float = DEFAULT_TIMEOUT_S
    #: Where this worker's output goes (a SLURM job's log), named in failure files.
    log: str | None = None
    #: When the command began (epoch seconds): a record or failure written since then is this
    #: command's own, so its other workers do not run that cell again (--force, failures).
    started: float = field(default_factory=time.time)


@dataclass(frozen=True)
class RunOutcome:
    record: Path
    #: done (now), recorded (before), elsewhere (another worker holds it), failed (no
    #: record, a failure file instead), submitted (queued as a SLURM job)
    status: str
    #: The one-line reason a run failed, else None.
    failure: str | None = None


def check_plan(plan: RunPlan) -> None:
    """Reject every mistake that needs no data before anything is loaded or written."""
    if not plan.methods:
        raise HashbenchError("no method given; pass --methods, e.g. --methods lsh,itq")
    for name, overrides in plan.params.items():
        if name not in plan.methods:
            raise HashbenchError(
                f"--set names method {name!r}, which is not in --methods {','.join(plan.methods)}"
            )
        check_params(name, overrides)
    for bits in plan.bits or ():
        check(bits, BITS, "bits")
    for seed in plan.seeds:
        check(seed, SEED, "seeds")
    # Building each method checks all its settings together; the code length changes none.
    bits = plan.bits[0] if plan.bits else BITS.minimum
    for name in plan.methods:
        create_method(name, bits=bits, **plan.params.get(name, {})).check_files()
    if plan.feature is not None and any(
        get_method(name).input_kind == "features" for name in plan.methods
    ):
        get_feature(plan.feature)
    device = select_device()  # every run is evaluated there: a bad HASHBENCH_DEVICE, one line now
    if any(get_method(name).input_kind == "images" for name in plan.methods):
        precision(device)  # and a bad HASHBENCH_PRECISION


def splits_checksum(splits: Splits) -> str:
    digest = hashlib.sha256()
    for name in ("query", "train", "validation", "database"):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(getattr(splits, name), dtype=np.int64).tobytes())
    return digest.hexdigest()


class GridRunner:
    """Holds the loaded data set, protocol and splits while the grid runs."""

    def __init__(self, plan: RunPlan) -> None:
        check_plan(plan)
        # The commit read now, with the code this process loaded: a checkout updated while a
        # long run trains must not lend the run its new commit.
        provenance.git_state()
        self.plan = plan
        self.dataset: Dataset = load_dataset(plan.dataset, plan.data_root, plan.image_size)
        self.protocol: Protocol = (
            load_protocol(plan.protocol) if plan.protocol else default_protocol(self.dataset.name)
        )
        self.bits = plan.bits or self.protocol.bits
        self.feature = plan.feature or default_feature(self.dataset.name)
        self.splits = {seed: draw_splits(self.protocol, self.dataset, seed) for seed in plan.seeds}
        self._features: np.ndarray | None = None
        self._features_seconds = 0.0
        self.check_metrics()
        self.check_dimensions()

    def check_metrics(self) -> None:
        """Refuse a protocol whose headline metrics need graded relevance on data with one
        class per item, before any run starts."""
        graded = [name for name in self.protocol.metrics if is_graded(name)]
        if graded and not self.dataset.multi_label:
            raise HashbenchError(
                f"protocol {self.protocol.name} names {', '.join(graded)}, graded metrics of "
                f"multi-label data, but data set {self.dataset.name} has one class per item; "
                "use a protocol whose metric is map"
            )

    @property
    def graded_at(self) -> tuple[int, ...]:
        """Depths N of NDCG@N and ACG@N on multi-label data: the usual ones, and the
        protocol's own where its headline metrics name others."""
        named = {graded_depth(name) for name in self.protocol.metrics} - {None}
        return tuple(sorted({*GRADED_AT, *named}))

    def check_dimensions(self) -> None:
        """Refuse a code length a method cannot take on these features before any run starts
        (nothing is written yet); their width comes from one image's features."""
        methods = [get_method(name) for name in self.plan.methods]
        limited = [method for method in methods if method.bits_within_dimension]
        if not limited:
            return
        one_image = get_feature(self.feature).compute(self.dataset.images[:1])
        for method in limited:
            for bits in self.bits:
                method.check_dimension(bits, one_image.shape[1])

    @property
    def records_dir(self) -> Path:
        return self.plan.out_dir / "records"

    def splits_path(self, seed: int) -> Path:
        stem = f"{self.dataset.name}-{self.dataset.checksum[:12]}-seed{seed}"
        return self.plan.out_dir / "splits" / self.protocol.name / f"{stem}.npz"

    def inputs_for(self, input_kind: str) -> np.ndarray:
        if input_kind == "images":
            return self.dataset.images
        if self._features is None:
            started = time.perf_counter()
            self._features = compute_features(self.dataset, self.feature)
            self._features_seconds = time.perf_counter() - started
        return self._features

    def protocol_settings(self, name: str, bits: int, seed: int) -> dict[str, Any]:
        """The deep recipe settings the protocol gives method ``name`` at ``bits`` (none for
        the others)."""
        method = get_method(name)
        if method.input_kind != "images":
            return {}
        from hashbench.deep.recipes import protocol_settings

        splits = self.splits[seed]
        return protocol_settings(
            name,
            bits,
            getattr(method, "scratch_recipe", {}),
            self.plan.params.get(name, {}),
            self.protocol.recipe,
            bool(np.isin(splits.train, splits.database).all()),
            self.dataset.several_labels,
        )

    def params(self, name: str, bits: int, seed: int) -> dict[str, Any]:
        """The method's settings: the protocol's, then the user's on top."""
        return {**self.protocol_settings(name, bits, seed), **self.plan.params.get(name, {})}

    def config(self, name: str, bits: int, seed: int) -> dict[str, Any]:
        method = create_method(name, bits=bits, seed=seed, **self.params(name, bits, seed))
        tunables = {k: v for k, v in method.get_params().items() if k not in ("bits", "seed")}
        return {
            "method": name,
            "params": tunables,
            "bits": bits,
            "seed": seed,
            "dataset": self.dataset.name,
            "dataset_checksum": self.dataset.checksum,
            "image_size": self.plan.image_size,
            "protocol": self.protocol.name,
            "protocol_checksum": self.protocol.checksum,
            "feature": self.feature if method.input_kind == "features" else None,
        }

    def codes_path(self, record: Path) -> Path:
        """Every run's codes, beside its record (read by ``hashbench evaluate`` and ``report``)."""
        return codes_path(self.plan.out_dir, self.protocol.name, record.stem)

    def cells(self) -> list[tuple[str, int, int]]:
        """Every (method, bits, seed) of the plan, in the order they run."""
        return [(m, b, s) for s in self.plan.seeds for m in self.plan.methods for b in self.bits]

    def save_grid(self) -> Path:
        """The plan's cells as ``grids/<digest>.json``, so ``hashbench status`` knows what is
        pending; the same grid always writes the same file."""
        cells = [
            {"method": m, "bits": b, "seed": s, "run": self.record_path(m, b, s).stem}
            for m, b, s in self.cells()
        ]
        grid = {"protocol": self.protocol.name, "cells": cells}
        text = json.dumps(grid, indent=1, sort_keys=True) + "\n"
        path = (
            self.plan.out_dir / "grids" / f"{hashlib.sha256(text.encode()).hexdigest()[:16]}.json"
        )
        if not path.exists():
            atomic_write_text(path, text)
        return path

    def run(self) -> list[RunOutcome]:
        outcomes = []
        progress = tqdm(self.cells(), desc="runs", unit="run", leave=False)
        for name, bits, seed in progress:
            progress.set_postfix_str(f"{name} {bits} bits seed {seed}")
            outcomes.append(self.run_one(name, bits, seed))
        return outcomes

    def workspace(self, record: Path) -> Path:
        """Where a run keeps its checkpoints until its record is written."""
        return self.plan.out_dir / "checkpoints" / record.stem

    def record_path(self, name: str, bits: int, seed: int) -> Path:
        return record_path(self.records_dir, self.config(name, bits, seed))

    def is_recorded(self, path: Path) -> bool:
        """Whether the cell has its record (with --force: one written by this command)."""
        codes_path = self.codes_path(path)
        done = path.exists() and (codes_path is None or codes_path.exists())
        return done and (not self.plan.force or path.stat().st_mtime >= self.plan.started)

    def failed_in_this_command(self, path: Path) -> str | None:
        failure = claims.failure_path(self.plan.out_dir, self.protocol.name, path.stem)
        try:
            fresh = failure.stat().st_mtime >= self.plan.started
        except FileNotFoundError:
            return None
        return str((claims.read_json(failure) or {}).get("error", "failed")) if fresh else None

    def run_one(self, name: str, bits: int, seed: int) -> RunOutcome:
        """Run one cell unless it has its record or another worker holds its claim.

        A failed training (divergence, or any error a user can fix) leaves a failure file
        with its one line instead of a record, and the grid goes on.
        """
        path = self.record_path(name, bits, seed)
        if self.is_recorded(path):
            return RunOutcome(path, "recorded")
        results, protocol = self.plan.out_dir, self.protocol.name
        with claims.held(
            claims.claim_path(results, protocol, path.stem), self.plan.claim_timeout
        ) as claim:
            if claim is None:
                return RunOutcome(path, "elsewhere")
            if self.is_recorded(path):  # finished by another worker just before our claim
                return RunOutcome(path, "recorded")
            earlier = self.failed_in_this_command(path)
            if earlier is not None:  # another worker of this command ran it and it failed
                return RunOutcome(path, "failed", failure=earlier)
            failure = claims.failure_path(results, protocol, path.stem)
            failure.unlink(missing_ok=True)
            try:
                self.fit_and_record(name, bits, seed, path)
            except HashbenchError as error:
                tqdm.write(f"hashbench: failed: {error}", file=sys.stderr)
                shutil.rmtree(self.workspace(path), ignore_errors=True)
                claims.write_failure(failure, str(error), self.plan.log)
                return RunOutcome(path, "failed", failure=str(error))
            claims.append_journal(results, path.stem, protocol)
        return RunOutcome(path, "done")

    def fit_and_record(self, name: str, bits: int, seed: int, path: Path) -> None:
        config = self.config(name, bits, seed)
        settings = self.protocol_settings(name, bits, seed)
        device = select_device()  # where a deep method trains; its codes are evaluated there too
        codes_path = self.codes_path(path)
        started_at = datetime.now(timezone.utc)
        wall, cpu = time.perf_counter(), time.process_time()
        method = create_method(name, bits=bits, seed=seed, **self.params(name, bits, seed))
        workspace = self.workspace(path)
        method.workspace = workspace
        inputs = self.inputs_for(method.input_kind)
        splits = self.splits[seed]
        labels = self.dataset.labels

        def subset(indices: np.ndarray) -> Subset:
            return Subset(indices=indices, inputs=inputs[indices], labels=labels[indices])

        timings: dict[str, float] = {}
        clock = time.perf_counter()
        method.fit(subset(splits.train), subset(splits.validation))
        timings["fit_s"] = time.perf_counter() - clock
        clock = time.perf_counter()
        query_codes = method.encode(inputs[splits.query])
        database_codes = method.encode_database(subset(splits.database))
        timings["encode_s"] = time.perf_counter() - clock
        clock = time.perf_counter()
        evaluation = evaluate(
            query_codes,
            database_codes,
            labels[splits.query],
            labels[splits.database],
            topk=self.protocol.topk,
            precision_at=PRECISION_AT,
            graded_at=self.graded_at,
            device=str(device),
        )
        timings["evaluate_s"] = time.perf_counter() - clock
        if method.input_kind == "features":
            timings["features_s"] = self._features_seconds

        save_codes(
            codes_path,
            CodesBundle(
                query_codes=query_codes,
                database_codes=database_codes,
                query_labels=labels[splits.query],
                database_labels=labels[splits.database],
                query_indices=splits.query,
                database_indices=splits.database,
            ),
        )
        if not self.splits_path(seed).exists():
            save_splits(self.splits_path(seed), splits)
        timings["wall_s"] = time.perf_counter() - wall
        # CPU seconds of every thread: unlike the wall time, a run paused or sharing its
        # cores with other work does not inflate them
        timings["cpu_s"] = time.process_time() - cpu
        # A fit resumed from a checkpoint: what earlier processes spent on it counts too
        carried = getattr(method, "carried_", None)
        if carried and carried["wall_s"]:
            timings["carried_s"], timings["carried_cpu_s"] = carried["wall_s"], carried["cpu_s"]
            timings["fit_s"] += carried["wall_s"]
            timings["wall_s"] += carried["wall_s"]
            timings["cpu_s"] += carried["cpu_s"]
        write_record(
            path,
            {
                "config": config,
                "config_hash": config_hash(config),
                "method": name,
                "method_origin": type(method).__module__,
                "input_kind": method.input_kind,
                "supervised": method.supervised,
                # As at run time; tables use records.variant, against today's defaults.
                "variant": departures(name, bits, config["params"], settings),
                "bits": bits,
                "seed": seed,
                "dataset": {
                    "name": self.dataset.name,
                    "checksum": self.dataset.checksum,
                    "source": self.dataset.source,
                    "size": len(self.dataset),
                },
                "protocol": {
                    "name": self.protocol.name,
                    "checksum": self.protocol.checksum,
                    "topk": self.protocol.topk,
                    "relevance": self.protocol.relevance,
                    "metrics": list(self.protocol.metrics),
                    "recipe": settings,
                },
                "splits": {
                    "file": str(self.splits_path(seed).relative_to(self.plan.out_dir)),
                    "checksum": splits_checksum(splits),
                    "sizes": {
                        k: int(len(getattr(splits, k)))
                        for k in ("query", "train", "validation", "database")
                    },
                },
                "metrics": evaluation.metrics,
                "curves": evaluation.curves,
                "history": getattr(method, "history_", None),
                "report": getattr(method, "report_", {}),
                "timings": timings,
                "provenance": {
                    "command": self.plan.command,
                    "git": provenance.git_state(),
                    "software": provenance.software(),
                    "hardware": provenance.hardware(device),
                    "started_at": started_at.isoformat(timespec="seconds"),
                    "worker": claims.worker_name(),
                },
            },
        )
        shutil.rmtree(workspace, ignore_errors=True)
        if fall := validation_fall(getattr(method, "history_", None)):
            tqdm.write(
                f"hashbench: warning: {name} {bits} bits seed {seed} fell on validation over its "
                f"hashing phase ({fall[0]:.3f} in its first epoch, {fall[1]:.3f} in its last); "
                "its record keeps the earlier epoch model selection chose (its history says "
                f"which): a lower --set {name}.lr may train it",
                file=sys.stderr,
            )
