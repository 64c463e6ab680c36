"""What a protocol sets for deep methods: its [recipe] budget under the shared `scratch` recipe,
clipped gradients on multi-label data, and validation against the training items where its
database is the training set."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from hashbench import HashbenchError
from hashbench.cli import main
from hashbench.deep.recipes import MULTI_LABEL_CLIP_GRAD_NORM, protocol_settings
from hashbench.records import variant
from hashbench.splits.protocol import load_protocol, parse_protocol

TABLE = {"epoch_size": 4500, "lr": 0.5, "val_database_size": 5000}


def test_the_protocol_sets_what_neither_the_method_nor_the_user_set() -> None:
    own = {"lr": 0.2}  # the method's own scratch rate stays its own
    assert protocol_settings("dpsh", 48, own, {}, TABLE, True, False) == {
        "epoch_size": 4500,
        "val_database_size": 5000,
        "val_database": "training",
    }
    given = {"epoch_size": 64, "val_database": "validation"}  # the user's --set come first
    assert protocol_settings("dpsh", 48, own, given, TABLE, True, False) == {
        "val_database_size": 5000
    }
    # The paper's own recipe keeps its budget; validation still follows the database.
    assert protocol_settings("dpsh", 48, own, {"preset": "paper"}, TABLE, True, False) == {
        "val_database": "training"
    }
    assert protocol_settings("dpsh", 48, own, {}, {}, False, False) == {
        "val_database": "validation"
    }


def test_multi_label_data_clips_the_hashing_phase_unless_someone_says_otherwise() -> None:
    clipped = {"clip_grad_norm": MULTI_LABEL_CLIP_GRAD_NORM, "val_database": "validation"}
    assert protocol_settings("dpsh", 48, {}, {}, {}, False, True) == clipped
    # the user's value, the method's own and a protocol's [recipe] each take precedence
    given = {"clip_grad_norm": None}
    assert protocol_settings("dpsh", 48, {}, given, {}, False, True) == {
        "val_database": "validation"
    }
    own = {"clip_grad_norm": 5.0}
    assert protocol_settings("dpsh", 48, own, {}, {}, False, True) == {"val_database": "validation"}
    table = {"clip_grad_norm": 2.0}
    assert protocol_settings("dpsh", 48, {}, {}, table, False, True)["clip_grad_norm"] == 2.0
    # the paper's own recipes keep their own clipping (DMRH's train.py clips; DPSH's does not)
    paper = protocol_settings("dpsh", 48, {}, {"preset": "paper"}, {}, False, True)
    assert paper == {"val_database": "validation"}


def test_a_method_table_gives_that_method_its_choice_on_the_protocol() -> None:
    table = {"epoch_size": 4500, "lr": 0.5, "dpsh": {"bank": False, "lr": 0.1}}
    own = {"lr": 0.2}
    # over the method's own scratch values (the shared lr 0.5 is not), beneath the user's
    assert protocol_settings("dpsh", 48, own, {}, table, True, False) == {
        "epoch_size": 4500, "bank": False, "lr": 0.1, "val_database": "training"
    }  # fmt: skip
    assert protocol_settings("dpsh", 48, own, {"bank": True}, table, True, False) == {
        "epoch_size": 4500, "lr": 0.1, "val_database": "training"
    }  # fmt: skip
    # another method takes the shared settings only; the paper preset none of them
    assert protocol_settings("dmrh", 48, own, {}, table, True, False) == {
        "epoch_size": 4500, "val_database": "training"
    }  # fmt: skip
    paper = protocol_settings("dpsh", 48, own, {"preset": "paper"}, table, True, False)
    assert paper == {"val_database": "training"}


def test_a_length_table_gives_the_method_its_choice_at_that_length_only() -> None:
    table = {"epoch_size": 4500, "dsh": {"lr": 0.02, "128": {"lr": 0.005}, "24": {"epochs": 9}}}
    own = {"lr": 0.01}

    def at(bits: int, given: dict | None = None) -> dict:
        return protocol_settings("dsh", bits, own, given or {}, table, True, False)

    assert at(128) == {"epoch_size": 4500, "lr": 0.005, "val_database": "training"}
    assert at(24) == {"epoch_size": 4500, "lr": 0.02, "epochs": 9, "val_database": "training"}
    assert at(48) == {"epoch_size": 4500, "lr": 0.02, "val_database": "training"}
    assert at(128, {"lr": 0.1}) == {"epoch_size": 4500, "val_database": "training"}  # --set wins
    assert at(128, {"preset": "paper"}) == {"val_database": "training"}  # scratch only


def _digits_with(recipe: str) -> bytes:
    """The shipped digits protocol with ``recipe`` (TOML tables) appended."""
    return Path(load_protocol("digits").source).read_bytes() + b"\n" + recipe.encode()


@pytest.mark.parametrize(
    ("recipe", "message"),
    [
        ("[recipe]\nepochz = 3", r"\[recipe\] sets epochz, which no deep recipe has"),
        ('[recipe]\nlr = "abc"', r"\[recipe\]: lr must be a number > 0, got 'abc'"),
        ("[recipe]\nepochs = -3", r"\[recipe\]: epochs must be an integer >= 1, got -3"),
        ("[recipe.dspsh]\nbank = false", r"\[recipe\.dspsh\] names no installed deep method"),
        ("[recipe.itq]\nbits = 3", r"\[recipe\.itq\] names no installed deep method"),
        ("[recipe.dpsh]\nbnak = false", r"\[recipe\.dpsh\]: dpsh has no settable parameter bnak"),
        ("[recipe.dpsh]\nbank = 3", r"\[recipe\.dpsh\]: dpsh: bank must be true or false, got 3"),
        # a table for another method is checked too, not only when that method runs
        ("[recipe.dmrh]\nregion = 2", r"\[recipe\.dmrh\]: dmrh has no settable parameter region"),
        # where validation searches follows the protocol's database, whatever a table says
        ('[recipe]\nval_database = "validation"', r"\[recipe\] sets val_database, which follows"),
        ('[recipe.dpsh]\nval_database = "training"', r"\[recipe\.dpsh\] sets val_database"),
        ('[recipe.dpsh]\npreset = "paper"', r"\[recipe\.dpsh\] sets preset, which follows"),
        # a table inside a method's is its settings at one code length, checked as the method's
        ("[recipe.dpsh.fast]\nlr = 0.1", r"\[recipe\.dpsh\.fast\] is not a code length"),
        ("[recipe.dpsh.0]\nlr = 0.1", r"\[recipe\.dpsh\.0\] is not a code length"),
        ("[recipe.dpsh.064]\nlr = 0.1", r"\[recipe\.dpsh\.064\] is not a code length"),
        ('[recipe.dpsh."²"]\nlr = 0.1', r"\[recipe\.dpsh\.²\] is not a code length"),
        ("[recipe.dpsh.128]\nlr = -1", r"\[recipe\.dpsh\.128\]: dpsh: lr must be a number > 0"),
        ("[recipe.dpsh.64]\nbnak = 1", r"\[recipe\.dpsh\.64\]: dpsh has no settable parameter"),
        ('[recipe.dpsh.64]\npreset = "paper"', r"\[recipe\.dpsh\.64\] sets preset, which"),
    ],
)
def test_a_recipe_table_is_checked_where_the_protocol_file_is_read(
    recipe: str, message: str
) -> None:
    with pytest.raises(HashbenchError, match=r"^protocol file bad\.toml: " + message):
        parse_protocol("bad", _digits_with(recipe), "bad.toml")


def test_a_protocol_with_a_bad_recipe_table_stops_a_run_with_one_line_and_no_results(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    protocol = tmp_path / "digits-bad.toml"
    protocol.write_bytes(_digits_with("[recipe.dspsh]\nbank = false"))
    results = tmp_path / "results"
    args = ["run", "--methods", "itq", "--dataset", "digits", "--protocol", str(protocol),
            "--bits", "16", "--results", str(results)]  # fmt: skip
    assert main(args) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "[recipe.dspsh] names no installed deep method" in err[0]
    assert not results.exists() or not any(results.rglob("*.json"))


def test_runs_on_a_shipped_protocol_take_its_method_table_as_their_default() -> None:
    from hashbench import create_method

    def record(protocol: str, **given: object) -> dict:
        shipped = load_protocol(protocol)
        settings = protocol_settings("dpsh", 48, {"lr": 0.2}, given, shipped.recipe, True, False)
        params = create_method("dpsh", bits=48, **settings, **given).get_params()
        return {"method": "dpsh", "bits": 48, "variant": {}, "config": {"params": params},
                "protocol": {"name": shipped.name, "checksum": shipped.checksum,
                             "recipe": settings}}  # fmt: skip

    # cifar10-dmrh's [recipe.dpsh] chose in-batch pairs; cifar10 keeps the authors' bank
    assert variant(record("cifar10-dmrh")) == {}
    assert variant(record("cifar10-dmrh", bank=True)) == {"bank": True}
    assert variant(record("cifar10", bank=False)) == {"bank": False}


def test_large_training_sets_budget_their_epochs() -> None:
    budgeted = {"epoch_size": 4500, "val_database_size": 5000}
    for name in ("coco", "nuswide"):
        assert load_protocol(name).recipe == budgeted
    # the mosaics chose on their own validation: the paper protocol's warm start, one region,
    # DDSH's authors' solver, and the fall rule's rates for ADSH at 48 bits and CSQ at 128
    mosaic = {
        **budgeted,
        "warm_start_epochs": 200,
        "dmrh": {"regions": 1},
        "ddsh": {"solver": "balanced"},
        "adsh": {"48": {"lr": 6.25e-05}},
        "csq": {"128": {"lr": 0.00313}},
    }
    assert load_protocol("cifar10-mosaic").recipe == mosaic
    # CIFAR-10's 50,000 training images: a longer warm start, DPSH's in-batch pairs (over its
    # authors' bank) and DMRH's one region (of N = 1..6), each chosen on cifar10-dmrh's validation
    chosen = {"warm_start_epochs": 200, "dpsh": {"bank": False}, "dmrh": {"regions": 1}}
    longer = {**budgeted, **chosen}
    assert load_protocol("cifar10-2").recipe == longer
    # and on cifar10-dmrh, the rates at 128 bits where the fall rule trained a cell again
    fall_rule = {"adsh": {"128": {"lr": 0.0005}}, "ddsh": {"128": {"lr": 0.00025}}}
    assert load_protocol("cifar10-dmrh").recipe == {**longer, **fall_rule}
    assert load_protocol("cifar10").recipe == {}  # the recipe was chosen on its 4,500 items


def test_a_run_records_what_its_protocol_set_and_counts_it_as_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    digits = load_protocol("digits").source
    protocol = tmp_path / "digits-budget.toml"
    budget = (
        "\n[recipe]\nepoch_size = 64\n[recipe.dpsh.16]\neta = 5.0\n[recipe.dpsh.32]\neta = 1.0\n"
    )
    protocol.write_text(Path(digits).read_text() + budget)
    tiny = {"width": 0.125, "warm_start_epochs": 1, "epochs": 1, "batch_size": 16,
            "warm_start_batch_size": 16, "val_topk": "null"}  # fmt: skip
    results = tmp_path / "results"
    args = ["run", "--methods", "dpsh", "--dataset", "digits", "--protocol", str(protocol),
            "--bits", "16", "--image-size", "32", "--results", str(results)]  # fmt: skip
    for key, value in tiny.items():
        args += ["--set", f"dpsh.{key}={value}"]
    assert main(args) == 0, capsys.readouterr().err
    (path,) = (results / "records").rglob("*.json")
    record = json.loads(path.read_text())
    # digits' database is its training set: validation searches the training items
    # and the table for its code length (16 bits), not another length's
    recipe = {"epoch_size": 64, "eta": 5.0, "val_database": "training"}
    assert record["protocol"]["recipe"] == recipe
    params = record["config"]["params"]
    assert params["epoch_size"] == 64 and params["val_database"] == "training"
    assert params["eta"] == 5.0
    assert set(variant(record)) == set(tiny)  # the protocol's settings are not departures
    epochs = [e for e in record["history"] if e["phase"] == "hashing"]
    assert epochs and all("val_map" in e for e in epochs)


def test_a_budget_moved_in_the_protocol_file_turns_older_runs_into_variants(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import dataclasses

    from hashbench import create_method
    from hashbench.records import _recipe_table
    from hashbench.splits import protocol as protocols

    shipped = load_protocol("cifar10-dmrh")
    budget = {key: value for key, value in shipped.recipe.items()
              if key != "warm_start_epochs" and not isinstance(value, dict)}  # fmt: skip
    before = dataclasses.replace(shipped, recipe=budget)  # the file before the budget moved
    moved = dataclasses.replace(shipped, recipe={**budget, "warm_start_epochs": 200})
    ran_with = {**budget, "val_database": "training"}  # as protocol_settings gave it

    def run(method: str, **given: object) -> dict:
        params = {**create_method(method, bits=48, **ran_with).get_params(), **given}
        protocol = {"name": shipped.name, "checksum": shipped.checksum, "recipe": ran_with}
        return {"method": method, "bits": 48, "variant": {}, "config": {"params": params},
                "protocol": protocol}  # fmt: skip

    older, longer = run("dpsh"), run("dpsh", warm_start_epochs=200)
    hybrid, paper = run("hybridhash"), run("dpsh", preset="paper")
    try:
        monkeypatch.setattr(protocols, "list_protocols", lambda: [before])
        _recipe_table.cache_clear()
        assert variant(older) == {} and variant(longer) == {"warm_start_epochs": 200}
        monkeypatch.setattr(protocols, "list_protocols", lambda: [moved])
        _recipe_table.cache_clear()
        assert variant(longer) == {}  # the run at the budget as it is now
        assert variant(older) == {"warm_start_epochs": 60}  # the budget it ran under then
        assert variant(hybrid) == {"warm_start_epochs": 60}  # the budget binds HybridHash too
        assert "warm_start_epochs" not in variant(paper)  # the table budgets `scratch` only
        other = {**older, "protocol": {**older["protocol"], "checksum": "other splits"}}
        assert variant(other) == {}  # not the shipped file's splits: judged as it ran
    finally:
        _recipe_table.cache_clear()


def test_the_recipe_table_is_left_out_of_the_protocols_checksum(tmp_path: Path) -> None:
    digits = Path(load_protocol("digits").source).read_bytes()
    assert load_protocol("digits").checksum == hashlib.sha256(digits).hexdigest()
    checksums = set()
    for budget in ("epoch_size = 64\n", "epoch_size = 128\nval_database_size = 50\n"):
        path = tmp_path / "digits.toml"
        path.write_bytes(digits + b"\n[recipe]\n" + budget.encode())
        protocol = load_protocol(str(path))
        assert protocol.recipe["epoch_size"] in (64, 128)
        checksums.add(protocol.checksum)
    assert checksums == {hashlib.sha256(digits + b"\n").hexdigest()}  # the budget: not in it
    # a method's own table is budget too
    path.write_bytes(digits + b"\n[recipe]\nepoch_size = 64\n[recipe.dpsh]\nbank = false\n")
    assert load_protocol(str(path)).recipe == {"epoch_size": 64, "dpsh": {"bank": False}}
    assert load_protocol(str(path)).checksum in checksums
    path.write_bytes(digits.replace(b"per_class = 30", b"per_class = 20") + b"\n[recipe]\n")
    assert load_protocol(str(path)).checksum not in checksums  # the splits: in it


def test_a_recipe_table_nested_deeper_than_a_code_length_is_refused_in_one_line(
    tmp_path: Path,
) -> None:
    digits = Path(load_protocol("digits").source).read_bytes()
    path = tmp_path / "digits.toml"
    path.write_bytes(digits + b"\n[recipe.dpsh.128.bank]\nvalue = false\n")
    with pytest.raises(HashbenchError, match=r"\[recipe\.<method>\.<bits>\] tables in those"):
        load_protocol(str(path))


def test_a_rate_set_at_one_length_turns_that_length_s_older_runs_into_variants_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import dataclasses

    from hashbench import create_method
    from hashbench.records import _recipe_table
    from hashbench.splits import protocol as protocols

    shipped = load_protocol("cifar10-dmrh")
    lr = create_method("dsh", bits=128).get_params()["lr"]
    table = {**shipped.recipe, "dsh": {"128": {"lr": lr / 2}}}
    moved = dataclasses.replace(shipped, recipe=table)

    def run(bits: int, **given: object) -> dict:
        settings = protocol_settings("dsh", bits, {}, given, shipped.recipe, True, False)
        params = {**create_method("dsh", bits=bits, **settings).get_params(), **given}
        protocol = {"name": shipped.name, "checksum": shipped.checksum, "recipe": settings}
        return {"method": "dsh", "bits": bits, "variant": {}, "config": {"params": params},
                "protocol": protocol}  # fmt: skip

    try:
        monkeypatch.setattr(protocols, "list_protocols", lambda: [moved])
        _recipe_table.cache_clear()
        assert variant(run(128)) == {"lr": lr}  # the rate it ran at, no longer the default
        assert variant(run(128, lr=lr / 2)) == {}  # the run at the rate set for 128 bits
        assert variant(run(48)) == {}  # the other lengths keep the method's rate
    finally:
        _recipe_table.cache_clear()
