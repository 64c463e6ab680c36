"""``hashbench report``: one self-contained HTML page of a results folder.

Per protocol: the comparison table, the figures, a retrieval gallery drawn from the runs' real
codes, and every run's recipe, provenance, timings and code diagnostics. The page reads only
records, the codes kept beside them and (for the gallery's images) the data set; a record
whose codes are missing is still listed, with what is missing and how to get it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hashbench.data.dataset import Dataset
from hashbench.errors import HashbenchError
from hashbench.evaluation.codes_file import CodesBundle, load_codes
from hashbench.experiment.records import codes_path, iter_record_files, variant
from hashbench.reporting import figures, page
from hashbench.reporting.diagnostics import CodeDiagnostics, diagnose
from hashbench.reporting.gallery import Ranking, query_rows_of, rank, sample_queries
from hashbench.reporting.tables import (
    compare_with_paper,
    method_label,
    method_rank,
    metric_key,
    protocol_rank,
    render,
    summarise,
)

GALLERY_QUERIES = 5
GALLERY_DEPTH = 10


@dataclass(frozen=True)
class ReportOptions:
    compare_paper: bool = False
    #: The code length of the figures and the gallery; None: each protocol's most common.
    bits: int | None = None
    queries: int = GALLERY_QUERIES
    gallery_seed: int = 0
    data_root: Sequence[Path] | None = None


@dataclass(frozen=True)
class Run:
    """A record, its codes if they could be read, and otherwise why not."""

    path: Path
    record: dict[str, Any]
    codes: CodesBundle | None
    missing: str | None

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def protocol(self) -> str:
        return self.record["protocol"]["name"]

    @property
    def label(self) -> str:
        return method_label(self.record["method"], variant(self.record))

    @property
    def map(self) -> float:
        return self.record["metrics"][metric_key(self.record, "map")]


def collect_runs(results: Path) -> list[Run]:
    records_dir = results / "records"
    if not records_dir.is_dir():
        raise HashbenchError(
            f"no records folder {records_dir}; run `hashbench run --results {results}` first"
        )
    runs = []
    for path, record in iter_record_files(records_dir):
        codes_file = codes_path(results, record["protocol"]["name"], path.stem)
        codes, missing = None, None
        if not codes_file.is_file():
            missing = (
                f"no codes at {codes_file}: this run predates kept codes; "
                f"re-run it with --force to keep them"
            )
        else:
            try:
                codes = load_codes(codes_file)
            except HashbenchError as error:
                missing = f"{error}; re-run it with --force to write them again"
        runs.append(Run(path, record, codes, missing))
    if not runs:
        raise HashbenchError(
            f"no records in {records_dir}; run `hashbench run --results {results}` first"
        )
    return runs


def build_report(results: Path, options: ReportOptions = ReportOptions()) -> str:
    runs = collect_runs(results)
    by_protocol: dict[str, list[Run]] = {}
    for run in sorted(runs, key=lambda r: (protocol_rank(r.protocol), r.protocol)):
        by_protocol.setdefault(run.protocol, []).append(run)
    body = [
        "<h1>hashbench results</h1>",
        f"<p>{len(runs)} runs from <code>{page.escape(results)}</code>, "
        f"{len(by_protocol)} protocol(s): "
        + ", ".join(f'<a href="#{page.escape(p)}">{page.escape(p)}</a>' for p in by_protocol)
        + ". Every number comes from a run record; the gallery and the diagnostics from the "
        "codes kept beside it.</p>",
    ]
    for protocol, protocol_runs in by_protocol.items():
        body += list(_protocol_section(protocol, protocol_runs, options))
    body.append(_reading_notes())
    return page.document("hashbench results", body)


def _protocol_section(protocol: str, runs: list[Run], options: ReportOptions) -> Iterator[str]:
    records = [run.record for run in runs]
    first = records[0]
    sizes = ", ".join(f"{k} {v:,}" for k, v in first["splits"]["sizes"].items())
    topk = first["protocol"]["topk"]
    yield f'<h2 id="{page.escape(protocol)}">Protocol {page.escape(protocol)}</h2>'
    yield (
        f"<p>Data set <code>{page.escape(first['dataset']['name'])}</code>; splits: "
        f"{page.escape(sizes)}; mAP@{page.escape('all' if topk is None else topk)}, relevance "
        f"{page.escape(first['protocol']['relevance'])}.</p>"
    )
    summary = summarise(records)
    if options.compare_paper:
        summary = compare_with_paper(summary)
    yield "<h3>Comparison</h3>" + render(summary, "html")
    bits = options.bits or _usual_bits(runs)
    yield f"<h3>Figures ({page.escape(bits)} bits where a figure has one code length)</h3>"
    yield from _figures(records, bits)
    yield f"<h3>Retrieval gallery ({page.escape(bits)} bits)</h3>"
    yield from _gallery(runs, bits, options)
    yield "<h3>Runs</h3>"
    yield from _runs(runs)


def _usual_bits(runs: list[Run]) -> int:
    """The code length most runs with codes have (the larger on a tie)."""
    counted = Counter(run.record["bits"] for run in runs if run.codes is not None)
    counted = counted or Counter(run.record["bits"] for run in runs)
    return max(counted, key=lambda b: (counted[b], b))


def _figures(records: list[dict[str, Any]], bits: int) -> Iterator[str]:
    drawers = {
        "mAP against the number of regions N": lambda: figures.regions_figure(records, bits),
        "convergence": lambda: figures.convergence_figure(records, bits),
        "precision-recall and precision@N": lambda: figures.pr_figure(records, bits),
    }
    missing = []
    for title, draw in drawers.items():
        try:
            yield page.figure_img(draw(), title)
        except HashbenchError as error:
            missing.append(f"{title}: {error}")
    if missing:
        yield '<p class="note">Not drawn — ' + "; ".join(map(page.escape, missing)) + ".</p>"


def _gallery(runs: list[Run], bits: int, options: ReportOptions) -> Iterator[str]:
    """Each method's main run (the first seed, the fewest non-default settings) on the same
    sampled queries."""
    candidates = [r for r in runs if r.record["bits"] == bits]
    if not candidates:
        yield f'<p class="note">No run at {page.escape(bits)} bits to show.</p>'
        return
    seed = min(r.record["seed"] for r in candidates)
    chosen: dict[str, Run] = {}
    for run in sorted(candidates, key=_main_run_order):
        if run.record["seed"] == seed:
            chosen.setdefault(run.record["method"], run)
    shown = [r for r in chosen.values() if r.codes and _positioned(r.codes)]
    lacking = [r.label for r in chosen.values() if r not in shown]
    if lacking:
        yield (
            '<p class="note">Not in the gallery, for want of codes with data set positions: '
            f"{page.escape(', '.join(lacking))}; each run's entry under Runs says what is "
            "missing.</p>"
        )
    other_seeds = sorted({r.label for r in candidates if r.record["method"] not in chosen})
    if other_seeds:
        yield (
            f'<p class="note">Not in the gallery, having no run at seed {page.escape(seed)}: '
            f"{page.escape(', '.join(other_seeds))}.</p>"
        )
    if not shown:
        return
    queries = sample_queries(shown[0].codes.query_indices, options.queries, options.gallery_seed)
    rankings = []
    for run in shown:
        rows = query_rows_of(run.codes, queries)
        if rows is None:
            yield f'<p class="note">{page.escape(run.label)}: other queries than the rest.</p>'
            continue
        rankings.append((run, rank(run.codes, rows, GALLERY_DEPTH)))
    dataset, why = _dataset_of(shown[0].record, options.data_root)
    if dataset is None:
        yield f'<p class="note">Images not shown: {page.escape(why)}.</p>'
    yield (
        f"<p>Seed {page.escape(seed)}, {len(queries)} queries drawn with seed "
        f"{page.escape(options.gallery_seed)}; each "
        f"method's top {GALLERY_DEPTH} by Hamming distance d, ties in database order. Green: "
        "relevant (shares a label with the query), red: not.</p>"
    )
    for i, position in enumerate(queries):
        yield '<div class="gallery-query">'
        yield (
            f'<div class="strip"><div class="who"><b>query</b> #{page.escape(position)}<br>'
            f"{page.escape(_label_text(dataset, position))}</div>"
            f'<div class="query">{_image(dataset, position)}</div></div>'
        )
        for run, ranked in rankings:
            yield _strip(run, ranked[i], dataset)
        yield "</div>"


def _positioned(codes: CodesBundle) -> bool:
    return codes.query_indices is not None and codes.database_indices is not None


def _main_run_order(run: Run) -> tuple[int, int, str]:
    return method_rank(run.record["method"]), len(variant(run.record)), run.name


def _strip(run: Run, ranking: Ranking, dataset: Dataset | None) -> str:
    hits = []
    for position, distance, relevant in zip(
        ranking.positions, ranking.distances, ranking.relevant, strict=True
    ):
        kind, mark = ("relevant", "✓") if relevant else ("irrelevant", "✗")
        hits.append(
            f'<div class="hit {kind}">{_image(dataset, int(position))}'
            f'<span class="mark">{mark}</span> d={int(distance)}</div>'
        )
    precision = f"{ranking.relevant.mean():.1f}"
    return (
        f'<div class="strip"><div class="who">{page.escape(run.label)}<br>'
        f"mAP {run.map:.4f} · P@{GALLERY_DEPTH} {precision}</div>{''.join(hits)}</div>"
    )


def _dataset_of(
    record: dict[str, Any], data_root: Sequence[Path] | None
) -> tuple[Dataset | None, str]:
    """The run's data set, if it can be found and has the run's bytes."""
    from hashbench.data.loading import load_dataset

    name = record["config"]["dataset"]
    try:
        dataset = load_dataset(name, data_root)
    except HashbenchError as error:
        return None, f"data set {name} not found ({error}); pass --data-root"
    if dataset.checksum != record["dataset"]["checksum"]:
        return None, f"data set {name} found, but its bytes differ from the run's (checksum)"
    return dataset, ""


def _image(dataset: Dataset | None, position: int) -> str:
    if dataset is None:
        return '<div class="noimage"></div>'
    return page.thumbnail_img(dataset.images[position], _label_text(dataset, position))


def _label_text(dataset: Dataset | None, position: int) -> str:
    if dataset is None:
        return ""
    label = dataset.labels[position]
    if dataset.multi_label:
        return ", ".join(dataset.class_names[c] for c in np.flatnonzero(label))
    return dataset.class_names[int(label)]


def _runs(runs: list[Run]) -> Iterator[str]:
    ordered = sorted(
        runs,
        key=lambda r: (
            method_rank(r.record["method"]),
            r.label,
            r.record["bits"],
            r.record["seed"],
        ),  # fmt: skip
    )
    diagnostics = {r.name: diagnose(r.codes.database_codes) for r in ordered if r.codes}
    rows = []
    for run in ordered:
        found = diagnostics.get(run.name)
        wall = run.record.get("timings", {}).get("wall_s")
        rows.append(
            [
                f'<a href="#{page.escape(run.name)}">{page.escape(run.label)}</a>',
                page.escape(run.record["bits"]),
                page.escape(run.record["seed"]),
                f"{run.map:.4f}",
                "–" if wall is None else _duration(wall),
                *(
                    _diagnostic_cells(found)
                    if found
                    else ['<span class="note">no codes</span>', "", "", ""]
                ),  # fmt: skip
            ]
        )
    yield page.table(
        [
            "run",
            "bits",
            "seed",
            "mAP",
            "wall",
            "ones per bit",
            "mean |corr|",
            "distinct codes",
            "largest bucket",
        ],  # fmt: skip
        rows,
        css="runs",
    )
    for run in ordered:
        yield _run_details(run, diagnostics.get(run.name))


def _duration(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 60 else f"{seconds / 60:.1f} min"


def _diagnostic_cells(found: CodeDiagnostics) -> list[str]:
    ones = found.ones_per_bit
    balance = f"{page.bit_balance_svg(ones)}<br>{ones.min():.2f}–{ones.max():.2f}" + (
        f", {found.constant_bits} constant" if found.constant_bits else ""
    )
    return [
        balance,
        "–" if np.isnan(found.mean_abs_correlation) else f"{found.mean_abs_correlation:.3f}",
        f"{found.distinct_codes:,} of {found.items:,}",
        f"{found.largest_bucket:,}",
    ]


def _run_details(run: Run, found: CodeDiagnostics | None) -> str:
    record = run.record
    provenance = record.get("provenance", {})
    hardware = provenance.get("hardware", {})
    git = provenance.get("git", {})
    facts = {
        "record": run.path.name,
        "command": provenance.get("command", "–"),
        "commit": f"{git.get('commit', '–')}" + (" (dirty)" if git.get("dirty") else ""),
        "started": provenance.get("started_at", "–"),
        "hardware": f"{hardware.get('cpu', '–')}, {hardware.get('cpu_count', '?')} cores, "
        f"GPU {hardware.get('gpu') or 'none'}",
        "data set": f"{record['dataset']['name']} sha256 {record['dataset']['checksum']}",
        "protocol": f"{record['protocol']['name']} sha256 {record['protocol']['checksum']}",
        "splits": f"{record['splits']['file']} sha256 {record['splits']['checksum']}",
        **{f"report: {k}": v for k, v in (record.get("report") or {}).items()},
    }
    timings = {k: f"{v:.1f} s" for k, v in (record.get("timings") or {}).items()}
    parts = [
        f'<details id="{page.escape(run.name)}"><summary>{page.escape(run.label)}, '
        f"{page.escape(record['bits'])} bits, seed {page.escape(record['seed'])}: "
        f"mAP {run.map:.4f}</summary>",
        "<h4>Provenance</h4>" + page.key_values(facts),
        "<h4>Recipe and hyper-parameters</h4>" + page.key_values(record["config"]["params"]),
        "<h4>Timings</h4>" + page.key_values(timings),
        "<h4>Metrics</h4>"
        + page.key_values({k: f"{v:.4f}" for k, v in sorted(record["metrics"].items())}),
    ]
    if found:
        parts.append(
            "<h4>Code diagnostics (database codes)</h4>"
            + page.key_values(
                {
                    "items": f"{found.items:,}",
                    "fraction of ones per bit": " ".join(f"{f:.2f}" for f in found.ones_per_bit),
                    "mean |correlation| between bits": f"{found.mean_abs_correlation:.4f}",
                    "distinct codes": f"{found.distinct_codes:,}",
                    "largest bucket": f"{found.largest_bucket:,}",
                }
            )
        )
    else:
        parts.append(f'<p class="note">{page.escape(run.missing)}</p>')
    parts.append("</details>")
    return "\n".join(parts)


def _reading_notes() -> str:
    return (
        "<h2>Reading this page</h2><ul>"
        "<li>mAP is the protocol's mAP@K (K = all: the whole database is ranked), ranking by "
        "Hamming distance with ties in database order; the best per column is bold; mean ± "
        "standard deviation where a cell has several seeds.</li>"
        "<li>Ones per bit: 0.5 is a balanced bit, 0 or 1 a constant (wasted) one. Mean |corr|: "
        "the mean absolute correlation between pairs of bits (0: independent). Distinct codes "
        "and the largest bucket: how far the codes spread the database, and the most items "
        "that tie at distance 0.</li>"
        "<li>Deep methods chose their epoch on the validation split only, never on the "
        "queries.</li></ul>"
    )
