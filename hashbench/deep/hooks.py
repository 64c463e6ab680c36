"""What the trainer needs of a deep method, and what a method's hooks may see of the training.

The trainer depends only on :class:`TrainingHooks`; a method's hooks see the run through a
:class:`TrainingContext`, never the trainer itself, so the trainer and the method classes do
not import each other and a method file imports only this, the losses and its base class.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from hashbench.deep.recipes import Recipe


@dataclass(frozen=True)
class TrainingContext:
    """The training run as a method's hooks may read it."""

    #: Training items, their positions in the data set and their (n, C) multi-hot labels.
    n: int
    indices: np.ndarray
    labels: torch.Tensor
    #: Whether items may carry several labels (multi-label data), not one class each.
    multi_label: bool
    device: torch.device
    #: The run's seeded stream for sampling items; checkpoints save and restore it.
    sampler: torch.Generator
    #: Shuffles the given item numbers (default: all) into full batches on the device.
    batches: Callable[[torch.Tensor | None], list[torch.Tensor]]
    #: Relaxed codes under the current network of the given training items (all: None).
    encode_training_items: Callable[[torch.Tensor | None], torch.Tensor]
    #: Epochs of the current phase completed so far (0 in the first).
    epoch: Callable[[], int]
    #: Whether the hashing phase is being set up to resume from a checkpoint, whose saved
    #: training state then replaces what :meth:`TrainingHooks.start_hashing` set up.
    restoring: Callable[[], bool] = lambda: False


class TrainingHooks(Protocol):
    """A deep method as the trainer drives it (:class:`~hashbench.deep.method.DeepHashingMethod`
    implements every hook but the loss)."""

    name: str
    bits: int
    seed: int
    workspace: Path | None

    def recipe(self) -> Recipe: ...

    def get_params(self) -> dict[str, Any]: ...

    def grid(self) -> int:
        """Regions per side of the image (DMRH's N); the network's input grows to match."""
        ...

    def warm_start_grid(self) -> int:
        """Regions per side during the warm start: 1 for the warm start all methods share."""
        ...

    def network_options(self) -> dict[str, Any]:
        """The backbone's own settings (HybridHash's levels); empty for fixed backbones."""
        ...

    def relax(self, outputs: torch.Tensor) -> torch.Tensor:
        """The relaxed codes of the network's fused outputs."""
        ...

    def start_hashing(self, context: TrainingContext) -> None:
        """Set up the method's own training state when the hashing phase starts."""
        ...

    def hashing_modules(self, context: TrainingContext) -> dict[str, torch.nn.Module]:
        """The method's own trainable modules, trained, checkpointed and counted with the
        network from the hashing phase's start."""
        ...

    def hashing_batches(self, context: TrainingContext) -> list[torch.Tensor]:
        """Index batches of one hashing epoch."""
        ...

    def batch_loss(
        self, context: TrainingContext, codes: torch.Tensor, indices: torch.Tensor
    ) -> torch.Tensor:
        """The loss of relaxed codes (B, K) of the training items ``indices``."""
        ...

    def after_hashing_epoch(self, context: TrainingContext) -> None:
        """Anything the method does once per epoch after the network's updates."""
        ...

    def validation_database(
        self, context: TrainingContext, items: torch.Tensor | None
    ) -> torch.Tensor:
        """Codes of the training items ``items`` (all: None), which validation queries search."""
        ...

    def training_state(self) -> dict[str, torch.Tensor]:
        """Tensors besides the network that a checkpoint must keep."""
        ...

    def load_training_state(self, state: dict[str, torch.Tensor]) -> None:
        """Restore what :meth:`training_state` returned."""
        ...
