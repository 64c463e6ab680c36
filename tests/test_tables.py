"""Tables from records: means and deviations computed by hand, best per column, valid LaTeX."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from hashbench.errors import HashbenchError
from hashbench.records import read_record, validation_fall
from hashbench.reporting.tables import TableFilter, compare_with_paper, render, summarise


def record(
    method: str, bits: int, seed: int, value: float, protocol: str = "cifar10-dmrh", **variant
) -> dict:
    return {
        "method": method,
        "variant": variant,
        "bits": bits,
        "seed": seed,
        "dataset": {"name": "cifar10"},
        "protocol": {"name": protocol, "topk": 5000},
        "metrics": {"map@5000": value, "precision@r2": value / 2},
    }


RECORDS = [
    record("itq", 24, 0, 0.30),
    record("itq", 24, 1, 0.34),
    record("lsh", 24, 0, 0.20),
    record("lsh", 24, 1, 0.22),
    record("lsh", 48, 0, 0.40),
    record("my_method", 48, 0, 0.10),
]


def test_summary_means_and_sample_deviations() -> None:
    summary = summarise(RECORDS).set_index(["method", "bits"])
    assert summary.loc[("itq", 24), "mean"] == pytest.approx(0.32)
    assert summary.loc[("itq", 24), "std"] == pytest.approx(0.0282842712)  # sqrt(0.0008)
    assert summary.loc[("itq", 24), "seeds"] == 2
    assert summary.loc[("lsh", 48), "seeds"] == 1


def test_rows_follow_the_paper_order_then_alphabetical() -> None:
    assert list(dict.fromkeys(summarise(RECORDS)["method"])) == ["lsh", "itq", "my_method"]


def test_metric_choice_and_unknown_metric() -> None:
    summary = summarise(RECORDS, "precision@r2").set_index(["method", "bits"])
    assert summary.loc[("lsh", 48), "mean"] == pytest.approx(0.20)
    with pytest.raises(HashbenchError, match="no metric 'recall'"):
        summarise(RECORDS, "recall")
    with pytest.raises(HashbenchError, match="no records"):
        summarise([])


def test_csv_is_tidy_and_reloads() -> None:
    frame = pd.read_csv(io.StringIO(render(summarise(RECORDS), "csv")))
    assert list(frame.columns) == [
        "method",
        "variant",
        "dataset",
        "protocol",
        "bits",
        "metric",
        "mean",
        "std",
        "seeds",
        "fell",
        "best",
    ]
    assert len(frame) == 4
    assert frame.loc[frame["best"], ["method", "bits"]].values.tolist() == [
        ["lsh", 48],
        ["itq", 24],
    ]


def test_markdown_bolds_the_best_per_column_and_shows_deviation() -> None:
    lines = render(summarise(RECORDS), "markdown").splitlines()
    assert lines[0] == "| Method | cifar10-dmrh 24 bits | cifar10-dmrh 48 bits |"
    assert lines[2] == "| LSH | 0.2100 ± 0.0141 | **0.4000** |"
    assert lines[3] == "| ITQ | **0.3200 ± 0.0283** | – |"
    assert lines[4] == "| MY_METHOD | – | 0.1000 |"


def test_latex_rows_have_one_cell_per_column() -> None:
    text = render(summarise(RECORDS), "latex")
    assert "\\toprule" in text and "\\midrule" in text and "\\bottomrule" in text
    body = [line for line in text.splitlines() if line.endswith("\\\\")]
    assert all(line.count("&") == 2 for line in body[1:])
    assert "MY\\_METHOD" in text and "\\textbf{0.4000}" in text


def marked(summary: pd.DataFrame) -> pd.DataFrame:
    """``summary`` as the paired tests leave it: LSH at 24 bits tied with ITQ, MY_METHOD at 48
    bits not tested against LSH (the bests are never tested)."""
    summary = summary.assign(ci_low=summary["mean"] - 0.01, ci_high=summary["mean"] + 0.01)
    tied = {("lsh", 24): True}
    keys = zip(summary["method"], summary["bits"], strict=True)
    summary["tied"] = [tied.get(key) for key in keys]
    return summary


def test_marks_and_their_note_in_every_format() -> None:
    summary = marked(summarise(RECORDS))
    markdown = render(summary, "markdown").splitlines()
    assert markdown[2:5] == [
        "| LSH | 0.2100 ± 0.0141† | **0.4000** |",
        "| ITQ | **0.3200 ± 0.0283** | – |",
        "| MY_METHOD | – | 0.1000? |",
    ]
    assert markdown[6].startswith("**Bold**: the best of its column. †: not significantly")
    latex = render(summary, "latex")
    assert "0.2100 $\\pm$ 0.0141$^\\dagger$" in latex and "0.1000$^?$" in latex
    assert "\\bottomrule\n\\multicolumn{3}{p{0.9\\linewidth}}{\\footnotesize Bold" in latex
    html = render(summary, "html")
    assert '0.2100 ± 0.0141†<br><span class="ci">0.2000–0.2200</span>' in html


def hashing(*scores: float) -> list[dict]:
    """A history: two warm-start epochs, then hashing epochs with these validation scores."""
    warm = [{"epoch": e, "loss": 1.0, "phase": "warm_start", "val_accuracy": 0.9} for e in (1, 2)]
    return warm + [
        {"epoch": e, "loss": 1.0, "phase": "hashing", "val_map": v}
        for e, v in enumerate(scores, start=1)
    ]


@pytest.mark.parametrize(
    ("history", "fall"),
    [
        (hashing(0.797, 0.125, 0.306), (0.797, 0.306)),  # DSH at 128 bits on cifar10-dmrh
        (hashing(0.757, 0.372, 0.81), None),  # a dip at the rate's peak, then past the start
        (hashing(0.80, 0.86, 0.70), (0.80, 0.70)),  # a peak, then below the start: fallen
        (hashing(0.876, 0.90, 0.8759), None),  # within FALL_TOLERANCE of the start
        (hashing(0.80, 0.85, 0.79), None),  # 0.01 below the start: the tolerance's edge
        (hashing(0.8, float("nan")), None),  # a score that is no number says nothing
        (hashing(0.5, 0.6, 0.5), None),  # ending level with the start is no fall
        (hashing(0.5), None),  # one epoch cannot fall
        ([{"epoch": 1, "loss": 0.3, "phase": "hashing"}] * 3, None),  # no validation
        (None, None),  # a classic method's record
    ],
)
def test_a_run_falls_on_validation_when_its_last_hashing_epoch_ends_below_its_first(
    history: list[dict] | None, fall: tuple[float, float] | None
) -> None:
    assert validation_fall(history) == fall


def test_a_cell_with_a_run_that_fell_on_validation_is_marked_in_every_format() -> None:
    fell = {**record("lsh", 24, 1, 0.22), "history": hashing(0.8, 0.3)}
    held = {**record("itq", 24, 0, 0.30), "history": hashing(0.3, 0.5)}
    summary = summarise([RECORDS[0], held, RECORDS[2], fell])  # one seed of LSH's cell fell
    assert summary.set_index("method")["fell"].to_dict() == {"lsh": True, "itq": False}
    markdown = render(summary, "markdown").splitlines()
    assert markdown[2:4] == ["| LSH | 0.2100 ± 0.0141‡ |", "| ITQ | **0.3000 ± 0.0000** |"]
    assert markdown[5].startswith("‡: a run of this cell ended its hashing phase more than 0.01")
    latex = render(summary, "latex")
    assert "0.0141$^\\ddagger$" in latex and "\\footnotesize $^\\ddagger$: a run" in latex
    tested = render(marked(summary), "markdown").splitlines()
    assert tested[2] == "| LSH | 0.2100 ± 0.0141†‡ |"  # both marks, the test's first
    assert "in common with the best). ‡: a run of this cell" in tested[5]


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
@pytest.mark.parametrize("with_marks", [False, True])
def test_latex_compiles_in_a_booktabs_document(tmp_path: Path, with_marks: bool) -> None:
    summary = summarise(RECORDS)
    table = render(marked(summary) if with_marks else summary, "latex")
    document = "\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\n"
    (tmp_path / "table.tex").write_text(document + table + "\\end{document}\n")
    result = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "table.tex"],
        cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:]


def test_variants_are_a_table_of_their_own_and_can_be_left_out() -> None:
    records = [*RECORDS, record("itq", 24, 0, 0.99, n_iter=3), record("lsh", 24, 0, 0.5, w=2)]
    main, variants = render(summarise(records), "markdown").split("Variants:")
    # The defaults keep their best: a variant's higher number neither joins nor outranks it.
    assert "| ITQ | **0.3200 ± 0.0283** | – |" in main.splitlines()
    assert "n_iter" not in main and "| ITQ |" not in variants
    assert variants.splitlines()[2:] == [
        "| Method | cifar10-dmrh 24 bits |",
        "|:--|--:|",
        "| LSH (w=2) | 0.5000 |",
        "| ITQ (n_iter=3) | **0.9900** |",
    ]
    defaults = summarise(records, keep=TableFilter(defaults_only=True))
    assert set(defaults["variant"]) == {""}
    assert "Variants:" not in render(defaults, "markdown")
    latex = render(summarise(records), "latex")
    assert latex.count("\\begin{tabular}") == 2 and "% Variants:" in latex


def test_filters_choose_rows_and_columns() -> None:
    summary = summarise(RECORDS, keep=TableFilter(methods=["lsh"], bits=[48]))
    assert summary[["method", "bits"]].values.tolist() == [["lsh", 48]]


def test_paper_comparison_sets_the_published_figure_and_our_difference() -> None:
    compared = compare_with_paper(summarise(RECORDS)).set_index(["method", "bits"])
    # dmrh-paper-table.csv: ITQ, CIFAR-10, 24 bits: 0.3648; LSH, 48 bits: 0.3586
    assert compared.loc[("itq", 24), "paper"] == pytest.approx(0.3648)
    assert compared.loc[("itq", 24), "difference"] == pytest.approx(0.32 - 0.3648)
    assert compared.loc[("lsh", 48), "paper"] == pytest.approx(0.3586)
    assert pd.isna(compared.loc[("my_method", 48), "paper"])
    text = render(compare_with_paper(summarise(RECORDS)), "markdown")
    assert "paper 0.3648 (-0.0448)" in text
    latex = render(compare_with_paper(summarise(RECORDS)), "latex")
    assert "0.3586 (+0.0414)" in latex


def test_val_map_is_the_validation_score_of_the_selected_epoch() -> None:
    def deep(lr: float, scores: list[float], selected: int) -> dict:
        history = [{"phase": "hashing", "epoch": i + 1, "val_map": v} for i, v in enumerate(scores)]
        history[selected]["selected"] = True
        return {**record("dpsh", 48, 0, 0.5, lr=lr), "history": history}

    sweep = [deep(0.02, [0.4, 0.6, 0.5], 1), deep(0.1, [0.7, 0.2], 0)]
    summary = summarise(sweep, "val_map").set_index("variant")
    assert summary.loc["lr=0.02", "mean"] == 0.6 and summary.loc["lr=0.1", "mean"] == 0.7
    assert set(summary["metric"]) == {"val_map"}
    with pytest.raises(HashbenchError, match="no validation-selected epoch"):
        summarise([record("itq", 24, 0, 0.3)], "val_map")


def test_a_changed_default_turns_older_runs_into_variants() -> None:
    from hashbench import create_method
    from hashbench.records import variant

    params = create_method("dsdh", bits=16).get_params()
    record = {"method": "dsdh", "bits": 16, "variant": {}, "config": {"params": params}}
    assert variant(record) == {}
    older = {**record, "config": {"params": {**params, "lr": params["lr"] / 2}}}
    assert variant(older) == {"lr": params["lr"] / 2}  # run when its default was another
    plugin = {"method": "not-installed", "bits": 16, "variant": {"a": 1}, "config": {"params": {}}}
    assert variant(plugin) == {"a": 1}  # the method is gone: the variant it was run as


def test_a_record_older_than_a_parameter_ran_at_its_old_value() -> None:
    from hashbench import create_method
    from hashbench.records import variant

    params = create_method("hybridhash", bits=16).get_params()
    assert params["warm_start_optimizer"] == "adamw"  # its default; sgd before it was a setting
    del params["warm_start_optimizer"]
    record = {"method": "hybridhash", "bits": 16, "variant": {}, "config": {"params": params}}
    assert variant(record) == {"warm_start_optimizer": "sgd"}
    dmrh = create_method("dmrh", bits=16).get_params()
    old_dmrh = {k: v for k, v in dmrh.items() if k not in ("bank", "test_flips")}
    record = {"method": "dmrh", "bits": 16, "variant": {}, "config": {"params": old_dmrh}}
    assert variant(record) == {"test_flips": False}  # in-batch pairs: still DMRH's default
    itq = {"method": "itq", "bits": 16, "variant": {}, "config": {"params": {}}}
    assert variant(itq) == {}  # a parameter it does not have is never a departure


def test_every_committed_record_meets_the_schema_it_is_read_with() -> None:
    """The schema names what the records hashbench writes hold: none of the committed ones,
    sweeps and superseded runs included, is refused."""
    results = Path(__file__).resolve().parents[1] / "results"
    paths = sorted(path for path in results.rglob("*.json") if "records" in path.parts)
    assert len(paths) > 100
    for path in paths:
        read_record(path)


def test_committed_codes_re_evaluate_to_their_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Per protocol in the committed results, the first deep and the first classic record's
    codes, evaluated afresh (an empty cache), give every metric the record holds: the table's
    intervals and tests rest on them, and a reader re-evaluating codes must get the record."""
    from hashbench.reporting.runs import load_run

    monkeypatch.setenv("HASHBENCH_CACHE", str(tmp_path / "cache"))
    results = Path(__file__).resolve().parents[1] / "results"
    firsts: dict[tuple[str, str], Path] = {}
    for path in sorted((results / "records").rglob("*.json")):
        record = read_record(path)
        if (results / "codes" / record["protocol"]["name"] / f"{path.stem}.npz").is_file():
            firsts.setdefault((record["protocol"]["name"], record["input_kind"]), path)
    protocols = {protocol for protocol, _ in firsts}
    assert {"cifar10", "cifar10-dmrh", "cifar10-mosaic"} <= protocols
    for path in firsts.values():
        run = load_run(results, path, read_record(path))
        assert run.scores is not None, run.missing  # None where a metric disagrees
