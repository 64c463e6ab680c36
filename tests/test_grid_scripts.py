"""The committed grids' helpers: only runs at the defaults as they are now cross between folders,
a default is checked against its sweep, and a run that fell on validation is trained again at a
lower rate by one rule for every method."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from hashbench.records import SCHEMA_VERSION
from hashbench.registry import REGISTRY

SCRIPT = Path(__file__).resolve().parents[1] / "results" / "copy-default-runs.py"
SETTLED = SCRIPT.with_name("settled.py")
FALLEN = SCRIPT.with_name("fallen.py")


def write_run(
    results: Path,
    name: str,
    params: dict,
    stored_variant: dict,
    val_map: float = 0.5,
    last_val_map: float | None = None,
) -> None:
    """A record whose stored variant may be stale, as a run's is once a default moves; its
    hashing phase ends at ``last_val_map`` on validation (by default where it peaked)."""
    bits = int(name.split("-")[1].removesuffix("bits"))
    last = val_map if last_val_map is None else last_val_map
    record = {
        "schema": SCHEMA_VERSION,
        "method": "dpsh",
        "bits": bits,
        "seed": 0,
        "variant": stored_variant,
        "config": {"method": "dpsh", "bits": bits, "seed": 0, "dataset": "cifar10",
                   "protocol": "cifar10", "params": params},
        "dataset": {"name": "cifar10", "checksum": "d" * 64},
        "protocol": {"name": "cifar10", "checksum": "p" * 64, "topk": None,
                     "relevance": "shared-label"},
        "splits": {"file": "splits/cifar10/seed0.npz", "checksum": "s", "sizes": {"query": 1}},
        "metrics": {"map": 0.5},
        "history": [{"epoch": 1, "phase": "hashing", "loss": 0.7, "val_map": val_map / 2},
                    {"epoch": 2, "phase": "hashing", "loss": 0.6, "val_map": val_map,
                     "selected": True},
                    {"epoch": 3, "phase": "hashing", "loss": 0.6, "val_map": last}],
    }  # fmt: skip
    (results / "records" / "cifar10").mkdir(parents=True, exist_ok=True)
    (results / "codes" / "cifar10").mkdir(parents=True, exist_ok=True)
    (results / "records" / "cifar10" / f"{name}.json").write_text(json.dumps(record))
    (results / "codes" / "cifar10" / f"{name}.npz").write_bytes(name.encode())


def copy_runs(
    source: Path, target: Path, *methods: str, bits: str | None = None
) -> subprocess.CompletedProcess:
    lengths = ["--bits", bits] if bits else []
    command = [sys.executable, str(SCRIPT), *lengths, str(source), str(target), "cifar10", *methods]
    return subprocess.run(command, capture_output=True, text=True)


def test_copies_default_runs_with_their_codes_and_keeps_what_is_there(tmp_path: Path) -> None:
    defaults = REGISTRY.declaration("dpsh").default_params(48)
    source, target = tmp_path / "results", tmp_path / "results" / "sweep"
    # Stored as a variant by an older default, at the defaults now: copied.
    write_run(source, "dpsh-48bits-seed0-aaa", defaults, {"lr": 0.2})
    # Stored as a default, a variant now: not copied.
    write_run(source, "dpsh-48bits-seed0-bbb", {**defaults, "lr": defaults["lr"] / 2}, {})
    at_64 = REGISTRY.declaration("dpsh").default_params(64)
    write_run(source, "dpsh-64bits-seed0-ccc", at_64, {})  # another length: not copied
    (target / "codes" / "cifar10").mkdir(parents=True)
    kept = target / "codes" / "cifar10" / "dpsh-48bits-seed0-aaa.npz"
    kept.write_bytes(b"already there")

    assert copy_runs(source, target, "dpsh", "dch").returncode == 0

    assert sorted(p.name for p in (target / "records" / "cifar10").iterdir()) == [
        "dpsh-48bits-seed0-aaa.json"
    ]
    assert kept.read_bytes() == b"already there"
    # the other lengths where they are asked for
    assert copy_runs(source, target, "dpsh", bits="64,128").returncode == 0
    assert (target / "records" / "cifar10" / "dpsh-64bits-seed0-ccc.json").exists()
    assert (target / "codes" / "cifar10" / "dpsh-64bits-seed0-ccc.npz").exists()


def test_without_arguments_it_prints_its_usage_and_fails() -> None:
    usage = "copy-default-runs.py [--bits N,N] FROM TO PROTOCOL METHOD"
    for arguments in ([], ["--bits", "4x", "a", "b", "cifar10", "dpsh"]):
        command = [sys.executable, str(SCRIPT), *arguments]
        result = subprocess.run(command, capture_output=True, text=True)
        assert result.returncode == 1 and usage in result.stderr


def test_a_record_it_cannot_read_or_a_missing_folder_stops_it_with_one_line(
    tmp_path: Path,
) -> None:
    source = tmp_path / "results"
    write_run(source, "dpsh-48bits-seed0-aaa", {}, {})
    (source / "records" / "cifar10" / "dpsh-48bits-seed0-aaa.json").write_text("{not json")
    for origin, named in ((source, "seed0-aaa.json"), (tmp_path / "resluts", "resluts")):
        result = copy_runs(origin, tmp_path / "to", "dpsh")
        assert result.returncode == 1
        assert named in result.stderr and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "to").exists()  # nothing copied


def settled(sweep: Path, setting: str, *held: str) -> subprocess.CompletedProcess:
    command = [sys.executable, str(SETTLED), str(sweep), "cifar10", "dpsh", setting, *held]
    return subprocess.run(command, capture_output=True, text=True)


def test_settled_passes_the_default_where_it_is_best_or_tied_and_names_a_better_value(
    tmp_path: Path,
) -> None:
    defaults = REGISTRY.declaration("dpsh").default_params(48)
    lr = defaults["lr"]
    write_run(tmp_path, "dpsh-48bits-seed0-a", defaults, {}, val_map=0.8)
    write_run(tmp_path, "dpsh-48bits-seed0-b", {**defaults, "lr": lr / 2}, {}, val_map=0.8)
    # Departs in another setting as well: not part of the lr comparison, however high.
    write_run(tmp_path, "dpsh-48bits-seed0-c", {**defaults, "lr": lr * 2, "epochs": 7}, {}, 0.99)

    tied = settled(tmp_path, "lr")
    assert tied.returncode == 0, tied.stderr
    assert tied.stdout.strip() == f"dpsh.lr on validation: {{'default': 0.8, '{lr / 2}': 0.8}}"

    write_run(tmp_path, "dpsh-48bits-seed0-e", {**defaults, "lr": lr * 2}, {}, val_map=0.81)
    better = settled(tmp_path, "lr")
    assert better.returncode == 1
    assert better.stderr.strip() == (
        f"settled.py: dpsh.lr={lr * 2} beats the default on validation: make it the default "
        "(the method's, or the protocol's [recipe.dpsh] for a choice on cifar10)"
    )


def test_settled_without_a_run_at_the_defaults_stops_with_one_line(tmp_path: Path) -> None:
    defaults = REGISTRY.declaration("dpsh").default_params(48)
    write_run(tmp_path, "dpsh-48bits-seed0-b", {**defaults, "lr": 0.01}, {}, val_map=0.8)
    for sweep in (tmp_path, tmp_path / "swep"):
        result = settled(sweep, "lr")
        assert result.returncode == 1
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert "no 48-bit seed-0 dpsh run at its defaults" in settled(tmp_path, "lr").stderr


def test_settled_reads_a_comparison_made_under_another_setting_s_earlier_default(
    tmp_path: Path,
) -> None:
    defaults = REGISTRY.declaration("dpsh").default_params(48)
    bank, lr = defaults["bank"], defaults["lr"]
    # The rates compared with the other bank, then the bank compared at the default rate.
    write_run(tmp_path, "dpsh-48bits-seed0-a", {**defaults, "bank": not bank}, {}, val_map=0.7)
    write_run(tmp_path, "dpsh-48bits-seed0-b", {**defaults, "bank": not bank, "lr": lr / 2}, {},
              val_map=0.6)  # fmt: skip
    write_run(tmp_path, "dpsh-48bits-seed0-c", defaults, {}, val_map=0.8)
    held = f"bank={str(not bank).lower()}"
    under = settled(tmp_path, "lr", held)
    assert under.returncode == 0, under.stderr
    assert under.stdout.strip() == f"dpsh.lr on validation: {{'default': 0.7, '{lr / 2}': 0.6}}"
    assert settled(tmp_path, "lr").stdout.strip() == "dpsh.lr on validation: {'default': 0.8}"
    # held at the default's own value: the same runs as holding nothing
    same = settled(tmp_path, "lr", f"bank={str(bank).lower()}")
    assert same.stdout == settled(tmp_path, "lr").stdout
    write_run(tmp_path, "dpsh-48bits-seed0-d", {**defaults, "bank": not bank, "lr": lr * 2}, {},
              val_map=0.75)  # fmt: skip
    assert settled(tmp_path, "lr", held).returncode == 1
    wrong = settled(tmp_path, "lr", "bank")
    assert wrong.returncode == 1 and wrong.stderr.strip() == "settled.py: 'bank' is not NAME=VALUE"


def test_settled_reads_a_record_older_than_a_held_setting_at_that_setting_s_old_value(
    tmp_path: Path,
) -> None:
    from hashbench.method import ADDED_PARAMETERS

    defaults = REGISTRY.declaration("dpsh").default_params(48)
    added = next(k for k, v in ADDED_PARAMETERS.items() if k in defaults and defaults[k] != v)
    old, lr = ADDED_PARAMETERS[added], defaults["lr"]
    older = {key: value for key, value in defaults.items() if key != added}  # before it existed
    write_run(tmp_path, "dpsh-48bits-seed0-a", older, {}, val_map=0.7)
    write_run(tmp_path, "dpsh-48bits-seed0-b", {**older, "lr": lr / 2}, {}, val_map=0.6)
    write_run(tmp_path, "dpsh-48bits-seed0-c", defaults, {}, val_map=0.9)  # not held: left out
    result = settled(tmp_path, "lr", f"{added}={json.dumps(old)}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"dpsh.lr on validation: {{'default': 0.7, '{lr / 2}': 0.6}}"


def fallen(results: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, str(FALLEN), str(results), str(results / "sweep"), "cifar10"]
    return subprocess.run(command, capture_output=True, text=True)


def test_a_cell_that_fell_is_trained_again_at_half_the_rate_until_a_run_holds(
    tmp_path: Path,
) -> None:
    defaults, sweep = REGISTRY.declaration("dpsh").default_params(128), tmp_path / "sweep"
    lr = defaults["lr"]
    write_run(tmp_path, "dpsh-48bits-seed0-a", defaults, {}, 0.8, last_val_map=0.795)  # held
    write_run(tmp_path, "dpsh-128bits-seed0-b", defaults, {}, 0.8, last_val_map=0.3)  # fell
    # a variant that fell is not the cell's run at the defaults: no rule for it
    write_run(tmp_path, "dpsh-64bits-seed0-c", {**defaults, "epochs": 3}, {}, 0.8, 0.3)
    assert fallen(tmp_path).stdout == f"dpsh 128 0 {lr / 2:g}\n"
    # a lower rate off the ladder (a sweep's) is not one of the rule's tries, even if it held
    write_run(sweep, "dpsh-128bits-seed0-x", {**defaults, "lr": lr * 0.3}, {}, 0.8, 0.8)
    assert fallen(tmp_path).stdout == f"dpsh 128 0 {lr / 2:g}\n"
    write_run(sweep, "dpsh-128bits-seed0-d", {**defaults, "lr": lr / 2}, {}, 0.8, 0.3)  # fell
    assert fallen(tmp_path).stdout == f"dpsh 128 0 {lr / 4:g}\n"
    write_run(sweep, "dpsh-128bits-seed0-e", {**defaults, "lr": lr / 4}, {}, 0.8, 0.8)  # held
    held = fallen(tmp_path)
    assert held.returncode == 1 and held.stdout == ""
    assert held.stderr.strip() == (
        f"fallen.py: a lower rate held: set [recipe.dpsh.128] lr = {lr / 4:g} in "
        "protocols/cifar10.toml, then run the grid again"
    )


def test_a_cell_that_falls_at_every_rate_down_to_a_sixteenth_stays_marked(tmp_path: Path) -> None:
    defaults, sweep = REGISTRY.declaration("dpsh").default_params(128), tmp_path / "sweep"
    lr = defaults["lr"]
    write_run(tmp_path, "dpsh-128bits-seed0-b", defaults, {}, 0.8, last_val_map=0.3)
    for divisor in (2, 4, 8):
        write_run(sweep, f"dpsh-128bits-seed0-{divisor}", {**defaults, "lr": lr / divisor}, {},
                  0.8, 0.3)  # fmt: skip
    assert fallen(tmp_path).stdout == f"dpsh 128 0 {lr / 16:g}\n"  # the last step
    write_run(sweep, "dpsh-128bits-seed0-16", {**defaults, "lr": lr / 16}, {}, 0.8, 0.3)
    result = fallen(tmp_path)
    assert result.returncode == 0 and result.stdout == ""
    assert result.stderr.strip() == (
        f"fallen.py: warning: dpsh at 128 bits fell at lr {lr:g} and at every rate down to "
        f"{lr / 16:g}; its cell stays marked"
    )
    missing = fallen(tmp_path / "none")
    assert missing.returncode == 1 and "no records folder" in missing.stderr
    assert "Traceback" not in missing.stderr
