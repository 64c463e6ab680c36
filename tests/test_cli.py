"""The command line as a user meets it: the main job, resumption, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from fixtures.crash import crash_after_checkpoint
from PIL import Image

from hashbench import create_method
from hashbench.cli import main


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def assert_one_line_error(status: int, err: str, *fragments: str) -> None:
    assert status == 2
    assert err.startswith("hashbench") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, err


def test_main_job_on_digits_writes_records_and_tables_then_resumes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "results"
    status, stdout, _ = run_cli(capsys, "run", "--methods", "lsh", "--bits", "16,32",
                                "--seeds", "0,1", "--results", str(out))  # fmt: skip
    assert status == 0
    assert "4 run(s) done, 0 already recorded" in stdout
    records = sorted((out / "records" / "digits").glob("*.json"))
    assert len(records) == 4
    record = json.loads(records[0].read_text())
    for key in ("metrics", "timings", "provenance", "splits", "config_hash", "dataset"):
        assert key in record
    assert record["provenance"]["command"].startswith("hashbench run")
    timings = record["timings"]
    assert timings["fit_s"] + timings["encode_s"] + timings["evaluate_s"] <= timings["wall_s"]
    assert timings["cpu_s"] > 0  # the run's CPU seconds, which a paused run does not inflate
    assert record["dataset"]["checksum"] and record["protocol"]["checksum"]
    assert (out / record["splits"]["file"]).exists()
    assert {"table.csv", "table.md", "table.tex"} <= {p.name for p in out.iterdir()}

    before = records[0].stat().st_mtime_ns
    status, stdout, _ = run_cli(capsys, "run", "--methods", "lsh", "--bits", "16,32",
                                "--seeds", "0,1", "--results", str(out))  # fmt: skip
    assert "0 run(s) done, 4 already recorded" in stdout
    assert records[0].stat().st_mtime_ns == before

    status, stdout, _ = run_cli(capsys, "run", "--methods", "lsh", "--bits", "16",
                                "--seeds", "0", "--results", str(out), "--force")  # fmt: skip
    assert "1 run(s) done, 0 already recorded" in stdout


def test_saved_codes_re_evaluate_to_the_recorded_number(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "results"
    status, _, _ = run_cli(capsys, "run", "--methods", "lsh", "--bits", "32", "--results", str(out))
    assert status == 0
    [record_file] = (out / "records").rglob("*.json")
    [codes_file] = (out / "codes").rglob("*.npz")
    assert codes_file.stem == record_file.stem
    assert codes_file.parent.name == record_file.parent.name  # the protocol
    status, stdout, _ = run_cli(capsys, "evaluate", str(codes_file), "--topk", "all", "--json")
    assert status == 0
    recorded = json.loads(record_file.read_text())["metrics"]["map@all"]
    assert json.loads(stdout)["metrics"]["map@all"] == pytest.approx(recorded, abs=1e-12)


def table_rows(markdown: str) -> list[str]:
    """The method column of a Markdown table's body."""
    return [line.split("|")[1].strip() for line in markdown.splitlines() if line.startswith("| ")]


def test_a_run_writes_into_the_users_own_folder_and_prints_what_it_ran(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "results").mkdir()  # a clone's curated results
    status, _, _ = run_cli(capsys, "run", "--methods", "itq", "--bits", "16")
    assert status == 0
    status, stdout, _ = run_cli(capsys, "run", "--methods", "lsh", "--bits", "16,32")
    assert status == 0
    own = tmp_path / "hashbench-results"
    assert len(list((own / "records" / "digits").glob("*.json"))) == 3
    assert not any((tmp_path / "results").iterdir())
    # It prints the runs it was asked for; the folder's table keeps every run.
    assert table_rows(stdout)[1:] == ["LSH"]
    assert "digits 16 bits | digits 32 bits |" in stdout
    assert table_rows((own / "table.md").read_text())[1:] == ["LSH", "ITQ"]
    assert "records in hashbench-results/records" in stdout


