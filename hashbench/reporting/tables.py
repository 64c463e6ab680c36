"""Comparison tables from run records: tidy CSV, and Markdown, LaTeX (booktabs) or HTML grids.

Methods are rows in the DMRH paper's order (others follow alphabetically); protocol x bits are
columns, the paper's data sets first; each cell is the mean over seeds with the standard
deviation when there are several; the best per column is bold. The main table holds each
method's runs at its defaults; a run with other hyper-parameters (say DMRH with another number
of regions, or a recipe since superseded) is a row of its own, labelled with them, in a second
table of variants below, so neither a sweep nor an old recipe blends into or crowds the main
comparison. Where :mod:`~hashbench.reporting.significance` has marked the methods the paired
test cannot tell from the best, they carry a dagger and a note says how they were tested. The
CSV is long (one row per method, variant, protocol and bits) so it loads straight into pandas.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import pandas as pd

from hashbench.errors import HashbenchError
from hashbench.evaluation.inference import ALPHA
from hashbench.evaluation.names import AT_CUT_OFF
from hashbench.records import FALL_TOLERANCE, FELL, validation_fall, variant

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
    """``map``, ``map_tie`` and ``wap`` mean the protocol's own cut-off K; anything else (say
    ``ndcg@1000``) is literal."""
    if metric in AT_CUT_OFF:
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


def cell_key(record: dict[str, Any]) -> tuple[str, str, str, int]:
    """The table cell a record counts in: (method, variant label, protocol, bits)."""
    return (
        record["method"],
        variant_label(variant(record)),
        record["protocol"]["name"],
        record["bits"],
    )


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
    """Mean, sample standard deviation and seed count per (method, variant, protocol, bits),
    whether a run of the cell fell on validation over its hashing phase
    (:func:`~hashbench.records.validation_fall`), and whether the cell is the best of its
    column (in its table: defaults or variants)."""
    rows = []
    for record in records:
        if not _keep(record, keep):
            continue
        key, value = metric_value(record, metric)
        method, variant_text, protocol, bits = cell_key(record)
        rows.append(
            {
                "method": method,
                "variant": variant_text,
                "dataset": record["dataset"]["name"],
                "protocol": protocol,
                "bits": bits,
                "metric": key,
                "value": value,
                "fell": validation_fall(record.get("history")) is not None,
            }
        )
    if not rows:
        raise HashbenchError(
            "no records match; run `hashbench run` first, or pass --results DIR / fewer filters"
        )
    frame = pd.DataFrame(rows)
    keys = ["method", "variant", "dataset", "protocol", "bits", "metric"]
    summary = frame.groupby(keys, sort=False).agg(
        mean=("value", "mean"), std=("value", "std"), seeds=("value", "count"), fell=("fell", "any")
    )
    summary = summary.reset_index()
    summary["method_order"] = summary["method"].map(method_rank)
    summary["protocol_order"] = summary["protocol"].map(protocol_rank)
    order = ["method_order", "method", "variant", "protocol_order", "protocol", "bits"]
    summary = summary.sort_values(order).drop(columns=["method_order", "protocol_order"])
    summary = summary.reset_index(drop=True)
    # The best of a column, as shown (rounded): ties in the shown digits are all best.
    shown = summary["mean"].round(DECIMALS)
    columns = [summary["variant"] == "", summary["protocol"], summary["bits"]]
    summary["best"] = shown == shown.groupby(columns).transform("max")
    return summary


def method_rank(name: str) -> int:
    return PAPER_ORDER.index(name) if name in PAPER_ORDER else len(PAPER_ORDER)


def protocol_rank(name: str) -> int:
    papers = list(PAPER_PROTOCOLS)
    return papers.index(name) if name in papers else len(papers)


def paper_table() -> pd.DataFrame:
    """The DMRH paper's published mAP@5000 (Table 2), kept in the package as data."""
    paper = _paper_data("dmrh-table.csv")
    paper["method"] = paper["method"].str.lower()
    return paper


def authors_regions() -> pd.DataFrame:
    """DMRH's mAP@5000 against N as its authors' README gives it (WoodsChou/DMRH, ImageNet
    CNN-F): columns dataset, regions, bits, map_at_5000."""
    return _paper_data("dmrh-regions.csv")


