"""Commands that train nothing answer at once: none of them imports torch (or timm).

Each runs as the user runs it, ``python -m hashbench ...`` in a fresh process, under ``-X
importtime``, whose report names every module the process imported.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures.imports import heavy, imported_modules
from fixtures.runs import write_run


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Runs of a classic method, a deep one and a deep variant (whose defaults come from
    its declarations) with their codes."""
    folder = tmp_path_factory.mktemp("startup") / "results"
    write_run(folder, "lsh", 0, 0.3)
    write_run(folder, "dpsh", 0, 0.2)
    write_run(folder, "hybridhash", 0, 0.25, lr=0.01)
    return folder


def commands(results: Path) -> dict[str, list[str]]:
    codes = next((results / "codes").rglob("lsh-*.npz"))
    where = ["--results", str(results)]
    return {
        "list": ["list"],
        "list a deep method": ["list", "hybridhash"],
        "table": ["table", *where],
        "report": ["report", *where, "--output", str(results / "page.html")],
        "status": ["status", *where],
        "compare": ["compare", "lsh", "dpsh", "--bits", "16", *where],
        "evaluate": ["evaluate", str(codes)],
    }


@pytest.mark.parametrize(
    "command",
    ["list", "list a deep method", "table", "report", "status", "compare", "evaluate"],
)
def test_command_imports_no_torch(command: str, results: Path, tmp_path: Path) -> None:
    result, modules = imported_modules("-m", "hashbench", *commands(results)[command], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "hashbench.cli" in modules  # the report is read right
    assert heavy(modules) == []


def test_the_check_sees_torch_where_it_is_imported(tmp_path: Path) -> None:
    # Training code imports torch: the same check names it there.
    result, modules = imported_modules("-c", "import hashbench.deep.trainer", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "torch" in heavy(modules)
