"""The graded metrics from run to page: records, `hashbench table`, `evaluate` and the report
of a multi-label protocol that names its headline metrics; refused where labels are classes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from fixtures.listdata import SMALL, write_list_dataset

from hashbench.cli import main
from hashbench.evaluation.codes_file import load_codes
from hashbench.evaluation.evaluator import evaluate

HEADLINE = 'metric = ["map", "ndcg@20", "acg@20", "wap"]'


def protocol_file(folder: Path, shipped: str, metric: str) -> Path:
    """The shipped protocol with mAP@30 and the given headline metrics."""
    text = (Path(__file__).parents[1] / "protocols" / f"{shipped}.toml").read_text()
    text = text.replace('metric = "map"', metric).replace('topk = "all"', "topk = 30")
    path = folder / "graded.toml"
    path.write_text(text)
    return path


def evaluated(codes_file: Path, graded_at: tuple[int, ...]) -> dict[str, float]:
    """The evaluator's metrics of a kept codes file at the protocol's K."""
    codes = load_codes(codes_file)
    bundle = (codes.query_codes, codes.database_codes, codes.query_labels, codes.database_labels)
    return evaluate(*bundle, topk=30, graded_at=graded_at).metrics


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """LSH and ITQ on a small multi-label list folder under the graded protocol."""
    root = tmp_path_factory.mktemp("graded")
    write_list_dataset(root / "lists", SMALL)
    folder = root / "results"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HASHBENCH_CACHE", str(root / "cache"))
        protocol = protocol_file(root, "listfolder", HEADLINE)
        args = ["run", "--methods", "lsh,itq", "--dataset", str(root / "lists"),
                "--protocol", str(protocol), "--bits", "16", "--image-size", "16",
                "--results", str(folder)]  # fmt: skip
        assert main(args) == 0
    return folder


def test_records_carry_the_headline_and_every_graded_metric(results: Path) -> None:
    for path in (results / "records").rglob("*.json"):
        record = json.loads(path.read_text())
        assert record["protocol"]["metrics"] == ["map", "ndcg@20", "acg@20", "wap"]
        metrics = record["metrics"]
        # The protocol's depth beside the usual ones (beyond the 60 items: all of them).
        for name in ("ndcg", "ndcg_tie", "acg", "acg_tie"):
            assert {f"{name}@20", f"{name}@100", f"{name}@1000"} <= set(metrics)
        again = evaluated(results / "codes" / "graded" / f"{path.stem}.npz", (20,))
        for name in ("ndcg@20", "acg_tie@20", "wap@30"):
            assert metrics[name] == pytest.approx(again[name], abs=1e-12), name
        assert metrics["ndcg@100"] == metrics["ndcg@1000"]  # both rank all 60 items


def test_table_and_evaluate_show_the_graded_metrics(
    results: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for metric, key in (("wap", "wap@30"), ("ndcg@20", "ndcg@20"), ("acg_tie@20", "acg_tie@20")):
        assert main(["table", "--results", str(results), "--metric", metric, "--format",
                     "csv"]) == 0  # fmt: skip
        rows = capsys.readouterr().out.splitlines()
        assert len(rows) == 3 and all(f",{key}," in row for row in rows[1:]), metric
    [codes] = (results / "codes").rglob("lsh-*.npz")
    assert main(["evaluate", str(codes), "--topk", "30", "--graded-at", "5,7", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)["metrics"]
    assert shown == pytest.approx(evaluated(codes, (5, 7)), abs=1e-12) and "ndcg@7" in shown


def test_the_report_has_a_comparison_per_headline_metric(
    results: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = results.parent / "page.html"
    assert main(["report", "--results", str(results), "--output", str(output)]) == 0
    page = output.read_text(encoding="utf-8")
    for key in ("map@30", "ndcg@20", "acg@20", "wap@30"):
        assert page.count(f"<h3>Comparison: {key}</h3>") == 1, key
    assert page.count('<table class="results">') == 4
    assert "have no" not in page  # every run has every headline metric


def test_graded_headline_metrics_on_class_labels_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = protocol_file(tmp_path, "digits", 'metric = ["map", "acg@10"]')
    out = tmp_path / "results"
    status = main(["run", "--methods", "lsh", "--dataset", "digits", "--protocol", str(path),
                   "--results", str(out)])  # fmt: skip
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1
    assert "protocol graded names acg@10, graded metrics of multi-label data" in err
    assert not out.exists()


def test_old_records_without_a_headline_metric_are_named_not_dropped(
    results: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "results"
    shutil.copytree(results, copy)
    [record_file] = (copy / "records").rglob("itq-*.json")
    record = json.loads(record_file.read_text())
    del record["metrics"]["ndcg@20"]
    record_file.write_text(json.dumps(record))
    output = tmp_path / "page.html"
    assert main(["report", "--results", str(copy), "--output", str(output)]) == 0
    page = output.read_text(encoding="utf-8")
    assert "1 run(s) have no ndcg@20" in page
    assert np.isfinite(record["metrics"]["map@30"])
