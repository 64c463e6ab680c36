"""Multi-label data sets end to end: every method through `hashbench run` on list-file
fixtures laid out as MS-COCO, NUS-WIDE and ImageNet-100 are, and the protocols' sizes on data
of the real sizes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from fixtures.listdata import LAYOUTS, write_list_dataset

from hashbench.cli import main
from hashbench.data.dataset import Dataset
from hashbench.deep.method import DeepHashingMethod
from hashbench.deep.recipes import MULTI_LABEL_CLIP_GRAD_NORM
from hashbench.registry import get_method, list_methods
from hashbench.splits.protocol import SPLIT_NAMES, default_protocol, draw_splits, load_protocol

#: Tiny but real training for the deep methods: CNN geometry as in production, few channels.
DEEP = {"epochs": 1, "warm_start_epochs": 0, "width": 0.125, "batch_size": 8}
#: FSSH's sigma for 16 x 16 pixel features (squared distances ~ 40), not GIST's 0.4.
OWN = {"adsh": {"samples": 16, "inner_epochs": 1}, "fssh": {"sigma": 2.0}}


def settings(methods: list[str]) -> list[str]:
    args = []
    for name in methods:
        tiny = DEEP if issubclass(get_method(name), DeepHashingMethod) else {}
        for key, value in {**tiny, **OWN.get(name, {})}.items():
            args += ["--set", f"{name}.{key}={value}"]
    return args


#: data set -> the protocol its lists are for
LIST_PROTOCOLS = {
    "coco": "coco-hashnet",
    "nuswide": "nuswide-21",
    "imagenet100": "imagenet100",
    "mirflickr": "mirflickr",
    "voc2012": "voc2012",
}
#: Every method on MS-COCO; on the others, whose data path is the same, one of each kind.
METHODS = {"coco": None, "nuswide": ["itq", "fssh", "dmrh"], "imagenet100": ["itq", "fssh", "dmrh"],
           "mirflickr": ["itq", "fssh"], "voc2012": ["itq", "fssh"]}  # fmt: skip


@pytest.mark.parametrize("dataset", list(LIST_PROTOCOLS))
def test_methods_run_on_a_list_data_set_as_a_user_runs_them(
    dataset: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    written = write_list_dataset(tmp_path / "data" / dataset, LAYOUTS[dataset])
    methods = METHODS[dataset] or list_methods()
    out = tmp_path / "results"
    args = ["run", "--methods", ",".join(methods), "--dataset", dataset,
            "--protocol", LIST_PROTOCOLS[dataset], "--data-root", str(tmp_path / "data"),
            "--bits", "16", "--image-size", "16", "--results", str(out)]  # fmt: skip
    args += settings(methods)
    assert main(args) == 0, capsys.readouterr().err
    stdout = capsys.readouterr().out
    assert f"{len(methods)} run(s) done" in stdout
    records = [json.loads(p.read_text()) for p in (out / "records").rglob("*.json")]
    assert sorted(r["method"] for r in records) == sorted(methods)
    lists = {part: len(images) for part, (images, _) in written.lists.items()}
    for record in records:
        sizes = record["splits"]["sizes"]
        assert sizes["query"] == lists["test"] and sizes["database"] == lists["database"]
        assert sizes["train"] + sizes["validation"] == lists["train"]
        assert record["dataset"]["name"] == dataset and record["dataset"]["size"] == 72
        assert record["protocol"]["name"] == LIST_PROTOCOLS[dataset]
        # ACG (and weighted mAP, a mean of ACGs) is a number of shared labels; the rest shares.
        most = int(written.lists["test"][1].sum(axis=1).max())
        for name, value in record["metrics"].items():
            bound = most if name.startswith(("acg", "wap")) else 1
            assert 0 <= value <= bound, (record["method"], name)
        wap = f"wap@{record['protocol']['topk'] or 'all'}"
        assert {wap, "ndcg@1000", "acg_tie@100"} <= set(record["metrics"])
        if issubclass(get_method(record["method"]), DeepHashingMethod):
            # items with several labels clip the hashing phase; ImageNet-100's one-hot do not
            clip = None if dataset == "imagenet100" else MULTI_LABEL_CLIP_GRAD_NORM
            assert record["config"]["params"]["clip_grad_norm"] == clip
            assert record["protocol"]["recipe"].get("clip_grad_norm") == clip
            assert "clip_grad_norm" not in record["variant"]  # the data's default, no departure
    table = (out / "table.md").read_text()
    assert all(get_method(name).__name__ in table for name in methods)


def test_the_paper_protocol_on_too_few_images_says_so_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_list_dataset(tmp_path / "coco", LAYOUTS["coco"])
    out = tmp_path / "results"
    status = main(["run", "--methods", "lsh", "--dataset", "coco", "--data-root", str(tmp_path),
                   "--results", str(out)])  # fmt: skip
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1
    assert "protocol 'coco': split 'query' needs 40000 items but its source has only 72" in err
    assert not out.exists()


def multi_label(name: str, parts: dict[str, int], classes: int) -> Dataset:
    """A data set of the real sizes without pixels: parts in order, then nothing else."""
    n = sum(parts.values())
    starts = np.cumsum([0, *parts.values()])
    labels = np.random.default_rng(0).random((n, classes)) < 0.1
    return Dataset(
        name=name,
        images=np.broadcast_to(np.zeros((1, 1, 1, 3), np.uint8), (n, 1, 1, 3)),
        labels=labels.astype(np.uint8),
        parts={p: np.arange(starts[k], starts[k + 1]) for k, p in enumerate(parts)},
        class_names=tuple(str(c) for c in range(classes)),
        checksum="synthetic",
        source="synthetic",
    )


def overlapping(name: str, test: int, database: int, train: int, classes: int) -> Dataset:
    """The circulated lists' layout: training images are database images."""
    dataset = multi_label(name, {"test": test, "database": database}, classes)
    train_items = dataset.parts["database"][:train]
    return Dataset(**{**dataset.__dict__, "parts": {**dataset.parts, "train": train_items}})


