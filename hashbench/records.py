"""One JSON record per finished run, written atomically, found again by its config hash.

A record is the unit of resumption: a run whose record exists is skipped, a crashed run has
none. Its file name carries the config hash, so changing any setting (a hyper-parameter, the
protocol file, the data set's bytes) makes a new record instead of reusing an old one. Records
are checked where they are read, against :data:`RECORD` (the schema version, and every field a
command reads with its type), so a hand-edited or foreign file stops a command with one line
naming it instead of a KeyError deep inside a table.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hashbench.constraints import (
    Boolean,
    Fields,
    Integer,
    ListOf,
    MappingOf,
    Name,
    Nullable,
    Real,
    Text,
    check,
    shown,
)
from hashbench.deep.recipes import table_settings
from hashbench.errors import HashbenchError
from hashbench.fileio import atomic_write_text
from hashbench.method import ADDED_PARAMETERS, without_added_defaults
from hashbench.registry import REGISTRY

SCHEMA_VERSION = 1
#: A measured value: any number, NaN included (a metric may be undefined).
MEASURED = Real(finite=False)
#: Every field of a schema-1 record that a command reads, with its type; others are kept as
#: they are (``config_hash``, ``method_origin``, the provenance's details).
RECORD = Fields(
    {
        "method": Name(),
        "bits": Integer(minimum=1),
        "seed": Integer(minimum=0),
        "config": Fields(
            {
                "method": Name(),
                "bits": Integer(minimum=1),
                "seed": Integer(minimum=0),
                "dataset": Text(),
                "protocol": Name(),
                "params": MappingOf(),
            },
            {"feature": Nullable(Text()), "image_size": Nullable(Integer(minimum=1))},
        ),
        "dataset": Fields({"name": Text(), "checksum": Text()}),
        "protocol": Fields(
            {
                "name": Name(),
                "checksum": Text(),
                "topk": Nullable(Integer(minimum=1)),
                "relevance": Text(),
            },
            {"metrics": ListOf(Text())},  # its headline metrics; records before: mAP alone
        ),
        "splits": Fields(
            {"file": Text(), "checksum": Text(), "sizes": MappingOf(Integer(minimum=0))}
        ),
        "metrics": MappingOf(MEASURED),
    },
    {
        "curves": MappingOf(ListOf(MEASURED, minimum_length=0)),
        "history": Nullable(
            ListOf(
                Fields(
                    {"epoch": Integer(minimum=0), "loss": MEASURED},
                    {"phase": Text(), "val_map": MEASURED, "selected": Boolean()},
                ),
                minimum_length=0,
            )
        ),
        "timings": MappingOf(MEASURED),
        "report": MappingOf(),
        "variant": MappingOf(),
        "provenance": Fields({}, {"git": MappingOf(), "hardware": MappingOf()}),
    },
)
#: What :func:`record_path` names a run: method, bits, seed and the config hash's start.
RUN_NAME = re.compile(r"(?P<method>.+)-(?P<bits>\d+)bits-seed(?P<seed>\d+)-[0-9a-f]{12}")


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


def run_of(name: str, where: object) -> tuple[str, int, int]:
    """(method, bits, seed) of a run's name, the stem :func:`record_path` gives it; ``where``
    (the file that names it) is blamed when it is not one."""
    found = RUN_NAME.fullmatch(name)
    if found is None:
        raise HashbenchError(
            f"{where}: {name!r} is not a run's name (METHOD-BITSbits-seedSEED-HASH); hashbench "
            "did not write it: remove it"
        )
    return found["method"], int(found["bits"]), int(found["seed"])


def codes_path(results: Path, protocol: str, run: str) -> Path:
    """The run's codes (:mod:`hashbench.evaluation.codes_file`), kept beside its record."""
    return results / "codes" / protocol / f"{run}.npz"


def write_record(path: Path, record: dict[str, Any]) -> None:
    record = {"schema": SCHEMA_VERSION, **record}
    atomic_write_text(path, json.dumps(record, indent=1, sort_keys=True, default=str) + "\n")


def read_record(path: Path) -> dict[str, Any]:
    """The record at ``path``, every field a command reads checked (one line if one is not)."""
    redo = "delete it (and its codes) and run that run again, or restore it"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise HashbenchError(f"cannot read record {path}: {error}; {redo}") from error
    return check_record(record, f"record {path}", redo)


