"""Every deep method's defaults train without divergence on multi-label data: a small folder in
MS-COCO's list layout through `hashbench run`, as a user runs it, at a tiny width and few
epochs, but through the whole one-cycle schedule, its peak rate included."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fixtures.listdata import COCO, write_list_dataset

from hashbench.cli import main
from hashbench.deep import trainer
from hashbench.deep.method import DeepHashingMethod
from hashbench.registry import get_method, list_methods

DEEP = [name for name in list_methods() if issubclass(get_method(name), DeepHashingMethod)]
#: Small and short; 54 fitting items in 3 batches a hashing epoch put a step at 96% of the
#: one-cycle peak (5 epochs: steps at t = 0.167 and 0.233 of the schedule around its 0.2).
TINY = {"width": 0.125, "epochs": 5, "warm_start_epochs": 3, "batch_size": 18}
#: A hashing epoch's loss may wander above its first epoch's, but not by this much.
WANDER = 3.0


@pytest.mark.parametrize("name", DEEP)
def test_defaults_converge_on_a_multi_label_folder(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_list_dataset(tmp_path / "data" / "coco", COCO, test=12, database=80, train=60)
    hashing_rates: list[float] = []  # each hashing step's rate, as a share of the recipe's

    def tracked(recipe, base, epochs, epoch, progress):  # noqa: ANN001, ANN202
        rate = schedule(recipe, base, epochs, epoch, progress)
        if phase[-1] == trainer.HASHING:
            hashing_rates.append(rate / base)
        return rate

    def run_epoch(self, epoch, epochs):  # noqa: ANN001, ANN202
        phase.append(self.phase)
        return epoch_of(self, epoch, epochs)

    phase: list[str] = []
    schedule, epoch_of = trainer.learning_rate, trainer.Trainer.run_epoch
    monkeypatch.setattr(trainer.Trainer, "run_epoch", run_epoch)
    monkeypatch.setattr(trainer, "learning_rate", tracked)
    monkeypatch.setenv("HASHBENCH_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "results"
    args = ["run", "--methods", name, "--dataset", "coco", "--protocol", "coco-hashnet",
            "--data-root", str(tmp_path / "data"), "--bits", "48", "--image-size", "16",
            "--results", str(out)]  # fmt: skip
    for key, value in TINY.items():
        args += ["--set", f"{name}.{key}={value}"]
    assert main(args) == 0, f"{name} failed on multi-label data"
    assert max(hashing_rates) > 0.95  # the hashing phase went through its peak rate
    [record] = [json.loads(path.read_text()) for path in (out / "records").rglob("*.json")]
    losses = [entry["loss"] for entry in record["history"] if entry["phase"] == "hashing"]
    assert len(losses) == TINY["epochs"]
    assert max(losses) <= WANDER * losses[0], (name, losses)
    assert losses[-1] < losses[0], (name, losses)
