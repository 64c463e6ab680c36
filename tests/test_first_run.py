"""The README's first command, as a newcomer runs it in a fresh clone: it prints the digits
table of its own runs and leaves the clone as it found it (``git status`` clean)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def first_command() -> list[str]:
    """The set-up block's first line, after the install: ``hashbench run ...``."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    setup = readme.split("## Set up", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    command = setup.splitlines()[0].rsplit("&&", 1)[1].split()
    assert command[0] == "hashbench", setup
    return command[1:]


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git to clone the repository")
def test_the_readmes_first_command_leaves_a_fresh_clone_clean(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    subprocess.run(
        ["git", "clone", "--quiet", "--depth", "1", f"file://{REPO}", str(clone)], check=True
    )
    result = subprocess.run(
        [sys.executable, "-m", "hashbench", *first_command()],
        capture_output=True, text=True, cwd=clone,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        capture_output=True, text=True, cwd=clone, check=True,
    )  # fmt: skip
    assert status.stdout == ""
    header = next(line for line in result.stdout.splitlines() if line.startswith("| Method"))
    assert re.findall(r"\| (\w+) \d+ bits", header) == ["digits"] * (header.count("|") - 2)
    tables = [line for line in result.stdout.splitlines() if line.startswith("| ")]
    assert [line.split("|")[1].strip() for line in tables] == ["Method", "LSH", "ITQ"]
    assert (clone / "hashbench-results" / "records" / "digits").is_dir()