def _paper_data(name: str) -> pd.DataFrame:
    with resources.files("hashbench.reporting.paper").joinpath(name).open() as handle:
        return pd.read_csv(handle)


def compare_with_paper(summary: pd.DataFrame) -> pd.DataFrame:
    """Adds the paper's figure and our difference from it, where the paper has the cell."""
    paper = paper_table().rename(columns={"dataset": "paper_dataset", "map_at_5000": "paper"})
    summary = summary.assign(paper_dataset=summary["protocol"].map(PAPER_PROTOCOLS))
    merged = summary.merge(paper, on=["method", "paper_dataset", "bits"], how="left")
    is_paper_metric = merged["metric"] == "map@5000"
    merged.loc[~is_paper_metric | (merged["variant"] != ""), "paper"] = float("nan")
    merged["difference"] = merged["mean"] - merged["paper"]
    return merged.drop(columns="paper_dataset")


#: Marks of a cell the paired test could not tell from its column's best, and of one it could
#: not test (a run without codes, or no seed in common with the best).
TIED, UNTESTED = "†", "?"
FELL_NOTE = (
    "{fell}: a run of this cell ended its hashing phase more than {tolerance} below its first "
    "epoch's validation mAP: training made its codes worse by the end and model selection kept "
    "an earlier epoch (its history says which; its rate may be too high at this length)."
)
#: What a reader needs to read the marks; filled in with the test's level.
MARKS_NOTE = (
    "Bold: the best of its column. {tied}: not significantly different from it (paired "
    "sign-flip test over the queries both searched, Holm-corrected across the column, "
    "α = {alpha}); unmarked: significantly below it; {untested}: not tested (a run without "
    "codes, or no seed in common with the best)."
)
VARIANTS_TITLE = (
    "Variants: runs with settings other than their method's defaults as they are now (sweeps, "
    "superseded recipes), not comparable with the table above."
)


def render(summary: pd.DataFrame, fmt: str) -> str:
    """The defaults' table, then the variants' (if any), each with its own best and marks."""
    if fmt == "csv":
        return summary.to_csv(index=False, float_format=f"%.{DECIMALS + 2}f")
    writers = {"markdown": _markdown, "latex": _latex, "html": _html}
    if fmt not in writers:
        raise HashbenchError(f"unknown table format {fmt!r}; choose one of {', '.join(FORMATS)}")
    defaults = summary[summary["variant"] == ""]
    variants = summary[summary["variant"] != ""]
    parts = [writers[fmt](_Grid(defaults))] if len(defaults) else []
    if len(variants):
        title = {
            "markdown": f"{VARIANTS_TITLE}\n\n",
            "latex": f"% {VARIANTS_TITLE}\n",
            "html": f'<p class="table-title">{html.escape(VARIANTS_TITLE)}</p>\n',
        }[fmt]
        parts.append(title + writers[fmt](_Grid(variants)))
    return "\n".join(parts)


