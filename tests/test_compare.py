"""``hashbench compare``: the paired difference of two runs or two methods, computed by hand from
their codes, and one clear line for every comparison that cannot be made."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from fixtures.runs import PROTOCOL, write_run

from hashbench.cli import main
from hashbench.evaluation.codes_file import load_codes
from hashbench.evaluation.evaluator import evaluate
from hashbench.evaluation.inference import bootstrap_interval, sign_flip_test
from hashbench.records import codes_path


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    folder = tmp_path_factory.mktemp("compare") / "results"
    names = {
        "itq0": write_run(folder, "itq", 0, 0.08),
        "itq1": write_run(folder, "itq", 1, 0.08),
        "sh0": write_run(folder, "sh", 0, 0.2),
        "sh1": write_run(folder, "sh", 1, 0.2, codes_seed=5),
        "pcah2": write_run(folder, "pcah", 2, 0.1),
        "lsh0-other-split": write_run(folder, "lsh", 0, 0.1, splits_checksum="another"),
    }
    return folder, names


def per_query_map(results: Path, name: str) -> np.ndarray:
    bundle = load_codes(codes_path(results, PROTOCOL, name))
    arrays = (bundle.query_codes, bundle.database_codes, bundle.query_labels)
    return evaluate(*arrays, bundle.database_labels, topk=None).per_query["map@all"]


def compare(capsys: pytest.CaptureFixture[str], *arguments: str) -> tuple[int, str, str]:
    status = main(["compare", *arguments])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_two_runs_by_name_and_by_record_file(results, capsys) -> None:
    folder, names = results
    status, out, _ = compare(capsys, names["sh0"], names["itq0"], "--results", str(folder))
    assert status == 0
    difference = per_query_map(folder, names["sh0"]) - per_query_map(folder, names["itq0"])
    interval = bootstrap_interval([difference])
    assert f"A - B = {difference.mean():+.4f} map@all" in out
    assert f"interval {interval.low:+.4f} to {interval.high:+.4f}" in out
    assert f"p = {sign_flip_test([difference]):.4g} (10,000 random sign patterns)" in out
    assert "Paired over the 120 queries of seed(s) 0" in out
    record = next((folder / "records").rglob(f"{names['sh0']}.json"))
    by_file = compare(capsys, str(record), names["itq0"], "--results", str(folder))
    assert by_file == (0, out, "")


def test_two_methods_pair_every_seed_and_say_which_source_dominates(results, capsys) -> None:
    folder, names = results
    status, out, _ = compare(capsys, "itq", "sh", "--bits", "16", "--results", str(folder))
    assert status == 0
    assert "A: ITQ, protocol toy, 16 bits, seeds 0, 1" in out
    assert "Paired over the 240 queries of seed(s) 0, 1" in out
    strata = [
        per_query_map(folder, names[f"itq{seed}"]) - per_query_map(folder, names[f"sh{seed}"])
        for seed in (0, 1)
    ]
    mean = np.mean([values.mean() for values in strata])
    assert f"A - B = {mean:+.4f} map@all" in out
    means = [per_query_map(folder, names[f"itq{seed}"]).mean() for seed in (0, 1)]
    assert f"varies by {np.std(means, ddof=1):.4f} across 2 seeds" in out
    assert out.count("Sources of variation") == 3  # ITQ, SH and their difference
    assert "dominate." in out


@pytest.mark.parametrize(
    ("operands", "message"),
    [
        (("itq0", "pcah2"), "searched different queries"),
        (("itq0", "lsh0-other-split"), "searched different queries"),
        (("itq0", "sh"), "compare two runs or two methods, not one of each"),
        (("itq", "sh"), "to compare two methods give --bits"),
        (("itq", "pcah", "--bits", "16"), "have no seed in common"),
        (("itq", "dpsh", "--bits", "16"), "no run of 'dpsh' at 16 bits"),
        (("itq", "sh", "--bits", "16", "--protocol", "cifar10"), "no run of 'itq'"),
        (("nowhere.json", "sh0"), "no record nowhere.json"),
    ],
)
def test_what_cannot_be_compared_is_one_line(results, capsys, operands, message) -> None:
    folder, names = results
    arguments = [names.get(operand, operand) for operand in operands]
    status, out, err = compare(capsys, *arguments, "--results", str(folder))
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_a_record_outside_a_results_folder_is_refused(results, capsys, tmp_path) -> None:
    folder, names = results
    loose = tmp_path / "loose.json"
    record = next((folder / "records").rglob(f"{names['itq0']}.json"))
    loose.write_text(json.dumps(json.loads(record.read_text())))
    status, _, err = compare(capsys, str(loose), names["sh0"], "--results", str(folder))
    assert status == 2 and "is not under <results>/records/<protocol>/" in err
