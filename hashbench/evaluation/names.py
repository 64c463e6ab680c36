"""Metric names as the evaluator, records, tables and protocol files write them (no torch here:
commands that only read records import this).

``map``, ``map_tie`` and (multi-label) ``wap`` are scored at a protocol's cut-off K and
recorded as ``<name>@K`` (``@all``: the whole database); ``precision@N`` and, on multi-label
data, ``ndcg@N``, ``ndcg_tie@N``, ``acg@N`` and ``acg_tie@N`` at depths of their own.
"""

from __future__ import annotations

#: Scored at the protocol's cut-off K.
AT_CUT_OFF = ("map", "map_tie", "wap")
#: The graded metrics scored at a depth N of their own.
GRADED_AT_DEPTH = ("ndcg", "ndcg_tie", "acg", "acg_tie")
#: Their usual depths: DSRH's evaluation code scores the top 100; 1,000 is the CIFAR-10
#: mosaics' headline depth (see protocols/cifar10-mosaic.toml).
GRADED_AT = (100, 1000)


def graded_depth(name: str) -> int | None:
    """N of ``ndcg@N``, ``ndcg_tie@N``, ``acg@N`` or ``acg_tie@N``; None for any other name."""
    kind, _, depth = name.partition("@")
    if kind in GRADED_AT_DEPTH and depth.isdigit() and int(depth) > 0:
        return int(depth)
    return None


def is_headline(name: str) -> bool:
    """Whether a protocol file may name ``name`` among its headline metrics."""
    return name in AT_CUT_OFF or graded_depth(name) is not None


def is_graded(name: str) -> bool:
    """Whether the headline metric ``name`` needs graded relevance (multi-label data)."""
    return name == "wap" or graded_depth(name) is not None
