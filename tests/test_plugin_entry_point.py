"""A method defined outside the repository shows up and runs without any edit to hashbench."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from fixtures.imports import heavy, imported_modules

REPO = Path(__file__).resolve().parents[1]

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
name = "hashbench-{method}"
version = "0.1"
dependencies = []

[project.entry-points."hashbench.methods"]
{method} = "hashbench_{method}:{cls}"

[tool.setuptools]
py-modules = ["hashbench_{method}"]
"""


def installed(root: Path, method: str, cls: str, module: str) -> Path:
    """Builds the one-module package ``hashbench-<method>`` declaring ``method`` as its entry
    point and installs it into a private folder, returned, to put on PYTHONPATH."""
    source = root / "src"
    source.mkdir()
    (source / "pyproject.toml").write_text(PYPROJECT.format(method=method, cls=cls))
    (source / f"hashbench_{method}.py").write_text(module)
    site = root / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--target", str(site), str(source)],
        check=True, capture_output=True,
    )  # fmt: skip
    return site


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    module = textwrap.dedent(PLUGIN_MODULE)
    return installed(tmp_path_factory.mktemp("plugin"), "firstbits", "FirstBits", module)


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


# -- a deep method in one file: the README's example, installed as a package ---------------


def readme_block(marker: str) -> str:
    """The README's Python block that contains ``marker``."""
    blocks = (REPO / "README.md").read_text(encoding="utf-8").split("```python\n")[1:]
    return next(block.split("```")[0] for block in blocks if marker in block)


@pytest.fixture(scope="module")
def deep_plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The README's GreedyHash-style method, built and installed into a private folder."""
    module = readme_block("class GreedyHash(DeepHashingMethod)")
    return installed(tmp_path_factory.mktemp("deep-plugin"), "greedyhash", "GreedyHash", module)


def test_deep_plugin_is_listed_with_its_recipe_without_importing_torch(
    deep_plugin_site: Path, tmp_path: Path
) -> None:
    env = {**os.environ, "PYTHONPATH": str(deep_plugin_site)}
    result, modules = imported_modules(
        "-m", "hashbench", "list", "greedyhash", cwd=tmp_path, env=env
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "[package hashbench-greedyhash]" in result.stdout.splitlines()[0]
    shown = {line.split()[0]: line.split()[1] for line in result.stdout.splitlines()[3:]}
    assert (shown["alpha"], shown["lr"], shown["preset"]) == ("0.1", "0.01", '"scratch"')
    assert heavy(modules) == []


#: Fits the installed method on digits and reports what became of its classifier.
TRAIN_AND_WATCH = """
import json, sys
from pathlib import Path
import numpy as np, torch
from hashbench.data.loading import load_dataset
from hashbench.method import Subset
from hashbench.registry import get_method


class Watched(get_method("greedyhash")):
    def hashing_modules(self, context):
        modules = super().hashing_modules(context)
        self.initial_ = modules["classifier"].weight.detach().clone()
        return modules


digits = load_dataset("digits")
train, validation = np.arange(0, 1200), np.arange(1200, 1400)
method = Watched(bits=8, width=0.125, warm_start_epochs=0, epochs=2, batch_size=128)
method.workspace = Path(sys.argv[1])
method.fit(*(Subset(i, digits.images[i], digits.labels[i]) for i in (train, validation)))
saved = torch.load(method.workspace / "checkpoint.pt", weights_only=True)["modules"]
print(json.dumps({
    "trained": not torch.equal(method.initial_, method.classifier_.weight.detach()),
    "saved_trained": not torch.equal(method.initial_, saved["classifier"]["weight"]),
    "saved_shape": list(saved["classifier"]["weight"].shape),
    "parameters": method.report_["parameters"],
}))
"""


def test_deep_plugin_trains_its_own_module_with_the_network(
    deep_plugin_site: Path, tmp_path: Path
) -> None:
    env = {**os.environ, "PYTHONPATH": str(deep_plugin_site)}
    result = subprocess.run(
        [sys.executable, "-c", TRAIN_AND_WATCH, str(tmp_path / "workspace")],
        capture_output=True, text=True, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    outcome = json.loads(result.stdout.splitlines()[-1])
    assert outcome["trained"]  # in the optimiser: its weights moved
    assert outcome["saved_trained"] and outcome["saved_shape"] == [10, 8]  # in the checkpoint
    assert outcome["parameters"]["classifier"] == 8 * 10 + 10
    assert outcome["parameters"]["network"] > 0


def test_deep_plugin_runs_through_hashbench_run(deep_plugin_site: Path, tmp_path: Path) -> None:
    small = ("width=0.125", "warm_start_epochs=0", "epochs=1")
    result = hashbench(
        deep_plugin_site, "run", "--methods", "greedyhash", "--dataset", "digits", "--bits", "8",
        *(part for setting in small for part in ("--set", f"greedyhash.{setting}")),
        "--results", str(tmp_path / "results"), cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (record,) = (tmp_path / "results" / "records").rglob("greedyhash-8bits-*.json")
    record = json.loads(record.read_text())
    assert record["method_origin"] == "hashbench_greedyhash"
    assert record["report"]["parameters"]["classifier"] == 8 * 10 + 10
    assert 0.0 < record["metrics"]["map@all"] <= 1.0
