"""``hashbench run --config FILE``: the run's options from a TOML file, or from a run's record.

A TOML file takes the flags' names (``methods``, ``dataset``, ``protocol``, ``bits``, ``seeds``,
``feature``, ``image_size``, ``data_root``, ``results``, ``force``) and
per-method settings as tables, ``[set.dpsh]`` holding ``lr = 0.05`` like ``--set dpsh.lr=0.05``.
A record (``.json``) is read as the config it saved, so a recorded run can be run again.
Flags given on the command line override the file.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from hashbench.constraints import Boolean, Fields, Integer, ListOf, MappingOf, Text, check
from hashbench.errors import HashbenchError
from hashbench.records import check_record

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

#: Each key and what its value may be (the types the flags produce; values are checked where
#: the flags' are: method names and settings by the registry, bits and seeds by the plan).
KEYS = {
    "methods": ListOf(Text()),
    "dataset": Text(),
    "protocol": Text(),
    "bits": ListOf(Integer()),
    "seeds": ListOf(Integer()),
    "feature": Text(),
    "image_size": Integer(),
    "data_root": ListOf(Text()),
    "results": Text(),
    "force": Boolean(),
    "set": MappingOf(MappingOf()),
}
PATHS = ("results",)


def read_run_config(path: Path) -> dict[str, Any]:
    """The options ``path`` gives, as the flags would: tuples for lists, Paths for folders."""
    if not path.is_file():
        raise HashbenchError(f"config file {path} does not exist")
    try:
        if path.suffix == ".json":
            raw = from_record(json.loads(path.read_text()), path)
        else:
            raw = tomllib.loads(path.read_text())
    except (json.JSONDecodeError, tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise HashbenchError(f"config file {path} is not valid TOML or JSON: {error}") from error
    unknown = sorted(set(raw) - set(KEYS))
    if unknown:
        raise HashbenchError(
            f"config file {path}: unknown key {', '.join(unknown)}; known: {', '.join(KEYS)}"
        )
    check(raw, Fields({}, KEYS), f"config file {path}")
    options: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, list):
            value = tuple(Path(v) for v in value) if key == "data_root" else tuple(value)
        options[key] = Path(value) if key in PATHS else value
    return options


def from_record(record: Any, path: Path) -> dict[str, Any]:
    """A record's saved config as the options that run it again."""
    config = check_record(record, f"config file {path}", "give a run's record, or a TOML file")[
        "config"
    ]
    options = {
        "methods": [config["method"]],
        "dataset": config["dataset"],
        "protocol": config["protocol"],
        "bits": [config["bits"]],
        "seeds": [config["seed"]],
        "set": {config["method"]: config["params"]},
    }
    for key in ("feature", "image_size"):
        if config.get(key) is not None:
            options[key] = config[key]
    return options
