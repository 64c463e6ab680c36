"""Comparison tables from run records: tidy CSV, and Markdown, LaTeX (booktabs) or HTML grids.

Methods are rows in the DMRH paper's order (others follow alphabetically); protocol x bits are
columns, the paper's data sets first; each cell is the mean over seeds with the standard
deviation when there are several; the best per column is bold. A method run with
hyper-parameters other than its defaults (say DMRH with another number of regions) is its own
row, labelled with them, so a sweep never blends into the method's main number. The CSV is
long (one row per method, variant, protocol and bits) so it loads straight into pandas.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import pandas as pd

from hashbench.errors import HashbenchError
from hashbench.experiment.records import variant

#: The DMRH paper's row order; other methods follow alphabetically.
PAPER_ORDER = (
    "lsh", "sh", "sklsh", "pcah", "itq", "fssh",
    "dsh", "dpsh", "dsdh", "dch", "ddsh", "adsh", "dmrh",
)  # fmt: skip
#: How tables and figures write a method's name where capitals alone would not do.
DISPLAY_NAMES = {"hashnet": "HashNet", "hybridhash": "HybridHash"}
#: Our protocol for each of the paper's data sets, in the paper's column order.
PAPER_PROTOCOLS = {"cifar10-dmrh": "cifar10", "nuswide": "nuswide", "coco": "coco"}
FORMATS = ("csv", "markdown", "latex", "html")
DECIMALS = 4


@dataclass(frozen=True)
class TableFilter:
    """Which rows and columns to keep; ``None`` keeps everything."""

    methods: Sequence[str] | None = None
    protocols: Sequence[str] | None = None
    bits: Sequence[int] | None = None
    #: Keep only runs with each method's default hyper-parameters (the paper's table).
    defaults_only: bool = False


#: The validation mAP of the epoch a deep method's model selection kept (a sweep's criterion).
VALIDATION = "val_map"


def metric_key(record: dict[str, Any], metric: str) -> str:
    """``map`` and ``map_tie`` mean the protocol's own cut-off K; anything else is literal."""
    if metric in ("map", "map_tie"):
        topk = record["protocol"]["topk"]
        return f"{metric}@{'all' if topk is None else topk}"
    return metric


def metric_value(record: dict[str, Any], metric: str) -> tuple[str, float]:
    """The metric's key and value in ``record``; ``val_map`` reads the selected epoch."""
    if metric == VALIDATION:
        chosen = [e for e in record.get("history") or [] if e.get("selected")]
        if not chosen:
            raise HashbenchError(
                f"a {record['method']} record has no validation-selected epoch; "
                f"--metric {VALIDATION} is for deep methods' records (use --methods)"
            )
        return VALIDATION, float(chosen[0][VALIDATION])
    key = metric_key(record, metric)
    if key not in record["metrics"]:
        known = ", ".join(sorted([*record["metrics"], VALIDATION]))
        raise HashbenchError(f"records have no metric {key!r}; available: {known}")
    return key, record["metrics"][key]


def method_title(name: str) -> str:
    """``dpsh`` -> ``DPSH``, ``hashnet`` -> ``HashNet``."""
    return DISPLAY_NAMES.get(name, name.upper())


def method_label(name: str, variant: dict[str, Any] | None) -> str:
    """The method's title and the hyper-parameters in which the run departs from its defaults."""
    text = variant_label(variant or {})
    return method_title(name) + (f" ({text})" if text else "")


def variant_label(variant: dict[str, Any]) -> str:
    return ", ".join(f"{key}={value}" for key, value in sorted(variant.items()))


def _keep(record: dict[str, Any], keep: TableFilter) -> bool:
    return (
        (keep.methods is None or record["method"] in keep.methods)
        and (keep.protocols is None or record["protocol"]["name"] in keep.protocols)
        and (keep.bits is None or record["bits"] in keep.bits)
        and not (keep.defaults_only and variant(record))
    )


