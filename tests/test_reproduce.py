"""``hashbench reproduce`` end to end at toy scale: grid, sweep, tables, figures, README."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hashbench.experiment import provenance
from hashbench.experiment.reproduce import DMRH, Reproducer
from hashbench.splits.protocol import load_protocol

#: Tiny but real deep training, set the way a protocol sets its budget: a [recipe] table.
TINY_RECIPE = """
[recipe]
width = 0.125
warm_start_epochs = 1
epochs = 1
batch_size = 32
warm_start_batch_size = 32
val_topk = 10
"""


@pytest.fixture
def tiny_folder(tmp_path: Path) -> Path:
    """Three colour classes of 32x32 images, 40 training and 8 test images each."""
    rng = np.random.default_rng(0)
    colours = [(200, 40, 40), (40, 200, 40), (40, 40, 200)]
    for part, count in (("train", 40), ("test", 8)):
        for label, colour in enumerate(colours):
            folder = tmp_path / "tiny" / part / f"class{label}"
            folder.mkdir(parents=True)
            for i in range(count):
                noise = rng.integers(-40, 41, size=(32, 32, 3))
                pixels = np.clip(np.array(colour) + noise, 0, 255).astype(np.uint8)
                Image.fromarray(pixels).save(folder / f"{i}.png")
    return tmp_path / "tiny"


def test_reproduction_runs_its_grid_and_writes_tables_figures_and_readme(
    tiny_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # records name the machine as provenance finds it (here a known one; training's precision
    # still follows the real CPU)
    identity = {"cpu_id": "cpu family 25", "cpu_features": ["avx2", "avx512_bf16"]}
    monkeypatch.setattr(provenance, "cpu_name", lambda: "AMD EPYC")
    monkeypatch.setattr(provenance, "cpu_identity", lambda: identity)
    protocol = tmp_path / "tiny-paper.toml"
    protocol.write_text(Path(load_protocol("imagefolder").source).read_text() + TINY_RECIPE)
    paper = replace(
        DMRH,
        classic=("lsh", "itq"),
        deep=("dpsh", "dmrh"),
        extra=("dsh",),
        feature="pixels",
        bits=(8, 16),
        headline_bits=8,
        datasets=((str(tiny_folder), str(protocol)), ("coco", "coco")),
        sweep_values=(1, 2),
    )
    out = tmp_path / "results"
    reproducer = Reproducer(paper, out, (0, 1), (tmp_path / "no-data-here",), "hashbench reproduce")
    readme = reproducer.run()

    assert readme == out / "reproduce-dmrh" / "README.md"
    text = readme.read_text()
    assert "coco: skipped" in text  # absent data sets are noted, not fatal
    assert "Where this differs from the paper" in text and "sha256" in text
    records = [json.loads(p.read_text()) for p in (out / "records").rglob("*.json")]
    hours = sum(r["timings"]["wall_s"] for r in records) / 3600
    epyc = "AMD EPYC (avx2, avx512_bf16); GPU: none"
    assert f"- Hardware: {epyc}: {len(records)} run(s), {hours:.2f} h of wall time." in text
    cells = sorted((r["method"], r["bits"], r["seed"], r["config"]["params"].get("regions"))
                   for r in records)  # fmt: skip
    grid = [(m, b, 0, None) for m in ("itq", "lsh", "dsh", "dpsh") for b in (8, 16)]
    grid += [("dmrh", 8, 0, 1), ("dmrh", 8, 0, 2), ("dmrh", 16, 0, 2)]  # N = 2 is the default
    grid += [("dmrh", 8, 1, 2), ("dpsh", 8, 1, None)]  # the seed spread: headline length only
    assert cells == sorted(grid)
    deep = [r for r in records if r["input_kind"] == "images"]
    assert all(r["config"]["params"]["width"] == 0.125 for r in deep)  # the protocol's budget
    assert all(r["protocol"]["recipe"]["val_database"] == "training" for r in deep)
    paper_table = (out / "reproduce-dmrh" / "paper-table.md").read_text()
    assert "LSH" in paper_table and "DPSH" in paper_table and "regions=1" not in paper_table
    assert "regions=1" in (out / "reproduce-dmrh" / "table.md").read_text()
    for kind in ("regions", "convergence", "pr"):
        assert (out / "reproduce-dmrh" / "figures" / f"{kind}.png").stat().st_size > 0

    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("records/**/*.json")}
    again = Reproducer(paper, out, (0, 1), (tmp_path / "no-data-here",), "hashbench reproduce")
    again.run()  # resumes: every run is already recorded, none is redone
    assert {p: p.stat().st_mtime_ns for p in out.rglob("records/**/*.json")} == stamps

    # a grid resumed on another machine: each machine's runs and hours, not one mixed total
    moved = next(iter(stamps))
    record = json.loads(moved.read_text())
    record["provenance"]["hardware"].update(cpu="Intel Xeon", cpu_features=["amx"])
    moved.write_text(json.dumps(record))
    xeon_hours = record["timings"]["wall_s"] / 3600
    text = again.readme(0.0)
    assert f"- Hardware: Intel Xeon (amx); GPU: none: 1 run(s), {xeon_hours:.2f} h" in text
    assert f"- Hardware: {epyc}: {len(records) - 1} run(s), " in text


def test_the_dmrh_reproduction_runs_every_method_of_the_papers_table() -> None:
    from hashbench.registry import REGISTRY
    from hashbench.reporting.tables import paper_table

    in_paper = set(paper_table()["method"])
    assert set(DMRH.classic) | set(DMRH.deep) == in_paper
    assert in_paper <= set(REGISTRY.names())


def test_a_cut_reproduction_has_the_headline_and_the_regions_figure_before_the_rest(
    tmp_path: Path,
) -> None:
    """Plans run in order and a grid may be cut anywhere: the headline length, then DMRH's N
    sweep (the paper's figure), then the other lengths, then the other seeds."""
    reproducer = Reproducer(DMRH, tmp_path, (0, 1, 2), (), "hashbench reproduce")
    plans = reproducer.plans("cifar10", "cifar10-dmrh")
    steps = [(plan.methods, plan.bits, plan.seeds, plan.params) for plan in plans]
    headline, deep = (DMRH.headline_bits,), DMRH.deep + DMRH.extra
    assert steps[0] == (DMRH.classic, DMRH.bits, (0,), {})
    assert steps[1] == (deep, headline, (0,), {})
    regions = [{"dmrh": {DMRH.sweep_parameter: n}} for n in DMRH.sweep_values]
    assert steps[2 : 2 + len(regions)] == [(("dmrh",), headline, (0,), r) for r in regions]
    others = tuple(b for b in DMRH.bits if b != DMRH.headline_bits)
    assert steps[2 + len(regions) :] == [
        (deep, others, (0,), {}),
        (DMRH.seeded, headline, (1, 2), {}),
    ]
