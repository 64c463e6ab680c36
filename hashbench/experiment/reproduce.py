"""``hashbench reproduce dmrh``: the DMRH paper's whole grid, tables, figures and a README.

Runs every method of the paper's table at its bit lengths and seeds on each of the paper's
data sets that can be found, plus DMRH's sweep over the number of regions N; then writes the
paper-layout table (with the published figures beside ours), the figures, and a README that
states the data, hardware, commit, wall time and where the setting differs from the paper.
Every run goes through the ordinary runner, so the command resumes where it stopped.

Without a GPU (or with ``HASHBENCH_DEVICE=cpu``) the deep methods cannot train at their real
setting in reasonable time; they then run at a CPU-sized setting (a smaller network, few
epochs, the 5,000-image ``cifar10`` protocol) into ``<results>/cpu-sized/``, labelled as such
and never mixed into the paper table.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hashbench.deep.device import select_device
from hashbench.errors import DataNotFound, HashbenchError, RunsFailed
from hashbench.experiment import provenance
from hashbench.experiment.runner import GridRunner, RunPlan
from hashbench.fileio import atomic_write_text
from hashbench.records import iter_records
from hashbench.reporting.figures import make_figure
from hashbench.reporting.tables import TableFilter, compare_with_paper, render, summarise


@dataclass(frozen=True)
class Reproduction:
    """One paper's grid: which methods, bit lengths, data sets and sweep."""

    name: str
    title: str
    classic: tuple[str, ...]
    deep: tuple[str, ...]
    feature: str
    bits: tuple[int, ...]
    #: (data set, protocol) in the paper's column order.
    datasets: tuple[tuple[str, str], ...]
    sweep_method: str
    sweep_parameter: str
    sweep_values: tuple[int, ...]
    #: Deep settings for a machine without a GPU, and the protocol they run on.
    cpu_protocol: tuple[str, str] = ("cifar10", "cifar10")
    cpu_params: dict[str, Any] = field(default_factory=dict)
    #: Where our setting differs from the paper's, for the README.
    differences: tuple[str, ...] = ()


DMRH = Reproduction(
    name="dmrh",
    title="Deep Multi-Region Hashing (Zhou, Nie, Shi, Liu, Yin), Table 2 and Figures 3-4",
    classic=("lsh", "sh", "sklsh", "pcah", "itq", "fssh"),
    deep=("dsh", "dpsh", "dsdh", "dch", "ddsh", "adsh", "dmrh"),
    feature="gist",
    bits=(24, 48, 64, 128),
    datasets=(("cifar10", "cifar10-dmrh"), ("nuswide", "nuswide"), ("coco", "coco")),
    sweep_method="dmrh",
    sweep_parameter="regions",
    sweep_values=(1, 2, 3, 4, 5),
    cpu_params={"width": 0.25, "warm_start_epochs": 4, "epochs": 4, "val_topk": None},
    differences=(
        "Deep methods train from scratch (the `scratch` preset: an airbench-style CIFAR network, "
        "a cross-entropy warm start on the training labels, then each method's own loss), not "
        "CNN-F from ImageNet weights as in the paper; every deep method gets the same network, "
        "recipe and budget.",
        "CIFAR-10 is read from the JPEG re-encoding (quality about 75) of the official images, "
        "so pixel values, and so mAP, can differ slightly from the official release's.",
        "Non-deep methods hash 512-d GIST features, as the DPSH, DSDH and ADSH papers do.",
        "Methods fit on the training images less a held-out validation split (1,000 images on "
        "CIFAR-10); epochs and hyper-parameters are selected on that split, never on queries.",
        "mAP@5000 breaks ties in Hamming distance by database index; the tie-aware mAP is in "
        "every record as map_tie@5000.",
        "The N sweep runs the first seed only.",
    ),
)
REPRODUCTIONS = {DMRH.name: DMRH}


def get_reproduction(name: str) -> Reproduction:
    if name not in REPRODUCTIONS:
        raise HashbenchError(
            f"unknown reproduction {name!r}; known: {', '.join(sorted(REPRODUCTIONS))}"
        )
    return REPRODUCTIONS[name]


