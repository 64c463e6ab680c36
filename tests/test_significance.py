"""Intervals and ties in the tables, from synthetic runs whose differences are known: a near
copy of the best is tied with it, a much worse method is not, a method with no seed in common
or no codes is not tested; each table format marks them and says how they were tested."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fixtures.runs import PROTOCOL, write_run

from hashbench.evaluation.inference import ALPHA, FLIPS
from hashbench.reporting.runs import collect_runs
from hashbench.reporting.significance import ranks_resolved, summarise_runs
from hashbench.reporting.tables import TableFilter, render


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("significance") / "results"
    for seed in (0, 1):
        write_run(folder, "itq", seed, 0.08)  # the best
        write_run(folder, "sh", seed, 0.35)  # far below on every seed
    write_run(folder, "lsh", 0, 0.08, spoiled=3)  # ITQ's codes with 3 queries spoiled
    write_run(folder, "pcah", 2, 0.08)  # no seed in common with ITQ
    sklsh = write_run(folder, "sklsh", 0, 0.2)
    (folder / "codes" / PROTOCOL / f"{sklsh}.npz").unlink()  # a run without codes
    write_run(folder, "itq", 0, 0.3, n_iter=3)  # a variant: a table of its own
    return folder


@pytest.fixture(scope="module")
def summary(results: Path) -> pd.DataFrame:
    return summarise_runs(collect_runs(results)).set_index(["method", "variant"])


def test_a_near_copy_is_tied_and_a_far_worse_method_is_not(summary: pd.DataFrame) -> None:
    best = summary.loc[("itq", "")]
    assert best["best"] and best["seeds"] == 2
    assert best["ci_low"] < best["mean"] < best["ci_high"]
    lsh = summary.loc[("lsh", "")]
    # Three spoiled queries of 120: their differences decide the sign-flip test, p ~ 2/8 -> tied.
    assert lsh["mean"] < best["mean"] and lsh["tied"] is True and lsh["p_vs_best"] >= ALPHA
    sh = summary.loc[("sh", "")]
    assert sh["tied"] is False and sh["p_vs_best"] < 0.001  # paired over both seeds' queries
    for untested in ("pcah", "sklsh"):
        assert summary.loc[(untested, ""), "tied"] is None
        assert np.isnan(summary.loc[(untested, ""), "p_vs_best"])
    assert np.isnan(summary.loc[("sklsh", ""), "ci_low"])  # no codes, no interval
    # No random sign pattern reaches SH's difference: p = 1 / (FLIPS + 1), which Holm doubles,
    # the smaller of the column's two tested p-values.
    assert sh["p_vs_best"] == pytest.approx(2 / (FLIPS + 1))
    variant = summary.loc[("itq", "n_iter=3")]
    assert variant["best"] and variant["tied"] is None  # alone in the variants' column


def test_markdown_marks_ties_and_untested_cells_and_puts_variants_apart(
    summary: pd.DataFrame,
) -> None:
    text = render(summary.reset_index(), "markdown")
    defaults, variants = text.split("Variants:")
    lsh = summary.loc[("lsh", ""), "mean"]
    assert f"| LSH | {lsh:.4f}† |" in defaults
    assert f"| PCAH | {summary.loc[('pcah', ''), 'mean']:.4f}? |" in defaults
    sh = summary.loc[("sh", "")]
    assert f"| SH | {sh['mean']:.4f} ± {sh['std']:.4f} |" in defaults  # below: no mark
    assert f"α = {ALPHA}" in defaults and "Holm-corrected" in defaults
    assert "ITQ (n_iter=3)" in variants and "ITQ (n_iter=3)" not in defaults
    assert [line.startswith("| Method") for line in text.splitlines()].count(True) == 2


def test_csv_carries_the_intervals_and_tests(summary: pd.DataFrame) -> None:
    frame = pd.read_csv(io.StringIO(render(summary.reset_index(), "csv")))
    assert {"best", "ci_low", "ci_high", "p_vs_best", "tied"} <= set(frame.columns)
    assert len(frame) == 6


def test_html_shows_each_cells_interval(summary: pd.DataFrame) -> None:
    text = render(summary.reset_index(), "html")
    best = summary.loc[("itq", "")]
    assert f'<span class="ci">{best["ci_low"]:.4f}–{best["ci_high"]:.4f}</span>' in text
    assert text.count('<table class="results">') == 2 and 'class="table-note"' in text


def test_latex_keeps_booktabs_and_marks_ties(summary: pd.DataFrame) -> None:
    table = render(summary.reset_index(), "latex")
    assert table.count("\\toprule") == table.count("\\bottomrule") == 2
    assert "$^\\dagger$" in table and "$^?$" in table and "$\\alpha$" in table


def test_the_sentence_says_which_ranks_are_resolved(summary: pd.DataFrame, results: Path) -> None:
    sentence = ranks_resolved(summary.reset_index(), PROTOCOL)
    assert sentence == (
        "At 16 bits the first place is not resolved: ITQ leads, but LSH does not differ from "
        "it significantly; 1 is significantly below, 2 not tested."
    )
    two = summarise_runs(collect_runs(results), keep=TableFilter(methods=["itq", "sh"]))
    assert ranks_resolved(two, PROTOCOL) == (
        "At 16 bits the first place is resolved: ITQ leads, and 1 is significantly below."
    )
