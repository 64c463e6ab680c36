"""Shared fixtures: a private cache for every test, and the real CIFAR-10 once per session.

Tests that need the real CIFAR-10 skip, saying why, where it is missing (a fresh clone);
``HASHBENCH_REQUIRE_DATA=1`` (set by ``.ci/run``) makes its absence a failure instead. They
carry the ``cifar10`` marker, so ``pytest -m "not cifar10"`` leaves them out. Tests marked
``cuda`` skip, saying why, where PyTorch sees no CUDA device; ``pytest -m cuda`` runs them alone
(``results/gpu-check.sh`` does). Benchmarks run only with ``pytest --benchmarks`` (or
``tox -e bench``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from hashbench.data.dataset import Dataset
from hashbench.data.loading import load_dataset

REPO = Path(__file__).resolve().parents[1]
CIFAR10_ARCHIVE = "cifar10-jpeg.tar.gz"
REQUIRE_DATA = "HASHBENCH_REQUIRE_DATA"
BENCHMARKS = REPO / "tests" / "benchmarks"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--benchmarks", action="store_true", help="run the benchmarks in tests/benchmarks too"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_benchmark = pytest.mark.skip(reason="a benchmark: run it with `pytest --benchmarks`")
    skip_cuda = pytest.mark.skip(reason="needs a CUDA device; PyTorch sees none here")
    for item in items:
        if item.get_closest_marker("cuda") and not torch.cuda.is_available():
            item.add_marker(skip_cuda)
        if "cifar10_archive" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.cifar10)
        if not config.getoption("--benchmarks") and BENCHMARKS in Path(item.path).parents:
            item.add_marker(skip_benchmark)


@pytest.fixture(autouse=True)
def isolated_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Every test decodes and caches into its own folder, never into the user's cache."""
    path = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("HASHBENCH_CACHE", str(path))
    return path


@pytest.fixture(scope="session")
def cifar10_archive() -> Path:
    """The real CIFAR-10 image-folder archive: skip without it, fail in CI (which has it)."""
    roots = [Path(p) for p in os.environ.get("HASHBENCH_DATA", "").split(os.pathsep) if p]
    roots.append(REPO.parent / "shared" / "data")
    for root in roots:
        if (root / CIFAR10_ARCHIVE).is_file():
            return root / CIFAR10_ARCHIVE
    missing = (
        f"the real CIFAR-10 ({CIFAR10_ARCHIVE}) is in none of {', '.join(map(str, roots))}; "
        "set HASHBENCH_DATA to the folder holding it"
    )
    if os.environ.get(REQUIRE_DATA, "") not in ("", "0"):
        pytest.fail(f"{missing} ({REQUIRE_DATA} is set, so these tests must run)")
    pytest.skip(missing)


@pytest.fixture(scope="session")
def cifar10_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The cache the real CIFAR-10 is decoded into, shared by the whole session."""
    return tmp_path_factory.mktemp("cifar10-cache")


@pytest.fixture(scope="session")
def cifar10_root(cifar10_archive: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data root holding nothing but a link to the archive, so that no other release of
    CIFAR-10 lying beside the archive can be picked instead."""
    root = tmp_path_factory.mktemp("cifar10-root")
    (root / CIFAR10_ARCHIVE).symlink_to(cifar10_archive)
    return root


@pytest.fixture(scope="session")
def cifar10(cifar10_root: Path, cifar10_cache: Path) -> Dataset:
    """The real CIFAR-10 through ``load_dataset("cifar10")``, decoded once per session."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HASHBENCH_CACHE", str(cifar10_cache))
        return load_dataset("cifar10", data_root=cifar10_root)
