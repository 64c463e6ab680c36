"""Protocols: declarative TOML files that say how a data set is split and scored.

A protocol declares four splits (query, train, validation, database) as draws taken in file
order. Each draw takes its items from one source and may thin them::

    [splits.<name>]
    part = "test"          # a part of the data set        } exactly one
    from = "train"         # "all", "rest" or an earlier split }
    per_class = 100        # stratified: that many of each class    } at most one;
                           # (multi-label: of each concept, see below)
    count = 5000           # uniformly at random                    } none means
    fraction = 0.1         # that share of the source, at random    } all of it
    carve = true           # remove the drawn items from the split they came from

``rest`` is every item not in an earlier split. On multi-label data ``per_class`` draws per
concept, as DeepHash-pytorch's NUS-WIDE split does: through one shuffle, each item counts
towards the first of its concepts whose quota is open, so every concept gets exactly that
many items and none is drawn twice.
A protocol's ``dataset`` is a data set's name or a pattern (``lists-*`` for list-file folders,
``*`` for any): the default for a data set is its own, else the pattern's, else ``*``'s.
Drawing checks what the literature's popular code gets wrong: queries never leak into the
database or the training and validation data, and a seed always gives the same splits.
"""

from __future__ import annotations

import fnmatch
import hashlib
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hashbench.constraints import POSITIVE_INTEGER, Name, check
from hashbench.data.dataset import Dataset
from hashbench.deep.recipes import check_recipe_table
from hashbench.errors import HashbenchError
from hashbench.evaluation.names import AT_CUT_OFF, is_headline
from hashbench.fileio import atomic_write

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib
if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

SPLIT_NAMES = ("query", "train", "validation", "database")
ANY_DATASET = "*"
RELEVANCE_RULES = ("shared-label",)
#: Pairs of splits that must share no item, whatever the protocol.
DISJOINT = (("validation", "train"), ("validation", "query"), ("train", "query"))


@dataclass(frozen=True)
class Protocol:
    """One protocol file, checked. ``checksum`` (of the file's bytes but its ``[recipe]``
    table, :func:`split_checksum`) goes into records."""

    name: str
    dataset: str
    description: str
    reference: str
    relevance: str
    #: Headline metrics (``metric`` in the file: one name or a list): the report's tables.
    #: ``map``, ``map_tie`` and ``wap`` are at ``topk``; ``ndcg@N`` and the like at their N.
    metrics: tuple[str, ...]
    #: Cut-off K of mAP@K; ``None`` ranks the whole database ("all" in the file).
    topk: int | None
    bits: tuple[int, ...]
    #: The declared draws, in file order: split name -> its table.
    splits: dict[str, dict[str, Any]]
    checksum: str
    #: The protocol used for ``dataset`` when none is named (``dataset = "*"``: for any data
    #: set without a default of its own).
    default: bool = False
    query_in_database: bool = False
    source: str = ""
    #: ``[recipe]``: the shared ``scratch`` recipe's settings for deep methods on this
    #: protocol (its budget for a large training set); a method's own values and the user's
    #: ``--set`` come first. A ``[recipe.<method>]`` table in it holds one method's settings
    #: chosen on this protocol, above the method's own values and beneath ``--set``, and a
    #: ``[recipe.<method>.<bits>]`` table in that one its settings at one code length
    #: (:func:`hashbench.deep.recipes.protocol_settings`).
    recipe: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class Splits:
    """Sorted int64 indices into the data set, one array per split."""

    query: np.ndarray
    train: np.ndarray
    validation: np.ndarray
    database: np.ndarray


# -- reading protocol files ------------------------------------------------------------------
def _builtin_files() -> dict[str, Traversable]:
    package = resources.files("hashbench.protocols")
    return {
        entry.name[: -len(".toml")]: entry
        for entry in package.iterdir()
        if entry.name.endswith(".toml")
    }


def list_protocols() -> list[Protocol]:
    return [load_protocol(name) for name in sorted(_builtin_files())]