def summarise(
    records: Iterable[dict[str, Any]], metric: str = "map", keep: TableFilter = TableFilter()
) -> pd.DataFrame:
    """Mean, sample standard deviation and seed count per (method, variant, protocol, bits)."""
    rows = []
    for record in records:
        if not _keep(record, keep):
            continue
        key, value = metric_value(record, metric)
        rows.append(
            {
                "method": record["method"],
                "variant": variant_label(variant(record)),
                "dataset": record["dataset"]["name"],
                "protocol": record["protocol"]["name"],
                "bits": record["bits"],
                "metric": key,
                "value": value,
            }
        )
    if not rows:
        raise HashbenchError(
            "no records match; run `hashbench run` first, or pass --results DIR / fewer filters"
        )
    frame = pd.DataFrame(rows)
    keys = ["method", "variant", "dataset", "protocol", "bits", "metric"]
    summary = frame.groupby(keys, sort=False)["value"].agg(["mean", "std", "count"]).reset_index()
    summary = summary.rename(columns={"count": "seeds"})
    summary["method_order"] = summary["method"].map(method_rank)
    summary["protocol_order"] = summary["protocol"].map(protocol_rank)
    order = ["method_order", "method", "variant", "protocol_order", "protocol", "bits"]
    summary = summary.sort_values(order).drop(columns=["method_order", "protocol_order"])
    return summary.reset_index(drop=True)


def method_rank(name: str) -> int:
    return PAPER_ORDER.index(name) if name in PAPER_ORDER else len(PAPER_ORDER)


def protocol_rank(name: str) -> int:
    papers = list(PAPER_PROTOCOLS)
    return papers.index(name) if name in papers else len(papers)


def paper_table() -> pd.DataFrame:
    """The DMRH paper's published mAP@5000 (Table 2), kept in the package as data."""
    with resources.files("hashbench.reporting.paper").joinpath("dmrh-table.csv").open() as handle:
        paper = pd.read_csv(handle)
    paper["method"] = paper["method"].str.lower()
    return paper


def compare_with_paper(summary: pd.DataFrame) -> pd.DataFrame:
    """Adds the paper's figure and our difference from it, where the paper has the cell."""
    paper = paper_table().rename(columns={"dataset": "paper_dataset", "map_at_5000": "paper"})
    summary = summary.assign(paper_dataset=summary["protocol"].map(PAPER_PROTOCOLS))
    merged = summary.merge(paper, on=["method", "paper_dataset", "bits"], how="left")
    is_paper_metric = merged["metric"] == "map@5000"
    merged.loc[~is_paper_metric | (merged["variant"] != ""), "paper"] = float("nan")
    merged["difference"] = merged["mean"] - merged["paper"]
    return merged.drop(columns="paper_dataset")


def render(summary: pd.DataFrame, fmt: str) -> str:
    if fmt == "csv":
        return summary.to_csv(index=False, float_format=f"%.{DECIMALS + 2}f")
    if fmt == "markdown":
        return _markdown(_Grid(summary))
    if fmt == "latex":
        return _latex(_Grid(summary))
    if fmt == "html":
        return _html(_Grid(summary))
    raise HashbenchError(f"unknown table format {fmt!r}; choose one of {', '.join(FORMATS)}")


class _Grid:
    """Rows (method, variant), columns (protocol, bits), the cells and the best per column."""

    def __init__(self, summary: pd.DataFrame) -> None:
        self.rows = list(dict.fromkeys(zip(summary["method"], summary["variant"], strict=True)))
        self.columns = list(
            dict.fromkeys(
                (p, int(b))
                for p, b in sorted(
                    zip(summary["protocol"], summary["bits"], strict=True),
                    key=lambda c: (protocol_rank(c[0]), c[0], c[1]),
                )
            )
        )
        self.protocols = list(dict.fromkeys(protocol for protocol, _ in self.columns))
        self.cells = {
            ((row.method, row.variant), (row.protocol, int(row.bits))): row
            for row in summary.itertuples()
        }
        self.best: set = set()
        for column in self.columns:
            values = {
                r: round(self.cells[r, column].mean, DECIMALS)
                for r in self.rows
                if (r, column) in self.cells
            }
            top = max(values.values())
            self.best |= {(r, column) for r, v in values.items() if v == top}

    def label(self, row: tuple[str, str]) -> str:
        method, variant = row
        return method_title(method) + (f" ({variant})" if variant else "")

    def cell(self, row: tuple[str, str], column: tuple[str, int], plus_minus: str) -> str:
        entry = self.cells.get((row, column))
        if entry is None:
            return "–"
        text = f"{entry.mean:.{DECIMALS}f}"
        if entry.seeds > 1:
            text += f"{plus_minus}{entry.std:.{DECIMALS}f}"
        return text

    def paper(self, row: tuple[str, str], column: tuple[str, int]) -> str:
        """``paper (difference)`` when the summary carries the paper's figures."""
        entry = self.cells.get((row, column))
        if entry is None or not hasattr(entry, "paper") or pd.isna(entry.paper):
            return ""
        return f"{entry.paper:.{DECIMALS}f} ({entry.difference:+.{DECIMALS}f})"

    @property
    def has_paper(self) -> bool:
        return any(self.paper(r, c) for r in self.rows for c in self.columns)


