"""``hashbench report``: one self-contained HTML page of a results folder.

It opens on a summary: per protocol, the leader at each code length and who the paired test
cannot tell from it, linked to the protocol's section; protocols come in the order of how
much they hold (runs with codes first). Per protocol: the comparison table with intervals and
ties, the variants' table, a sentence on which ranks are resolved, the figures (the
defaults', then the variants'), a retrieval gallery drawn from the runs' real codes, every
run's retrieval cost, and every run's recipe, provenance, timings and code diagnostics. The
page reads only records, the codes kept beside them and (for the gallery's images) the data
set; a record whose codes are missing is still listed, with what is missing and how to get it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hashbench.data.dataset import Dataset
from hashbench.errors import HashbenchError
from hashbench.evaluation.codes_file import CodesBundle
from hashbench.evaluation.inference import ALPHA, LEVEL, RESAMPLES, bootstrap_interval
from hashbench.evaluation.search import BATCH, K, machine
from hashbench.records import variant
from hashbench.reporting import figures, page
from hashbench.reporting.cost import RetrievalCost, retrieval_cost
from hashbench.reporting.diagnostics import CodeDiagnostics, diagnose
from hashbench.reporting.gallery import Ranking, query_rows_of, rank, sample_queries
from hashbench.reporting.runs import Run, collect_runs
from hashbench.reporting.significance import per_query, ranks_resolved, summarise_runs
from hashbench.reporting.tables import (
    TIED,
    UNTESTED,
    compare_with_paper,
    method_rank,
    method_title,
    metric_key,
    render,
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


def build_report(results: Path, options: ReportOptions = ReportOptions()) -> str:
    runs = collect_runs(results)
    by_protocol = _by_protocol(runs)
    summaries = {protocol: _summary(runs_of, options) for protocol, runs_of in by_protocol.items()}
    body = [
        "<h1>hashbench results</h1>",
        f"<p>{len(runs)} runs from <code>{page.escape(results)}</code>, "
        f"{len(by_protocol)} protocol(s). Every number comes from a run record; the intervals, "
        "tests, gallery, costs and diagnostics from the codes kept beside it.</p>",
        *_overview(by_protocol, summaries),
    ]
    for protocol, protocol_runs in by_protocol.items():
        body += list(_protocol_section(protocol, protocol_runs, summaries[protocol], options))
    body.append(_reading_notes())
    return page.document("hashbench results", body)


def _by_protocol(runs: list[Run]) -> dict[str, list[Run]]:
    """The runs by protocol, the protocol holding the most runs with codes (what intervals,
    tests and the gallery need) first, then the most runs."""
    grouped: dict[str, list[Run]] = {}
    for run in runs:
        grouped.setdefault(run.protocol, []).append(run)

    def holds(protocol: str) -> tuple[int, int, str]:
        with_codes = sum(run.codes is not None for run in grouped[protocol])
        return -with_codes, -len(grouped[protocol]), protocol

    return {protocol: grouped[protocol] for protocol in sorted(grouped, key=holds)}


def _summary(runs: list[Run], options: ReportOptions, metric: str = "map") -> pd.DataFrame:
    summary = summarise_runs(runs, metric)
    return compare_with_paper(summary) if options.compare_paper else summary


def _overview(by_protocol: dict[str, list[Run]], summaries: dict[str, pd.DataFrame]) -> list[str]:
    """The summary the page opens on: a row per protocol (linked to its section), a column
    per code length, each cell the leader among the defaults' runs with its mAP and those the
    paired test cannot tell from it."""
    leaders = {
        protocol: summary[summary["variant"] == ""] for protocol, summary in summaries.items()
    }
    bits = sorted({int(b) for table in leaders.values() for b in table["bits"]})
    rows = []
    for protocol, protocol_runs in by_protocol.items():
        with_codes = sum(run.codes is not None for run in protocol_runs)
        name = (
            f'<a href="#{page.escape(protocol)}">{page.escape(protocol)}</a><br>'
            f'<span class="aside">{len(protocol_runs)} runs, {with_codes} with codes</span>'
        )
        columns = leaders[protocol].groupby("bits")
        cells = {int(b): _leader_cell(column) for b, column in columns}
        rows.append([name, *(cells.get(b, "–") for b in bits)])
    return [
        "<h2>Summary</h2>",
        "<p>The leader of each column of each protocol's comparison table (runs at their "
        f"method's defaults; the protocol's mAP@K), then the methods marked {TIED}, which the "
        f"paired test cannot tell from it, and how many it could not test ({UNTESTED}). "
        "Protocols in the order of how much they hold.</p>",
        '<div class="wide">'
        + page.table(["Protocol", *(f"{b} bits" for b in bits)], rows, "overview")
        + "</div>",
    ]


def _leader_cell(column: pd.DataFrame) -> str:
    best = column[column["best"]]
    text = " = ".join(f"<strong>{page.escape(method_title(m))}</strong>" for m in best["method"])
    text += f" {best['mean'].iloc[0]:.4f}"
    others = column[~column["best"]]
    tied = [method_title(row.method) + TIED for row in others.itertuples() if row.tied is True]
    untested = sum(pd.isna(row.tied) for row in others.itertuples()) if "tied" in column else 0
    notes = tied + ([f"{untested} {UNTESTED}"] if untested else [])
    if notes:
        text += f'<br><span class="aside">{page.escape(", ".join(notes))}</span>'
    return text


def _protocol_section(
    protocol: str, runs: list[Run], summary: pd.DataFrame, options: ReportOptions
) -> Iterator[str]:
    records = [run.record for run in runs]
    first = records[0]
    sizes = ", ".join(f"{k} {v:,}" for k, v in first["splits"]["sizes"].items())
    topk = first["protocol"]["topk"]
    yield f'<h2 id="{page.escape(protocol)}">Protocol {page.escape(protocol)}</h2>'
    headline = _headline(records)
    yield (
        f"<p>Data set <code>{page.escape(first['dataset']['name'])}</code>; splits: "
        f"{page.escape(sizes)}; mAP@{page.escape('all' if topk is None else topk)}, relevance "
        f"{page.escape(first['protocol']['relevance'])}; headline metrics: "
        f"{page.escape(', '.join(headline))}.</p>"
    )
    for metric in headline:
        scored = [run for run in runs if metric in run.record["metrics"]]
        yield f"<h3>Comparison: {page.escape(metric)}</h3>"
        if len(scored) < len(runs):
            yield (
                f'<p class="note">{len(runs) - len(scored)} run(s) have no {page.escape(metric)}'
                " (recorded before the protocol named it): re-run them with --force.</p>"
            )
        if not scored:
            continue
        table = summary if metric == metric_key(first, "map") else _summary(scored, options, metric)
        yield '<div class="wide">' + render(table, "html") + "</div>"
        yield f"<p>{page.escape(ranks_resolved(table, protocol))}</p>"
    bits = options.bits or _usual_bits(runs)
    defaults = [record for record in records if not variant(record)]
    variants = [record for record in records if variant(record)]
    yield f"<h3>Figures ({page.escape(bits)} bits where a figure has one code length)</h3>"
    yield from _figures({"convergence": defaults, "pr": defaults}, bits)
    if variants:
        yield "<h3>Figures of the variants and sweeps</h3>"
        yield from _figures({"regions": records, "convergence": variants, "pr": variants}, bits)
    yield f"<h3>Retrieval gallery ({page.escape(bits)} bits)</h3>"
    yield from _gallery(runs, bits, options)
    yield "<h3>Retrieval cost</h3>"
    yield from _costs(runs)
    yield "<h3>Runs</h3>"
    yield from _runs(runs)


def _headline(records: list[dict[str, Any]]) -> list[str]:
    """The metric keys the protocol's records name as headline (before protocols named
    them: mAP@K alone), in their order."""
    keys = [
        metric_key(record, metric)
        for record in records
        for metric in record["protocol"].get("metrics", ["map"])
    ]
    return list(dict.fromkeys(keys))


def _usual_bits(runs: list[Run]) -> int:
    """The code length most runs with codes have (the larger on a tie)."""
    counted = Counter(run.record["bits"] for run in runs if run.codes is not None)
    counted = counted or Counter(run.record["bits"] for run in runs)
    return max(counted, key=lambda b: (counted[b], b))


def _figures(records_by_kind: dict[str, list[dict[str, Any]]], bits: int) -> Iterator[str]:
    """Each figure of ``records_by_kind`` drawn from its records, or a note saying why not."""
    titles = {
        "regions": "mAP against the number of regions N",
        "convergence": "convergence",
        "pr": "precision-recall and precision@N",
    }
    drawers = {
        "regions": figures.regions_figure,
        "convergence": figures.convergence_figure,
        "pr": figures.pr_figure,
    }
    missing = []
    for kind, records in records_by_kind.items():
        try:
            if not records:
                raise HashbenchError("no runs")
            yield page.figure_img(drawers[kind](records, bits), titles[kind])
        except HashbenchError as error:
            missing.append(f"{titles[kind]}: {error}")
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


def _in_table_order(runs: list[Run]) -> list[Run]:
    return sorted(
        runs,
        key=lambda r: (
            method_rank(r.record["method"]),
            r.label,
            r.record["bits"],
            r.record["seed"],
        ),
    )


def _costs(runs: list[Run]) -> Iterator[str]:
    """Every run with codes, a table per machine its codes were made on: encoding, storage,
    search latency (measured here, one machine for all) and hash-table bucket sizes."""
    costs: dict[str, list[tuple[Run, RetrievalCost]]] = {}
    for run in _in_table_order(runs):
        if (cost := retrieval_cost(run)) is not None:
            costs.setdefault(cost.encoded_on, []).append((run, cost))
    if not costs:
        yield '<p class="note">No run has codes: each entry under Runs says what is missing.</p>'
        return
    yield (
        f"<p>Search: the exhaustive top {K} of each run's database for its first {BATCH} "
        f"queries, on one thread, measured while this page was written on "
        f"<b>{page.escape(machine())}</b>: faiss's binary flat index beside hashbench's own "
        "ranking (the evaluator's). Encoding: the items (queries and database) each run "
        "encoded per second, on the machine its record names (deep methods: the network's "
        "forward passes, twice per image with test-time flips; classic methods: from "
        "extracted features); runs encoded on different machines are in different tables. "
        "Items within r: the mean over queries of the database items within Hamming distance "
        "r, what a hash-table lookup of radius r returns.</p>"
    )
    header = [
        *("run", "bits", "seed", "mAP", "encoded per s", "on", "bytes per item"),
        *("faiss µs/query", "hashbench µs/query", "items within 0", "within 1", "within 2"),
    ]
    for encoded_on, group in costs.items():
        rows = [
            [
                f'<a href="#{page.escape(run.name)}">{page.escape(run.label)}</a>',
                str(run.record["bits"]),
                str(run.record["seed"]),
                f"{run.map:.4f}",
                "–" if cost.encode_per_s is None else f"{cost.encode_per_s:,.0f}",
                page.escape(cost.precision or "–"),
                f"{cost.bytes_per_item}",
                f"{cost.latency.faiss_us:,.1f}",
                f"{cost.latency.hashbench_us:,.1f}",
                *(f"{items:,.1f}" for items in cost.within_radius),
            ]
            for run, cost in group
        ]
        yield f"<h4>Encoded on {page.escape(encoded_on)}</h4>"
        yield page.table(header, rows, css="runs costs")


def _runs(runs: list[Run]) -> Iterator[str]:
    ordered = _in_table_order(runs)
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
                f"{run.map:.4f}" + _interval_html(run),
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


def _interval_html(run: Run) -> str:
    """The run's bootstrap interval under its mAP, where it has per-query scores."""
    values = per_query(run, "map")
    if values is None:
        return ""
    interval = bootstrap_interval([values])
    return f'<br><span class="ci">{interval.low:.4f}–{interval.high:.4f}</span>'


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
        "standard deviation where a cell has several seeds. Under each cell, its "
        f"{LEVEL:.0%} bootstrap interval: {RESAMPLES:,} resamples of the queries (seeded; "
        "each seed's queries resampled on their own), recomputed from the codes kept beside "
        "the records: it measures the queries' sampling only, where ± measures the seeds' "
        "(training and split together). † marks a method that the paired sign-flip test "
        "over the queries both runs searched cannot tell from its column's best (Holm-"
        "corrected across the column, "
        f"α = {ALPHA}), ? one it could not test. Each seed draws its own queries, so only "
        "runs of one seed are paired, pooled over the seeds both cells have. Variants (runs "
        "with settings other than today's defaults) are a table and figures of their own."
        "</li>"
        "<li>On multi-label protocols a query and an item are graded by the number of labels "
        "they share, r (DSRH, Zhao et al., CVPR 2015): ACG@N is the mean r of the first N "
        "(chance is the database's mean r, not 0), NDCG@N the DCG@N with gains 2^r − 1 and "
        "discounts log2(1 + i) over that of the database sorted by r, weighted mAP (wap) AP "
        "with ACG in place of precision; the _tie forms average over the orders within ties."
        "</li>"
        "<li>Ones per bit: 0.5 is a balanced bit, 0 or 1 a constant (wasted) one. Mean |corr|: "
        "the mean absolute correlation between pairs of bits (0: independent). Distinct codes "
        "and the largest bucket: how far the codes spread the database, and the most items "
        "that tie at distance 0.</li>"
        "<li>Deep methods chose their epoch on the validation split only, never on the "
        "queries.</li></ul>"
    )
