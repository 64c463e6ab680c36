"""Provenance: a record's commit, and whether the code (not the results) had changes."""

from __future__ import annotations

import subprocess
from types import SimpleNamespace

import pytest

from hashbench.experiment import provenance


@pytest.mark.parametrize(
    ("porcelain", "dirty"),
    [
        ("", False),
        (" M results/records/cifar10/lsh-16bits-seed0-abc.json\n M results/table.md\n", False),
        (" M methods/fssh.py\n M results/table.md\n", True),
    ],
)
def test_only_changes_outside_results_make_a_checkout_dirty(
    monkeypatch: pytest.MonkeyPatch, porcelain: str, dirty: bool
) -> None:
    def fake_git(command: list[str], **_: object) -> SimpleNamespace:
        output = "0123abcd" if "rev-parse" in command else porcelain
        return SimpleNamespace(returncode=0, stdout=output)

    monkeypatch.setattr(subprocess, "run", fake_git)
    provenance.git_state.cache_clear()  # computed once per process
    try:
        assert provenance.git_state() == {"commit": "0123abcd", "dirty": dirty}
    finally:
        provenance.git_state.cache_clear()
