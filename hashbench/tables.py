"""Comparison tables from run records: tidy CSV, and Markdown or LaTeX (booktabs) grids.

Methods are rows (the DMRH paper's order first), protocol x bits are columns, each cell the
mean over seeds with the standard deviation when there are several, the best per column in
bold. The CSV is long (one row per method, protocol, bits) so it loads straight into pandas.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from hashbench.errors import HashbenchError

#: The DMRH paper's row order; other methods follow alphabetically.
PAPER_ORDER = (
    "lsh", "sh", "sklsh", "pcah", "itq", "fssh",
    "dsh", "dpsh", "dsdh", "dch", "ddsh", "adsh", "dmrh",
)  # fmt: skip
FORMATS = ("csv", "markdown", "latex")
DECIMALS = 4


def metric_key(record: dict[str, Any], metric: str) -> str:
    """``map`` and ``map_tie`` mean the protocol's own cut-off K; anything else is literal."""
    if metric in ("map", "map_tie"):
        topk = record["protocol"]["topk"]
        return f"{metric}@{'all' if topk is None else topk}"
    return metric


def summarise(records: Iterable[dict[str, Any]], metric: str = "map") -> pd.DataFrame:
    """Mean, standard deviation and seed count per (method, protocol, bits)."""
    rows = []
    for record in records:
        key = metric_key(record, metric)
        if key not in record["metrics"]:
            known = ", ".join(sorted(record["metrics"]))
            raise HashbenchError(f"records have no metric {key!r}; available: {known}")
        rows.append(
            {
                "method": record["method"],
                "dataset": record["dataset"]["name"],
                "protocol": record["protocol"]["name"],
                "bits": record["bits"],
                "metric": key,
                "value": record["metrics"][key],
            }
        )
    if not rows:
        raise HashbenchError("no records found; run `hashbench run` first or pass --results DIR")
    frame = pd.DataFrame(rows)
    keys = ["method", "dataset", "protocol", "bits", "metric"]
    summary = frame.groupby(keys, sort=False)["value"].agg(["mean", "std", "count"]).reset_index()
    summary = summary.rename(columns={"count": "seeds"})
    summary["order"] = summary["method"].map(method_rank)
    summary = summary.sort_values(["order", "method", "protocol", "bits"]).drop(columns="order")
    return summary.reset_index(drop=True)


def method_rank(name: str) -> int:
    return PAPER_ORDER.index(name) if name in PAPER_ORDER else len(PAPER_ORDER)


def render(summary: pd.DataFrame, fmt: str) -> str:
    if fmt == "csv":
        return summary.to_csv(index=False, float_format=f"%.{DECIMALS + 2}f")
    if fmt == "markdown":
        return _markdown(summary)
    if fmt == "latex":
        return _latex(summary)
    raise HashbenchError(f"unknown table format {fmt!r}; choose one of {', '.join(FORMATS)}")


def _grid(summary: pd.DataFrame) -> tuple[list[str], list[tuple[str, int]], dict, set]:
    """Rows, columns, cell values and the set of (row, column) cells that are best."""
    methods = list(dict.fromkeys(summary["method"]))
    columns = sorted(
        {(p, int(b)) for p, b in zip(summary["protocol"], summary["bits"], strict=True)},
        key=lambda c: (list(dict.fromkeys(summary["protocol"])).index(c[0]), c[1]),
    )
    cells = {
        (row.method, (row.protocol, int(row.bits))): (row.mean, row.std, row.seeds)
        for row in summary.itertuples()
    }
    best = set()
    for column in columns:
        values = {m: round(cells[m, column][0], DECIMALS) for m in methods if (m, column) in cells}
        top = max(values.values())
        best |= {(m, column) for m, v in values.items() if v == top}
    return methods, columns, cells, best


def _cell(value: tuple[float, float, int] | None, plus_minus: str) -> str:
    if value is None:
        return "–"
    mean, std, seeds = value
    text = f"{mean:.{DECIMALS}f}"
    if seeds > 1:
        text += f"{plus_minus}{std:.{DECIMALS}f}"
    return text


def _markdown(summary: pd.DataFrame) -> str:
    methods, columns, cells, best = _grid(summary)
    header = ["Method", *[f"{protocol} {bits} bits" for protocol, bits in columns]]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join([":--", *["--:"] * len(columns)]) + "|",
    ]
    for method in methods:
        row = [method.upper()]
        for column in columns:
            text = _cell(cells.get((method, column)), " ± ")
            row.append(f"**{text}**" if (method, column) in best else text)
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def _latex_escape(text: str) -> str:
    for char in "\\&%$#_{}":
        text = text.replace(char, "\\" + char)
    return text


def _latex(summary: pd.DataFrame) -> str:
    methods, columns, cells, best = _grid(summary)
    protocols = list(dict.fromkeys(protocol for protocol, _ in columns))
    spans = [(p, sum(1 for q, _ in columns if q == p)) for p in protocols]
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
    lines.append(" & ".join(["", *[f"{bits} bits" for _, bits in columns]]) + " \\\\")
    lines.append("\\midrule")
    for method in methods:
        row = [_latex_escape(method.upper())]
        for column in columns:
            text = _cell(cells.get((method, column)), " $\\pm$ ")
            row.append(f"\\textbf{{{text}}}" if (method, column) in best else text)
        lines.append(" & ".join(row) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    return "\n".join(lines) + "\n"