@dataclass
class Reproducer:
    paper: Reproduction
    out_dir: Path
    seeds: tuple[int, ...]
    data_root: tuple[Path, ...] | None
    command: str
    cpu_sized: bool = field(default_factory=lambda: select_device().type != "cuda")
    notes: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def plan(self, methods: Sequence[str], dataset: str, protocol: str, **kw: Any) -> RunPlan:
        return RunPlan(
            methods=tuple(methods),
            dataset=dataset,
            protocol=protocol,
            bits=self.paper.bits,
            seeds=kw.pop("seeds", self.seeds),
            feature=self.paper.feature,
            data_root=self.data_root,
            command=self.command,
            out_dir=kw.pop("out_dir", self.out_dir),
            **kw,
        )

    def run_plan(self, plan: RunPlan) -> bool:
        """Runs a plan; a data set that cannot be found is noted and skipped, not fatal."""
        try:
            runner = GridRunner(plan)
        except DataNotFound as error:
            self.notes.append(f"{plan.dataset}: skipped ({error})")
            return False
        self.failures += [o.failure for o in runner.run() if o.status == "failed" and o.failure]
        return True

    def run(self) -> Path:
        started = time.perf_counter()
        paper = self.paper
        for dataset, protocol in paper.datasets:
            if not self.run_plan(self.plan(paper.classic, dataset, protocol)):
                continue
            if not self.cpu_sized:
                self.run_plan(self.plan(paper.deep, dataset, protocol))
                for value in paper.sweep_values:
                    sweep = {paper.sweep_method: {paper.sweep_parameter: value}}
                    self.run_plan(
                        self.plan((paper.sweep_method,), dataset, protocol,
                                  params=sweep, seeds=self.seeds[:1])
                    )  # fmt: skip
        if self.cpu_sized:
            self.run_cpu_sized()
        self.write_outputs(self.out_dir, paper_table=True)
        if self.cpu_sized:
            self.write_outputs(self.cpu_dir, paper_table=False)
        readme = self.out_dir / "README.md"
        atomic_write_text(readme, self.readme(time.perf_counter() - started))
        if self.failures:
            raise RunsFailed(self.failures)
        return readme

    @property
    def cpu_dir(self) -> Path:
        return self.out_dir / "cpu-sized"

    def run_cpu_sized(self) -> None:
        paper = self.paper
        dataset, protocol = paper.cpu_protocol
        params = {method: dict(paper.cpu_params) for method in paper.deep}
        self.run_plan(self.plan(paper.deep, dataset, protocol, params=params, out_dir=self.cpu_dir))
        for value in paper.sweep_values:
            sweep = {paper.sweep_method: {**paper.cpu_params, paper.sweep_parameter: value}}
            self.run_plan(
                self.plan((paper.sweep_method,), dataset, protocol, params=sweep,
                          seeds=self.seeds[:1], out_dir=self.cpu_dir)
            )  # fmt: skip

    def write_outputs(self, out: Path, paper_table: bool) -> None:
        records = list(iter_records(out / "records"))
        keep = TableFilter(defaults_only=paper_table)
        summary = summarise(records, "map", keep) if paper_table else summarise(records)
        if paper_table:
            summary = compare_with_paper(summary)
        stem = "paper-table" if paper_table else "table"
        for fmt, suffix in (("csv", "csv"), ("markdown", "md"), ("latex", "tex")):
            atomic_write_text(out / f"{stem}.{suffix}", render(summary, fmt))
        bits = 64 if 64 in self.paper.bits else self.paper.bits[0]
        for kind in ("regions", "convergence", "pr"):
            try:
                make_figure(kind, records, out / "figures" / kind, bits)
            except HashbenchError as error:  # e.g. no deep records yet: say so, draw the rest
                self.notes.append(f"{out.name}/figures/{kind}: not drawn ({error})")

    def readme(self, seconds: float) -> str:
        records = list(iter_records(self.out_dir / "records"))
        cpu_records = list(iter_records(self.cpu_dir / "records")) if self.cpu_sized else []
        every = records + cpu_records
        datasets = {(r["dataset"]["name"], r["dataset"]["checksum"], r["dataset"]["source"])
                    for r in every}  # fmt: skip
        hardware = {(r["provenance"]["hardware"]["cpu"], r["provenance"]["hardware"]["gpu"])
                    for r in every}  # fmt: skip
        commits = {r["provenance"]["git"]["commit"] for r in every}
        run_hours = sum(r["timings"]["wall_s"] for r in every) / 3600
        lines = [
            f"# Reproduction: {self.paper.title}",
            "",
            f"Made by `{self.command}` (`hashbench reproduce {self.paper.name}`); every number "
            "here comes from a record under `records/`, which names its command, commit, seed, "
            "hardware, timings and the data set's checksum. Regenerate or extend with the same "
            "command: finished runs are kept.",
            "",
            "## What is here",
            "- `paper-table.{csv,md,tex}`: the paper's layout (methods x data set x bits, "
            "mAP@5000, mean ± std over seeds, best in bold), the published figure and our "
            "difference beside each cell.",
            "- `table.{csv,md,tex}`: every run, sweeps included; `figures/`: mAP against N, "
            "convergence, precision-recall (PNG and PDF).",
        ]
        if self.cpu_sized:
            lines.append(
                "- `cpu-sized/`: the deep methods at a CPU-sized setting (this machine has no "
                f"GPU): {self.paper.cpu_params} on the `{self.paper.cpu_protocol[1]}` protocol. "
                "These numbers say the pipeline works end to end; they are not the paper's "
                "setting and are kept out of the paper table."
            )
        lines += [
            "",
            "## Setting",
            f"- Seeds: {', '.join(map(str, self.seeds))}.",
            *[
                f"- Data: {name} from `{source}`, sha256 `{checksum}`."
                for name, checksum, source in sorted(datasets)
            ],
            *[
                f"- Hardware: {cpu}; GPU: {gpu or 'none'}."
                for cpu, gpu in sorted(hardware, key=str)
            ],
            f"- Commit(s): {', '.join(sorted(c or 'unknown' for c in commits))}.",
            f"- Wall time: {run_hours:.2f} h summed over {len(every)} runs; this invocation "
            f"took {seconds / 3600:.2f} h.",
            "",
            "## Where this differs from the paper",
            *[f"- {difference}" for difference in self.paper.differences],
        ]
        if self.notes:
            lines += ["", "## Notes from this invocation", *[f"- {note}" for note in self.notes]]
        return "\n".join(lines) + "\n"


def reproduce(
    name: str, out_dir: Path, seeds: tuple[int, ...], data_root: tuple[Path, ...] | None,
    arguments: Sequence[str],
) -> Path:  # fmt: skip
    reproducer = Reproducer(
        get_reproduction(name), out_dir, seeds, data_root, provenance.command_line(arguments)
    )
    return reproducer.run()