def test_non_deep_methods_take_the_data_sets_literature_feature_unless_told(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HASHBENCH_DEVICE", "cpu")
    rng = np.random.default_rng(0)
    folder = tmp_path / "images"
    for part, count in (("train", 12), ("test", 4)):
        for label in ("cat", "dog"):
            (folder / part / label).mkdir(parents=True)
            for index in range(count):
                pixels = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(folder / part / label / f"{index}.png")
    tiny = [f"dpsh.{setting}" for setting in ("width=0.125", "warm_start_epochs=0", "epochs=1")]

    def features(*args: str) -> dict[str, str | None]:
        out = tmp_path / "results" / str(len(args))
        status, _, err = run_cli(capsys, "run", *args, "--results", str(out))
        assert status == 0, err
        return {
            record["method"]: record["config"]["feature"]
            for record in map(json.loads, map(Path.read_text, out.rglob("records/*/*.json")))
        }

    sets = [part for setting in tiny for part in ("--set", setting)]
    mission = ["--methods", "dpsh,itq", "--dataset", str(folder), "--bits", "8", *sets]
    assert features(*mission) == {"dpsh": None, "itq": "gist"}
    assert features(*mission, "--feature", "pixels") == {"dpsh": None, "itq": "pixels"}
    assert features("--methods", "itq", "--bits", "8") == {"itq": "pixels"}  # digits


@pytest.fixture
def corrupt_folder(tmp_path: Path) -> Path:
    root = tmp_path / "corrupt"
    for part in ("train", "test"):
        (root / part / "cat").mkdir(parents=True)
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(root / part / "cat" / "ok.png")
    (root / "train" / "cat" / "broken.jpg").write_bytes(b"not a jpeg at all")
    return root


@pytest.fixture
def empty_folder(tmp_path: Path) -> Path:
    (tmp_path / "empty" / "train" / "cat").mkdir(parents=True)
    return tmp_path / "empty"


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["run", "--methods", "lsh,nosuch"], ["unknown method 'nosuch'", "lsh"]),
        (["run", "--methods", "lsh", "--dataset", "nosuchset"], ["nosuchset"]),
        (["run", "--methods", "lsh", "--protocol", "nosuchprotocol"], ["nosuchprotocol"]),
        (["run", "--methods", "lsh", "--bits", "0"], ["bits"]),
        (["run", "--methods", "lsh", "--bits", "16,x"], ["integers"]),
        (["run", "--methods", "lsh", "--set", "lsh.colour=1"], ["colour"]),
        (["run", "--methods", "lsh", "--feature", "nosuchfeature"], ["nosuchfeature"]),
        (["evaluate", "missing.npz"], ["missing.npz"]),
        (["table", "--results", "nowhere"], ["nowhere"]),
    ],
)
def test_bad_input_gets_one_line_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    args: list[str], fragments: list[str],
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "results"
    extra = ["--results", str(out)] if args[0] == "run" else []
    try:
        status = main([*args, *extra])
    except SystemExit as exit_:  # argparse's own refusals
        status = exit_.code
    assert_one_line_error(status, capsys.readouterr().err, *fragments)
    assert not out.exists()


@pytest.mark.parametrize(
    ("folder", "fragments"), [("corrupt_folder", ["broken.jpg"]), ("empty_folder", ["no images"])]
)
def test_bad_data_gets_one_line_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, request: pytest.FixtureRequest,
    folder: str, fragments: list[str],
) -> None:  # fmt: skip
    out = tmp_path / "results"
    dataset = request.getfixturevalue(folder)
    status, _, err = run_cli(capsys, "run", "--methods", "lsh", "--dataset", str(dataset),
                             "--results", str(out))  # fmt: skip
    assert_one_line_error(status, err, *fragments)
    assert not out.exists()


def test_malformed_codes_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "codes.npz"
    np.savez(path, query_codes=np.zeros((3, 8)), database_codes=np.zeros((5, 8)))
    status, _, err = run_cli(capsys, "evaluate", str(path))
    assert_one_line_error(status, err, "codes.npz", "query_labels")