def check_record(record: Any, what: str, remedy: str) -> dict[str, Any]:
    """``record`` if it is one of this schema with every field a command reads; else one line:
    ``<what> ...; <remedy>``."""
    if not isinstance(record, dict) or "schema" not in record:
        raise HashbenchError(f"{what} is not a hashbench record (it has no schema); {remedy}")
    if record["schema"] != SCHEMA_VERSION:
        raise HashbenchError(
            f"{what} has schema {shown(record['schema'])}, and this hashbench reads schema "
            f"{SCHEMA_VERSION}: read it with the hashbench that wrote it, or {remedy}"
        )
    return check(record, RECORD, what, remedy)


def records_folder(results: Path) -> Path:
    """``results/records``; a folder without one stops the command with what to run first."""
    records_dir = results / "records"
    if not records_dir.is_dir():
        raise HashbenchError(
            f"no records folder {records_dir}; run `hashbench run --results {results}` first"
        )
    return records_dir


def iter_records(records_dir: Path) -> Iterator[dict[str, Any]]:
    """Every record under ``records_dir`` (searched recursively), in path order."""
    for _, record in iter_record_files(records_dir):
        yield record


def iter_record_files(records_dir: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every record with its file, whose stem names the run (and its codes)."""
    for path in sorted(Path(records_dir).rglob("*.json")):
        yield path, read_record(path)


#: How tables and ``hashbench status`` mark a run (or a cell with one) that
#: :func:`validation_fall` finds.
FELL = "‡"


#: How far below its first epoch a hashing phase may end on validation before it counts as
#: fallen: about the spread of validation mAP between neighbouring epochs of a run that is
#: converging (DPSH's last four on cifar10-dmrh: 0.885, 0.889, 0.889, 0.891).
FALL_TOLERANCE = 0.01


def validation_fall(history: list[dict[str, Any]] | None) -> tuple[float, float] | None:
    """The first and last hashing epochs' validation mAP where the last is lower by more than
    :data:`FALL_TOLERANCE`: training made the codes worse by the phase's end, so model
    selection kept an earlier epoch (DSH at 128 bits on cifar10-dmrh fell from 0.797 to 0.306
    and kept epoch 1, whose number is mostly the shared warm start's). The loss may still look
    sound; the divergence check catches only a loss that explodes. None where the phase held,
    has no validation, or its first or last score is not finite."""
    scores = [e["val_map"] for e in history or [] if e.get("phase") == "hashing" and "val_map" in e]
    if len(scores) < 2 or not all(math.isfinite(s) for s in (scores[0], scores[-1])):
        return None
    if scores[-1] >= scores[0] - FALL_TOLERANCE:
        return None
    return scores[0], scores[-1]


def variant(record: dict[str, Any]) -> dict[str, Any]:
    """The record's settings that differ from its method's defaults as they are now, so that a
    default changed since the run (a learning rate set from a sweep, a protocol's budget) shows
    the older run as the variant it has become; the variant stored at run time where the
    method is not installed."""
    params = (record.get("config") or {}).get("params")
    found = (
        None
        if params is None
        else departures(record["method"], record["bits"], params, _protocol_settings_now(record))
    )
    return dict(record.get("variant") or {}) if found is None else found


#: What a protocol sets for a deep method besides its ``[recipe]`` table
#: (:func:`hashbench.deep.recipes.protocol_settings`): a run's own, kept as it ran.
_BESIDES_THE_TABLE = ("val_database", "clip_grad_norm")


def _protocol_settings_now(record: dict[str, Any]) -> dict[str, Any]:
    """What the record's protocol gave its method, with the ``[recipe]`` table's part read from
    the shipped protocol file as it is now (the table is outside the protocol's checksum, so a
    budget can move without new splits). As the run stored it where the protocol is not a
    shipped one with the same splits, or gave the method nothing (not a deep method)."""
    protocol = record.get("protocol") or {}
    stored = dict(protocol.get("recipe") or {})
    table = _recipe_table(protocol.get("name", ""), protocol.get("checksum", ""))
    params = (record.get("config") or {}).get("params") or {}
    if not stored or table is None or record["method"] not in REGISTRY.names():
        return stored
    scratch = getattr(REGISTRY.declaration(record["method"]), "scratch_recipe", {})
    kept = {key: value for key, value in stored.items() if key in _BESIDES_THE_TABLE}
    preset = params.get("preset", "scratch")
    settings = table_settings(record["method"], record["bits"], scratch, preset, table)
    return {**kept, **settings}


@functools.cache
def _recipe_table(name: str, checksum: str) -> dict[str, Any] | None:
    """The shipped protocol ``name``'s ``[recipe]`` table if its checksum is ``checksum``."""
    from hashbench.splits.protocol import list_protocols

    for protocol in list_protocols():
        if protocol.name == name and protocol.checksum == checksum:
            return protocol.recipe
    return None


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
    if method not in REGISTRY.names():
        return None
    return REGISTRY.declaration(method).default_params(bits)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)
