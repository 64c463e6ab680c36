"""Copy methods' seed-0 runs at their defaults from one results folder to another.

A method's run at its defaults is also its sweep's point at the default value (the same config
hash, so the same record name): the grids copy it across instead of training it twice.

    python3 results/copy-default-runs.py [--bits N,N] FROM TO PROTOCOL METHOD [METHOD ...]

FROM and TO are results folders (``results``, ``results/sweep``); the runs copied are those at
the code lengths ``--bits`` (48, the sweeps' length, unless given); a record already in TO is
kept. Records carry their codes (``codes/<protocol>/<name>.npz``) with them. A FROM that does
not exist, or a record there that cannot be read, stops it with one line.
"""

import itertools
import shutil
import sys
from pathlib import Path

from hashbench.errors import HashbenchError
from hashbench.records import read_record, variant


def copy_default_runs(
    source: Path, target: Path, protocol: str, methods: list[str], lengths: list[int]
) -> None:
    if not source.is_dir():
        raise HashbenchError(f"no results folder {source}: give the folder the runs are in")
    for method, bits in itertools.product(methods, lengths):
        for record in (source / "records" / protocol).glob(f"{method}-{bits}bits-seed0-*.json"):
            if variant(read_record(record)):  # against the defaults as they are now
                continue
            for kind, suffix in (("codes", ".npz"), ("records", ".json")):  # the record last
                origin = source / kind / protocol / (record.stem + suffix)
                copy = target / kind / protocol / origin.name
                if origin.exists() and not copy.exists():
                    copy.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(origin, copy)


if __name__ == "__main__":
    arguments, lengths = sys.argv[1:], "48"
    if arguments[:1] == ["--bits"] and len(arguments) > 1:
        arguments, lengths = arguments[2:], arguments[1]
    if len(arguments) < 4 or not all(n.isdigit() for n in lengths.split(",")):
        sys.exit("usage: " + __doc__.split("\n\n")[2].strip())
    bits = [int(n) for n in lengths.split(",")]
    try:
        copy_default_runs(Path(arguments[0]), Path(arguments[1]), arguments[2], arguments[3:], bits)
    except HashbenchError as error:
        sys.exit(f"copy-default-runs.py: {error}")
