"""The paper's figures from run records: mAP against regions N, convergence, precision-recall.

Sized for one column of a two-column paper (3.4 inches wide, 8-point type), saved as PNG and
PDF. Figures read records only, so they can be redrawn at any time without re-running.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402

from hashbench.errors import HashbenchError  # noqa: E402
from hashbench.fileio import atomic_write  # noqa: E402
from hashbench.tables import method_rank, metric_key  # noqa: E402

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
}
KINDS = ("regions", "convergence", "pr")


def save(figure: plt.Figure, stem: Path) -> list[Path]:
    """PNG (for screens) and PDF (for papers), each written atomically."""
    paths = []
    for suffix in ("png", "pdf"):
        path = stem.with_suffix(f".{suffix}")
        atomic_write(path, lambda handle, s=suffix: figure.savefig(handle, format=s, dpi=300))
        paths.append(path)
    plt.close(figure)
    return paths


def _label(name: str) -> str:
    return name.upper()


def regions_figure(records: Iterable[dict[str, Any]], method: str = "dmrh") -> plt.Figure:
    """mAP against the number of regions N: a line per bit length, a panel per protocol."""
    points: dict[str, dict[int, dict[int, list[float]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list))
    )
    for record in records:
        if record["method"] == method and "regions" in record["config"]["params"]:
            value = record["metrics"][metric_key(record, "map")]
            regions = int(record["config"]["params"]["regions"])
            points[record["protocol"]["name"]][record["bits"]][regions].append(value)
    if not points:
        raise HashbenchError(
            f"no {method} records with a 'regions' parameter; run the N sweep first"
        )
    with plt.rc_context(STYLE):
        figure, axes = plt.subplots(
            1, len(points), figsize=(COLUMN_WIDTH_IN * min(len(points), 2), 2.4), squeeze=False
        )
        for axis, (protocol, by_bits) in zip(axes[0], sorted(points.items()), strict=True):
            for bits, by_regions in sorted(by_bits.items()):
                n = sorted(by_regions)
                mean = [np.mean(by_regions[k]) for k in n]
                std = [np.std(by_regions[k]) for k in n]
                axis.errorbar(n, mean, yerr=std, marker="o", capsize=2, label=f"{bits} bits")
            axis.set(title=protocol, xlabel="regions per side N", ylabel="mAP")
            axis.set_xticks(sorted({k for b in by_bits.values() for k in b}))
            axis.legend(loc="lower right")
        figure.tight_layout()
    return figure


def convergence_figure(records: Iterable[dict[str, Any]], bits: int | None = None) -> plt.Figure:
    """Training loss and validation mAP against epoch, a line per method (first seed, one
    bit length), for the hashing phase of deep methods."""
    histories: dict[str, list[dict[str, Any]]] = {}
    for record in sorted(records, key=lambda r: (r["seed"], r["bits"])):
        history = record.get("history")
        if not history or (bits is not None and record["bits"] != bits):
            continue
        key = record["method"]
        if "regions" in record["config"]["params"]:
            key += f" N={record['config']['params']['regions']}"
        histories.setdefault(key, [e for e in history if e.get("phase", "hashing") == "hashing"])
    if not histories:
        raise HashbenchError("no records with a training history (deep methods) to plot")
    with plt.rc_context(STYLE):
        figure, (loss_axis, map_axis) = plt.subplots(
            2, 1, figsize=(COLUMN_WIDTH_IN, 3.6), sharex=True
        )
        for key in sorted(histories, key=lambda k: (method_rank(k.split()[0]), k)):
            history = histories[key]
            epochs = [entry["epoch"] for entry in history]
            loss_axis.plot(epochs, [entry["loss"] for entry in history], label=_label(key))
            if all("val_map" in entry for entry in history):
                map_axis.plot(epochs, [entry["val_map"] for entry in history], label=_label(key))
        loss_axis.set(ylabel="training loss")
        map_axis.set(xlabel="epoch", ylabel="validation mAP")
        loss_axis.legend(loc="upper right", ncols=2)
        figure.tight_layout()
    return figure


def pr_figure(records: Iterable[dict[str, Any]], bits: int) -> plt.Figure:
    """Precision-recall (one point per Hamming radius) per method, mean over seeds."""
    curves: dict[str, list[tuple[np.ndarray, np.ndarray]]] = defaultdict(list)
    for record in records:
        if record["bits"] == bits and "pr_precision" in record.get("curves", {}):
            curve = record["curves"]
            curves[record["method"]].append(
                (np.asarray(curve["pr_recall"]), np.asarray(curve["pr_precision"]))
            )
    if not curves:
        raise HashbenchError(f"no records at {bits} bits with a precision-recall curve")
    with plt.rc_context(STYLE):
        figure, axis = plt.subplots(figsize=(COLUMN_WIDTH_IN, 2.6))
        for method in sorted(curves, key=lambda m: (method_rank(m), m)):
            recall = np.mean([r for r, _ in curves[method]], axis=0)
            precision = np.mean([p for _, p in curves[method]], axis=0)
            axis.plot(recall, precision, marker=".", label=_label(method))
        axis.set(
            xlabel="recall", ylabel="precision", title=f"{bits} bits", xlim=(0, 1), ylim=(0, 1)
        )
        axis.legend(loc="upper right", ncols=2)
        figure.tight_layout()
    return figure


def make_figure(
    kind: str, records: Sequence[dict[str, Any]], out_stem: Path, bits: int | None = None
) -> list[Path]:
    if kind == "regions":
        figure = regions_figure(records)
    elif kind == "convergence":
        figure = convergence_figure(records, bits)
    elif kind == "pr":
        figure = pr_figure(records, bits or 64)
    else:
        raise HashbenchError(f"unknown figure {kind!r}; choose one of {', '.join(KINDS)}")
    return save(figure, out_stem)