def test_a_diverging_run_fails_alone_without_a_record_and_the_command_exits_non_zero(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HASHBENCH_DEVICE", "cpu")
    out = tmp_path / "results"
    tiny = ["--set", "dpsh.width=0.125", "--set", "dpsh.warm_start_epochs=0",
            "--set", "dpsh.epochs=4", "--set", "dpsh.schedule=constant"]  # fmt: skip
    status, stdout, err = run_cli(capsys, "run", "--methods", "dpsh,lsh", "--bits", "16",
                                  "--set", "dpsh.lr=1000", *tiny,
                                  "--results", str(out))  # fmt: skip
    assert status == 1
    assert "1 run(s) done" in stdout
    failures = [line for line in err.splitlines() if "diverged" in line]
    assert len(failures) == 2  # as it happens, and again in the closing summary
    assert "1 run(s) failed, without records" in err and "Traceback" not in err
    assert "dpsh 16 bits seed 0 diverged in the hashing phase" in failures[-1]
    records = sorted(p.name for p in (out / "records" / "digits").glob("*.json"))
    assert len(records) == 1 and records[0].startswith("lsh")
    assert not (out / "checkpoints").exists() or not any((out / "checkpoints").iterdir())
    (failure,) = (out / "failures" / "digits").glob("dpsh-16bits-*.json")
    assert "diverged in the hashing phase" in json.loads(failure.read_text())["error"]
    status, stdout, _ = run_cli(capsys, "status", "--results", str(out))
    assert status == 0 and "1 done, 1 failed" in stdout
    assert "failed: digits dpsh 16 bits seed 0: dpsh 16 bits seed 0 diverged" in stdout


def test_a_run_that_falls_on_validation_is_recorded_with_a_warning_and_marked_in_the_table(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hashbench.deep.trainer import HASHING, Trainer

    validate = Trainer.validate

    def falling(trainer: Trainer) -> dict:  # each hashing epoch scores 0.2 below the last
        scores = validate(trainer)
        if trainer.phase == HASHING:
            scores["val_map"] = 0.9 - 0.2 * trainer.epoch
        return scores

    monkeypatch.setattr(Trainer, "validate", falling)
    monkeypatch.setenv("HASHBENCH_DEVICE", "cpu")
    out = tmp_path / "results"
    tiny = ["--set", "dpsh.width=0.125", "--set", "dpsh.warm_start_epochs=0",
            "--set", "dpsh.epochs=3"]  # fmt: skip
    status, stdout, err = run_cli(capsys, "run", "--methods", "dpsh", "--bits", "16", *tiny,
                                  "--results", str(out))  # fmt: skip
    assert status == 0 and "1 run(s) done" in stdout
    (warning,) = [line for line in err.splitlines() if "warning" in line]
    fell = "dpsh 16 bits seed 0 fell on validation over its hashing phase (0.900 in its first"
    assert fell + " epoch, 0.500 in its last)" in warning and "--set dpsh.lr" in warning
    (path,) = (out / "records" / "digits").glob("dpsh-16bits-*.json")
    selected = [e["epoch"] for e in json.loads(path.read_text())["history"] if e.get("selected")]
    assert selected == [1]
    assert "‡" in (out / "table.md").read_text()
    status, stdout, _ = run_cli(capsys, "status", "--results", str(out))
    wall = json.loads(path.read_text())["timings"]["wall_s"]
    assert status == 0 and "‡ |" in stdout and "‡: fell on validation" in stdout
    assert f"1 run(s) on record, {wall / 3600:.1f} h of wall time in all." in stdout


def test_a_resumed_runs_timings_count_the_interrupted_process_too(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hashbench.deep.trainer import HASHING

    monkeypatch.setenv("HASHBENCH_DEVICE", "cpu")
    out = tmp_path / "results"
    args = ["run", "--methods", "dpsh", "--bits", "16", "--set", "dpsh.width=0.125",
            "--set", "dpsh.warm_start_epochs=0", "--set", "dpsh.epochs=2",
            "--results", str(out)]  # fmt: skip
    with crash_after_checkpoint(HASHING, 1):
        assert main(args) != 0  # as a crash ends it, its checkpoint left behind
    assert "Interrupted" in capsys.readouterr().err
    status, stdout, _ = run_cli(capsys, *args)
    assert status == 0 and "1 run(s) done" in stdout
    (path,) = (out / "records" / "digits").glob("dpsh-16bits-*.json")
    record = json.loads(path.read_text())
    timings, history = record["timings"], record["history"]
    # the first hashing epoch ran in the interrupted process: its seconds are in the carried
    assert timings["carried_s"] >= history[0]["seconds"] > 0 and timings["carried_cpu_s"] > 0
    assert timings["fit_s"] >= timings["carried_s"] + history[1]["seconds"]
    assert timings["wall_s"] >= timings["fit_s"] + timings["encode_s"]


def test_list_method_shows_its_parameters_with_their_defaults(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, stdout, _ = run_cli(capsys, "list", "dpsh")
    assert status == 0
    rows = {key: rest.split(None, 1) for key, rest in
            (line.split(None, 1) for line in stdout.splitlines()[3:])}  # fmt: skip
    assert {"lr", "eta", "bank", "epochs", "warm_start_epochs", "backbone"} <= set(rows)
    assert json.loads(rows["eta"][0]) == create_method("dpsh", bits=8).eta
    assert rows["eta"][1] == "a number >= 0"
    assert rows["optimizer"][1] == "one of sgd, rmsprop, adam, adamw"
    status, stdout, _ = run_cli(capsys, "list", "itq")
    assert status == 0 and stdout.splitlines()[-1].split() == [
        "iterations", "50", "an", "integer", ">=", "0",
    ]  # fmt: skip
    status, stdout, _ = run_cli(capsys, "list", "lsh")
    assert status == 0 and "No parameters." in stdout
    status, _, err = run_cli(capsys, "list", "nosuch")
    assert_one_line_error(status, err, "nosuch")


def test_run_config_file_gives_the_flags_and_flags_override_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "results"
    config = tmp_path / "run.toml"
    config.write_text(
        f'methods = ["lsh", "sklsh"]\nbits = [16, 32]\nseeds = [3]\nresults = "{out}"\n'
        "[set.sklsh]\ngamma = 0.5\n"
    )
    status, stdout, err = run_cli(capsys, "run", "--config", str(config), "--bits", "8")
    assert status == 0, err
    records = [json.loads(p.read_text()) for p in (out / "records" / "digits").glob("*.json")]
    assert sorted((r["method"], r["bits"], r["seed"]) for r in records) == [
        ("lsh", 8, 3),
        ("sklsh", 8, 3),
    ]
    sklsh = next(r for r in records if r["method"] == "sklsh")
    assert sklsh["config"]["params"] == {"gamma": 0.5}

    # A record's saved config runs that run again: same config, same number.
    again = tmp_path / "again"
    record_file = next((out / "records" / "digits").glob("sklsh*.json"))
    status, _, err = run_cli(capsys, "run", "--config", str(record_file), "--results", str(again))
    assert status == 0, err
    (rerun,) = [json.loads(p.read_text()) for p in (again / "records" / "digits").glob("*.json")]
    assert rerun["config"] == sklsh["config"]
    assert rerun["metrics"] == sklsh["metrics"]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("methods = [1]\n", "methods[0] must be a non-empty text, got 1"),
        ("bitz = [16]\n", "unknown key bitz"),
        ("methods = [\n", "is not valid TOML"),
    ],
)
def test_bad_run_config_gets_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, fragment: str
) -> None:
    config = tmp_path / "run.toml"
    config.write_text(text)
    status, _, err = run_cli(capsys, "run", "--config", str(config))
    assert_one_line_error(status, err, fragment)
    status, _, err = run_cli(capsys, "run", "--config", str(tmp_path / "missing.toml"))
    assert_one_line_error(status, err, "does not exist")


def test_figures_draw_only_the_protocols_asked_for(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "results"
    assert run_cli(capsys, "run", "--methods", "lsh", "--bits", "16", "--results", str(out))[0] == 0
    status, stdout, err = run_cli(capsys, "figure", "pr", "--results", str(out), "--bits", "16",
                                  "--protocols", "digits")  # fmt: skip
    assert status == 0, err
    assert (out / "figures" / "pr.png").stat().st_size > 0
    status, _, err = run_cli(capsys, "figure", "pr", "--results", str(out), "--protocols", "coco")
    assert_one_line_error(status, err, "no records of protocol coco")


def test_figures_draw_the_defaults_or_with_variants_the_variants_apart(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "results"
    common = ["--methods", "itq", "--bits", "16", "--results", str(out)]
    assert run_cli(capsys, "run", *common, "--set", "itq.iterations=3")[0] == 0
    status, _, err = run_cli(capsys, "figure", "pr", "--results", str(out), "--bits", "16")
    assert_one_line_error(status, err, "no records to draw")  # ITQ's only run is a variant
    status, stdout, err = run_cli(capsys, "figure", "pr", "--results", str(out), "--bits", "16",
                                  "--variants")  # fmt: skip
    assert status == 0, err
    assert (out / "figures" / "pr.png").stat().st_size > 0
    assert run_cli(capsys, "run", *common)[0] == 0
    assert run_cli(capsys, "figure", "pr", "--results", str(out), "--bits", "16")[0] == 0