def _markdown(grid: _Grid) -> str:
    header = ["Method", *[f"{protocol} {bits} bits" for protocol, bits in grid.columns]]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join([":--", *["--:"] * len(grid.columns)]) + "|",
    ]
    for row in grid.rows:
        cells = [grid.label(row)]
        for column in grid.columns:
            text = grid.cell(row, column, " ± ")
            text = f"**{text}**" if (row, column) in grid.best else text
            if paper := grid.paper(row, column):
                text += f" <br>paper {paper}"
            cells.append(text)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _latex_escape(text: str) -> str:
    for char in "\\&%$#_{}":
        text = text.replace(char, "\\" + char)
    return text


def _latex(grid: _Grid) -> str:
    spans = [(p, sum(1 for q, _ in grid.columns if q == p)) for p in grid.protocols]
    lines = [
        "% hashbench table; needs \\usepackage{booktabs}",
        "\\begin{tabular}{l" + "".join(" " + "c" * width for _, width in spans) + "}",
        "\\toprule",
    ]
    group, rules, start = ["Method"], [], 2
    for protocol, width in spans:
        group.append(f"\\multicolumn{{{width}}}{{c}}{{{_latex_escape(protocol)}}}")
        rules.append(f"\\cmidrule(lr){{{start}-{start + width - 1}}}")
        start += width
    lines += [" & ".join(group) + " \\\\", " ".join(rules)]
    lines.append(" & ".join(["", *[f"{bits} bits" for _, bits in grid.columns]]) + " \\\\")
    lines.append("\\midrule")
    for row in grid.rows:
        cells = [_latex_escape(grid.label(row))]
        for column in grid.columns:
            text = grid.cell(row, column, " $\\pm$ ")
            cells.append(f"\\textbf{{{text}}}" if (row, column) in grid.best else text)
        lines.append(" & ".join(cells) + " \\\\")
        if grid.has_paper:
            paper = [grid.paper(row, column) for column in grid.columns]
            lines.append(" & ".join(["\\quad\\textit{paper}", *paper]) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    return "\n".join(lines) + "\n"


def _html(grid: _Grid) -> str:
    """A ``<table class="results">`` fragment: protocols spanning their bit columns, the best
    per column in ``<strong>``, the paper's figure (and our difference) under ours."""
    spans = [(p, sum(1 for q, _ in grid.columns if q == p)) for p in grid.protocols]
    head = "".join(f'<th colspan="{width}">{html.escape(p)}</th>' for p, width in spans)
    bits = "".join(f"<th>{html.escape(str(b))} bits</th>" for _, b in grid.columns)
    lines = [
        '<table class="results">',
        f'<thead><tr><th rowspan="2">Method</th>{head}</tr><tr>{bits}</tr></thead>',
        "<tbody>",
    ]
    for row in grid.rows:
        cells = [f'<th scope="row">{html.escape(grid.label(row))}</th>']
        for column in grid.columns:
            text = html.escape(grid.cell(row, column, " ± "))
            text = f"<strong>{text}</strong>" if (row, column) in grid.best else text
            if paper := grid.paper(row, column):
                text += f'<br><span class="paper">paper {html.escape(paper)}</span>'
            cells.append(f"<td>{text}</td>")
        lines.append("<tr>" + "".join(cells) + "</tr>")
    lines += ["</tbody>", "</table>"]
    return "\n".join(lines) + "\n"
