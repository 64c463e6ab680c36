"""One rule for every method where a run falls: train the cell again at half the rate.

    python3 results/fallen.py RESULTS SWEEP PROTOCOL

A hashing phase that ends lower on held-out validation than it began
(:func:`hashbench.records.validation_fall`, marked ‡ in tables) made its codes worse: model
selection then keeps an early epoch, mostly the shared warm start. Whatever the method, such a
cell (a run at the defaults in RESULTS) is trained again at half its rate, in SWEEP, and again
at half that, until a run holds: prints ``METHOD BITS SEED RATE`` for each run still to make
(nothing when none is). Where a lower rate held, it fails, saying to set the highest rate that
held in the protocol's ``[recipe.METHOD.BITS]`` table, so that the choice is named in a commit;
the run that held is then the cell's run at the defaults (copy it with copy-default-runs.py).
A cell that fell at every rate down to a sixteenth stops it too: it stays marked.
"""

import sys
from pathlib import Path
from typing import Any

from hashbench.errors import HashbenchError
from hashbench.records import iter_records, records_folder, validation_fall, variant

#: The lowest rate tried, as a fraction of the default's, before a cell is left marked.
FLOOR = 1 / 16


def next_runs(results: Path, sweep: Path, protocol: str) -> list[tuple[str, int, int, float]]:
    """(method, bits, seed, rate) of each run the rule still asks for."""
    lower: dict[tuple[str, int, int], dict[float, bool]] = {}
    sweep_folder = sweep / "records" / protocol
    for record in iter_records(sweep_folder) if sweep_folder.is_dir() else ():
        departs = variant(record)
        if set(departs) == {"lr"}:
            cell = (record["method"], record["bits"], record["seed"])
            lower.setdefault(cell, {})[departs["lr"]] = validation_fall(record["history"]) is None
    runs = []
    for record in iter_records(records_folder(results) / protocol):
        if variant(record) or validation_fall(record.get("history")) is None:
            continue
        cell = (record["method"], record["bits"], record["seed"])
        runs += _next_run(cell, record["config"]["params"]["lr"], lower.get(cell, {}), protocol)
    return runs


def _next_run(
    cell: tuple[str, int, int], rate: float, tried: dict[float, bool], protocol: str
) -> list[tuple[str, int, int, float]]:
    method, bits, seed = cell
    below = {lr: held for lr, held in tried.items() if lr < rate}
    held = [lr for lr, ok in below.items() if ok]
    if held:
        raise HashbenchError(
            f"{method} at {bits} bits fell at lr {rate:g} and held at {max(held):g}: set "
            f"[recipe.{method}.{bits}] lr = {max(held):g} in protocols/{protocol}.toml"
        )
    following = min(below, default=rate) / 2
    if following < rate * FLOOR:
        raise HashbenchError(
            f"{method} at {bits} bits fell at every rate from {rate:g} to {min(below):g}; "
            "its cell stays marked"
        )
    return [(method, bits, seed, float(f"{following:.3g}"))]


def main(argv: list[str]) -> Any:
    if len(argv) != 3:
        return "usage: " + __doc__.split("\n\n")[1].strip()
    results, sweep, protocol = argv
    try:
        for method, bits, seed, rate in next_runs(Path(results), Path(sweep), protocol):
            print(method, bits, seed, f"{rate:g}")
    except HashbenchError as error:
        return f"fallen.py: {error}"
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