class _Grid:
    """Rows (method, variant), columns (protocol, bits), the cells, the best per column and,
    where the summary carries them, the paired tests' marks and the intervals."""

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
        self.best = {key for key, row in self.cells.items() if row.best}
        #: Whether the summary went through the paired tests (its cells carry ``tied``).
        self.tested = "tied" in summary.columns

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

    def mark(self, row: tuple[str, str], column: tuple[str, int]) -> str:
        """The paired test's mark (tied with the best, not tested, or nothing), then
        :data:`FELL` where a run of the cell fell on validation."""
        entry = self.cells.get((row, column))
        if entry is None:
            return ""
        fell = FELL if entry.fell else ""
        if not self.tested or (row, column) in self.best:
            return fell
        if pd.isna(entry.tied):
            return UNTESTED + fell
        return (TIED if entry.tied else "") + fell

    def interval(self, row: tuple[str, str], column: tuple[str, int]) -> str:
        """``low–high``, the cell's bootstrap interval, where the summary has one."""
        entry = self.cells.get((row, column))
        if entry is None or pd.isna(getattr(entry, "ci_low", float("nan"))):
            return ""
        return f"{entry.ci_low:.{DECIMALS}f}–{entry.ci_high:.{DECIMALS}f}"

    def note(self) -> str:
        """How to read the marks: the paired tests' where the cells were tested, and
        :data:`FELL`'s where a cell carries it; empty where neither."""
        tests = MARKS_NOTE.format(tied=TIED, untested=UNTESTED, alpha=ALPHA)
        parts = [tests] if self.tested else []
        if any(entry.fell for entry in self.cells.values()):
            parts.append(FELL_NOTE.format(fell=FELL, tolerance=FALL_TOLERANCE))
        return " ".join(parts)

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
            text += grid.mark(row, column)
            if paper := grid.paper(row, column):
                text += f" <br>paper {paper}"
            cells.append(text)
        lines.append("| " + " | ".join(cells) + " |")
    if note := grid.note():
        lines += ["", note.replace("Bold", "**Bold**", 1)]
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
    marks = {TIED: "$^\\dagger$", UNTESTED: "$^?$", FELL: "$^\\ddagger$"}
    for row in grid.rows:
        cells = [_latex_escape(grid.label(row))]
        for column in grid.columns:
            text = grid.cell(row, column, " $\\pm$ ")
            text = f"\\textbf{{{text}}}" if (row, column) in grid.best else text
            cells.append(text + "".join(marks[m] for m in grid.mark(row, column)))
        lines.append(" & ".join(cells) + " \\\\")
        if grid.has_paper:
            paper = [grid.paper(row, column) for column in grid.columns]
            lines.append(" & ".join(["\\quad\\textit{paper}", *paper]) + " \\\\")
    lines.append("\\bottomrule")
    if note := grid.note():
        text = _latex_escape(note)
        for mark, latex in marks.items():
            text = text.replace(mark, latex)
        text = text.replace("α", "$\\alpha$")
        width = len(grid.columns) + 1
        lines.append(
            f"\\multicolumn{{{width}}}{{p{{0.9\\linewidth}}}}{{\\footnotesize {text}}} \\\\"
        )
    lines.append("\\end{tabular}")
    return "\n".join(lines) + "\n"


def _html(grid: _Grid) -> str:
    """A ``<table class="results">`` fragment: protocols spanning their bit columns, a
    variant's settings under its method's name (``<span class="variant">``), the best per
    column in ``<strong>``, the paired tests' marks and the intervals (``<span
    class="ci">``) where the summary has them, the paper's figure (and our difference) under
    ours, and the note on the marks."""
    spans = [(p, sum(1 for q, _ in grid.columns if q == p)) for p in grid.protocols]
    head = "".join(f'<th colspan="{width}">{html.escape(p)}</th>' for p, width in spans)
    bits = "".join(f"<th>{html.escape(str(b))} bits</th>" for _, b in grid.columns)
    lines = [
        '<table class="results">',
        f'<thead><tr><th rowspan="2">Method</th>{head}</tr><tr>{bits}</tr></thead>',
        "<tbody>",
    ]
    for row in grid.rows:
        method, variant = row
        label = html.escape(method_title(method))
        if variant:  # a variant's settings on lines of their own, wrapped to the label's width
            label += f'<br><span class="variant">{html.escape(variant)}</span>'
        cells = [f'<th scope="row">{label}</th>']
        for column in grid.columns:
            text = html.escape(grid.cell(row, column, " ± "))
            text = f"<strong>{text}</strong>" if (row, column) in grid.best else text
            text += html.escape(grid.mark(row, column))
            if interval := grid.interval(row, column):
                text += f'<br><span class="ci">{html.escape(interval)}</span>'
            if paper := grid.paper(row, column):
                text += f'<br><span class="paper">paper {html.escape(paper)}</span>'
            cells.append(f"<td>{text}</td>")
        lines.append("<tr>" + "".join(cells) + "</tr>")
    lines += ["</tbody>", "</table>"]
    if note := grid.note():
        lines.append(f'<p class="table-note">{html.escape(note)}</p>')
    return "\n".join(lines) + "\n"
