"""``hashbench reproduce`` end to end at toy scale: grid, sweep, tables, figures, README."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hashbench.experiment.reproduce import DMRH, Reproducer

TINY_DEEP = {
    "width": 0.125,
    "warm_start_epochs": 1,
    "epochs": 1,
    "batch_size": 32,
    "warm_start_batch_size": 32,
    "val_topk": None,
}


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


def test_cpu_sized_reproduction_writes_tables_figures_and_readme(
    tiny_folder: Path, tmp_path: Path
) -> None:
    paper = replace(
        DMRH,
        classic=("lsh", "itq"),
        deep=("dpsh", "dmrh"),
        feature="pixels",
        bits=(8,),
        datasets=((str(tiny_folder), "imagefolder"), ("coco", "coco")),
        sweep_values=(1, 2),
        cpu_protocol=(str(tiny_folder), "imagefolder"),
        cpu_params=TINY_DEEP,
    )
    out = tmp_path / "results"
    reproducer = Reproducer(paper, out, (0,), (tmp_path / "no-data-here",), "hashbench reproduce",
                            cpu_sized=True)  # fmt: skip
    readme = reproducer.run()

    text = readme.read_text()
    assert "coco: skipped" in text  # absent data sets are noted, not fatal
    assert "cpu-sized/" in text and "Where this differs from the paper" in text
    assert "sha256" in text and "Wall time" in text
    paper_table = (out / "paper-table.md").read_text()
    assert "LSH" in paper_table and "ITQ" in paper_table and "DPSH" not in paper_table
    cpu_table = (out / "cpu-sized" / "table.md").read_text()
    assert "DPSH" in cpu_table and "DMRH" in cpu_table and "regions=1" in cpu_table
    for kind in ("regions", "convergence", "pr"):
        assert (out / "cpu-sized" / "figures" / f"{kind}.png").stat().st_size > 0
    assert (out / "figures" / "pr.pdf").exists()
    records = [json.loads(p.read_text()) for p in (out / "cpu-sized" / "records").rglob("*.json")]
    assert len(records) == 3  # dpsh, dmrh (N=2, also the sweep's N=2), dmrh N=1
    assert all(r["history"] for r in records)

    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("records/**/*.json")}
    again = Reproducer(paper, out, (0,), (tmp_path / "no-data-here",), "hashbench reproduce",
                       cpu_sized=True)  # fmt: skip
    again.run()  # resumes: every run is already recorded, none is redone
    assert {p: p.stat().st_mtime_ns for p in out.rglob("records/**/*.json")} == stamps


def test_the_dmrh_reproduction_runs_every_method_of_the_papers_table() -> None:
    from hashbench.registry import REGISTRY
    from hashbench.reporting.tables import paper_table

    in_paper = set(paper_table()["method"])
    assert set(DMRH.classic) | set(DMRH.deep) == in_paper
    assert in_paper <= set(REGISTRY.names())
