"""The paper's figures from run records: mAP against regions N, convergence, precision-recall.

Sized for one column of a two-column paper (3.4 inches wide, 8-point type), saved as PNG and
PDF. Figures read records only, so they can be redrawn at any time without re-running.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import colormaps, rc_context
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.rcsetup import cycler
from matplotlib.ticker import MaxNLocator

from hashbench.errors import HashbenchError
from hashbench.fileio import atomic_write
from hashbench.records import variant
from hashbench.reporting.tables import (
    PAPER_PROTOCOLS,
    authors_regions,
    method_label,
    method_rank,
    metric_key,
    variant_label,
)

COLUMN_WIDTH_IN = 3.4
STYLE = {
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "legend.fontsize": 7,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "lines.linewidth": 1.2,
    "lines.markersize": 3.5,
    "axes.grid": True,
    "grid.alpha": 0.3,
    # Ten colours, solid then dashed: twenty series stay apart (the deep table has twelve).
    "axes.prop_cycle": cycler(linestyle=["-", "--"]) * cycler(color=colormaps["tab10"].colors),
}
KINDS = ("regions", "convergence", "pr")
#: savefig's options for every file and page: the canvas grows to hold every artist, so a
#: legend wider than its column-width panels is never cut off at the edges.
SAVE_OPTIONS: dict[str, Any] = {"bbox_inches": "tight", "pad_inches": 0.02}


def save(figure: Figure, stem: Path) -> list[Path]:
    """PNG (for screens) and PDF (for papers), each written atomically."""
    paths = []
    for suffix in ("png", "pdf"):
        path = stem.with_suffix(f".{suffix}")
        atomic_write(
            path,
            lambda handle, s=suffix: figure.savefig(handle, format=s, dpi=300, **SAVE_OPTIONS),
        )
        paths.append(path)
    return paths


def _distinguishing(settings: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each series' settings less those every series drawn shares (they would only clutter
    the legend)."""
    items = [{(k, repr(v)) for k, v in own.items()} for own in settings]
    common = set.intersection(*items) if items else set()
    return [
        {k: own[k] for k, _ in keys - common} for own, keys in zip(settings, items, strict=True)
    ]


def _series_labels(records: Sequence[dict[str, Any]]) -> dict[int, str]:
    """A legend label per record: its method, and the hyper-parameters in which it differs
    from the other records drawn."""
    shown = _distinguishing([variant(record) for record in records])
    return {
        id(record): method_label(record["method"], own)
        for record, own in zip(records, shown, strict=True)
    }


def _in_table_order(series: Iterable[str]) -> list[str]:
    """Series labels in the tables' method order (a label starts with its method's name)."""
    return sorted(series, key=lambda label: (method_rank(label.split()[0].lower()), label))


