"""Protocols: the shipped files, the split language, the invariants, and every error."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from hashbench.data.dataset import Dataset
from hashbench.data.loading import load_dataset
from hashbench.errors import HashbenchError
from hashbench.splits import protocol as protocol_module
from hashbench.splits.protocol import (
    SPLIT_NAMES,
    Protocol,
    Splits,
    default_protocol,
    draw_splits,
    list_protocols,
    load_protocol,
    load_splits,
    save_splits,
)


def synthetic(
    name: str = "cifar10", train_per_class: int = 5000, test_per_class: int = 1000
) -> Dataset:
    """CIFAR-10's layout without its pixels: parts train then test, 10 interleaved classes."""
    train = np.arange(10 * train_per_class) % 10
    test = np.arange(10 * test_per_class) % 10
    labels = np.concatenate([train, test]).astype(np.int64)
    return Dataset(
        name=name,
        images=np.zeros((len(labels), 1, 1, 1), np.uint8),
        labels=labels,
        parts={"train": np.arange(len(train)), "test": np.arange(len(train), len(labels))},
        class_names=tuple(f"class{i}" for i in range(10)),
        checksum="synthetic",
        source="synthetic",
    )


def per_class(dataset: Dataset, items: np.ndarray) -> list[int]:
    return np.bincount(dataset.labels[items], minlength=10).tolist()


def union(*arrays: np.ndarray) -> list[int]:
    return np.unique(np.concatenate(arrays)).tolist()


def check_invariants(splits: Splits, n: int) -> None:
    for name in SPLIT_NAMES:
        items = getattr(splits, name)
        assert items.dtype == np.int64 and len(items) > 0
        assert np.all(np.diff(items) > 0), f"{name} is not sorted and unique"
        assert items[0] >= 0 and items[-1] < n
    for first, second in [
        ("query", "database"),
        ("query", "train"),
        ("query", "validation"),
        ("train", "validation"),
    ]:
        assert not np.intersect1d(getattr(splits, first), getattr(splits, second)).size


# -- the shipped protocols --------------------------------------------------------------------
CIFAR = synthetic()
ALL = list(range(60000))
#: protocol -> (sizes of query, train, validation, database; items per class of each)
SHAPES = {
    "cifar10-dmrh": ((10000, 49000, 1000, 50000), (1000, 4900, 100, 5000)),
    "cifar10": ((1000, 4500, 500, 54000), (100, 450, 50, 5400)),
    "cifar10-1": ((1000, 4500, 500, 59000), (100, 450, 50, 5900)),
    "cifar10-2": ((10000, 49000, 1000, 50000), (1000, 4900, 100, 5000)),
}


@pytest.mark.parametrize("name", list(SHAPES))
def test_cifar10_protocols_have_the_literatures_sizes(name: str) -> None:
    splits = draw_splits(load_protocol(name), CIFAR, seed=0)
    check_invariants(splits, len(CIFAR))
    sizes, counts = SHAPES[name]
    for split, size, count in zip(SPLIT_NAMES, sizes, counts, strict=True):
        assert len(getattr(splits, split)) == size, split
        assert per_class(CIFAR, getattr(splits, split)) == [count] * 10, split
    q, t, v, db = splits.query, splits.train, splits.validation, splits.database
    if name == "cifar10-dmrh":
        assert q.tolist() == CIFAR.parts["test"].tolist()
        assert db.tolist() == CIFAR.parts["train"].tolist() == union(t, v)
    elif name == "cifar10":
        assert union(q, t, v, db) == ALL and not np.intersect1d(db, union(t, v)).size
    elif name == "cifar10-1":
        assert union(q, db) == ALL and set(union(t, v)) <= set(db.tolist())
    else:
        assert union(q, db) == ALL and union(t, v) == db.tolist()


def test_digits_protocol_on_digits() -> None:
    digits = load_dataset("digits")
    splits = draw_splits(default_protocol("digits"), digits, seed=0)
    check_invariants(splits, len(digits))
    assert [len(getattr(splits, s)) for s in SPLIT_NAMES] == [300, 1397, 100, 1497]
    assert per_class(digits, splits.query) == [30] * 10
    assert per_class(digits, splits.validation) == [10] * 10
    assert union(splits.query, splits.database) == list(range(1797))
    assert union(splits.train, splits.validation) == splits.database.tolist()


