"""One rule for every method where a run falls: train the cell again at half the rate.

    python3 results/fallen.py RESULTS SWEEP PROTOCOL

A hashing phase that ends lower on held-out validation than it began
(:func:`hashbench.records.validation_fall`, marked ‡ in tables) made its codes worse: model
selection then keeps an early epoch, mostly the shared warm start. Whatever the method, such a
cell (a seed-0 run at the defaults in RESULTS; the other seeds take the rate the first one
settles, as they take the 48-bit sweeps') is trained again in SWEEP at half its rate, then a
quarter, an eighth and a sixteenth, until a run holds. Prints ``METHOD BITS SEED RATE`` for
each run still to make. When none is left, fails where a rate held, saying to set it in the
protocol's ``[recipe.METHOD.BITS]`` table, so that the choice is named in a commit (the run
that held is then the cell's run at the defaults: copy-default-runs.py copies it in). A cell
that fell at every rate on the ladder is left as it is, marked, with a warning.
"""

import sys
from pathlib import Path

from hashbench.errors import HashbenchError
from hashbench.records import iter_records, records_folder, validation_fall, variant

#: How many halvings are tried before a cell is left marked.
STEPS = 4

Cell = tuple[str, int, int]


def ladder(rate: float) -> list[float]:
    """The rates the rule tries below ``rate``, as the runs are named (three figures)."""
    return [float(f"{rate / 2**step:.3g}") for step in range(1, STEPS + 1)]


def fallen_cells(results: Path, protocol: str) -> dict[Cell, float]:
    """Each seed-0 cell whose run at the defaults fell on validation, with its rate."""
    return {
        (record["method"], record["bits"], record["seed"]): record["config"]["params"]["lr"]
        for record in iter_records(records_folder(results) / protocol)
        if record["seed"] == 0
        and not variant(record)
        and validation_fall(record.get("history")) is not None
    }


def lower_rate_runs(sweep: Path, protocol: str) -> dict[Cell, dict[float, bool]]:
    """Per cell, each rate its runs in SWEEP departed to (nothing else) and whether it held."""
    runs: dict[Cell, dict[float, bool]] = {}
    folder = sweep / "records" / protocol
    for record in iter_records(folder) if folder.is_dir() else ():
        departs = variant(record)
        if set(departs) == {"lr"}:
            cell = (record["method"], record["bits"], record["seed"])
            runs.setdefault(cell, {})[departs["lr"]] = validation_fall(record["history"]) is None
    return runs


def apply_rule(results: Path, sweep: Path, protocol: str) -> tuple[list[str], list[str]]:
    """The runs still to make (``METHOD BITS SEED RATE``) and the rates that held."""
    tried_by_cell = lower_rate_runs(sweep, protocol)
    runs, held = [], []
    for (method, bits, seed), rate in sorted(fallen_cells(results, protocol).items()):
        tried = tried_by_cell.get((method, bits, seed), {})
        # a rate swept off the ladder (the 48-bit sweeps' 1-2-5 steps) is not one of its tries
        holding = [lr for lr in ladder(rate) if tried.get(lr)]
        untried = [lr for lr in ladder(rate) if lr not in tried]
        if holding:
            held.append(f"[recipe.{method}.{bits}] lr = {max(holding):g}")
        elif untried:
            runs.append(f"{method} {bits} {seed} {untried[0]:g}")
        else:
            print(
                f"fallen.py: warning: {method} at {bits} bits fell at lr {rate:g} and at every "
                f"rate down to {ladder(rate)[-1]:g}; its cell stays marked",
                file=sys.stderr,
            )
    return runs, held


def main(argv: list[str]) -> int | str:
    if len(argv) != 3:
        return "usage: " + __doc__.split("\n\n")[1].strip()
    results, sweep, protocol = argv
    try:
        runs, held = apply_rule(Path(results), Path(sweep), protocol)
    except HashbenchError as error:
        return f"fallen.py: {error}"
    if runs:
        print("\n".join(runs))
    elif held:
        return (
            f"fallen.py: a lower rate held: set {'; '.join(held)} in protocols/{protocol}.toml, "
            "then run the grid again"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
