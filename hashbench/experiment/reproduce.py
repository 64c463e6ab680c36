"""``hashbench reproduce dmrh``: the DMRH paper's whole grid, tables, figures and a README.

Runs every method of the paper's table (and the deep methods hashbench adds beside them) at
its code lengths on each of the paper's data sets that can be found, the seed spread of the
headline cells and DMRH's sweep over the number of regions N; then writes the paper-layout
table (the published figure and our difference beside each cell), the N figure with the
authors' own curve beside ours, the convergence figure and a README that states the data,
hardware, commits, CPU time and where the setting differs from the paper. Every run goes
through the ordinary runner into the results folder's records, so the command resumes where it
stopped; the grid is the same on a CPU and on a GPU: the protocol's own budget
(:mod:`hashbench.deep.recipes`, its ``[recipe]`` table) keeps the deep methods' cost at hours
on a CPU.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hashbench.errors import DataNotFound, HashbenchError, RunsFailed
from hashbench.experiment import provenance
from hashbench.experiment.runner import GridRunner, RunPlan
from hashbench.fileio import atomic_write_text
from hashbench.records import iter_records, variant
from hashbench.reporting.figures import make_figure
from hashbench.reporting.runs import collect_runs
from hashbench.reporting.significance import summarise_runs
from hashbench.reporting.tables import TableFilter, compare_with_paper, render
from hashbench.splits.protocol import load_protocol


@dataclass(frozen=True)
class Reproduction:
    """One paper's grid: which methods, code lengths, data sets, seeds and sweep."""

    name: str
    title: str
    classic: tuple[str, ...]
    #: The deep rows of the paper's table.
    deep: tuple[str, ...]
    #: Deep methods hashbench runs beside them under the same recipe (no published figure).
    extra: tuple[str, ...]
    feature: str
    bits: tuple[int, ...]
    #: (data set, protocol) in the paper's column order.
    datasets: tuple[tuple[str, str], ...]
    #: The code length of the seed spread, the sweep and the figures.
    headline_bits: int
    #: Methods run at every seed given at the headline length (the rest at the first seed).
    seeded: tuple[str, ...]
    sweep_method: str
    sweep_parameter: str
    sweep_values: tuple[int, ...]
    #: Where our setting differs from the paper's, for the README.
    differences: tuple[str, ...] = ()


