"""Copy methods' 48-bit, seed-0 runs at their defaults from one results folder to another.

A method's run at its defaults is also its sweep's point at the default value (the same config
hash, so the same record name): the grids copy it across instead of training it twice.

    python3 results/copy-default-runs.py FROM TO PROTOCOL METHOD [METHOD ...]

FROM and TO are results folders (``results``, ``results/sweep``); a record already in TO is
kept. Records carry their codes (``codes/<protocol>/<name>.npz``) with them. A FROM that does
not exist, or a record there that cannot be read, stops it with one line.
"""

import shutil
import sys
from pathlib import Path

from hashbench.errors import HashbenchError
from hashbench.records import read_record, variant


def copy_default_runs(source: Path, target: Path, protocol: str, methods: list[str]) -> None:
    if not source.is_dir():
        raise HashbenchError(f"no results folder {source}: give the folder the runs are in")
    for method in methods:
        for record in (source / "records" / protocol).glob(f"{method}-48bits-seed0-*.json"):
            if variant(read_record(record)):  # against the defaults as they are now
                continue
            for kind, suffix in (("codes", ".npz"), ("records", ".json")):  # the record last
                origin = source / kind / protocol / (record.stem + suffix)
                copy = target / kind / protocol / origin.name
                if origin.exists() and not copy.exists():
                    copy.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(origin, copy)


if __name__ == "__main__":
    if len(sys.argv) < 5:
        sys.exit("usage: " + __doc__.split("\n\n")[2].strip())
    try:
        copy_default_runs(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4:])
    except HashbenchError as error:
        sys.exit(f"copy-default-runs.py: {error}")