def test_digits_splits_never_change_silently() -> None:
    """Records name splits by seed: a change of drawing must be a deliberate, visible one."""
    splits = draw_splits(load_protocol("digits"), load_dataset("digits"), seed=0)
    digest = hashlib.sha256()
    for name in SPLIT_NAMES:
        digest.update(getattr(splits, name).tobytes())
    assert digest.hexdigest() == DIGITS_SEED0_SHA256


DIGITS_SEED0_SHA256 = "2e7630154901a3fa59afdba7e23fb7d374944dfa725e26b000e128f4a50382b4"


def test_imagefolder_protocol_holds_out_a_tenth_of_train() -> None:
    pets = synthetic("pets", train_per_class=20, test_per_class=5)
    splits = draw_splits(default_protocol("pets"), pets, seed=3)
    check_invariants(splits, len(pets))
    assert splits.query.tolist() == pets.parts["test"].tolist()
    assert splits.database.tolist() == pets.parts["train"].tolist()
    assert len(splits.validation) == 20 and len(splits.train) == 180


def test_shipped_protocols_are_package_data_with_their_checksums() -> None:
    files = resources.files("hashbench.protocols")
    protocols = {p.name: p for p in list_protocols()}
    assert set(protocols) == {
        "cifar10",
        "cifar10-1",
        "cifar10-2",
        "cifar10-dmrh",
        "cifar10-mosaic",
        "coco",
        "coco-hashnet",
        "digits",
        "imagefolder",
        "imagenet100",
        "listfolder",
        "mirflickr",
        "nuswide",
        "nuswide-21",
        "nuswide-concepts",
        "voc2012",
    }
    for name, protocol in protocols.items():
        content = files.joinpath(f"{name}.toml").read_bytes()
        if not protocol.recipe:  # the file's bytes (test_protocol_recipe: with a [recipe])
            assert protocol.checksum == hashlib.sha256(content).hexdigest()
        assert protocol.relevance == "shared-label" and protocol.metrics[0] == "map"
        assert protocol.description and protocol.reference
        assert list(protocol.splits) and set(protocol.splits) == set(SPLIT_NAMES)


def test_dmrh_protocol_matches_the_paper() -> None:
    dmrh = load_protocol("cifar10-dmrh")
    assert (dmrh.dataset, dmrh.topk, dmrh.bits) == ("cifar10", 5000, (24, 48, 64, 128))
    assert load_protocol("digits").topk is None and load_protocol("digits").bits == (16, 32, 64)


def test_default_protocols() -> None:
    assert default_protocol("cifar10").name == "cifar10-dmrh"
    assert default_protocol("digits").name == "digits"
    assert default_protocol("my-photos").name == "imagefolder"


def test_two_defaults_for_one_data_set_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {}
    for name in ("one", "two"):
        files[name] = tmp_path / f"{name}.toml"
        files[name].write_text(
            VALID.replace('dataset = "cifar10"', 'dataset = "cifar10"\ndefault = true')
        )
    monkeypatch.setattr(protocol_module, "_builtin_files", lambda: files)
    with pytest.raises(
        HashbenchError, match=r"several .*default = true .*'cifar10'.*one\.toml.*two\.toml"
    ):
        default_protocol("cifar10")


def test_protocol_from_a_path_is_named_after_the_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(VALID)
    protocol = load_protocol(str(path))
    assert protocol.name == "mine" and protocol.topk == 100 and protocol.bits == (8, 16)
    assert protocol.checksum == hashlib.sha256(VALID.encode()).hexdigest()
    assert list(protocol.splits) == ["query", "train", "database", "validation"]


# -- drawing ----------------------------------------------------------------------------------
def test_same_seed_same_splits_other_seed_other_splits() -> None:
    protocol = load_protocol("cifar10")
    first, again = draw_splits(protocol, CIFAR, 7), draw_splits(protocol, CIFAR, 7)
    other = draw_splits(protocol, CIFAR, 8)
    for name in SPLIT_NAMES:
        assert np.array_equal(getattr(first, name), getattr(again, name))
        assert not np.array_equal(getattr(first, name), getattr(other, name))


def write_protocol(tmp_path: Path, splits: str, header: str = "") -> Protocol:
    """A protocol for any data set with the given ``[splits.*]`` tables."""
    path = tmp_path / "custom.toml"
    path.write_text(
        'dataset = "*"\ndescription = "d"\nreference = "r"\nrelevance = "shared-label"\n'
        f'metric = "map"\ntopk = "all"\nbits = [8]\n{header}\n{splits}'
    )
    return load_protocol(str(path))


