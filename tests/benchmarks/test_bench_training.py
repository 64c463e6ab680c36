"""GPU training throughput: one epoch over 50,000 CIFAR-sized images, and the network alone.

Two numbers per method (DPSH, and DMRH with 2 x 2 regions; default backbone and recipe): a
whole training epoch as the trainer runs it (indexing the device-resident uint8 images,
augmenting, resizing, forward, loss, backward, step), and the same steps on a batch already
prepared on the GPU. When the two are close the input pipeline is not the bottleneck. Both
are in images/s in ``extra_info``; compare them on one machine only.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from hashbench import Subset, create_method
from hashbench.deep.augment import augment
from hashbench.deep.device import autocast
from hashbench.deep.trainer import Trainer

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available(),
    reason="measures GPU training throughput; PyTorch sees no CUDA device here",
)

IMAGES = 50_000
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


@pytest.mark.parametrize("case", sorted(CASES))
def test_training_epoch(benchmark, case: str, cifar_sized: Subset) -> None:
    trainer = hashing_trainer(case, cifar_sized)

    def epoch() -> float:
        return trainer.run_epoch(0, 1)  # returns the mean loss: a host sync ends the epoch

    loss = benchmark.pedantic(epoch, rounds=3, iterations=1, warmup_rounds=1)
    assert np.isfinite(loss)
    benchmark.extra_info["images_per_s"] = IMAGES / benchmark.stats["min"]


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
            loss = trainer.method.batch_loss(trainer, trainer.method.relax(fused), indices)
            trainer.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            trainer.optimizer.step()
        torch.cuda.synchronize()

    benchmark.pedantic(steps_on_device, rounds=3, iterations=1, warmup_rounds=1)
    benchmark.extra_info["images_per_s"] = steps * size / benchmark.stats["min"]