DMRH = Reproduction(
    name="dmrh",
    title="Deep Multi-Region Hashing (Zhou, Nie, Shi, Liu, Yin), Table 2 and Figures 3-4",
    classic=("lsh", "sh", "sklsh", "pcah", "itq", "fssh"),
    deep=("dsh", "dpsh", "dsdh", "dch", "ddsh", "adsh", "dmrh"),
    extra=("hashnet", "csq", "hybridhash"),
    feature="gist",
    bits=(24, 48, 64, 128),
    datasets=(("cifar10", "cifar10-dmrh"), ("nuswide", "nuswide"), ("coco", "coco")),
    headline_bits=48,
    seeded=("dpsh", "dmrh"),
    sweep_method="dmrh",
    sweep_parameter="regions",
    sweep_values=(1, 2, 3, 4, 5, 6),
    differences=(
        "Deep methods train from scratch (the `scratch` preset: an airbench-style CIFAR network, "
        "a cross-entropy warm start on the training labels shared by every method and every N, "
        "then each method's own loss at its own input size), not CNN-F from ImageNet weights as "
        "in the paper; every deep method gets the same network, recipe and budget, and only its "
        "hashing rate is its own (chosen on held-out validation on protocol cifar10), besides "
        "the pairing choices below (made on this protocol's validation).",
        "The budget is counted in epochs of 4,500 items drawn in turn from the training set (the "
        "protocol's `[recipe]`), the size of protocol cifar10's training split on which the "
        "recipe was chosen, not in passes over the 49,000 training images: 200 warm-start "
        "epochs (chosen over 60 and 120 on this protocol's validation; HybridHash, another "
        "network, trains its own warm start under AdamW for as many) and 20 hashing epochs.",
        "Each hashing rate was chosen at 48 bits; a cell whose run fell on validation at "
        "another length (its last hashing epoch more than 0.01 below its first) was trained "
        "again at half the rate, then a quarter, down to a sixteenth, until a run held, by one "
        "rule for every method (results/fallen.sh); the protocol's `[recipe.<method>.<bits>]` "
        "tables hold the rates that held, the fallen runs stay on record as variants, and a "
        "cell that fell at every rate keeps its own, marked ‡.",
        "Each phase's rate follows a one-cycle schedule (a linear rise, then a linear fall "
        "to zero) with SGD and Nesterov momentum, not the authors' step schedules.",
        "DMRH pairs each batch with itself under `scratch`; its authors' train.py pairs it "
        "with a bank of every training item's fused code and clips gradients at norm 1. Both "
        "were measured on this protocol's validation and the default keeps what won (values "
        "in methods/dmrh.py); `--set dmrh.preset=paper` trains as train.py does.",
        "DPSH pairs each batch with itself here, not with its authors' bank of every item's "
        "codes: chosen on this protocol's validation (the protocol's `[recipe.dpsh]`; values "
        "in methods/dpsh.py), where a bank row waits 11 epochs for its refresh.",
        "Where an epoch draws part of the training set, a bank of every item's codes (DSDH, "
        "HybridHash) starts as the network's codes of every item, not at zeros as in the "
        "authors' code, whose epochs visit every item before the bank is read whole.",
        "CIFAR-10 is read from the JPEG re-encoding (quality about 75) of the official images, "
        "so pixel values, and so mAP, can differ slightly from the official release's.",
        "Non-deep methods hash 512-d GIST features, as the DPSH, DSDH and ADSH papers do.",
        "Methods fit on the training images less a held-out validation split (1,000 images on "
        "CIFAR-10); epochs and hyper-parameters are selected on that split, searching a seeded "
        "sample of 5,000 training items (the database is the training set), never on queries.",
        "mAP@5000 breaks ties in Hamming distance by database index; the tie-aware mAP is in "
        "every record as map_tie@5000.",
        "The N sweep and every cell but DPSH's and DMRH's at 48 bits run the first seed only.",
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
    #: The results folder: records go to its ``records/``, the reproduction's tables, figures
    #: and README to ``reproduce-<name>/`` inside it.
    out_dir: Path
    seeds: tuple[int, ...]
    data_root: tuple[Path, ...] | None
    command: str
    notes: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def report_dir(self) -> Path:
        return self.out_dir / f"reproduce-{self.paper.name}"

    def plan(
        self, methods: Sequence[str], dataset: str, protocol: str, bits: Sequence[int], **kw: Any
    ) -> RunPlan:
        return RunPlan(
            methods=tuple(methods),
            dataset=dataset,
            protocol=protocol,
            bits=tuple(bits),
            seeds=kw.pop("seeds", self.seeds[:1]),
            feature=self.paper.feature,
            data_root=self.data_root,
            command=self.command,
            out_dir=self.out_dir,
            **kw,
        )

    def plans(self, dataset: str, protocol: str) -> list[RunPlan]:
        """The data set's grid, most telling first, so that a cut run has the headline: the
        classic methods, every deep method at the headline length, the sweep (the paper's
        figure: DMRH against its number of regions), the other lengths, then the other
        seeds."""
        paper = self.paper
        headline, deep = paper.headline_bits, paper.deep + paper.extra
        others = [bits for bits in paper.bits if bits != headline]
        sweep = [
            self.plan((paper.sweep_method,), dataset, protocol, (headline,),
                      params={paper.sweep_method: {paper.sweep_parameter: value}})
            for value in paper.sweep_values
        ]  # fmt: skip
        return [
            self.plan(paper.classic, dataset, protocol, paper.bits),
            self.plan(deep, dataset, protocol, (headline,)),
            *sweep,
            self.plan(deep, dataset, protocol, others),
            self.plan(paper.seeded, dataset, protocol, (headline,), seeds=self.seeds[1:]),
        ]

    def run_plan(self, plan: RunPlan) -> bool:
        """Runs a plan; a data set that cannot be found is noted and skipped, not fatal."""
        if not plan.seeds:
            return True
        try:
            runner = GridRunner(plan)
        except DataNotFound as error:
            self.notes.append(f"{plan.dataset}: skipped ({error})")
            return False
        self.failures += [o.failure for o in runner.run() if o.status == "failed" and o.failure]
        return True

    def run(self) -> Path:
        started = time.perf_counter()
        for dataset, protocol in self.paper.datasets:
            for plan in self.plans(dataset, protocol):
                if not self.run_plan(plan):
                    break
        self.write_outputs()
        readme = self.report_dir / "README.md"
        atomic_write_text(readme, self.readme(time.perf_counter() - started))
        if self.failures:
            raise RunsFailed(self.failures)
        return readme

    @property
    def protocols(self) -> list[str]:
        """The names the records give the data sets' protocols (a file's is its stem)."""
        return [load_protocol(protocol).name for _, protocol in self.paper.datasets]

    def records(self) -> list[dict[str, Any]]:
        every = (
            iter_records(self.out_dir / "records") if (self.out_dir / "records").is_dir() else []
        )
        return [record for record in every if record["protocol"]["name"] in self.protocols]

    def write_outputs(self) -> None:
        out, paper = self.report_dir, self.paper
        runs = collect_runs(self.out_dir)
        methods = paper.classic + paper.deep + paper.extra
        keep = TableFilter(methods=methods, protocols=self.protocols, defaults_only=True)
        tables = {
            "paper-table": compare_with_paper(summarise_runs(runs, "map", keep)),
            "table": summarise_runs(runs, "map", TableFilter(protocols=self.protocols)),
        }
        for stem, summary in tables.items():
            for fmt, suffix in (("csv", "csv"), ("markdown", "md"), ("latex", "tex")):
                atomic_write_text(out / f"{stem}.{suffix}", render(summary, fmt))
        records = self.records()
        defaults = [record for record in records if not variant(record)]
        figures = {"regions": records, "convergence": defaults, "pr": defaults}
        for kind, drawn in figures.items():
            try:
                make_figure(kind, drawn, out / "figures" / kind, paper.headline_bits)
            except HashbenchError as error:  # e.g. no deep records yet: say so, draw the rest
                self.notes.append(f"figures/{kind}: not drawn ({error})")

    def readme(self, seconds: float) -> str:
        records = self.records()
        datasets = {(r["dataset"]["name"], r["dataset"]["checksum"], r["dataset"]["source"])
                    for r in records}  # fmt: skip
        # A grid cut and resumed may span machines of different speeds: its time per machine.
        hours: dict[str, list[float]] = {}
        for r in records:
            hours.setdefault(_machine(r["provenance"]["hardware"]), []).append(
                r["timings"]["wall_s"] / 3600
            )
        commits = {r["provenance"]["git"]["commit"] for r in records}
        run_hours = sum(map(sum, hours.values()))
        lines = [
            f"# Reproduction: {self.paper.title}",
            "",
            f"Made by `{self.command}` (`hashbench reproduce {self.paper.name}`); every number "
            "here comes from a record under the results folder's `records/`, which names its "
            "command, commit, seed, hardware, timings and the data set's checksum. Regenerate or "
            "extend with the same command: finished runs are kept.",
            "",
            "## What is here",
            "- `paper-table.{csv,md,tex}`: the paper's layout (methods x data set x bits, "
            "mAP@5000, mean ± std over seeds, best in bold, ties marked, ‡ where a run fell on "
            "validation over its hashing phase), the published figure "
            "and our difference beside each cell; HashNet, CSQ and HybridHash, which the paper "
            "does not have, beside them under the same recipe.",
            "- `table.{csv,md,tex}`: every run of these protocols, sweeps and variants included.",
            f"- `figures/`: mAP against N at {self.paper.headline_bits} bits with the authors' "
            "curve (their README, ImageNet CNN-F) beside ours, convergence, precision-recall "
            "(PNG and PDF).",
            "",
            "## Setting",
            f"- Seeds: {self.seeds[0]}; also {', '.join(map(str, self.seeds[1:])) or 'none'} for "
            f"{', '.join(m.upper() for m in self.paper.seeded)} at {self.paper.headline_bits} "
            "bits.",
            *[
                f"- Data: {name} from `{source}`, sha256 `{checksum}`."
                for name, checksum, source in sorted(datasets)
            ],
            *[
                f"- Hardware: {machine}: {len(runs)} run(s), {sum(runs):.2f} h of wall time."
                for machine, runs in sorted(hours.items())
            ],
            f"- Commit(s): {', '.join(sorted(c or 'unknown' for c in commits))}.",
            f"- Time: {run_hours:.2f} h of wall time summed over {len(records)} runs (warm starts "
            f"included where a run trained one); this invocation took {seconds / 3600:.2f} h.",
            "",
            "## Where this differs from the paper",
            *[f"- {difference}" for difference in self.paper.differences],
        ]
        if self.notes:
            lines += ["", "## Notes from this invocation", *[f"- {note}" for note in self.notes]]
        return "\n".join(lines) + "\n"


def _machine(hardware: dict[str, Any]) -> str:
    """A record's machine in words: the CPU, the features that set its speed (records since
    they were kept) and the GPU."""
    features = ", ".join(hardware.get("cpu_features") or [])
    cpu = f"{hardware['cpu']} ({features})" if features else hardware["cpu"]
    return f"{cpu}; GPU: {hardware['gpu'] or 'none'}"


def reproduce(
    name: str, out_dir: Path, seeds: tuple[int, ...], data_root: tuple[Path, ...] | None,
    arguments: Sequence[str],
) -> Path:  # fmt: skip
    reproducer = Reproducer(
        get_reproduction(name), out_dir, seeds, data_root, provenance.command_line(arguments)
    )
    return reproducer.run()
