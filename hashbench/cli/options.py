"""Argument types and the options several commands share, each defined once."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

#: The user's own results, in the folder the command runs from: a first run never writes into
#: a clone's curated results/ (the committed grids say --results results).
DEFAULT_RESULTS = Path("hashbench-results")


def int_list(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one integer")
    return values


def name_list(text: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    if not names:
        raise argparse.ArgumentTypeError("expected comma-separated names")
    return names


def topk_value(text: str) -> int | None:
    if text == "all":
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a positive integer or 'all', got {text!r}"
        ) from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'all', got {text!r}")
    return value


def method_setting(text: str) -> tuple[str, str, Any]:
    """``METHOD.KEY=VALUE``; the value is read as JSON when it parses, else as a string."""
    target, value = key_value(text)
    method, dot, key = target.partition(".")
    if not (dot and method and key):
        raise argparse.ArgumentTypeError(f"expected METHOD.KEY=VALUE, got {text!r}")
    return method, key, value


def key_value(text: str) -> tuple[str, Any]:
    """``KEY=VALUE``, the value read as JSON when it parses, else as a string."""
    key, sep, raw = text.partition("=")
    if not (sep and key):
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(raw)
    except json.JSONDecodeError:
        return key, raw


def add_results(parser: argparse.ArgumentParser, default: Path | None = DEFAULT_RESULTS) -> None:
    """The results folder (records/, splits/, tables): one name in every command."""
    parser.add_argument(
        "--results",
        type=Path,
        default=default,
        help=f"results folder: records/, codes/, splits/ and the tables (default: "
        f"./{DEFAULT_RESULTS}; this repository's committed grid: results)",
    )


def add_seeds(parser: argparse.ArgumentParser, default: tuple[int, ...] | None, shown: str) -> None:
    parser.add_argument(
        "--seeds", type=int_list, default=default, help=f"comma-separated seeds (default: {shown})"
    )


def add_data_root(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-root",
        type=Path,
        action="append",
        help="folder to look for data sets in (repeatable; default: $HASHBENCH_DATA, "
        "else ./data and ../shared/data)",
    )


def add_compare_paper(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--compare-paper",
        action="store_true",
        help="set the DMRH paper's published mAP@5000 beside ours, with the difference",
    )
