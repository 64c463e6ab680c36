"""The base class of deep hashing methods: a method file adds its loss and what is its own.

Every deep method takes the same training settings (a preset plus overrides, see
:mod:`hashbench.deep.recipes`) besides its own loss hyper-parameters; they are keyword
arguments of the constructor and appear in ``get_params``, resolved, so a run's record names
every setting actually used. The shared :class:`~hashbench.deep.trainer.Trainer` calls the
hooks below (:class:`~hashbench.deep.hooks.TrainingHooks`) with a
:class:`~hashbench.deep.hooks.TrainingContext`; most methods define only
:meth:`DeepHashingMethod.batch_loss`.
"""

from __future__ import annotations

from abc import abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from hashbench.constraints import Constraint, OneOf
from hashbench.deep.recipes import PRESETS, RECIPE_FIELDS, RECIPE_PARAMETERS, Recipe, resolve
from hashbench.method import HashingMethod, Subset

if TYPE_CHECKING:
    import torch

    from hashbench.deep.hooks import TrainingContext

#: The preset a method trains under unless told otherwise.
DEFAULT_PRESET = "scratch"


class DeepHashingMethod(HashingMethod):
    """A network's outputs, averaged over its regions, are the relaxed code; the sign the bits.

    Importing this module imports no torch: a method's declarations (``parameters``, the
    recipes, ``preset_parameters``) are read and listed without its training code, which the
    hooks reach only when a fit runs.
    """

    input_kind = "images"
    supervised = True
    parameters: ClassVar[dict[str, Constraint]] = {"preset": OneOf(PRESETS), **RECIPE_PARAMETERS}
    #: This method's learning rate under preset "scratch" (its loss has its own scale).
    scratch_recipe: ClassVar[dict[str, Any]] = {}
    #: This method's optimiser, learning rate, batch and epochs under preset "paper".
    paper_recipe: ClassVar[dict[str, Any]] = {}
    #: The method's own parameters whose default depends on the preset (HybridHash's network
    #: shape): preset -> {parameter: value}, taken where the constructor is given None.
    preset_parameters: ClassVar[dict[str, dict[str, Any]]] = {}
    #: Relaxed codes are tanh(outputs), in (-1, 1), rather than the raw outputs.
    squash: ClassVar[bool] = False

    def __init__(
        self, bits: int, seed: int = 0, *, preset: str = DEFAULT_PRESET, **training: Any
    ) -> None:
        super().__init__(bits, seed)
        self.preset = preset
        name = self.name or type(self).__name__
        recipe = resolve(name, preset, training, self.scratch_recipe, self.paper_recipe)
        for name in RECIPE_FIELDS:
            setattr(self, name, getattr(recipe, name))

    @classmethod
    def param_names(cls) -> list[str]:
        own = super().param_names()
        return own + [name for name in ("preset", *RECIPE_FIELDS) if name not in own]

    @classmethod
    def default_params(cls, bits: int) -> dict[str, Any]:
        own = {
            key: cls.preset_value(DEFAULT_PRESET, key, value)
            for key, value in super().default_params(bits).items()
        }
        recipe = resolve(
            cls.name or cls.__name__, DEFAULT_PRESET, {}, cls.scratch_recipe, cls.paper_recipe
        )
        return {
            **own,
            "preset": DEFAULT_PRESET,
            **{name: getattr(recipe, name) for name in RECIPE_FIELDS},
        }

    @classmethod
    def preset_value(cls, preset: str, key: str, value: Any) -> Any:
        """``value``, or where it is None the preset's value of parameter ``key``, if any."""
        if value is None:
            value = cls.preset_parameters.get(preset, {}).get(key)
        return list(value) if isinstance(value, (tuple, list)) else value

    def recipe(self) -> Recipe:
        return Recipe(**{name: getattr(self, name) for name in RECIPE_FIELDS})

    def check_files(self) -> None:
        if self.weights is not None:
            from hashbench.deep.backbones import get_backbone

            get_backbone(self.backbone).read_weights(Path(self.weights))

    # -- hooks the trainer calls -----------------------------------------------------------
    def grid(self) -> int:
        """Regions per side of the image (DMRH's N); the network's input grows to match."""
        return 1

    def warm_start_grid(self) -> int:
        """Regions per side during the warm start: 1, so that every method of a backbone and
        every N start from the same cached warm start (at the backbone's base input)."""
        return 1

    def network_options(self) -> dict[str, Any]:
        """The backbone's own settings, passed to its build (HybridHash's levels)."""
        return {}

    def relax(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs.tanh() if self.squash else outputs

    def hashing_modules(self, context: TrainingContext) -> dict[str, torch.nn.Module]:
        """The method's own trainable modules besides the network (a classifier on the codes,
        as GreedyHash's), built when the hashing phase starts and kept by the method for its
        loss. The trainer puts them on the device, trains them with the network under the
        same optimiser and gradient clipping, keeps them in checkpoints and in the best
        epoch's weights, and counts their parameters in the record. None by default."""
        return {}

    def start_hashing(self, context: TrainingContext) -> None:
        """Set up the method's own training state when the hashing phase starts."""

    def hashing_batches(self, context: TrainingContext) -> list[torch.Tensor]:
        """Index batches of one epoch: by default every training item once, shuffled."""
        return context.batches(None)

    @abstractmethod
    def batch_loss(
        self, context: TrainingContext, codes: torch.Tensor, indices: torch.Tensor
    ) -> torch.Tensor:
        """The loss of relaxed codes (B, K) of the training items ``indices``."""

    def after_hashing_epoch(self, context: TrainingContext) -> None:
        """Anything the method does once per epoch after the network's updates."""

    def validation_database(
        self, context: TrainingContext, items: torch.Tensor | None
    ) -> torch.Tensor:
        """Codes of the training items ``items`` (all: None), which validation queries search:
        the network's, unless the method learns the training items' codes itself (ADSH)."""
        return context.encode_training_items(items)

    def training_state(self) -> dict[str, torch.Tensor]:
        """Tensors besides the network that a checkpoint must keep."""
        return {}

    def load_training_state(self, state: dict[str, torch.Tensor]) -> None:
        """Restore what :meth:`training_state` returned."""

    # -- the HashingMethod contract --------------------------------------------------------
    def _fit(self, train: Subset, validation: Subset | None) -> None:
        from hashbench.deep.device import precision
        from hashbench.deep.trainer import Trainer

        trainer = Trainer(self, train, validation)
        trainer.fit()
        self.network_ = trainer.network
        self.device_ = trainer.device
        self.history_ = trainer.history
        self.report_ = {
            "device": str(trainer.device),
            "precision": precision(trainer.device),
            "parameters": trainer.parameter_counts(),
        }
        # What processes before this one spent on the fit, where it resumed from a checkpoint
        self.carried_ = trainer.carried

    def _encode(self, images: np.ndarray) -> np.ndarray:
        from hashbench.deep.trainer import CPU, relaxed_codes, stage_images

        images = stage_images(images, CPU)
        codes = relaxed_codes(self.network_, images, self.device_, self.test_flips)
        return codes.cpu().numpy()


class BankedHashingMethod(DeepHashingMethod):
    """A method whose batches can be paired with a bank of every training item's latest relaxed
    codes, as jiangqy/DPSH-pytorch and DeepHash-pytorch keep one (DSDH and HybridHash always;
    DPSH and DMRH as their ``bank`` setting says): the bank is refreshed row by row as batches
    pass and checkpointed with the network."""

    #: Whether this run keeps the bank; DPSH and DMRH set it from their ``bank`` parameter.
    bank: bool = True

    def start_hashing(self, context: TrainingContext) -> None:
        if self.bank:
            self.bank_ = self.starting_bank(context)

    def starting_bank(self, context: TrainingContext) -> torch.Tensor:
        """Zeros, as the authors' codes start it, where each epoch visits every item and so
        fills it at once. Where an epoch draws fewer (a protocol's ``epoch_size``), every item's
        codes under the network as the hashing phase starts: zero rows would stay for n /
        epoch_size epochs, and the pair term, a mean over every item, would shrink by the share
        still empty. On cifar10-dmrh (4,500 of 49,000 items an epoch) DPSH's loss stayed at
        log 2 for its first 7 of 20 epochs from zeros; started full, DPSH at 48 bits reached
        0.867 on validation against 0.842 (mAP@5000 0.8614 against 0.8466). Rows still age for
        n / epoch_size epochs between visits, as they do for one epoch in the authors' codes.
        A run resuming from a checkpoint takes the saved bank instead, so encodes nothing."""
        if context.restoring() or self.recipe().visits_every_item(context.n):
            return context.labels.new_zeros(context.n, self.bits)
        return self.relax(context.encode_training_items(None)).to(context.labels.dtype)

    def remember(self, indices: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        """Store the batch's codes in the bank; returns the bank."""
        self.bank_[indices] = codes.detach()
        return self.bank_

    def partners(
        self, context: TrainingContext, codes: torch.Tensor, indices: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The codes the batch is paired with and its similarities to them: every training
        item's through the bank, (n, K) and (B, n), or without one the batch's own, (B, K) and
        (B, B)."""
        from hashbench.deep.losses import similarity

        labels = context.labels
        if self.bank:
            return self.remember(indices, codes), similarity(labels[indices], labels)
        return codes, similarity(labels[indices], labels[indices])

    def training_state(self) -> dict[str, torch.Tensor]:
        return {"bank": self.bank_} if self.bank else {}

    def load_training_state(self, state: dict[str, torch.Tensor]) -> None:
        if self.bank:
            self.bank_.copy_(state["bank"])