def toy(**part_sizes: int) -> Dataset:
    """Parts of the given sizes, one after another, with labels cycling through 10 classes."""
    n = sum(part_sizes.values())
    bounds = np.cumsum([0, *part_sizes.values()])
    return Dataset(
        name="toy",
        images=np.zeros((n, 1, 1, 1), np.uint8),
        labels=np.arange(n, dtype=np.int64) % 10,
        parts={p: np.arange(bounds[i], bounds[i + 1]) for i, p in enumerate(part_sizes)},
        class_names=tuple(f"class{i}" for i in range(10)),
        checksum="toy",
        source="toy",
    )


def test_per_class_draws_are_uniform_within_each_class(tmp_path: Path) -> None:
    """Over many seeds each item of a class is drawn about equally often."""
    protocol = write_protocol(
        tmp_path,
        '[splits.query]\nfrom = "all"\nper_class = 5\n[splits.train]\nfrom = "rest"\n'
        '[splits.database]\nfrom = "train"\n'
        '[splits.validation]\nfrom = "train"\ncount = 10\ncarve = true\n',
    )
    dataset = toy(all=250)  # 25 items per class
    hits = np.zeros(len(dataset))
    for seed in range(400):
        query = draw_splits(protocol, dataset, seed).query
        assert per_class(dataset, query) == [5] * 10
        hits[query] += 1
    # each item: Binomial(400, 1/5), mean 80, standard deviation 8
    assert hits.min() > 40 and hits.max() < 120


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    splits = draw_splits(load_protocol("cifar10"), CIFAR, 0)
    path = tmp_path / "splits" / "seed0.npz"
    save_splits(path, splits)
    loaded = load_splits(path)
    for name in SPLIT_NAMES:
        assert np.array_equal(getattr(loaded, name), getattr(splits, name))
        assert getattr(loaded, name).dtype == np.int64
    assert [p.name for p in path.parent.iterdir()] == ["seed0.npz"]  # no temporary left


