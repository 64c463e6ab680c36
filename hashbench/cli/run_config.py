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

from hashbench.errors import HashbenchError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

#: Each key and a check of its value (the same types the flags produce).
KEYS: dict[str, tuple[str, Any]] = {
    "methods": ("a list of method names", lambda v: _list_of(v, str)),
    "dataset": ("a name or a path", lambda v: isinstance(v, str)),
    "protocol": ("a name or a .toml path", lambda v: isinstance(v, str)),
    "bits": ("a list of integers", lambda v: _list_of(v, int)),
    "seeds": ("a list of integers", lambda v: _list_of(v, int)),
    "feature": ("a feature name", lambda v: isinstance(v, str)),
    "image_size": ("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    "data_root": ("a list of folders", lambda v: _list_of(v, str)),
    "results": ("a folder", lambda v: isinstance(v, str)),
    "force": ("true or false", lambda v: isinstance(v, bool)),
    "set": ("tables of settings, [set.METHOD]", lambda v: _settings(v)),
}
PATHS = ("results",)


def _list_of(value: Any, kind: type) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(v, kind) and not isinstance(v, bool) for v in value)
    )


def _settings(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(v, dict) for v in value.values())


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
    options: dict[str, Any] = {}
    for key, value in raw.items():
        expected, valid = KEYS[key]
        if not valid(value):
            raise HashbenchError(f"config file {path}: {key} must be {expected}, got {value!r}")
        if isinstance(value, list):
            value = tuple(Path(v) for v in value) if key == "data_root" else tuple(value)
        options[key] = Path(value) if key in PATHS else value
    return options


def from_record(record: Any, path: Path) -> dict[str, Any]:
    """A record's saved config as the options that run it again."""
    config = record.get("config") if isinstance(record, dict) else None
    if not isinstance(config, dict) or "method" not in config:
        raise HashbenchError(f"{path} is not a hashbench record (no config with a method)")
    options = {
        "methods": [config["method"]],
        "dataset": config["dataset"],
        "protocol": config["protocol"],
        "bits": [config["bits"]],
        "seeds": [config["seed"]],
        "set": {config["method"]: config.get("params", {})},
    }
    for key in ("feature", "image_size"):
        if config.get(key) is not None:
            options[key] = config[key]
    return options
