"""Check that a method's default for one setting is the best value of its sweep on validation.

    python3 results/settled.py SWEEP PROTOCOL METHOD SETTING [NAME=VALUE ...]

Reads METHOD's 48-bit, seed-0 runs on PROTOCOL in the results folder SWEEP (``results/sweep``)
that differ from METHOD's defaults as they are now in SETTING at most, prints each value's
held-out validation score, and fails, saying what to change, when a value other than the
default scored higher (an exact tie keeps the default). The grids stop there, so that a default
is moved, and named in a commit, before a grid runs on it. NAME=VALUE (a JSON value, or text)
reads instead the runs that also hold those settings: a comparison made under an earlier
default of another setting (the runs it found pass as they did then).
"""

import sys
from argparse import ArgumentTypeError
from pathlib import Path
from typing import Any

from hashbench.cli.options import key_value
from hashbench.errors import HashbenchError
from hashbench.method import ADDED_PARAMETERS
from hashbench.records import iter_records, variant
from hashbench.reporting.tables import VALIDATION, metric_value

DEFAULT = "default"


def validation_scores(
    sweep: Path, protocol: str, method: str, name: str, held: dict[str, Any] | None = None
) -> dict[str, float]:
    """Validation score of each value of ``name`` tried (``default`` for the default's run),
    among the runs that hold the settings ``held`` and depart from the defaults in no other."""
    held = held or {}
    folder = sweep / "records" / protocol
    if not folder.is_dir():
        raise HashbenchError(f"no records in {folder}: give the sweep's results folder")
    scores = {}
    for record in iter_records(folder):
        if (record["method"], record["bits"], record["seed"]) != (method, 48, 0):
            continue
        # A record older than a parameter lacks it and ran at its old value.
        params = {**ADDED_PARAMETERS, **record["config"]["params"]}
        if any(params.get(key) != value for key, value in held.items()):
            continue
        departs = variant(record)
        if set(departs) - {name} - set(held):
            continue
        value = repr(departs[name]) if name in departs else DEFAULT
        scores[value] = metric_value(record, VALIDATION)[1]
    if DEFAULT not in scores:
        at = "".join(f", {key}={value!r}" for key, value in held.items())
        raise HashbenchError(
            f"no 48-bit seed-0 {method} run at its defaults{at} on {protocol} in {sweep}: "
            "run the sweep first"
        )
    return scores


def settled(sweep: Path, protocol: str, method: str, name: str, *held: str) -> None:
    scores = validation_scores(sweep, protocol, method, name, dict(map(setting, held)))
    print(f"{method}.{name} on validation: {scores}")
    best = max(scores, key=lambda value: (scores[value], value == DEFAULT))
    if best != DEFAULT:
        raise HashbenchError(
            f"{method}.{name}={best} beats the default on validation: make it the default "
            f"(the method's, or the protocol's [recipe.{method}] for a choice on {protocol})"
        )


def setting(text: str) -> tuple[str, Any]:
    """NAME=VALUE, read as `--set` reads its values (JSON where it is JSON, else text)."""
    try:
        return key_value(text)
    except ArgumentTypeError:
        raise HashbenchError(f"{text!r} is not NAME=VALUE") from None


if __name__ == "__main__":
    if len(sys.argv) < 5:
        sys.exit("usage: " + __doc__.split("\n\n")[1].strip())
    try:
        settled(Path(sys.argv[1]), *sys.argv[2:])
    except HashbenchError as error:
        sys.exit(f"settled.py: {error}")
