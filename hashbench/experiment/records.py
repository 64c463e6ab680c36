"""One JSON record per finished run, written atomically, found again by its config hash.

A record is the unit of resumption: a run whose record exists is skipped, a crashed run has
none. Its file name carries the config hash, so changing any setting (a hyper-parameter, the
protocol file, the data set's bytes) makes a new record instead of reusing an old one.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hashbench.errors import HashbenchError
from hashbench.fileio import atomic_write_text
from hashbench.method import ADDED_PARAMETERS, without_added_defaults

SCHEMA_VERSION = 1


def config_hash(config: dict[str, Any]) -> str:
    """sha256 of the config's canonical JSON: equal settings give equal hashes (a parameter
    added since records began counts only away from its old value)."""
    if "params" in config:
        config = {**config, "params": without_added_defaults(config["params"] or {})}
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def record_path(records_dir: Path, config: dict[str, Any]) -> Path:
    name = (
        f"{config['method']}-{config['bits']}bits-seed{config['seed']}-{config_hash(config)[:12]}"
    )
    return records_dir / config["protocol"] / f"{name}.json"


def run_of(name: str) -> tuple[str, int, int]:
    """(method, bits, seed) of a run's name, the stem :func:`record_path` gives it."""
    method, bits, seed, _ = name.rsplit("-", 3)
    return method, int(bits.removesuffix("bits")), int(seed.removeprefix("seed"))


def codes_path(results: Path, protocol: str, run: str) -> Path:
    """The run's codes (:mod:`hashbench.evaluation.codes_file`), kept beside its record."""
    return results / "codes" / protocol / f"{run}.npz"


def write_record(path: Path, record: dict[str, Any]) -> None:
    record = {"schema": SCHEMA_VERSION, **record}
    atomic_write_text(path, json.dumps(record, indent=1, sort_keys=True, default=str) + "\n")


def read_record(path: Path) -> dict[str, Any]:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise HashbenchError(
            f"cannot read record {path}: {error}; delete it and re-run to redo that run"
        ) from error
    if not isinstance(record, dict) or record.get("schema") != SCHEMA_VERSION:
        raise HashbenchError(f"{path} is not a hashbench record (schema {SCHEMA_VERSION})")
    return record


def iter_records(records_dir: Path) -> Iterator[dict[str, Any]]:
    """Every record under ``records_dir`` (searched recursively), in path order."""
    for _, record in iter_record_files(records_dir):
        yield record


def iter_record_files(records_dir: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every record with its file, whose stem names the run (and its codes)."""
    for path in sorted(Path(records_dir).rglob("*.json")):
        yield path, read_record(path)


def variant(record: dict[str, Any]) -> dict[str, Any]:
    """The record's settings that differ from its method's defaults as they are now, so that a
    default changed since the run (a learning rate set from a sweep) shows the older run as the
    variant it has become; the variant stored at run time where the method is not installed."""
    params = (record.get("config") or {}).get("params")
    settings = (record.get("protocol") or {}).get("recipe") or {}
    found = (
        None if params is None else departures(record["method"], record["bits"], params, settings)
    )
    return dict(record.get("variant") or {}) if found is None else found


def departures(
    method: str, bits: int, params: dict[str, Any], settings: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """The settings in ``params`` other than the installed method's defaults, with what the
    run's protocol set for it (``settings``) counting as defaults (None if the method is not
    installed); a run's record keeps them as its ``variant``."""
    defaults = _defaults(method, bits)
    if defaults is None:
        return None
    defaults = {**defaults, **{k: v for k, v in (settings or {}).items() if k in defaults}}
    # A record older than a parameter lacks it and ran at its old value.
    older = {key: value for key, value in ADDED_PARAMETERS.items() if key in defaults}
    return {
        key: value
        for key, value in {**older, **params}.items()
        if _canonical(defaults.get(key)) != _canonical(value)
    }


@functools.cache
def _defaults(method: str, bits: int) -> dict[str, Any] | None:
    from hashbench.registry import REGISTRY

    if method not in REGISTRY.names():
        return None
    return REGISTRY.get(method)(bits=bits).get_params()


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)
