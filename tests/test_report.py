"""``hashbench report``: diagnostics and rankings against brute force, the page from a real
run (parsed, and rendered in headless Chromium), and its bad inputs."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections import Counter
from html.parser import HTMLParser
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
from fixtures.runs import PROTOCOL, write_run
from PIL import Image

from hashbench.cli import main
from hashbench.evaluation.codes_file import CodesBundle
from hashbench.reporting.diagnostics import diagnose
from hashbench.reporting.gallery import query_rows_of, rank, sample_queries
from hashbench.reporting.report import GALLERY_DEPTH
from hashbench.reporting.runs import collect_runs
from hashbench.reporting.significance import summarise_runs
from hashbench.reporting.tables import method_title, render, summarise

REQUIRE_BROWSER = "HASHBENCH_REQUIRE_BROWSER"
#: A tiny but real deep run, so the page has a training history to draw.
TINY_DPSH = ["--set", "dpsh.width=0.125", "--set", "dpsh.epochs=2",
             "--set", "dpsh.warm_start_epochs=1", "--set", "dpsh.batch_size=64",
             "--set", "dpsh.warm_start_batch_size=64"]  # fmt: skip


# --- diagnostics and rankings, against brute force -------------------------------------------


def test_diagnostics_match_brute_force() -> None:
    rng = np.random.default_rng(0)
    codes = (rng.random((300, 12)) < np.linspace(0.1, 0.9, 12)).astype(np.uint8)
    codes[:, 3] = 1  # a constant bit
    codes[:40] = codes[0]  # one big bucket
    found = diagnose(codes)

    assert found.ones_per_bit == pytest.approx([codes[:, b].sum() / 300 for b in range(12)])
    varying = [b for b in range(12) if 0 < codes[:, b].sum() < 300]
    pairs = [abs(np.corrcoef(codes[:, a], codes[:, b])[0, 1]) for a, b in combinations(varying, 2)]
    assert found.mean_abs_correlation == pytest.approx(np.mean(pairs))
    assert found.constant_bits == 1
    buckets = Counter(map(tuple, codes))
    assert found.distinct_codes == len(buckets)
    assert found.largest_bucket == max(buckets.values()) >= 40


def test_perfectly_correlated_and_constant_bits() -> None:
    column = np.array([0, 1, 1, 0, 1], dtype=np.uint8)
    found = diagnose(np.stack([column, 1 - column, column], axis=1))
    assert found.mean_abs_correlation == pytest.approx(1.0)
    assert (found.distinct_codes, found.largest_bucket) == (2, 3)
    assert np.isnan(diagnose(np.ones((4, 3), dtype=np.uint8)).mean_abs_correlation)


@pytest.mark.parametrize("multi_label", [False, True])
def test_rankings_match_brute_force_with_ties_in_database_order(multi_label: bool) -> None:
    rng = np.random.default_rng(1)
    bits, n_query, n_database = 6, 5, 200  # 6 bits: many ties
    query_codes = rng.integers(0, 2, (n_query, bits), dtype=np.uint8)
    database_codes = rng.integers(0, 2, (n_database, bits), dtype=np.uint8)
    if multi_label:
        query_labels = rng.integers(0, 2, (n_query, 4), dtype=np.uint8)
        database_labels = rng.integers(0, 2, (n_database, 4), dtype=np.uint8)
    else:
        query_labels = rng.integers(0, 3, n_query)
        database_labels = rng.integers(0, 3, n_database)
    bundle = CodesBundle(
        query_codes, database_codes, query_labels, database_labels,
        query_indices=np.arange(n_query) + 1000, database_indices=np.arange(n_database) * 2,
    )  # fmt: skip
    for query, ranking in zip([4, 0, 2], rank(bundle, np.array([4, 0, 2]), 10), strict=True):
        distances = [int((query_codes[query] != row).sum()) for row in database_codes]
        expected = sorted(range(n_database), key=lambda i: (distances[i], i))[:10]
        assert ranking.rows.tolist() == expected
        assert ranking.distances.tolist() == [distances[i] for i in expected]
        assert ranking.positions.tolist() == [2 * i for i in expected]
        assert ranking.query_position == 1000 + query
        if multi_label:
            relevant = [bool((query_labels[query] & database_labels[i]).any()) for i in expected]
        else:
            relevant = [query_labels[query] == database_labels[i] for i in expected]
        assert ranking.relevant.tolist() == relevant


def test_the_query_sample_is_seeded_and_found_again_by_position() -> None:
    positions = np.arange(100) * 3
    first = sample_queries(positions, 5, seed=0)
    assert first.tolist() == sample_queries(positions, 5, seed=0).tolist()
    assert first.tolist() != sample_queries(positions, 5, seed=1).tolist()
    assert len(set(first.tolist())) == 5 and set(first.tolist()) <= set(positions.tolist())
    codes = np.zeros((100, 4), dtype=np.uint8)
    labels = np.zeros(100, dtype=np.int64)
    bundle = CodesBundle(codes, codes, labels, labels, positions, positions)
    assert (positions[query_rows_of(bundle, first)] == first).all()
    assert query_rows_of(bundle, np.array([1])) is None  # 1 is not a query position


def test_the_html_table_marks_the_best_and_shows_mean_and_std_over_seeds() -> None:
    records = [
        {"method": m, "variant": {}, "bits": 16, "seed": s, "dataset": {"name": "d"},
         "protocol": {"name": "p<1>", "topk": None}, "metrics": {"map@all": v}}
        for m, s, v in [("lsh", 0, 0.2), ("itq", 0, 0.5), ("itq", 1, 0.7), ("hashnet", 0, 0.1)]
    ]  # fmt: skip
    text = render(summarise(records), "html")
    assert '<th scope="row">HashNet</th>' in text and '<th scope="row">ITQ</th>' in text
    assert "<th>16 bits</th>" in text and "p&lt;1&gt;" in text
    assert "<td><strong>0.6000 ± 0.1414</strong></td>" in text
    assert "<td>0.2000</td>" in text


# --- the page from a real run ----------------------------------------------------------------


class PageParser(HTMLParser):
    """Collects what a reader sees: tables, inlined figures, gallery hits, run entries."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[str] = []
        self.figures = 0
        self.hits: list[str] = []
        self.hit_text: list[str] = []
        self.details: list[str] = []
        self.sources: list[str] = []
        self._in_figure = False
        self._in_hit = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        classes = (attributes.get("class") or "").split()
        if tag == "table":
            self.tables.append(" ".join(classes))
        if tag == "figure":
            self._in_figure = True
        if tag == "img":
            self.sources.append(attributes.get("src") or "")
            if self._in_figure:
                self.figures += 1
        if tag == "div" and "hit" in classes:
            self.hits.append(classes[1])
            self.hit_text.append("")
            self._in_hit = True
        if tag == "details":
            self.details.append(attributes.get("id") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "figure":
            self._in_figure = False
        if tag == "div":
            self._in_hit = False

    def handle_data(self, data: str) -> None:
        if self._in_hit:
            self.hit_text[-1] += data


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real runs on the bundled digits: two classic methods and a tiny deep one."""
    folder = tmp_path_factory.mktemp("report") / "results"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HASHBENCH_CACHE", str(tmp_path_factory.mktemp("report-cache")))
        common = ["--bits", "16", "--results", str(folder)]
        assert main(["run", "--methods", "lsh,itq", *common]) == 0
        assert main(["run", "--methods", "dpsh", *common, *TINY_DPSH]) == 0
    return folder


def test_the_page_has_the_tables_figures_gallery_and_every_run(
    results: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = results.parent / "page.html"
    assert main(["report", "--results", str(results), "--output", str(output),
                 "--queries", "3"]) == 0  # fmt: skip
    assert str(output) in capsys.readouterr().out
    parsed = PageParser()
    parsed.feed(output.read_text(encoding="utf-8"))

    assert parsed.tables.count("results") == 2  # the defaults (LSH, ITQ), the variant (DPSH)
    assert "runs" in parsed.tables and parsed.tables.count("runs costs") == 1  # one machine
    # Defaults: precision-recall (no history to converge); the variant: convergence and
    # precision-recall; no DMRH, no regions figure.
    assert parsed.figures == 3
    text = output.read_text(encoding="utf-8")
    # Intervals under each of the three cells and each run's mAP; the ranks' sentence; costs.
    assert text.count('<span class="ci">') == 6
    assert "At 16 bits " in text and "faiss µs/query" in text and "Encoded on " in text
    assert all(s.startswith("data:image/png;base64,") for s in parsed.sources)  # all offline
    assert len(parsed.hits) == 3 * 3 * GALLERY_DEPTH  # queries x methods x top 10
    for kind, text in zip(parsed.hits, parsed.hit_text, strict=True):
        assert kind in ("relevant", "irrelevant")
        assert text.startswith("✓" if kind == "relevant" else "✗")
    strips = [parsed.hit_text[i : i + GALLERY_DEPTH] for i in range(0, 90, GALLERY_DEPTH)]
    for strip in strips:  # nearest first
        distances = [int(text.split("d=")[1]) for text in strip]
        assert distances == sorted(distances)
    assert len(parsed.details) == len(list((results / "records").rglob("*.json"))) == 3


def test_the_page_opens_on_a_summary_of_each_protocols_leaders(
    results: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "results"
    shutil.copytree(results, copy)
    # A protocol holding more runs with codes than digits' 3: ITQ and SH close, LSH far below.
    for method, flip, codes_seed in (("itq", 0.2, 1), ("sh", 0.2, 2), ("lsh", 0.45, 3)):
        write_run(copy, method, 0, flip, codes_seed=codes_seed)
    write_run(copy, "itq", 1, 0.2)
    output = tmp_path / "page.html"
    assert main(["report", "--results", str(copy), "--output", str(output)]) == 0
    text = output.read_text(encoding="utf-8")
    sections = re.findall(r"<h2(?: id=\"([^\"]*)\")?>([^<]*)</h2>", text)
    assert [title for _, title in sections][:3] == [
        "Summary",
        f"Protocol {PROTOCOL}",
        "Protocol digits",
    ]
    overview = text.split("<h2>Summary</h2>", 1)[1].split("<h2", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", overview.split("<tbody>", 1)[1])
    assert [re.search(r'href="#([^"]+)"', row)[1] for row in rows] == [PROTOCOL, "digits"]
    runs = collect_runs(copy)
    for protocol, row in zip((PROTOCOL, "digits"), rows, strict=True):
        summary = summarise_runs([run for run in runs if run.protocol == protocol])
        column = summary[(summary["variant"] == "") & (summary["bits"] == 16)]
        (leader,) = column[column["best"]].itertuples()
        cell = re.findall(r"<td>(.*?)</td>", row)[1]
        name = method_title(leader.method)
        assert cell.startswith(f"<strong>{name}</strong> {leader.mean:.4f}")
        tied = [method_title(r.method) for r in column.itertuples() if r.tied is True]
        below = [method_title(r.method) for r in column.itertuples() if r.tied is False]
        assert all(f"{name}†" in cell for name in tied)
        assert not any(f"{name}†" in cell for name in below)
        if protocol == PROTOCOL:  # as the runs were made: ITQ and SH tied, LSH below
            assert {leader.method, *map(str.lower, tied)} == {"itq", "sh"} and below == ["LSH"]


def test_a_record_without_codes_is_listed_with_what_is_missing(
    results: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "results"
    shutil.copytree(results, copy)
    (lsh_codes,) = (copy / "codes").rglob("lsh-*.npz")
    lsh_codes.unlink()
    output = tmp_path / "page.html"
    assert main(["report", "--results", str(copy), "--output", str(output)]) == 0
    text = output.read_text(encoding="utf-8")
    assert f"no codes at {lsh_codes}" in text
    assert "Not in the gallery, for want of codes with data set positions: LSH;" in text
    parsed = PageParser()
    parsed.feed(text)
    assert len(parsed.hits) == 5 * 2 * GALLERY_DEPTH  # ITQ and DPSH still shown


def test_every_value_from_a_record_is_escaped(
    results: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A shared or tampered results folder cannot put markup into the page: every text a record
    can carry is escaped; fields that must be numbers are refused as records are read."""
    copy = tmp_path / "results"
    shutil.copytree(results, copy)
    (path,) = (copy / "records").rglob("itq-*.json")
    record = json.loads(path.read_text())
    script = "<script>alert(1)</script>"
    record["config"]["params"]["iterations"] = script
    record["dataset"]["name"] = script
    record["protocol"]["relevance"] = script
    record["provenance"]["command"] = script
    record["report"] = {script: script}
    record["timings"][script] = 1.0
    record["metrics"][script] = 0.5
    path.write_text(json.dumps(record))
    output = tmp_path / "page.html"
    assert main(["report", "--results", str(copy), "--output", str(output)]) == 0
    text = output.read_text(encoding="utf-8")
    assert "<script" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    for field, value in (("seed", "<b>0</b>"), ("bits", "16<img src=x>")):
        path.write_text(json.dumps({**record, field: value}))
        assert main(["report", "--results", str(copy), "--output", str(output)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"record {path}: {field} must be an integer" in err


def test_no_records_is_one_line_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "records").mkdir()
    assert main(["report", "--results", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no records in" in err and "Traceback" not in err
    assert not (tmp_path / "report.html").exists()


# --- in a real browser -------------------------------------------------------------------------


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if found := shutil.which(name):
            return found
    missing = "no Chromium on PATH (Debian: apt-get install chromium)"
    if os.environ.get(REQUIRE_BROWSER, "") not in ("", "0"):
        pytest.fail(f"{missing}; {REQUIRE_BROWSER} is set, so the browser test must run")
    pytest.skip(missing)


def test_the_page_renders_in_headless_chromium(results: Path, tmp_path: Path) -> None:
    browser = chromium()
    output = tmp_path / "page.html"
    assert main(["report", "--results", str(results), "--output", str(output)]) == 0
    shot = tmp_path / "shot.png"
    subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
         f"--screenshot={shot}", "--window-size=1280,6000", output.as_uri()],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    pixels = np.asarray(Image.open(shot).convert("RGB")).reshape(-1, 3).astype(int)
    assert (pixels.min(axis=1) < 200).mean() > 0.02  # ink, not a blank page
    assert len(np.unique(pixels, axis=0)) > 100  # figures and images, not only text
    relevant_green = np.abs(pixels - [0x1A, 0x9E, 0x3F]).max(axis=1) < 12
    irrelevant_red = np.abs(pixels - [0xD6, 0x2D, 0x20]).max(axis=1) < 12
    assert relevant_green.sum() > 100 or irrelevant_red.sum() > 100  # the gallery's marks drawn