def _figure_with_legend_below(
    width: float, panels_height: float, series: int, columns: int
) -> Figure:
    """A figure whose legend will sit below its panels, never over a curve: its height grows
    by one legend row per ``columns`` series."""
    legend_rows = -(-series // columns)
    return Figure(figsize=(width, panels_height + 0.14 * legend_rows), layout="constrained")


def _legend_below(figure: Figure, axis: Axes, columns: int) -> None:
    figure.legend(*axis.get_legend_handles_labels(), loc="outside lower center", ncols=columns)


def regions_figure(
    records: Iterable[dict[str, Any]], bits: int | None = None, method: str = "dmrh"
) -> Figure:
    """mAP against the number of regions N, a panel per protocol: a line per bit length (only
    ``bits`` if given) and per setting besides N (runs at another learning rate are another
    line, never averaged in), seeds averaged with their spread as error bars."""
    drawn = [
        record
        for record in records
        if record["method"] == method
        and "regions" in record["config"]["params"]
        and bits in (None, record["bits"])
    ]
    if not drawn:
        raise HashbenchError(
            f"no {method} records with a 'regions' parameter"
            + (f" at {bits} bits" if bits else "")
            + "; run the N sweep first"
        )
    others = _distinguishing(
        [{k: v for k, v in variant(record).items() if k != "regions"} for record in drawn]
    )
    points: dict[str, dict[tuple[int, str], dict[int, list[float]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list))
    )
    for record, other in zip(drawn, others, strict=True):
        setting = variant_label(other)
        line = (record["bits"], f"{record['bits']} bits" + (f" ({setting})" if setting else ""))
        value = record["metrics"][metric_key(record, "map")]
        regions = int(record["config"]["params"]["regions"])
        points[record["protocol"]["name"]][line][regions].append(value)
    lines = {line for by_line in points.values() for line in by_line}
    series = len(lines) + len({bits for bits, _ in lines})  # and the authors' curve per length
    with rc_context(STYLE):
        width = COLUMN_WIDTH_IN * min(len(points), 2)
        figure = _figure_with_legend_below(width, 2.4, series, columns=1)
        axes = figure.subplots(1, len(points), squeeze=False)
        for axis, (protocol, by_line) in zip(axes[0], sorted(points.items()), strict=True):
            for (_, label), by_regions in sorted(by_line.items()):
                n = sorted(by_regions)
                mean = [np.mean(by_regions[k]) for k in n]
                std = [np.std(by_regions[k]) for k in n]
                axis.errorbar(n, mean, yerr=std, marker="o", capsize=2, label=label)
            _authors_curves(axis, protocol, sorted({bits for bits, _ in by_line}))
            axis.set(title=protocol, xlabel="regions per side N", ylabel="mAP")
            axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        # one legend below the panels, never over a curve (a line in two panels listed once)
        legend = {
            label: handle
            for axis in axes[0]
            for handle, label in zip(*axis.get_legend_handles_labels(), strict=True)
        }
        figure.legend(legend.values(), legend.keys(), loc="outside lower center", ncols=1)
    return figure


def _authors_curves(axis: Axes, protocol: str, bits: Sequence[int]) -> None:
    """DMRH's authors' curve beside ours where they published one for this protocol's data set
    and code length: grey, dotted, their ImageNet-pretrained CNN-F at the paper's setting."""
    reference = authors_regions()
    reference = reference[reference["dataset"] == PAPER_PROTOCOLS.get(protocol)]
    for length in bits:
        curve = reference[reference["bits"] == length].sort_values("regions")
        if len(curve):
            label = f"{length} bits, authors' code (ImageNet CNN-F)"
            axis.plot(curve["regions"], curve["map_at_5000"], ":x", color="0.45", label=label)


def convergence_figure(records: Iterable[dict[str, Any]], bits: int | None = None) -> Figure:
    """Training loss and validation mAP against epoch, a line per method (first seed, one
    bit length), for the hashing phase of deep methods."""
    drawn = [
        record
        for record in sorted(records, key=lambda r: (r["seed"], r["bits"]))
        if record.get("history") and (bits is None or record["bits"] == bits)
    ]
    labels = _series_labels(drawn)
    histories: dict[str, list[dict[str, Any]]] = {}
    for record in drawn:
        hashing = [e for e in record["history"] if e.get("phase", "hashing") == "hashing"]
        histories.setdefault(labels[id(record)], hashing)
    if not histories:
        raise HashbenchError("no records with a training history (deep methods) to plot")
    with rc_context(STYLE):
        figure = _figure_with_legend_below(COLUMN_WIDTH_IN, 3.6, len(histories), columns=2)
        loss_axis, map_axis = figure.subplots(2, 1, sharex=True)
        for key in _in_table_order(histories):
            history = histories[key]
            epochs = [entry["epoch"] for entry in history]
            losses = [entry["loss"] for entry in history]
            loss_axis.plot(epochs, losses, marker=".", label=key)
            if all("val_map" in entry for entry in history):
                val_map = [entry["val_map"] for entry in history]
                map_axis.plot(epochs, val_map, marker=".", label=key)
        loss_axis.set(ylabel="training loss")
        # Losses differ in scale by orders of magnitude between methods (ADSH's and DDSH's
        # grow with K^2): a log axis keeps each one's descent visible. Within one decade a
        # linear axis reads better (a log one labels every tick 8.02 x 10^-1).
        every_loss = [entry["loss"] for history in histories.values() for entry in history]
        if min(every_loss) > 0 and max(every_loss) > 10 * min(every_loss):
            loss_axis.set_yscale("log")
        map_axis.set(xlabel="epoch", ylabel="validation mAP")
        epochs_drawn = sorted({e["epoch"] for h in histories.values() for e in h})
        if len(epochs_drawn) <= 12:
            map_axis.set_xticks(epochs_drawn)
        else:
            map_axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        _legend_below(figure, loss_axis, columns=2)
    return figure


def pr_figure(records: Iterable[dict[str, Any]], bits: int) -> Figure:
    """Precision-recall (one point per Hamming radius) and precision@N per method, means over
    seeds, side by side."""
    drawn = [r for r in records if r["bits"] == bits and "pr_precision" in r.get("curves", {})]
    if not drawn:
        raise HashbenchError(f"no records at {bits} bits with a precision-recall curve")
    labels = _series_labels(drawn)
    by_series: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in drawn:
        by_series[labels[id(record)]].append(record)
    with rc_context(STYLE):
        figure = _figure_with_legend_below(2 * COLUMN_WIDTH_IN, 2.6, len(by_series), columns=4)
        pr_axis, pn_axis = figure.subplots(1, 2)
        for series in _in_table_order(by_series):
            group = by_series[series]
            recall = np.mean([r["curves"]["pr_recall"] for r in group], axis=0)
            precision = np.mean([r["curves"]["pr_precision"] for r in group], axis=0)
            line = pr_axis.plot(recall, precision, marker=".", label=series)[0]
            depths = sorted(
                int(key.split("@")[1])
                for key in group[0]["metrics"]
                if key.startswith("precision@") and key.split("@")[1].isdigit()
            )
            at_n = [np.mean([r["metrics"][f"precision@{n}"] for r in group]) for n in depths]
            pn_axis.plot(
                depths, at_n, marker=".", color=line.get_color(), linestyle=line.get_linestyle()
            )
        pr_axis.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02))
        pr_axis.set_title(f"precision-recall, {bits} bits")
        pn_axis.set(xlabel="number of retrieved items N", ylabel="precision@N", ylim=(0, 1.02))
        pn_axis.set_xscale("log")
        pn_axis.set_title(f"precision@N, {bits} bits")
        _legend_below(figure, pr_axis, columns=4)
    return figure


def make_figure(
    kind: str, records: Sequence[dict[str, Any]], out_stem: Path, bits: int | None = None
) -> list[Path]:
    if kind == "regions":
        figure = regions_figure(records, bits)
    elif kind == "convergence":
        figure = convergence_figure(records, bits)
    elif kind == "pr":
        figure = pr_figure(records, bits or 64)
    else:
        raise HashbenchError(f"unknown figure {kind!r}; choose one of {', '.join(KINDS)}")
    return save(figure, out_stem)
