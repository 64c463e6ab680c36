"""HTML building blocks of the report: escaping, inlined images, small inline SVG charts.

Everything is inlined (PNG as data URIs, charts as SVG, one style sheet), so the page is one
file that opens offline and fetches nothing.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from hashbench.reporting.figures import SAVE_OPTIONS

#: Inlined figures are drawn for a screen, not for print.
FIGURE_DPI = 150

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1280px;
       padding: 1em 2em; color: #1d1d1f; background: #fff; }
h1 { font-size: 1.6em; } h2 { border-bottom: 2px solid #ccd; padding-bottom: .2em;
     margin-top: 2em; } h3 { margin-top: 1.6em; }
table { border-collapse: collapse; margin: .6em 0; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #d8d8e0; padding: .25em .5em; text-align: right; }
th[scope=row], table.runs td:first-child { text-align: left; }
thead th { background: #eef0f6; text-align: center; }
table.results strong { color: #0a5; } .paper { color: #777; font-size: .85em; }
.wide { overflow-x: auto; max-width: 100%; }
.variant { display: inline-block; max-width: 22em; font-weight: normal; font-size: .85em;
           color: #555; overflow-wrap: anywhere; }
table.overview td { text-align: left; vertical-align: top; }
.ci, .aside { color: #555; font-size: .8em; } .table-note, .table-title { max-width: 60em; }
.table-note { color: #555; font-size: .9em; }
.note { background: #fff7e0; border-left: 4px solid #e8a400; padding: .4em .8em; }
figure { display: inline-block; margin: .5em 1em .5em 0; }
figure img { max-width: 100%; border: 1px solid #eee; }
details { margin: .3em 0; } summary { cursor: pointer; }
dl.kv { display: grid; grid-template-columns: max-content auto; gap: .1em 1em; margin: .4em 1em; }
dl.kv dt { color: #555; } dl.kv dd { margin: 0; font-family: ui-monospace, monospace;
   word-break: break-all; }
.gallery-query { margin: 1em 0 1.6em; }
.strip { display: flex; align-items: flex-start; gap: 4px; margin: 3px 0; }
.strip .who { width: 13em; flex: none; font-size: .9em; }
.hit { text-align: center; font-size: .75em; line-height: 1.2; }
.hit img, .query img { width: 48px; height: 48px; image-rendering: pixelated; display: block; }
.hit.relevant img { outline: 3px solid #1a9e3f; }
.hit.irrelevant img { outline: 3px solid #d62d20; }
.hit .mark { font-weight: bold; } .hit.relevant .mark { color: #1a9e3f; }
.hit.irrelevant .mark { color: #d62d20; } .noimage { width: 48px; height: 48px; background: #eee; }
svg.bits rect.bar { fill: #4a6fd0; } svg.bits line { stroke: #999; stroke-dasharray: 2 2; }
"""


def escape(value: Any) -> str:
    return html.escape(str(value))


def document(title: str, body: Iterable[str]) -> str:
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{escape(title)}</title>",
            f"<style>{STYLE}</style></head><body>",
            *body,
            "</body></html>",
            "",
        ]
    )


def figure_img(figure: Figure, alt: str) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=FIGURE_DPI, **SAVE_OPTIONS)
    return f'<figure class="plot">{_png_img(buffer.getvalue(), alt)}</figure>'


def thumbnail_img(image: np.ndarray, alt: str) -> str:
    """``image``: uint8 (H, W, C) with C = 1 or 3, shown enlarged with sharp pixels."""
    pixels = image[..., 0] if image.shape[-1] == 1 else image
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", optimize=True)
    return _png_img(buffer.getvalue(), alt)


def _png_img(data: bytes, alt: str) -> str:
    encoded = base64.b64encode(data).decode("ascii")
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{encoded}">'


def key_values(items: Mapping[str, Any]) -> str:
    rows = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in items.items())
    return f'<dl class="kv">{rows}</dl>'


def table(header: Iterable[str], rows: Iterable[Iterable[str]], css: str = "") -> str:
    """Cells are HTML already (escape text before passing it)."""
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def bit_balance_svg(ones_per_bit: np.ndarray, height: int = 40, bar: int = 4) -> str:
    """One bar per bit, its height the fraction of ones; the dashed line marks 0.5."""
    width = bar * len(ones_per_bit)
    bars = "".join(
        f'<rect class="bar" x="{i * bar}" y="{height * (1 - f):.1f}" width="{bar - 1}" '
        f'height="{height * f:.1f}"><title>bit {i}: {f:.3f} ones</title></rect>'
        for i, f in enumerate(np.asarray(ones_per_bit, dtype=float))
    )
    half = f'<line x1="0" x2="{width}" y1="{height / 2}" y2="{height / 2}"/>'
    return (
        f'<svg class="bits" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><title>fraction of ones per bit</title>{bars}{half}</svg>'
    )