def load_protocol(name_or_path: str) -> Protocol:
    """A shipped protocol by name, or any protocol file by path (named after the file)."""
    files = _builtin_files()
    if name_or_path in files:
        entry = files[name_or_path]
        return parse_protocol(name_or_path, entry.read_bytes(), str(entry))
    path = Path(name_or_path)
    if path.is_file():
        # The name becomes a folder of records, codes and claims: it must stay one folder.
        name = check(path.stem, Name(), f"protocol file {path}: its name", "rename the file")
        return parse_protocol(name, path.read_bytes(), str(path))
    if path.suffix == ".toml":
        raise HashbenchError(f"protocol file {path} does not exist")
    raise HashbenchError(
        f"unknown protocol {name_or_path!r}; known protocols: {', '.join(sorted(files))} "
        "(or pass the path to a .toml file)"
    )


def serves(protocol: Protocol, dataset: str) -> bool:
    """Whether ``protocol`` is for the data set named ``dataset`` (by name or pattern)."""
    return fnmatch.fnmatchcase(dataset, protocol.dataset)


def default_protocol(dataset: str) -> Protocol:
    """The protocol marked default for ``dataset``: its own, else a pattern's, else ``*``'s."""
    defaults = [p for p in list_protocols() if p.default and serves(p, dataset)]
    tiers = (
        lambda p: p.dataset == dataset,
        lambda p: p.dataset not in (dataset, ANY_DATASET),
        lambda p: p.dataset == ANY_DATASET,
    )
    for tier in tiers:
        found = [p for p in defaults if tier(p)]
        wanted = found[0].dataset if found else dataset
        if len(found) > 1:
            names = ", ".join(p.source for p in found)
            raise HashbenchError(
                f"several protocol files say default = true for data set {wanted!r}: {names}; "
                "keep it in one"
            )
        if found:
            return found[0]
    raise HashbenchError(f"no default protocol for data set {dataset!r}; pass --protocol")


class _Checker:
    """Reads typed keys from one table of a protocol file, naming file and key on errors."""

    def __init__(self, source: str, table: dict[str, Any], where: str = "") -> None:
        self.source, self.table, self.where = source, table, where

    def fail(self, message: str) -> HashbenchError:
        return HashbenchError(f"protocol file {self.source}: {message}")

    def only(self, allowed: tuple[str, ...]) -> None:
        unknown = [key for key in self.table if key not in allowed]
        if unknown:
            raise self.fail(
                f"unknown key '{self.where}{unknown[0]}'; allowed keys: {', '.join(allowed)}"
            )

    def get(
        self,
        key: str,
        check: Callable[[Any], bool],
        expected: str,
        default: Any = ...,
    ) -> Any:
        if key not in self.table:
            if default is ...:
                raise self.fail(f"missing key '{self.where}{key}' ({expected})")
            return default
        value = self.table[key]
        if not check(value):
            raise self.fail(f"key '{self.where}{key}' must be {expected}, got {value!r}")
        return value


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and value != ""


