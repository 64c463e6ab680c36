"""``hashbench status``: a results folder's grid at a glance.

Each cell (method, bits, seed on a protocol) is done (its record, with mAP), running or queued
(a live claim), stale (a claim whose worker stopped beating), failed (a failure file, with its
error line) or pending (in a saved grid, with none of these); a done run that fell on
validation over its hashing phase is marked as tables mark it, and each protocol says how long
its runs on record took. Every file is checked as it is read: one that hashbench did not
write stops the command with one line naming it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hashbench.constraints import Fields, Integer, ListOf, Name, Text, check
from hashbench.errors import HashbenchError
from hashbench.experiment import claims
from hashbench.records import FELL, read_record, run_of, validation_fall

#: ``grids/<digest>.json``, as :meth:`GridRunner.save_grid` writes it.
GRID = Fields(
    {
        "protocol": Name(),
        "cells": ListOf(
            Fields(
                {
                    "method": Name(),
                    "bits": Integer(minimum=1),
                    "seed": Integer(minimum=0),
                    "run": Text(),
                }
            ),
            minimum_length=0,
        ),
    }
)
REWRITE_GRID = "delete it: the next `hashbench run` of that grid writes it again"


@dataclass(frozen=True)
class Cell:
    protocol: str
    method: str
    bits: int
    seed: int
    state: str
    detail: str = ""
    #: A done run's wall time, as its record has it.
    wall_s: float = 0.0
    #: Whether a done run fell on validation over its hashing phase.
    fell: bool = False


def grid_cells(results: Path, timeout: float = claims.DEFAULT_TIMEOUT_S) -> list[Cell]:
    runs: dict[tuple[str, str], Cell] = {}

    def note(
        where: Path, protocol: str, run: str, state: str, detail: str = "", **done: Any
    ) -> None:
        method, bits, seed = run_of(run, where)
        runs[(protocol, run)] = Cell(protocol, method, bits, seed, state, detail, **done)

    for grid_file in sorted((results / "grids").glob("*.json")):
        grid = read_grid(grid_file)
        for cell in grid["cells"]:
            note(grid_file, grid["protocol"], cell["run"], "pending")
    for path in sorted((results / claims.FAILURES).glob("*/*.json")):
        failure = claims.read_json(path) or {}
        log = f" (log: {failure['log']})" if failure.get("log") else ""
        note(path, path.parent.name, path.stem, "failed", f"{failure.get('error', '?')}{log}")
    for path in sorted((results / claims.CLAIMS).glob("*/*.json")):
        claim = claims.read_claim(path)
        if claim is None:
            continue
        if claim["state"] == "queued":
            note(path, path.parent.name, path.stem, "queued", f"job {claim.get('job')}")
        else:
            state = "stale" if claims.is_stale(claim, timeout) else "running"
            note(path, path.parent.name, path.stem, state, claim["worker"])
    for path in sorted((results / "records").glob("*/*.json")):
        record = read_record(path)
        metrics = record["metrics"]
        key = next((k for k in metrics if k.startswith("map@")), "map")
        fell = validation_fall(record.get("history")) is not None
        value = f"{metrics.get(key, float('nan')):.4f}{FELL if fell else ''}"
        wall = record.get("timings", {}).get("wall_s", 0.0)
        note(path, path.parent.name, path.stem, "done", value, wall_s=wall, fell=fell)
    return sorted(runs.values(), key=lambda c: (c.protocol, c.method, c.bits, c.seed))


def read_grid(path: Path) -> dict[str, Any]:
    try:
        grid = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise HashbenchError(f"cannot read grid file {path} ({error}); {REWRITE_GRID}") from error
    return check(grid, GRID, f"grid file {path}", REWRITE_GRID)


def render_status(cells: list[Cell]) -> str:
    """One Markdown table per protocol (methods x bits/seed), then counts and failures."""
    if not cells:
        return "no runs: neither records nor a saved grid in this results folder\n"
    lines: list[str] = []
    for protocol in sorted({c.protocol for c in cells}):
        mine = [c for c in cells if c.protocol == protocol]
        columns = sorted({(c.bits, c.seed) for c in mine})
        lines.append(f"## {protocol}\n")
        lines.append("| method | " + " | ".join(f"{b} bits s{s}" for b, s in columns) + " |")
        lines.append("|:--|" + "--:|" * len(columns))
        for method in sorted({c.method for c in mine}):
            by_column = {(c.bits, c.seed): c for c in mine if c.method == method}
            row = []
            for column in columns:
                cell = by_column.get(column)
                row.append(
                    "" if cell is None else cell.detail if cell.state == "done" else cell.state
                )
            lines.append(f"| {method} | " + " | ".join(row) + " |")
        done = [c for c in mine if c.state == "done"]
        hours = sum(c.wall_s for c in done) / 3600
        lines.append(f"\n{len(done)} run(s) on record, {hours:.1f} h of wall time in all.")
        if any(c.fell for c in done):
            lines.append(
                f"{FELL}: fell on validation over its hashing phase (see `hashbench table`)."
            )
        lines.append("")
    counts = {state: sum(c.state == state for c in cells) for state in
              ("done", "running", "queued", "stale", "failed", "pending")}  # fmt: skip
    lines.append(", ".join(f"{n} {state}" for state, n in counts.items() if n) or "nothing")
    for cell in cells:
        if cell.state == "failed":
            lines.append(
                f"failed: {cell.protocol} {cell.method} {cell.bits} bits seed {cell.seed}: "
                f"{cell.detail}"
            )
    return "\n".join(lines) + "\n"
