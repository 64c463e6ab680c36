"""A method defined outside the repository shows up and runs without any edit to hashbench."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PLUGIN_MODULE = '''
"""A one-file third-party method: the sign of the first ``bits`` centred features."""

import numpy as np

from hashbench import HashingMethod


class FirstBits(HashingMethod):
    """Thresholds the first bits features at their training mean."""

    def __init__(self, bits, seed=0, *, offset=0.0):
        super().__init__(bits, seed)
        self.offset = offset

    def _fit(self, train, validation):
        self.mean_ = train.inputs[:, : self.bits].mean(axis=0) + self.offset

    def _encode(self, inputs):
        return inputs[:, : self.bits] - self.mean_
'''

PYPROJECT = """
[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "hashbench-firstbits"
version = "0.1"
dependencies = []

[project.entry-points."hashbench.methods"]
firstbits = "hashbench_firstbits:FirstBits"

[tool.setuptools]
py-modules = ["hashbench_firstbits"]
"""


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Builds and installs the plugin package into a private folder put on PYTHONPATH."""
    root = tmp_path_factory.mktemp("plugin")
    source = root / "src"
    source.mkdir()
    (source / "pyproject.toml").write_text(textwrap.dedent(PYPROJECT))
    (source / "hashbench_firstbits.py").write_text(textwrap.dedent(PLUGIN_MODULE))
    site = root / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--target", str(site), str(source)],
        check=True, capture_output=True,
    )  # fmt: skip
    return site


def hashbench(site: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run(
        [sys.executable, "-m", "hashbench", *args],
        capture_output=True, text=True, env=env, cwd=cwd,
    )  # fmt: skip


def test_plugin_is_listed(plugin_site: Path, tmp_path: Path) -> None:
    result = hashbench(plugin_site, "list", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if line.strip().startswith("firstbits"))
    assert "hashbench-firstbits" in line  # the origin names the package


def test_plugin_runs_through_hashbench_run(plugin_site: Path, tmp_path: Path) -> None:
    result = hashbench(
        plugin_site, "run", "--methods", "firstbits,lsh", "--dataset", "digits", "--bits", "16",
        "--set", "firstbits.offset=0.0", "--results", str(tmp_path / "results"), cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    records = list((tmp_path / "results" / "records").rglob("firstbits-16bits-*.json"))
    assert len(records) == 1
    record = json.loads(records[0].read_text())
    assert record["method_origin"] == "hashbench_firstbits"
    assert record["config"]["params"] == {"offset": 0.0}
    assert 0.0 < record["metrics"]["map@all"] <= 1.0
    assert "FIRSTBITS" in (tmp_path / "results" / "table.md").read_text()


def test_plugin_that_fails_to_import_is_named(tmp_path: Path) -> None:
    site = tmp_path / "site"
    dist = site / "broken_plugin-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[hashbench.methods]\nbroken = no_such_module:Thing\n")
    result = hashbench(site, "list", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "broken-plugin" in result.stderr and "no_such_module" in result.stderr
    assert "Traceback" not in result.stderr