def test_unreadable_splits_files_are_named(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip")
    with pytest.raises(HashbenchError, match=r"cannot read splits file .*garbage\.npz.*delete it"):
        load_splits(garbage)
    partial = tmp_path / "partial.npz"
    np.savez(partial, query=np.arange(3))
    with pytest.raises(HashbenchError, match=r"cannot read splits file .*partial\.npz"):
        load_splits(partial)
    floats = tmp_path / "floats.npz"
    np.savez(floats, **{name: np.arange(3.0) for name in SPLIT_NAMES})
    with pytest.raises(HashbenchError, match=r"floats\.npz: query is not a 1-d int64 array"):
        load_splits(floats)


# -- protocol file errors ---------------------------------------------------------------------
VALID = """\
dataset = "cifar10"
description = "a test protocol"
reference = "nobody"
relevance = "shared-label"
metric = "map"
topk = 100
bits = [8, 16]

[splits.query]
part = "test"

[splits.train]
part = "train"

[splits.database]
from = "train"

[splits.validation]
from = "train"
per_class = 10
carve = true
"""


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('topk = 100', "topk = ", "not valid TOML"),
        ('topk = 100', 'topk = 100\ncolour = "red"', "unknown key 'colour'; allowed keys: dataset"),
        ('reference = "nobody"\n', "", "missing key 'reference'"),
        ("bits = [8, 16]", 'bits = "24"', "key 'bits' must be a non-empty list of positive"),
        ("bits = [8, 16]", "bits = []", "key 'bits' must be a non-empty list"),
        ("topk = 100", "topk = 0", "key 'topk' must be a positive integer or \"all\", got 0"),
        ("topk = 100", 'topk = "some"', "key 'topk' must be a positive integer or \"all\""),
        ('metric = "map"', 'metric = "ndcg"', "key 'metric' must be one of map, map_tie, wap"),
        ('metric = "map"', 'metric = ["map", "ndcg@0"]', "key 'metric' must be one of map"),
        ('metric = "map"', "metric = []", "or a non-empty list of them, got []"),
        ('relevance = "shared-label"', 'relevance = "cosine"', "key 'relevance' must be one of"),
        ("per_class = 10", "per_class = true", "'splits.validation.per_class' must be a positive"),
        ("per_class = 10", "per_class = 10\ncount = 5", "has per_class and count; keep at most"),
        ("per_class = 10", "fraction = 1.5", "'splits.validation.fraction' must be a number in"),
        ("per_class = 10", "size = 10", "unknown key 'splits.validation.size'"),
        ("carve = true", 'carve = "yes"', "'splits.validation.carve' must be true or false"),
        ('part = "test"', 'part = "test"\ncarve = true', "'splits.query.carve' needs 'from'"),
        ('part = "test"', 'part = "test"\nfrom = "all"', "needs exactly one of 'part' and 'from'"),
        ('[splits.database]\nfrom = "train"', '[splits.database]\nfrom = "validation"',
         "'splits.database.from' must be \"all\", \"rest\" or an earlier split (query, train)"),
        ("[splits.validation]\nfrom", '[splits.extra]\npart = "test"\n[splits.validation]\nfrom',
         "unknown key 'splits.extra'"),
        ('[splits.validation]\nfrom = "train"\nper_class = 10\ncarve = true\n', "",
         "missing key 'splits.validation'"),
        ('dataset = "cifar10"', "dataset = 10", "key 'dataset' must be a data set name"),
        ("bits = [8, 16]", "bits = [8, 16]\nrecipe = 3", "key 'recipe' must be a [recipe] table"),
    ],
)  # fmt: skip
def test_protocol_file_mistakes_name_the_file_and_key(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    assert old in VALID
    path = tmp_path / "bad.toml"
    path.write_text(VALID.replace(old, new))
    with pytest.raises(HashbenchError, match="protocol file .*bad.toml") as error:
        load_protocol(str(path))
    assert message in str(error.value)


def test_a_protocol_names_one_headline_metric_or_a_list_of_them(tmp_path: Path) -> None:
    path = tmp_path / "graded.toml"
    path.write_text(VALID.replace('metric = "map"', 'metric = ["map", "ndcg@500", "wap"]'))
    assert load_protocol(str(path)).metrics == ("map", "ndcg@500", "wap")
    path.write_text(VALID)
    assert load_protocol(str(path)).metrics == ("map",)
    mosaic = load_protocol("cifar10-mosaic")
    assert (mosaic.metrics, mosaic.topk) == (("map", "ndcg@1000", "acg@1000", "wap"), 5000)


def test_unknown_protocol_lists_the_known_ones() -> None:
    with pytest.raises(HashbenchError) as raised:
        load_protocol("nosuch")
    known = ", ".join(sorted(p.name for p in list_protocols()))
    assert str(raised.value).startswith(f"unknown protocol 'nosuch'; known protocols: {known}")


# -- drawing errors ---------------------------------------------------------------------------
def test_a_protocol_for_another_data_set_is_refused() -> None:
    with pytest.raises(
        HashbenchError, match="protocol 'cifar10-dmrh' is for data set 'cifar10', not 'digits'"
    ):
        draw_splits(load_protocol("cifar10-dmrh"), load_dataset("digits"), 0)


def test_too_few_items_of_a_class_is_refused() -> None:
    small = synthetic(train_per_class=5, test_per_class=2)
    with pytest.raises(
        HashbenchError,
        match="protocol 'cifar10': split 'query' needs 100 items per class "
        "but class 'class0' of 'cifar10' has only 7",
    ):
        draw_splits(load_protocol("cifar10"), small, 0)


def multi_label_toy(n: int = 400, concepts: int = 5, seed: int = 0) -> Dataset:
    """Each item carries one to three concepts at random."""
    rng = np.random.default_rng(seed)
    labels = (rng.random((n, concepts)) < 0.3).astype(np.uint8)
    labels[np.arange(n), rng.integers(0, concepts, n)] = 1
    return replace(toy(all=n), labels=labels, class_names=tuple(f"c{i}" for i in range(concepts)))


PER_CONCEPT = (
    '[splits.query]\nfrom = "all"\nper_class = 10\n[splits.train]\nfrom = "rest"\n'
    'per_class = 30\n[splits.database]\nfrom = "rest"\n'
    '[splits.validation]\nfrom = "train"\ncount = 15\ncarve = true\n'
)


def test_per_class_on_multi_label_data_draws_per_concept(tmp_path: Path) -> None:
    protocol = write_protocol(tmp_path, PER_CONCEPT)
    dataset = multi_label_toy()
    splits = draw_splits(protocol, dataset, 0)
    # concept by concept, distinct items: exactly per_class x concepts of them
    assert len(splits.query) == 50 and len(np.unique(splits.query)) == 50
    assert len(splits.train) + len(splits.validation) == 150
    assert (dataset.labels[splits.query].sum(axis=0) >= 10).all()  # items carry several
    check_invariants(splits, len(dataset))
    again = draw_splits(protocol, dataset, 0)
    assert np.array_equal(again.query, splits.query)
    assert not np.array_equal(draw_splits(protocol, dataset, 1).query, splits.query)


def test_per_concept_draws_by_brute_force(tmp_path: Path) -> None:
    """The draw equals DeepHash-pytorch's loop, written plainly: items in one shuffled order,
    each counted for the first of its concepts with room left."""
    protocol = write_protocol(tmp_path, PER_CONCEPT)
    dataset = multi_label_toy(n=600, seed=3)
    order = np.random.default_rng(5).permutation(len(dataset))
    quota, taken = [10] * 5, []
    for item in order:
        for concept in range(5):
            if dataset.labels[item, concept] and quota[concept] > 0:
                quota[concept] -= 1
                taken.append(int(item))
                break
    assert quota == [0] * 5
    assert draw_splits(protocol, dataset, 5).query.tolist() == sorted(taken)


def test_too_few_items_of_a_concept_are_named(tmp_path: Path) -> None:
    protocol = write_protocol(tmp_path, PER_CONCEPT)
    dataset = multi_label_toy(n=60)
    fragment = r"split .query. needs 10 items of concept .c4. of .toy., but its source has only"
    with pytest.raises(HashbenchError, match=fragment):
        draw_splits(protocol, dataset, 0)


@pytest.mark.parametrize(
    ("splits", "message"),
    [
        ('[splits.query]\npart = "b"\ncount = 30\n[splits.train]\npart = "a"\n'
         '[splits.database]\npart = "c"\n[splits.validation]\npart = "c"\n',
         "split 'query' needs 30 items but its source has only 20"),
        ('[splits.query]\npart = "z"\n[splits.train]\npart = "a"\n'
         '[splits.database]\npart = "c"\n[splits.validation]\npart = "c"\n',
         "draws from part 'z', but data set 'toy' has parts a, b, c"),
        ('[splits.query]\npart = "b"\n[splits.train]\npart = "a"\n[splits.database]\npart = "c"\n'
         '[splits.validation]\nfrom = "train"\nfraction = 0.01\ncarve = true\n',
         "split 'validation' is empty on data set 'toy'"),
        ('[splits.query]\npart = "b"\n[splits.train]\npart = "a"\n[splits.database]\nfrom = "all"\n'
         '[splits.validation]\nfrom = "train"\ncount = 5\ncarve = true\n',
         "20 items are in both the query and the database split (e.g. item 40); "
         "set query_in_database = true"),
        ('[splits.query]\npart = "b"\n[splits.train]\nfrom = "query"\ncount = 5\n'
         '[splits.database]\npart = "a"\n[splits.validation]\npart = "c"\n',
         "5 items are in both the train and the query split"),
        ('[splits.query]\npart = "b"\n[splits.train]\npart = "a"\n'
         '[splits.database]\npart = "c"\n[splits.validation]\nfrom = "query"\ncount = 5\n',
         "5 items are in both the validation and the query split"),
        ('[splits.query]\npart = "b"\n[splits.train]\npart = "a"\n'
         '[splits.database]\npart = "c"\n[splits.validation]\nfrom = "train"\ncount = 5\n',
         "5 items are in both the validation and the train split"),
    ],
)  # fmt: skip
def test_draws_that_break_an_invariant_are_refused(
    tmp_path: Path, splits: str, message: str
) -> None:
    protocol = write_protocol(tmp_path, splits)
    with pytest.raises(HashbenchError, match="protocol 'custom'") as error:
        draw_splits(protocol, toy(a=40, b=20, c=20), 0)
    assert message in str(error.value)


def test_query_in_database_when_the_protocol_says_so(tmp_path: Path) -> None:
    protocol = write_protocol(
        tmp_path,
        '[splits.query]\npart = "b"\n[splits.train]\npart = "a"\n[splits.database]\nfrom = "all"\n'
        '[splits.validation]\nfrom = "train"\ncount = 5\ncarve = true\n',
        "query_in_database = true",
    )
    splits = draw_splits(protocol, toy(a=40, b=20, c=20), 0)
    assert set(splits.query.tolist()) <= set(splits.database.tolist())
    assert len(splits.database) == 80 and len(splits.train) == 35


def test_a_missing_protocol_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(HashbenchError, match=r"protocol file .*nowhere\.toml does not exist"):
        load_protocol(str(tmp_path / "nowhere.toml"))