#: protocol -> (data set, sizes of query, train, validation, database)
SHAPES = {
    "coco": (multi_label("coco", {"all": 122218}, 80), (40000, 81218, 1000, 82218)),
    "nuswide": (multi_label("nuswide", {"all": 195834}, 21), (10000, 184834, 1000, 185834)),
    "coco-hashnet": (overlapping("coco", 5000, 117218, 10000, 80), (5000, 9000, 1000, 117218)),
    "nuswide-21": (overlapping("nuswide", 2100, 193734, 10500, 21), (2100, 9450, 1050, 193734)),
    "imagenet100": (
        overlapping("imagenet100", 5000, 128503, 13000, 100),
        (5000, 11700, 1300, 128503),
    ),
    "mirflickr": (
        multi_label("mirflickr", {"test": 1000, "train": 4000, "database": 20000}, 38),
        (1000, 3600, 400, 20000),
    ),
    "voc2012": (
        multi_label("voc2012", {"test": 1000, "train": 4000, "database": 6540}, 20),
        (1000, 3600, 400, 6540),
    ),
}
TOPK = {"imagenet100": 1000, "mirflickr": None, "voc2012": None}


@pytest.mark.parametrize("name", list(SHAPES))
def test_multi_label_protocols_have_the_literatures_sizes(name: str) -> None:
    dataset, sizes = SHAPES[name]
    protocol = load_protocol(name)
    splits = draw_splits(protocol, dataset, seed=0)
    assert tuple(len(getattr(splits, split)) for split in SPLIT_NAMES) == sizes
    assert np.union1d(splits.train, splits.validation).tolist() == (
        dataset.parts["train"].tolist() if "train" in dataset.parts else splits.database.tolist()
    )
    if "test" in dataset.parts:
        assert splits.query.tolist() == dataset.parts["test"].tolist()
        assert splits.database.tolist() == dataset.parts["database"].tolist()
    else:
        everything = np.union1d(splits.query, splits.database)
        assert everything.tolist() == list(range(len(dataset)))
    assert protocol.topk == TOPK.get(name, 5000)
    again = draw_splits(protocol, dataset, seed=0)
    other = draw_splits(protocol, dataset, seed=1)
    assert np.array_equal(again.validation, splits.validation)
    assert not np.array_equal(other.validation, splits.validation)


def test_nuswide_concepts_draws_deephash_pytorchs_split_per_concept() -> None:
    dataset = multi_label("nuswide", {"all": 195834}, 21)
    protocol = load_protocol("nuswide-concepts")
    splits = draw_splits(protocol, dataset, seed=0)
    sizes = tuple(len(getattr(splits, split)) for split in SPLIT_NAMES)
    assert sizes == (2100, 9450, 1050, 193734)
    trained = np.union1d(splits.train, splits.validation)
    assert np.isin(trained, splits.database).all()  # training images are database images
    assert np.union1d(splits.query, splits.database).tolist() == list(range(len(dataset)))
    # every concept has at least its 100 queries (an image counts for one, carries several)
    assert (dataset.labels[splits.query].sum(axis=0) >= 100).all()
    assert protocol.topk == 5000


def test_the_paper_protocols_are_the_defaults() -> None:
    assert default_protocol("coco").name == "coco"
    assert default_protocol("nuswide").name == "nuswide"
    assert default_protocol("imagenet100").name == "imagenet100"
    assert default_protocol("cifar10-mosaic").name == "cifar10-mosaic"
    assert load_protocol("coco").bits == load_protocol("nuswide").bits == (24, 48, 64, 128)