def parse_protocol(name: str, content: bytes, source: str) -> Protocol:
    """Check every key of a protocol file; any mistake is one error naming file and key."""
    try:
        table = tomllib.loads(content.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise HashbenchError(f"protocol file {source} is not valid TOML: {error}") from error
    top = _Checker(source, table)
    top.only(
        (
            "dataset",
            "default",
            "description",
            "reference",
            "relevance",
            "metric",
            "topk",
            "bits",
            "query_in_database",
            "splits",
            "recipe",
        )
    )
    topk = top.get(
        "topk", lambda v: POSITIVE_INTEGER.fits(v) or v == "all", 'a positive integer or "all"'
    )
    bits = top.get(
        "bits",
        lambda v: isinstance(v, list) and v and all(POSITIVE_INTEGER.fits(b) for b in v),
        "a non-empty list of positive integers",
    )
    splits = top.get("splits", lambda v: isinstance(v, dict), "a table of [splits.<name>] tables")
    return Protocol(
        name=name,
        dataset=top.get("dataset", _is_text, 'a data set name, or "*" for any'),
        description=top.get("description", _is_text, "a one-line text"),
        reference=top.get("reference", _is_text, "a text naming the source"),
        relevance=top.get("relevance", lambda v: v in RELEVANCE_RULES, f"one of {RELEVANCE_RULES}"),
        metrics=_headline(top),
        topk=None if topk == "all" else topk,
        bits=tuple(bits),
        splits=_parse_splits(source, splits),
        checksum=split_checksum(content),
        default=top.get("default", lambda v: isinstance(v, bool), "true or false", False),
        query_in_database=top.get(
            "query_in_database", lambda v: isinstance(v, bool), "true or false", False
        ),
        source=source,
        recipe=_recipe(top),
    )


def _recipe(top: _Checker) -> dict[str, Any]:
    """``[recipe]``: settings (name = value) and ``[recipe.<method>]`` tables of settings, each
    a setting of the deep recipe or of that method."""
    recipe = top.get(
        "recipe",
        _is_recipe,
        "a [recipe] table of deep recipe settings (name = value), with [recipe.<method>] "
        "tables of one method's settings and [recipe.<method>.<bits>] tables in those",
        {},
    )
    if not recipe:
        return recipe
    try:
        check_recipe_table(recipe)
    except HashbenchError as error:
        raise top.fail(str(error)) from error
    return recipe


def _is_recipe(value: Any) -> bool:
    """Settings (name = value), [recipe.<method>] tables of settings and, in those,
    [recipe.<method>.<bits>] tables of settings; no deeper."""

    def nested(table: Any, depth: int) -> bool:
        return isinstance(table, dict) and all(
            not isinstance(x, dict) or (depth > 0 and nested(x, depth - 1)) for x in table.values()
        )

    return nested(value, 2)


def _headline(top: _Checker) -> tuple[str, ...]:
    """``metric``: one headline metric's name, or a non-empty list of them."""
    expected = (
        f"one of {', '.join(AT_CUT_OFF)} or ndcg@N, acg@N (ndcg_tie@N, acg_tie@N), "
        "or a non-empty list of them"
    )

    def names(value: Any) -> list[Any]:
        return [value] if isinstance(value, str) else value if isinstance(value, list) else []

    def fits(value: Any) -> bool:
        found = names(value)
        return bool(found) and all(isinstance(m, str) and is_headline(m) for m in found)

    return tuple(names(top.get("metric", fits, expected)))


def split_checksum(content: bytes) -> str:
    """sha256 of a protocol file's bytes less its ``[recipe]`` and ``[recipe.<method>]``
    tables (each from its header to the next table or the end): what decides the splits and the
    metric. A deep run's record holds the recipe's values in its parameters already, so a
    protocol's budget can be tuned without renaming the runs it does not touch (the classic
    methods'); a file without the tables keeps the checksum of its bytes."""
    kept, in_recipe = [], False
    for line in content.splitlines(keepends=True):
        header = line.split(b"#")[0].strip()
        if header.startswith(b"[") and not header.startswith(b"[["):
            in_recipe = header == b"[recipe]" or header.startswith(b"[recipe.")
        if not in_recipe:
            kept.append(line)
    return hashlib.sha256(b"".join(kept)).hexdigest()


def _parse_splits(source: str, splits: dict[str, Any]) -> dict[str, dict[str, Any]]:
    checker = _Checker(source, splits, "splits.")
    checker.only(SPLIT_NAMES)
    for name in SPLIT_NAMES:
        checker.get(name, lambda v: isinstance(v, dict), f"a [splits.{name}] table")
    parsed: dict[str, dict[str, Any]] = {}
    for name, rule in splits.items():
        draw = _Checker(source, rule, f"splits.{name}.")
        draw.only(("part", "from", "per_class", "count", "fraction", "carve"))
        if ("part" in rule) == ("from" in rule):
            raise draw.fail(f"[splits.{name}] needs exactly one of 'part' and 'from'")
        earlier = tuple(parsed)
        draw.get("part", _is_text, "the name of a part of the data set", None)
        origin = draw.get(
            "from",
            ("all", "rest", *earlier).__contains__,
            f'"all", "rest" or an earlier split ({", ".join(earlier) or "none yet"})',
            None,
        )
        amounts = [key for key in ("per_class", "count", "fraction") if key in rule]
        if len(amounts) > 1:
            raise draw.fail(f"[splits.{name}] has {' and '.join(amounts)}; keep at most one")
        draw.get("per_class", POSITIVE_INTEGER.fits, "a positive integer", None)
        draw.get("count", POSITIVE_INTEGER.fits, "a positive integer", None)
        draw.get(
            "fraction",
            lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v <= 1,
            "a number in (0, 1]",
            None,
        )
        carve = draw.get("carve", lambda v: isinstance(v, bool), "true or false", False)
        if carve and origin not in earlier:
            raise draw.fail(
                f"key 'splits.{name}.carve' needs 'from' = an earlier split to carve from"
            )
        parsed[name] = dict(rule)
    return parsed


# -- drawing splits --------------------------------------------------------------------------
def draw_splits(protocol: Protocol, dataset: Dataset, seed: int) -> Splits:
    """The protocol's splits of ``dataset``: the same (protocol, data, seed), the same splits."""
    if not serves(protocol, dataset.name):
        raise HashbenchError(
            f"protocol {protocol.name!r} is for data set {protocol.dataset!r}, not "
            f"{dataset.name!r}; pass a protocol for {dataset.name} or leave --protocol out "
            "to use its default"
        )
    rng = np.random.default_rng(seed)
    drawn: dict[str, np.ndarray] = {}
    taken = np.zeros(len(dataset), dtype=bool)
    for name, rule in protocol.splits.items():
        source = _source_items(protocol, dataset, rule, drawn, taken)
        chosen = _draw(protocol, dataset, name, rule, source, rng)
        if rule.get("carve", False):
            drawn[rule["from"]] = np.setdiff1d(drawn[rule["from"]], chosen, assume_unique=True)
        drawn[name] = chosen
        taken[chosen] = True
    splits = Splits(**drawn)
    _check_invariants(protocol, dataset, splits)
    return splits


def _source_items(
    protocol: Protocol,
    dataset: Dataset,
    rule: dict[str, Any],
    drawn: dict[str, np.ndarray],
    taken: np.ndarray,
) -> np.ndarray:
    if "part" in rule:
        if rule["part"] not in dataset.parts:
            raise HashbenchError(
                f"protocol {protocol.name!r} draws from part {rule['part']!r}, but data set "
                f"{dataset.name!r} has parts {', '.join(dataset.parts)}; write a protocol "
                "file for its layout and pass it with --protocol"
            )
        return np.asarray(dataset.parts[rule["part"]], dtype=np.int64)
    if rule["from"] == "all":
        return np.arange(len(dataset), dtype=np.int64)
    if rule["from"] == "rest":
        return np.flatnonzero(~taken).astype(np.int64)
    return drawn[rule["from"]]


def _draw(
    protocol: Protocol,
    dataset: Dataset,
    name: str,
    rule: dict[str, Any],
    source: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Sorted indices drawn from ``source`` (sorted) as ``rule`` says."""
    if "per_class" in rule:
        return _draw_per_class(protocol, dataset, name, rule["per_class"], source, rng)
    if "count" in rule:
        count = rule["count"]
    elif "fraction" in rule:
        count = round(rule["fraction"] * len(source))
    else:
        return source.copy()
    if count > len(source):
        raise HashbenchError(
            f"protocol {protocol.name!r}: split {name!r} needs {count} items but its source "
            f"has only {len(source)} in data set {dataset.name!r}"
        )
    return np.sort(source[rng.permutation(len(source))[:count]])


def _draw_per_class(
    protocol: Protocol,
    dataset: Dataset,
    name: str,
    per_class: int,
    source: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """``per_class`` items of every class: shuffle once, keep each class's first ones."""
    if dataset.multi_label:
        return _draw_per_concept(protocol, dataset, name, per_class, source, rng)
    available = np.bincount(dataset.labels[source], minlength=len(dataset.class_names))
    short = np.flatnonzero(available < per_class)
    if len(short):
        label = short[0]
        raise HashbenchError(
            f"protocol {protocol.name!r}: split {name!r} needs {per_class} items per class "
            f"but class {dataset.class_names[label]!r} of {dataset.name!r} has only "
            f"{available[label]} in its source"
        )
    shuffled = source[rng.permutation(len(source))]
    labels = dataset.labels[shuffled]
    order = np.argsort(labels, kind="stable")
    grouped = labels[order]
    rank_in_class = np.arange(len(grouped)) - np.searchsorted(grouped, grouped, side="left")
    return np.sort(shuffled[order[rank_in_class < per_class]])


def _draw_per_concept(
    protocol: Protocol,
    dataset: Dataset,
    name: str,
    per_class: int,
    source: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """DeepHash-pytorch's NUS-WIDE draw (``data/nuswide_21/code.py``): going through one
    shuffle of the source, an item is taken for the first of its concepts whose quota of
    ``per_class`` is not yet full; so every concept gets exactly ``per_class`` items."""
    shuffled = source[rng.permutation(len(source))]
    labels = dataset.labels[shuffled].astype(bool)
    left = np.full(labels.shape[1], per_class)
    taken = np.zeros(len(shuffled), dtype=bool)
    for row in np.flatnonzero(labels.any(axis=1)):
        open_concepts = np.flatnonzero(labels[row] & (left > 0))
        if len(open_concepts):
            left[open_concepts[0]] -= 1
            taken[row] = True
            if not left.any():
                break
    short = np.flatnonzero(left > 0)
    if len(short):
        concept = short[0]
        raise HashbenchError(
            f"protocol {protocol.name!r}: split {name!r} needs {per_class} items of concept "
            f"{dataset.class_names[concept]!r} of {dataset.name!r}, but its source has only "
            f"{per_class - left[concept]} not taken for an earlier concept of theirs"
        )
    return np.sort(shuffled[taken])


def _check_invariants(protocol: Protocol, dataset: Dataset, splits: Splits) -> None:
    for name in SPLIT_NAMES:
        if len(getattr(splits, name)) == 0:
            raise HashbenchError(
                f"protocol {protocol.name!r}: split {name!r} is empty on data set {dataset.name!r}"
            )
    pairs = list(DISJOINT)
    if not protocol.query_in_database:
        pairs.append(("query", "database"))
    for first, second in pairs:
        shared = np.intersect1d(getattr(splits, first), getattr(splits, second))
        if len(shared):
            hint = "; set query_in_database = true if intended" if second == "database" else ""
            raise HashbenchError(
                f"protocol {protocol.name!r}: {len(shared)} items are in both the {first} and "
                f"the {second} split (e.g. item {shared[0]}){hint}"
            )


# -- saving splits ---------------------------------------------------------------------------
def save_splits(path: Path, splits: Splits) -> None:
    arrays = {name: np.asarray(getattr(splits, name), dtype=np.int64) for name in SPLIT_NAMES}
    atomic_write(Path(path), lambda handle: np.savez(handle, **arrays))


def load_splits(path: Path) -> Splits:
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in SPLIT_NAMES}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
        raise HashbenchError(
            f"cannot read splits file {path} ({error}); delete it to draw the splits again"
        ) from error
    for name, array in arrays.items():
        if array.dtype != np.int64 or array.ndim != 1:
            raise HashbenchError(
                f"splits file {path}: {name} is not a 1-d int64 array; delete it to draw the "
                "splits again"
            )
    return Splits(**arrays)
