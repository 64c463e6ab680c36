"""Bad input, as a careless or hostile user gives it, across the commands: every case ends in
one line on stderr and its exit status, and leaves the results folder exactly as it was.

The results folder holds a real run (LSH on the bundled digits); each case may first place a
file somewhere (a data set, a config, a tampered record, a claim), then runs the command in
process and compares every file under the results folder, bytes and all, with before.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hashbench.cli import EXIT_BUG, main
from hashbench.data import cifar
from hashbench.data.cache import cache_root
from hashbench.data.loading import load_dataset

Setup = Callable[[Path, Path], None]


@dataclass(frozen=True)
class Case:
    """A command line (``{tmp}`` and ``{results}`` are filled in), what its one line must say,
    what to place first (``setup(tmp, results)``) and its environment."""

    args: tuple[str, ...]
    fragment: str
    setup: Setup | None = None
    env: dict[str, str] = field(default_factory=dict)
    status: int = 2


def run(*args: str) -> tuple[str, ...]:
    return ("run", *args, "--results", "{results}")


# -- what the cases place ---------------------------------------------------------------------
def write(relative: str, content: str | bytes) -> Setup:
    def place(tmp: Path, results: Path) -> None:
        path = (results if relative.startswith("results/") else tmp) / relative.removeprefix(
            "results/"
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())

    return place


def the_record(results: Path) -> Path:
    (path,) = (results / "records" / "digits").glob("lsh-8bits-*.json")
    return path


def edit_record(change: Callable[[dict], object]) -> Setup:
    """The real record, changed: ``change`` edits it in place or returns a replacement."""

    def place(tmp: Path, results: Path) -> None:
        path = the_record(results)
        record = json.loads(path.read_text())
        replaced = change(record)
        path.write_text(json.dumps(record if replaced is None else replaced))

    return place


def record_as_config(change: Callable[[dict], object]) -> Setup:
    def place(tmp: Path, results: Path) -> None:
        record = json.loads(the_record(results).read_text())
        replaced = change(record)
        (tmp / "again.json").write_text(json.dumps(record if replaced is None else replaced))

    return place


def claim_on_the_run(content: dict) -> Setup:
    """The recorded run made pending again (record and codes gone), with a hand-made claim."""

    def place(tmp: Path, results: Path) -> None:
        record = the_record(results)
        (results / "codes" / "digits" / f"{record.stem}.npz").unlink()
        record.unlink()
        claim = results / "claims" / "digits" / record.name
        claim.parent.mkdir(parents=True, exist_ok=True)
        claim.write_text(json.dumps(content))

    return place


def image_folder(tmp: Path, name: str = "pets") -> Path:
    rng = np.random.default_rng(0)
    for part in ("train", "test"):
        for label in ("cat", "dog"):
            folder = tmp / name / part / label
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(3):
                pixels = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(folder / f"{i}.png")
    return tmp / name


def folder_with(relative: str, content: bytes) -> Setup:
    def place(tmp: Path, results: Path) -> None:
        (image_folder(tmp) / relative).write_bytes(content)

    return place


def folder_with_link_out(tmp: Path, results: Path) -> None:
    (tmp / "secret.png").write_bytes((image_folder(tmp) / "train" / "cat" / "0.png").read_bytes())
    (tmp / "pets" / "train" / "cat" / "link.png").symlink_to(tmp / "secret.png")


def zip_bomb(tmp: Path, results: Path) -> None:
    folder = image_folder(tmp, "bomb")
    with zipfile.ZipFile(tmp / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(p for p in folder.rglob("*") if p.is_file()):
            archive.write(file, file.relative_to(folder).as_posix())
        archive.writestr("train/cat/big.png", bytes(8 << 20))


def truncated_archive(tmp: Path, results: Path) -> None:
    zip_bomb(tmp, results)
    data = (tmp / "bomb.zip").read_bytes()
    (tmp / "bomb.zip").write_bytes(data[: len(data) // 2])


def list_folder(second_line: str) -> Setup:
    def place(tmp: Path, results: Path) -> None:
        (tmp / "lists").mkdir()
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp / "lists" / "a.jpg")
        (tmp / "lists" / "all.txt").write_text(f"a.jpg 1 0\n{second_line} 0 1\n")

    return place


def hostile_cifar(tmp: Path, results: Path) -> None:
    release = tmp / cifar.PYTHON_DIRECTORY
    release.mkdir()
    for name in (*cifar.TRAIN_BATCHES, cifar.TEST_BATCH, cifar.META):
        (release / name).write_bytes(b"cos\nsystem\n(S'echo hacked'\ntR.")


def pets(tmp: Path, results: Path) -> None:
    image_folder(tmp)


def damaged_cache(tmp: Path, results: Path) -> None:
    load_dataset(str(image_folder(tmp)))  # fills this test's own cache
    (entry,) = (cache_root() / "images").glob("*.npy")
    entry.write_bytes(entry.read_bytes()[:-5])


def codes(name: str, **arrays: np.ndarray) -> Setup:
    def place(tmp: Path, results: Path) -> None:
        np.savez(tmp / name, **arrays)

    return place


GOOD_CODES = {
    "query_codes": np.zeros((2, 8), np.uint8),
    "database_codes": np.ones((3, 8), np.uint8),
    "query_labels": np.array([0, 1]),
    "database_labels": np.array([1, 0, 1]),
}
PACKED = {
    "query_codes_packed": np.zeros((2, 1), np.uint8),
    "database_codes_packed": np.zeros((3, 1), np.uint8),
    "query_labels": np.array([0, 1]),
    "database_labels": np.array([1, 0, 1]),
}
GRID = "results/grids/0123456789abcdef.json"
CLAIM = {"state": "running", "worker": "w:1", "host": "h", "pid": 1, "heartbeat": 0.0}
TINY_DPSH = ("--set", "dpsh.epochs=1", "--set", "dpsh.warm_start_epochs=0")

CASES: dict[str, Case] = {
    # -- run: names and numbers -----------------------------------------------------------------
    "unknown method": Case(run("--methods", "lsh,nosuch"), "unknown method 'nosuch'"),
    "no method names": Case(run("--methods", ","), "expected comma-separated names"),
    "unknown data set": Case(run("--dataset", "nosuchset"), "unknown data set 'nosuchset'"),
    "unknown protocol": Case(run("--protocol", "nosuch"), "unknown protocol 'nosuch'"),
    "zero bits": Case(run("--bits", "0"), "bits must be an integer in [1, 8192], got 0"),
    "negative bits": Case(run("--bits", "-8"), "bits must be an integer in [1, 8192], got -8"),
    "huge bits": Case(run("--bits", "100000"), "bits must be an integer in [1, 8192], got 100000"),
    "bits not numbers": Case(run("--bits", "16,x"), "expected comma-separated integers"),
    "more bits than dimensions": Case(
        run("--methods", "itq", "--bits", "128"), "itq needs bits <= the feature dimension (64)"
    ),
    "negative seed": Case(run("--seeds", "-1"), "seeds must be an integer in [0, 4294967295]"),
    "huge seed": Case(run("--seeds", "99999999999"), "seeds must be an integer in [0, 4294967295]"),
    "unknown feature": Case(run("--feature", "nosuch"), "unknown feature 'nosuch'"),
    "zero image size": Case(run("--image-size", "0"), "image size must be an integer in [1, 4096]"),
    "huge image size": Case(run("--image-size", "100000"), "image size must be an integer in"),
    "short claim timeout": Case(run("--claim-timeout", "1"), "--claim-timeout must be at least"),
    "no local workers": Case(run("--executor", "local", "--jobs", "0"), "--jobs must be at least"),
    "no SLURM cluster": Case(
        run("--executor", "slurm", "--bits", "16"),
        "--executor slurm needs a SLURM cluster",
        env={"PATH": "/nonexistent"},
    ),
    # -- run: method settings, each checked against its declaration before data loads ---------
    "unknown setting": Case(run("--set", "lsh.colour=1"), "lsh has no settable parameter colour"),
    "bits as a setting": Case(run("--set", "lsh.bits=4"), "lsh has no settable parameter bits"),
    "setting for another method": Case(
        run("--methods", "lsh", "--set", "itq.iterations=5"), "--set names method 'itq'"
    ),
    "malformed setting": Case(run("--set", "itq=5"), "expected METHOD.KEY=VALUE"),
    **{
        f"itq iterations {value}": Case(
            run("--methods", "itq", "--set", f"itq.iterations={value}"),
            f"itq: iterations must be an integer >= 0, got {shown}",
        )
        for value, shown in [
            ("NaN", "nan"),
            ("Infinity", "inf"),
            ("1e400", "inf"),
            ("2.5", "2.5"),
            ("abc", "'abc'"),
            ("[1,2]", "[1, 2]"),
            ("-1", "-1"),
            ("true", "True"),
            ("null", "None"),
        ]
    },
    "sklsh gamma zero": Case(
        run("--methods", "sklsh", "--set", "sklsh.gamma=0"), "sklsh: gamma must be a number > 0"
    ),
    "fssh sigma NaN": Case(
        run("--methods", "fssh", "--set", "fssh.sigma=NaN"), "fssh: sigma must be a number > 0"
    ),
    "fssh anchors zero": Case(
        run("--methods", "fssh", "--set", "fssh.anchors=0"), "fssh: anchors must be an integer"
    ),
    "fssh flag not a bool": Case(
        run("--methods", "fssh", "--set", "fssh.learned_database_codes=yes"),
        "learned_database_codes must be true or false, got 'yes'",
    ),
    **{
        f"dpsh {key}={value}": Case(
            run("--methods", "dpsh", "--set", f"dpsh.{key}={value}"), f"dpsh: {key} must be {what}"
        )
        for key, value, what in [
            ("val_topk", "abc", "null or an integer >= 1"),
            ("lr", "fast", "a number > 0"),
            ("lr", "0", "a number > 0"),
            ("momentum", "1.5", "a number in [0, 1)"),
            ("optimizer", "lbfgs", "one of sgd, rmsprop, adam, adamw"),
            ("schedule", "cosine", "one of onecycle"),
            ("backbone", "vgg16", "one of airbench"),
            ("batch_size", "1", "an integer >= 2"),
            ("preset", "fastest", "one of scratch, paper"),
            ("width", "0", "a number in (0, 4]"),
            ("weights", "/no/such/file.mat", "null or the path of an existing file"),
        ]
    },
    "unknown recipe field": Case(
        run("--methods", "dpsh", "--set", "dpsh.epoch=3"), "dpsh has no settable parameter epoch"
    ),
    "dmrh regions zero": Case(
        run("--methods", "dmrh", "--set", "dmrh.regions=0"), "dmrh: regions must be an integer"
    ),
    "hybridhash shape": Case(
        run("--methods", "hybridhash", "--set", "hybridhash.depths=[2,2]"),
        "embed_dims, num_heads and depths need one entry per level",
    ),
    "wrong weights file": Case(
        run("--methods", "hybridhash", "--set", "hybridhash.weights=/etc/passwd"),
        "cannot read hybridhash weights from /etc/passwd",
    ),
    "weights for a backbone that takes none": Case(
        run("--methods", "dpsh", "--set", "dpsh.weights={tmp}/w.pth"),
        "the airbench backbone trains from scratch; it takes no weights file",
        setup=write("w.pth", b"weights"),
    ),
    "paper preset without weights": Case(
        run("--methods", "dpsh", "--set", "dpsh.preset=paper"),
        "preset 'paper' fine-tunes cnnf from ImageNet weights",
    ),
    "paper preset with a wrong weights file": Case(
        run("--methods", "dpsh", "--set", "dpsh.preset=paper", "--set", "dpsh.weights={tmp}/f.mat"),
        "cannot read {tmp}/f.mat as a MATLAB file",
        setup=write("f.mat", "not a MATLAB file"),
    ),
    "bad device": Case(
        run("--methods", "dpsh", *TINY_DPSH),
        "HASHBENCH_DEVICE='gpu please' is not a device",
        env={"HASHBENCH_DEVICE": "gpu please"},
    ),
    # -- run: protocols and data sets -------------------------------------------------------------
    "protocol named ..": Case(
        run("--protocol", "{tmp}/...toml"),
        "its name must be a name of letters",
        setup=write("...toml", "x"),
    ),
    "protocol not TOML": Case(
        run("--protocol", "{tmp}/p.toml"),
        "protocol file {tmp}/p.toml is not valid TOML",
        setup=write("p.toml", "bits = [\n"),
    ),
    "corrupt image": Case(
        run("--dataset", "{tmp}/pets"),
        "cannot decode image train/cat/bad.png",
        setup=folder_with("train/cat/bad.png", b"not a png"),
    ),
    "image over the pixel limit": Case(
        run("--dataset", "{tmp}/pets"),
        "exceeds the limit of 10 pixels",
        setup=pets,
        env={"HASHBENCH_MAX_IMAGE_PIXELS": "10"},
    ),
    "damaged cache entry": Case(run("--dataset", "{tmp}/pets"), "is damaged", setup=damaged_cache),
    "link out of the image folder": Case(
        run("--dataset", "{tmp}/pets"), "outside the image folder", setup=folder_with_link_out
    ),
    "archive member over the limit": Case(
        run("--dataset", "{tmp}/bomb.zip"),
        "train/cat/big.png in {tmp}/bomb.zip exceeds the limit",
        setup=zip_bomb,
        env={"HASHBENCH_MAX_MEMBER_MB": "1"},
    ),
    "truncated archive": Case(
        run("--dataset", "{tmp}/bomb.zip"), "cannot read archive", setup=truncated_archive
    ),
    "a limit that is not a number": Case(
        run("--dataset", "{tmp}/pets"),
        "HASHBENCH_MAX_MEMBER_MB='lots' is not a limit",
        setup=pets,
        env={"HASHBENCH_MAX_MEMBER_MB": "lots"},
    ),
    "empty image folder": Case(
        run("--dataset", "{tmp}/empty"), "no images found", setup=write("empty/train/cat/x.txt", "")
    ),
    "list path up and out": Case(
        run("--dataset", "{tmp}/lists"),
        "names ../../etc/passwd, which is outside the image root",
        setup=list_folder("../../etc/passwd"),
    ),
    "list path absolute": Case(
        run("--dataset", "{tmp}/lists"),
        "names /etc/passwd, which is outside the image root",
        setup=list_folder("/etc/passwd"),
    ),
    "list label not 0 or 1": Case(
        run("--dataset", "{tmp}/lists"), "has label '2'", setup=list_folder("b.jpg 2")
    ),
    "hostile CIFAR pickle": Case(
        run("--dataset", "{tmp}/cifar-10-batches-py"),
        "it refers to os.system",
        setup=hostile_cifar,
    ),
    # -- run: state in the results folder ---------------------------------------------------------
    "hand-edited claim": Case(
        run("--methods", "lsh", "--bits", "8"),
        "heartbeat must be a number, got 'abc'",
        setup=claim_on_the_run({**CLAIM, "heartbeat": "abc"}),
    ),
    "claim of no known state": Case(
        run("--methods", "lsh", "--bits", "8"),
        "state must be one of running, queued",
        setup=claim_on_the_run({**CLAIM, "state": "sleeping"}),
    ),
    # -- run --config -----------------------------------------------------------------------------
    "config missing": Case(run("--config", "{tmp}/none.toml"), "config file {tmp}/none.toml does"),
    "config not TOML": Case(
        run("--config", "{tmp}/c.toml"), "is not valid TOML or JSON", setup=write("c.toml", "a = [")
    ),
    "config unknown key": Case(
        run("--config", "{tmp}/c.toml"), "unknown key bitz", setup=write("c.toml", "bitz = [16]")
    ),
    "config bits as text": Case(
        run("--config", "{tmp}/c.toml"),
        "bits[0] must be an integer, got '16'",
        setup=write("c.toml", 'bits = ["16"]'),
    ),
    "config settings not a table": Case(
        run("--config", "{tmp}/c.toml"),
        "set.lsh must be a table, got 3",
        setup=write("c.toml", "[set]\nlsh = 3"),
    ),
    "config record of no schema": Case(
        run("--config", "{tmp}/again.json"),
        "is not a hashbench record (it has no schema)",
        setup=write("again.json", '{"config": {"method": "lsh"}}'),
    ),
    "config record of another schema": Case(
        run("--config", "{tmp}/again.json"),
        "has schema 2, and this hashbench reads schema 1",
        setup=record_as_config(lambda r: r.update(schema=2)),
    ),
    "config record without a dataset": Case(
        run("--config", "{tmp}/again.json"),
        "config.dataset is missing",
        setup=record_as_config(lambda r: r["config"].__delitem__("dataset")),
    ),
    "config record with params not a table": Case(
        run("--config", "{tmp}/again.json"),
        "config.params must be a table, got [1]",
        setup=record_as_config(lambda r: r["config"].update(params=[1])),
    ),
    # -- records read by table, report, status and figure -----------------------------------------
    "table of a record that is only a schema": Case(
        ("table", "--results", "{results}"),
        "protocol is missing",
        setup=edit_record(
            lambda r: {
                "schema": 1,
                "method": "lsh",
                "bits": 8,
                "seed": 0,
                "config": r["config"],
                "dataset": r["dataset"],
            }
        ),
    ),
    "status of a record that is only a schema": Case(
        ("status", "--results", "{results}"),
        "method is missing",
        setup=edit_record(lambda r: {"schema": 1}),
    ),
    "report with bits as text": Case(
        ("report", "--results", "{results}"),
        "bits must be an integer >= 1, got '8'",
        setup=edit_record(lambda r: r.update(bits="8")),
    ),
    "report with markup for a seed": Case(
        ("report", "--results", "{results}"),
        "seed must be an integer >= 0, got '<script>'",
        setup=edit_record(lambda r: r.update(seed="<script>")),
    ),
    "table with topk as markup": Case(
        ("table", "--results", "{results}"),
        "protocol.topk must be null or an integer >= 1",
        setup=edit_record(lambda r: r["protocol"].update(topk="<b>5</b>")),
    ),
    "figure with a metric as text": Case(
        ("figure", "pr", "--results", "{results}"),
        "metrics.map@all must be a number",
        setup=edit_record(lambda r: r["metrics"].update({"map@all": "high"})),
    ),
    "record protocol leading out": Case(
        ("report", "--results", "{results}"),
        "protocol.name must be a name of letters",
        setup=edit_record(lambda r: r["protocol"].update(name="../../x")),
    ),
    "record of a newer schema": Case(
        ("table", "--results", "{results}"),
        "has schema 2, and this hashbench reads schema 1",
        setup=edit_record(lambda r: r.update(schema=2)),
    ),
    "record not JSON": Case(
        ("table", "--results", "{results}"),
        "cannot read record",
        setup=write("results/records/digits/lsh-8bits-seed0-000000000000.json", "{"),
    ),
    "no records folder": Case(("table", "--results", "{tmp}/nowhere"), "no records folder"),
    "unknown metric": Case(
        ("table", "--results", "{results}", "--metric", "nosuch"), "no metric 'nosuch'"
    ),
    "validation metric of a classic run": Case(
        ("table", "--results", "{results}", "--metric", "val_map"), "no validation-selected"
    ),
    "unknown table format": Case(
        ("table", "--results", "{results}", "--format", "pdf"), "invalid choice: 'pdf'"
    ),
    "no queries in the gallery": Case(
        ("report", "--results", "{results}", "--queries", "0"), "--queries must be at least 1"
    ),
    "figure of no protocol": Case(
        ("figure", "pr", "--results", "{results}", "--protocols", "coco"), "no records of protocol"
    ),
    # -- status: grids, claims, stray files -------------------------------------------------------
    "grid file not JSON": Case(
        ("status", "--results", "{results}"), "cannot read grid file", setup=write(GRID, "{")
    ),
    "grid file without cells": Case(
        ("status", "--results", "{results}"),
        "cells is missing",
        setup=write(GRID, '{"protocol": "digits"}'),
    ),
    "grid cell without its run": Case(
        ("status", "--results", "{results}"),
        "cells[0].run is missing",
        setup=write(
            GRID, '{"protocol": "digits", "cells": [{"method": "lsh", "bits": 8, "seed": 0}]}'
        ),
    ),
    "claim with a bad heartbeat": Case(
        ("status", "--results", "{results}"),
        "heartbeat must be a number, got 'abc'",
        setup=write(
            "results/claims/digits/lsh-8bits-seed0-0123456789ab.json",
            json.dumps({**CLAIM, "heartbeat": "abc"}),
        ),
    ),
    "stray file under claims": Case(
        ("status", "--results", "{results}"),
        "'notes' is not a run's name",
        setup=write("results/claims/digits/notes.json", json.dumps(CLAIM)),
    ),
    "stray file under failures": Case(
        ("status", "--results", "{results}"),
        "'todo' is not a run's name",
        setup=write("results/failures/digits/todo.json", '{"error": "x"}'),
    ),
    # -- evaluate ---------------------------------------------------------------------------------
    "codes file missing": Case(("evaluate", "{tmp}/none.npz"), "no such file"),
    "codes file not a zip": Case(
        ("evaluate", "{tmp}/c.npz"), "not a readable .npz archive", setup=write("c.npz", "x" * 99)
    ),
    "codes file a pickle": Case(
        ("evaluate", "{tmp}/c.npz"),
        "not a readable .npz archive",
        setup=write("c.npz", pickle.dumps({"query_codes": 1})),
    ),
    "codes missing labels": Case(
        ("evaluate", "{tmp}/c.npz"),
        "missing query_labels",
        setup=codes("c.npz", query_codes=np.zeros((2, 8)), database_codes=np.zeros((3, 8))),
    ),
    "codes holding objects": Case(
        ("evaluate", "{tmp}/c.npz"),
        "query_labels holds Python objects",
        setup=codes("c.npz", **{**GOOD_CODES, "query_labels": np.array([{}, {}], dtype=object)}),
    ),
    "packed bits huge": Case(
        ("evaluate", "{tmp}/c.npz"),
        "must be uint8 rows of 250000000 bytes",
        setup=codes("c.npz", **PACKED, bits=np.array(2_000_000_000)),
    ),
    "packed bits negative": Case(
        ("evaluate", "{tmp}/c.npz"),
        "bits (the code length) must be an integer >= 1, got -3",
        setup=codes("c.npz", **PACKED, bits=np.array(-3)),
    ),
    "packed bits fractional": Case(
        ("evaluate", "{tmp}/c.npz"),
        "bits (the code length) must be an integer >= 1, got 16.7",
        setup=codes("c.npz", **PACKED, bits=np.array(16.7)),
    ),
    "codes of two lengths": Case(
        ("evaluate", "{tmp}/c.npz"),
        "query_codes have 8 bits but database_codes 4",
        setup=codes("c.npz", **{**GOOD_CODES, "database_codes": np.zeros((3, 4), np.uint8)}),
    ),
    "codes not bits": Case(
        ("evaluate", "{tmp}/c.npz"),
        "values must be",
        setup=codes("c.npz", **{**GOOD_CODES, "query_codes": np.full((2, 8), 0.5)}),
    ),
    "zero topk": Case(("evaluate", "{tmp}/c.npz", "--topk", "0"), "expected a positive integer"),
    # -- other commands ---------------------------------------------------------------------------
    "list an unknown method": Case(("list", "nosuch"), "unknown method 'nosuch'"),
    "reproduce an unknown paper": Case(("reproduce", "nosuch"), "invalid choice: 'nosuch'"),
    "reproduce with a negative seed": Case(
        ("reproduce", "dmrh", "--seeds", "-1", "--results", "{results}"),
        "seeds must be an integer in [0, 4294967295], got -1",
    ),
    "no command": Case((), "the following arguments are required: command"),
}


def snapshot(folder: Path) -> dict[str, str]:
    """Every file and folder under ``folder``, files with the sha256 of their bytes."""
    return {
        str(path.relative_to(folder)): (
            hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "folder"
        )
        for path in sorted(folder.rglob("*"))
    }


@pytest.fixture(scope="module")
def populated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A results folder with one real run: record, codes, splits, grid, journal and tables."""
    folder = tmp_path_factory.mktemp("bad-input") / "results"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HASHBENCH_CACHE", str(tmp_path_factory.mktemp("bad-input-cache")))
        assert main(["run", "--methods", "lsh", "--bits", "8", "--results", str(folder)]) == 0
    return folder


