"""Training throughput: one hashing epoch of CIFAR-sized images, fp32 and bf16 side by side.

Per method (DPSH, and DMRH with 2 x 2 regions; default backbone and recipe) and precision
(``HASHBENCH_PRECISION``): a whole hashing epoch as the trainer runs it (indexing the uint8
images, augmenting, resizing, forward, loss, backward, step), 50,000 images on a GPU, 512 on
the CPU. On a GPU also the same steps on a batch already prepared there: when the two are
close the input pipeline is not the bottleneck. All in images/s in ``extra_info``; compare
them on one machine only. ``pytest tests/benchmarks --benchmarks`` runs them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from hashbench import Subset, create_method
from hashbench.deep.augment import augment
from hashbench.deep.device import PRECISION_VARIABLE, autocast
from hashbench.deep.trainer import Trainer

IMAGES = 50_000 if torch.cuda.is_available() else 512
ROUNDS = 3 if torch.cuda.is_available() else 2
CASES = {"dpsh": {}, "dmrh-2x2": {"regions": 2}}


@pytest.fixture(scope="module")
def cifar_sized() -> Subset:
    """Random 32 x 32 images with 10 classes: throughput does not depend on the pixels."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(IMAGES, 32, 32, 3), dtype=np.uint8)
    return Subset(np.arange(IMAGES), images, rng.integers(0, 10, size=IMAGES))


def hashing_trainer(case: str, train: Subset) -> Trainer:
    settings: dict[str, Any] = CASES[case]
    method = create_method(case.split("-")[0], bits=64, seed=0, **settings)
    trainer = Trainer(method, train, None)
    trainer.start_hashing()
    return trainer


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_hashing_epoch(
    benchmark, case: str, precision: str, cifar_sized: Subset, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PRECISION_VARIABLE, precision)
    trainer = hashing_trainer(case, cifar_sized)

    def epoch() -> float:
        return trainer.run_epoch(0, 1)  # returns the mean loss: a host sync ends the epoch

    loss = benchmark.pedantic(epoch, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    assert np.isfinite(loss)
    benchmark.extra_info["images_per_s"] = IMAGES / benchmark.stats["min"]


@pytest.mark.cuda  # measures the GPU input pipeline
@pytest.mark.parametrize("case", sorted(CASES))
def test_forward_backward_on_a_prepared_batch(benchmark, case: str, cifar_sized: Subset) -> None:
    trainer = hashing_trainer(case, cifar_sized)
    size = trainer.recipe.batch_size
    steps = IMAGES // size
    indices = torch.arange(size, device=trainer.device)
    generator = trainer.augmenter
    images = augment(trainer.images[indices], flip=True, translate=2, generator=generator)
    trainer.network.train()

    def steps_on_device() -> None:
        for _ in range(steps):
            with autocast(trainer.device):
                fused = trainer.network.regional(images).mean(dim=1)
            loss = trainer.method.batch_loss(trainer.context, trainer.method.relax(fused), indices)
            trainer.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            trainer.optimizer.step()
        torch.cuda.synchronize()

    benchmark.pedantic(steps_on_device, rounds=3, iterations=1, warmup_rounds=1)
    benchmark.extra_info["images_per_s"] = steps * size / benchmark.stats["min"]
