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
from hashbench.constraints import Real


class FirstBits(HashingMethod):
    """Thresholds the first bits features at their training mean."""

    parameters = {"offset": Real(minimum=-1, maximum=1)}

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


def test_plugin_parameters_are_listed_and_checked_like_the_built_in_ones(
    plugin_site: Path, tmp_path: Path
) -> None:
    result = hashbench(plugin_site, "list", "firstbits", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].split() == [
        "offset",
        "0.0",
        "a",
        "number",
        "in",
        "[-1,",
        "1]",
    ]
    results = tmp_path / "results"
    for value in ("abc", "NaN", "2", "[0]"):
        result = hashbench(
            plugin_site, "run", "--methods", "firstbits", "--bits", "8",
            "--set", f"firstbits.offset={value}", "--results", str(results), cwd=tmp_path,
        )  # fmt: skip
        assert result.returncode == 2
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
        assert "firstbits: offset must be a number in [-1, 1], got" in result.stderr
        assert not results.exists()


def installed_by_hand(site: Path, package: str, entry_point: str) -> None:
    """A distribution's metadata under ``site``, declaring one ``hashbench.methods`` entry point."""
    dist = site / f"{package.replace('-', '_')}-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[hashbench.methods]\n{entry_point}\n")


def test_plugin_that_leaves_a_parameter_undeclared_is_named(tmp_path: Path) -> None:
    site = tmp_path / "site"
    installed_by_hand(site, "loose-plugin", "loose = loose_plugin:Loose")
    (site / "loose_plugin.py").write_text(
        PLUGIN_MODULE.replace("FirstBits", "Loose").replace(
            '    parameters = {"offset": Real(minimum=-1, maximum=1)}\n', ""
        )
    )
    result = hashbench(site, "list", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "method 'loose' from package loose-plugin declares no constraint for offset" in (
        result.stderr
    )


def test_plugin_that_fails_to_import_is_named(tmp_path: Path) -> None:
    site = tmp_path / "site"
    installed_by_hand(site, "broken-plugin", "broken = no_such_module:Thing")
    result = hashbench(site, "list", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "broken-plugin" in result.stderr and "no_such_module" in result.stderr
    assert "Traceback" not in result.stderr