def test_the_table_holds_sixty_bad_inputs_or_more() -> None:
    assert len(CASES) >= 60


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_bad_input_is_one_line_and_leaves_the_results_folder_as_it_was(
    case: Case,
    populated: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    results = tmp_path / "results"
    shutil.copytree(populated, results)
    monkeypatch.chdir(tmp_path)
    for name, value in case.env.items():
        monkeypatch.setenv(name, value)
    if case.setup is not None:
        case.setup(tmp_path, results)
    before = snapshot(results)
    capsys.readouterr()
    try:
        status = main([arg.format(tmp=tmp_path, results=results) for arg in case.args])
    except SystemExit as refused:  # argparse's own refusals
        status = refused.code
    err = capsys.readouterr().err
    progress, _, line = err.rpartition("\r")  # a run's progress bar, erased as it closes
    assert err.count("\n") == 1 and line.startswith("hashbench") and "Traceback" not in err, err
    assert all(bar.startswith("runs:") or not bar.strip() for bar in progress.split("\r")), err
    assert case.fragment.format(tmp=tmp_path) in line, err
    assert status == case.status
    assert snapshot(results) == before


def test_an_unexpected_error_is_one_line_naming_the_command_and_how_to_see_more(
    populated: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from hashbench.reporting import tables

    def broken(*args: object, **kwargs: object) -> str:
        raise KeyError("a bug")

    monkeypatch.setattr(tables, "render", broken)
    output = tmp_path / "table.md"
    arguments = ["table", "--results", str(populated), "--output", str(output)]
    before = snapshot(populated)
    assert main(arguments) == EXIT_BUG
    err = capsys.readouterr().err
    assert err == (
        "hashbench: error: `hashbench table` failed unexpectedly: KeyError: 'a bug'; run it "
        "again with --debug (or HASHBENCH_DEBUG=1) for the traceback, and report it\n"
    )
    assert not output.exists() and snapshot(populated) == before
    with pytest.raises(KeyError, match="a bug"):
        main([*arguments, "--debug"])
    monkeypatch.setenv("HASHBENCH_DEBUG", "1")
    with pytest.raises(KeyError, match="a bug"):
        main(arguments)
