"""One training loop for every deep hashing method.

A fit is two phases: an optional warm start (cross-entropy on the training labels through a
class head) and the hashing phase (a fresh hash head, the method's own loss). The whole
training set stays on the device as uint8 and batches are augmented there; the network runs
channels-last under bf16 autocast where the hardware has bf16 (CUDA, AMX / AVX512-BF16 CPUs; see
:mod:`hashbench.deep.device`), the losses in float32. Each epoch ends with a
checkpoint in the method's workspace; each hashing epoch with the validation mAP (each half
of the validation images as queries against the other half, unseen in training as a test
database is; or, with ``val_database="training"``, against the training images), which alone
picks the epoch whose weights the method keeps. A loss that goes non-finite or grows a
hundredfold over the phase's first epoch stops the fit with
:class:`~hashbench.errors.TrainingDiverged`: a diverged run is a failed run, never a record.

A method plugs in through the hooks of :class:`~hashbench.deep.hooks.TrainingHooks`: its loss
on a batch, and, when it needs them, its own batches, end-of-epoch step, validation database
and state (ADSH uses all of them), each given a :class:`~hashbench.deep.hooks.TrainingContext`.
"""

from __future__ import annotations

import functools
import math
import sys
import time
import weakref
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from hashbench.deep import checkpoint
from hashbench.deep.augment import augment
from hashbench.deep.backbones import build_network, get_backbone
from hashbench.deep.device import (
    autocast,
    configure,
    generator,
    precision,
    select_device,
    staging_budget,
)
from hashbench.deep.hooks import TrainingContext, TrainingHooks
from hashbench.deep.losses import classification_loss, multi_hot
from hashbench.deep.recipes import learning_rate
from hashbench.errors import HashbenchError, TrainingDiverged
from hashbench.evaluation.evaluator import mean_average_precision
from hashbench.method import Subset, without_added_defaults

WARM_START, HASHING = "warm_start", "hashing"
#: Images per forward pass when encoding; inference needs no gradients, so batches can be big.
ENCODE_BATCH = 1024
CPU = torch.device("cpu")
#: An epoch's mean loss this many times its phase's first epoch's is an explosion.
EXPLOSION = 100.0


def stage_images(images: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 (n, H, W, 3) on the device when it fits its :func:`staging_budget`, else on the CPU.

    A set too large for the GPU stays in ordinary memory and each batch is gathered there and
    pinned on its own (:meth:`Trainer.batch_loss`), rather than pinning a whole second copy of
    the set (rounded up to a power of two by PyTorch's pinned allocator); the gather then runs
    on the CPU in the training loop, unprefetched: no bundled protocol comes near this path
    (CIFAR-10's 50,000 images are 150 MB, NUS-WIDE's 190,000 at 64 px 2.3 GB).
    """
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] not in (1, 3) or images.dtype != np.uint8:
        raise HashbenchError(
            f"deep methods take uint8 images (n, H, W, 3); got {images.dtype} {images.shape}"
        )
    tensor = torch.from_numpy(np.ascontiguousarray(images))
    if tensor.shape[-1] == 1:
        tensor = tensor.expand(*tensor.shape[:-1], 3).contiguous()
    if device.type != "cuda":
        return tensor
    return tensor.to(device) if tensor.nbytes < staging_budget(device) else tensor


@torch.no_grad()
def relaxed_codes(
    network: torch.nn.Module, images: torch.Tensor, device: torch.device, flips: bool
) -> Any:
    """(n, K) float32 on ``device``: the mean over regions of the network's outputs, and with
    ``flips`` over the image and its mirror image too (test-time flips, as airbench's)."""
    network.eval()
    parts = []
    for start in range(0, len(images), ENCODE_BATCH):
        batch = images[start : start + ENCODE_BATCH].to(device, non_blocking=True)
        batch = batch.permute(0, 3, 1, 2)
        with autocast(device):
            codes = network.regional(batch).mean(dim=1)
            if flips:
                codes = (codes + network.regional(batch.flip(3)).mean(dim=1)) / 2
        parts.append(codes)
    return torch.cat(parts)


def bits_of(codes: torch.Tensor) -> np.ndarray:
    return (codes > 0).to(torch.uint8).cpu().numpy()


def held_out_map(codes: np.ndarray, labels: np.ndarray, topk: int | None, device: str) -> float:
    """mAP of every item as a query against the other half of the items (alternate ones, at
    least one each), so that neither queries nor database were trained on, as in a protocol
    with an unseen database."""
    even = np.arange(len(codes)) % 2 == 0
    total = 0.0
    for queries, database in ((even, ~even), (~even, even)):
        score = mean_average_precision(
            codes[queries], codes[database], labels[queries], labels[database], topk, device
        )
        total += score * int(queries.sum())
    return total / len(codes)


def count_classes(train: Subset, validation: Subset | None) -> int:
    parts = [train] if validation is None else [train, validation]
    if train.labels.ndim == 2:
        return int(train.labels.shape[1])
    return int(max(int(part.labels.max()) for part in parts)) + 1


def run_fingerprint(
    method: TrainingHooks, train: Subset, validation: Subset | None, device: torch.device
) -> str:
    """Digest of the run a checkpoint belongs to: the method's settings, the data, the
    precision and the device type, whose random streams' states differ in size (left out on the
    CPU, where checkpoints were written before it was named). Not the GPU's number or count: a
    checkpoint keeps the stream of the training GPU alone (:meth:`Trainer.random_state`)."""
    on_gpu = {"device": device.type} if device.type != "cpu" else {}
    return checkpoint.digest(
        {**without_added_defaults(method.get_params()), "precision": precision(device), **on_gpu},
        train.indices,
        train.labels,
        None if validation is None else validation.indices,
    )


class Trainer:
    """Trains ``method``'s network on ``train``; the method keeps ``network`` afterwards."""

    def __init__(self, method: TrainingHooks, train: Subset, validation: Subset | None):
        self.method = method
        self.train = train
        self.recipe = method.recipe()
        self.device = select_device()
        configure(self.device)
        self.n = len(train)
        if self.n < 2:
            raise HashbenchError(f"{method.name}: deep methods need at least 2 training images")
        self.images = stage_images(train.inputs, self.device)
        self.single_label = train.labels.ndim == 1
        self.classes = count_classes(train, validation)
        self.labels = multi_hot(train.labels, self.classes).to(self.device)
        self.validation = validation
        if validation is not None and len(validation):
            self.validation_images = stage_images(validation.inputs, self.device)
            self.validation_labels = multi_hot(validation.labels, self.classes).to(self.device)
        else:
            self.validation = None
        self.backbone = get_backbone(self.recipe.backbone)
        self.network_options = method.network_options()
        self.input_size = self.backbone.spec.input_size(method.grid(), self.network_options)
        torch.manual_seed(method.seed)
        # Built at the warm start's input; the hashing phase reads the method's own.
        self.network = build_network(
            self.backbone,
            self.recipe.width,
            self.recipe.weights,
            self.classes,
            method.warm_start_grid(),
            self.network_options,
        ).to(self.device, memory_format=torch.channels_last)
        self.sampler = generator(CPU, method.seed)
        self.augmenter = generator(self.device, method.seed + 1)
        # The context reaches the trainer through a weak proxy: bound methods would make a
        # cycle that only the cyclic collector frees, keeping the staged images, optimiser
        # state and best weights on the GPU after the fit, into the worker's next cell.
        trainer = weakref.proxy(self)
        self.context = TrainingContext(
            n=self.n,
            indices=np.asarray(train.indices),
            labels=self.labels,
            multi_label=not self.single_label,
            device=self.device,
            sampler=self.sampler,
            batches=lambda indices=None: trainer.shuffled_batches(indices),
            encode_training_items=lambda items=None: trainer.training_set_codes(items),
            epoch=lambda: trainer.epoch,
            restoring=lambda: trainer.restoring,
        )
        self.restoring = False
        self.phase, self.epoch = WARM_START, 0
        self.peak_rate = 0.0
        #: The method's own trainable modules (:meth:`DeepHashingMethod.hashing_modules`).
        self.own_modules: dict[str, torch.nn.Module] = {}
        self.optimizer = self.make_optimizer()
        self.history: list[dict[str, Any]] = []
        self.best: dict[str, Any] | None = None
        #: Wall and CPU seconds earlier processes spent on this fit up to its last checkpoint,
        #: carried by that checkpoint, so a resumed run's record times the fit, not the
        #: process (the epoch lost to the interruption is not counted).
        self.carried = {"wall_s": 0.0, "cpu_s": 0.0}
        self.clock = (time.perf_counter(), time.process_time())
        self.fingerprint = run_fingerprint(method, train, validation, self.device)

    # -- the two phases --------------------------------------------------------------------
    def fit(self) -> None:
        warm_epochs = self.recipe.warm_start_epochs
        if not self.resume() and warm_epochs and self.load_warm_start():
            self.epoch = warm_epochs
        if self.phase == WARM_START:
            if self.epoch < warm_epochs:
                self.train_epochs(warm_epochs)
                self.store_warm_start()
            self.start_hashing()
        self.train_epochs(self.recipe.epochs)
        self.keep_best()

    def start_hashing(self) -> None:
        self.phase, self.epoch = HASHING, 0
        self.network.replace_head(self.method.bits, generator(CPU, self.method.seed + 2))
        # A warm start shared across input sizes is fine-tuned at this method's own input, as
        # the DMRH paper fine-tunes ImageNet CNN-F at 192 + 32 N (the network is fully
        # convolutional, so only the input it resizes to changes).
        self.network.input_size = self.input_size
        self.own_modules = {
            name: module.to(self.device)
            for name, module in self.method.hashing_modules(self.context).items()
        }
        self.optimizer = self.make_optimizer()
        self.method.start_hashing(self.context)

    def trained_parameters(self) -> list[torch.nn.Parameter]:
        """The network's parameters and, in the hashing phase, the method's own modules'."""
        modules = [self.network, *self.own_modules.values()]
        return [parameter for module in modules for parameter in module.parameters()]

    def parameter_counts(self) -> dict[str, int]:
        """Trainable parameters of the network and of each of the method's own modules."""
        modules = {"network": self.network, **self.own_modules}
        return {name: sum(p.numel() for p in m.parameters()) for name, m in modules.items()}

    def make_optimizer(self) -> torch.optim.Optimizer:
        """The phase's optimiser (its rate is set step by step in run_epoch)."""
        recipe, parameters = self.recipe, self.trained_parameters()
        kind = recipe.optimizer if self.phase == HASHING else recipe.warm_start_optimizer
        if kind == "rmsprop":
            return torch.optim.RMSprop(
                parameters, lr=recipe.lr, momentum=recipe.momentum, weight_decay=recipe.weight_decay
            )
        if kind in ("adam", "adamw"):
            adam = torch.optim.Adam if kind == "adam" else torch.optim.AdamW
            return adam(parameters, lr=recipe.lr, weight_decay=recipe.weight_decay)
        return torch.optim.SGD(
            parameters,
            lr=recipe.lr,
            momentum=recipe.momentum,
            nesterov=recipe.nesterov and recipe.momentum > 0,
            weight_decay=recipe.weight_decay,
        )

    def train_epochs(self, epochs: int) -> None:
        name = f"{self.method.name} {self.method.bits} bits {self.phase.replace('_', ' ')}"
        bar = tqdm(
            total=epochs, initial=self.epoch, desc=name, unit="epoch", leave=False, file=sys.stderr
        )
        for epoch in range(self.epoch, epochs):
            started = time.perf_counter()
            entry: dict[str, Any] = {"epoch": epoch + 1, "phase": self.phase}
            entry["loss"] = self.run_epoch(epoch, epochs)
            self.check_divergence(entry["loss"], epoch)
            entry.update(self.validate())
            entry["seconds"] = round(time.perf_counter() - started, 3)
            self.history.append(entry)
            self.epoch = epoch + 1
            if self.phase == HASHING:
                self.remember_if_best(entry)
            self.save_checkpoint()
            bar.set_postfix({k: v for k, v in entry.items() if k in ("loss", "val_map")})
            bar.update()
        bar.close()

    # -- one epoch -------------------------------------------------------------------------
    def shuffled_batches(self, indices: torch.Tensor | None = None) -> list[torch.Tensor]:
        """``indices`` (default: the epoch's items) shuffled into batches equal to within one
        item; at most ``epoch_size`` of them.

        No batch is smaller than the phase's batch size (unless all of ``indices`` are): batch
        statistics and pairwise losses need full batches.
        """
        limit = self.recipe.epoch_size
        if indices is None:
            order = self.epoch_items()
        else:
            order = indices[torch.randperm(len(indices), generator=self.sampler)][:limit]
        recipe = self.recipe
        size = recipe.batch_size if self.phase == HASHING else recipe.warm_start_batch_size
        count = max(1, len(order) // size)
        return [batch.to(self.device) for batch in order.tensor_split(count)]

    def epoch_items(self) -> torch.Tensor:
        """Every training item, shuffled; or with ``epoch_size`` below n, this epoch's stretch
        of a running shuffle (one seeded permutation per pass over the data), so that over
        several epochs every item is seen equally often and a resumed run sees the same."""
        if self.recipe.visits_every_item(self.n):
            return torch.randperm(self.n, generator=self.sampler)
        limit = self.recipe.epoch_size
        start = self.epoch * limit
        first, last = start // self.n, (start + limit - 1) // self.n
        stream = torch.cat([self.pass_order(number) for number in range(first, last + 1)])
        offset = start - first * self.n
        return stream[offset : offset + limit]

    def pass_order(self, number: int) -> torch.Tensor:
        phase = (WARM_START, HASHING).index(self.phase)
        seed = np.random.SeedSequence([self.method.seed, phase, number]).generate_state(1)[0]
        return torch.randperm(self.n, generator=torch.Generator().manual_seed(int(seed)))

    def run_epoch(self, epoch: int, epochs: int) -> float:
        """Train one epoch; return the mean batch loss."""
        hashing = self.phase == HASHING
        batches = self.method.hashing_batches(self.context) if hashing else self.shuffled_batches()
        base = self.recipe.lr if hashing else self.recipe.warm_start_lr
        for module in (self.network, *self.own_modules.values()):
            module.train()
        total = torch.zeros((), device=self.device)
        for step, indices in enumerate(batches):
            rate = learning_rate(self.recipe, base, epochs, epoch, (step + 0.5) / len(batches))
            self.peak_rate = max(self.peak_rate, rate) if step else rate
            for group in self.optimizer.param_groups:
                group["lr"] = rate
            loss = self.batch_loss(indices)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if hashing and self.recipe.clip_grad_norm is not None:
                clip = self.recipe.clip_grad_norm
                torch.nn.utils.clip_grad_norm_(self.trained_parameters(), clip)
            self.optimizer.step()
            total += loss.detach()
        if hashing:
            self.method.after_hashing_epoch(self.context)
        return float(total) / len(batches)

    def check_divergence(self, loss: float, epoch: int) -> None:
        """Stop the fit when ``loss`` is non-finite or has exploded; the error names the run."""
        first = next((e["loss"] for e in self.history if e["phase"] == self.phase), loss)
        if math.isfinite(loss) and loss <= EXPLOSION * abs(first) + 1e-12:
            return
        method, phase = self.method, self.phase.replace("_", " ")
        rate = "warm_start_lr" if self.phase == WARM_START else "lr"
        raise TrainingDiverged(
            f"{method.name} {method.bits} bits seed {method.seed} diverged in the {phase} phase "
            f"at epoch {epoch + 1} (learning rate {self.peak_rate:.3g}): loss {loss:.4g} after "
            f"{first:.4g} in its first epoch; no record written, lower --set {method.name}.{rate}"
        )

    def batch_loss(self, indices: torch.Tensor) -> torch.Tensor:
        images = self.images[indices.to(self.images.device)]
        if images.device.type != self.device.type:  # a set too large for the GPU: on the CPU
            images = images.pin_memory()  # so that the copy below is asynchronous
        images = images.to(self.device, non_blocking=True)
        images = augment(
            images,
            flip=self.recipe.flip,
            translate=self.recipe.translate,
            generator=self.augmenter,
        )
        with autocast(self.device):
            fused = self.network.regional(images).mean(dim=1)
        if self.phase == WARM_START:
            return classification_loss(
                fused,
                self.labels[indices],
                single_label=self.single_label,
                label_smoothing=self.recipe.label_smoothing,
            )
        return self.method.batch_loss(self.context, self.method.relax(fused), indices)

    # -- validation and model selection ----------------------------------------------------
    def training_set_codes(self, items: torch.Tensor | None = None) -> torch.Tensor:
        images = self.images if items is None else self.images[items.to(self.images.device)]
        return relaxed_codes(self.network, images, self.device, self.recipe.test_flips)

    @functools.cached_property
    def validation_database_items(self) -> torch.Tensor | None:
        """The training items validation searches with ``val_database="training"``: all, or a
        seeded sample of ``val_database_size``, the same every epoch."""
        size = self.recipe.val_database_size
        if size is None or size >= self.n:
            return None
        sample = np.random.default_rng(self.method.seed).choice(self.n, size, replace=False)
        return torch.from_numpy(np.sort(sample)).to(self.device)

    def validation_codes(self) -> torch.Tensor:
        flips = self.recipe.test_flips
        return relaxed_codes(self.network, self.validation_images, self.device, flips)

    def validate(self) -> dict[str, float]:
        if self.validation is None:
            return {}
        if self.phase == WARM_START:
            if not self.single_label:
                return {}
            logits = self.validation_codes()
            hits = logits.argmax(dim=1) == self.validation_labels.argmax(dim=1)
            return {"val_accuracy": round(float(hits.float().mean()), 5)}
        held_out = self.recipe.val_database == "validation"
        if held_out and len(self.validation) < 2:
            return {}  # nothing to search: the last epoch's weights are kept
        queries = bits_of(self.validation_codes())
        topk, device = self.recipe.val_topk, str(self.device)
        if not held_out:
            items = self.validation_database_items
            database = bits_of(self.method.validation_database(self.context, items))
            labels = self.train.labels if items is None else self.train.labels[items.cpu()]
            score = mean_average_precision(
                queries, database, self.validation.labels, labels, topk, device
            )
        else:
            score = held_out_map(queries, self.validation.labels, topk, device)
        return {"val_map": round(float(score), 5)}

    def remember_if_best(self, entry: dict[str, Any]) -> None:
        score = entry.get("val_map")
        if score is None or (self.best is not None and score <= self.best["score"]):
            return
        self.best = {
            "score": score,
            "epoch": entry["epoch"],
            "network": {k: v.detach().clone() for k, v in self.network.state_dict().items()},
            "modules": {
                name: {k: v.detach().clone() for k, v in module.state_dict().items()}
                for name, module in self.own_modules.items()
            },
            "method": {k: v.clone() for k, v in self.method.training_state().items()},
        }

    def keep_best(self) -> None:
        """Keep the best validation epoch's weights (the last epoch's without validation)."""
        if self.best is not None:
            self.network.load_state_dict(self.best["network"])
            self.load_own_modules(self.best)
            self.method.load_training_state(self.best["method"])
            for entry in self.history:
                if entry["phase"] == HASHING and entry["epoch"] == self.best["epoch"]:
                    entry["selected"] = True
        self.network.eval()

    # -- checkpoints -----------------------------------------------------------------------
    def random_state(self) -> dict[str, Any]:
        """Every random stream the next epoch draws from. Of the GPUs' streams only the training
        device's (its dropout's): one per visible GPU would tie a checkpoint or a cached warm
        start to the GPU count of the process that wrote it."""
        return {
            "sampler": self.sampler.get_state(),
            "augmenter": self.augmenter.get_state(),
            "torch": torch.get_rng_state(),
            "cuda": [torch.cuda.get_rng_state(self.device)] if self.device.type == "cuda" else [],
        }

    def set_random_state(self, state: dict[str, Any], source: Path) -> None:
        """Restore :meth:`random_state` as saved in ``source``; one line if it cannot be."""
        try:
            self.sampler.set_state(state["sampler"])
            self.augmenter.set_state(state["augmenter"])
            torch.set_rng_state(state["torch"])
            if self.device.type == "cuda":
                (cuda,) = state["cuda"]
                torch.cuda.set_rng_state(cuda, self.device)
        except (RuntimeError, ValueError, KeyError, TypeError) as error:
            raise HashbenchError(
                f"the random state saved in {source} cannot be restored on {self.device} "
                f"({' '.join(str(error).split())}); delete {source} to train afresh"
            ) from error

    def save_checkpoint(self) -> None:
        workspace = self.method.workspace
        if workspace is None:
            return
        checkpoint.save(
            workspace / checkpoint.CHECKPOINT_NAME,
            {
                "fingerprint": self.fingerprint,
                "phase": self.phase,
                "epoch": self.epoch,
                "network": self.network.state_dict(),
                "modules": {name: module.state_dict() for name, module in self.own_modules.items()},
                "optimizer": self.optimizer.state_dict(),
                "random": self.random_state(),
                "history": self.history,
                "best": self.best,
                "method": self.method.training_state() if self.phase == HASHING else {},
                "spent": self.spent(),
            },
        )

    def resume(self) -> bool:
        """Continue from the workspace's checkpoint, if there is one; True when there was."""
        workspace = self.method.workspace
        path = None if workspace is None else workspace / checkpoint.CHECKPOINT_NAME
        state = None if path is None else checkpoint.load(path)
        if path is None or state is None:
            return False
        if state["fingerprint"] != self.fingerprint:
            raise HashbenchError(
                f"workspace {workspace} holds the checkpoint of a different run; "
                "delete it or give this run its own workspace"
            )
        if state["phase"] == HASHING:
            self.restoring = True
            try:
                self.start_hashing()
            finally:
                self.restoring = False
            self.load_own_modules(state)
            self.method.load_training_state(state["method"])
        self.phase, self.epoch = state["phase"], state["epoch"]
        self.network.load_state_dict(state["network"])
        self.optimizer = self.make_optimizer()
        self.optimizer.load_state_dict(state["optimizer"])
        self.set_random_state(state["random"], path)
        self.history, self.best = state["history"], state["best"]
        self.carried = state.get("spent", self.carried)  # checkpoints before it had none
        return True

    def spent(self) -> dict[str, float]:
        """Wall and CPU seconds spent on this fit so far, in this and earlier processes."""
        wall, cpu = self.clock
        return {
            "wall_s": self.carried["wall_s"] + time.perf_counter() - wall,
            "cpu_s": self.carried["cpu_s"] + time.process_time() - cpu,
        }

    def load_own_modules(self, state: dict[str, Any]) -> None:
        """The method's own modules' weights as ``state`` (a checkpoint or the best epoch)
        keeps them; states written before the hook have none, nor then had the method."""
        saved = state.get("modules", {})
        for name, module in self.own_modules.items():
            module.load_state_dict(saved[name])

    @functools.cached_property
    def warm_start_key(self) -> str:
        """Digest of all the warm start depends on: data, recipe, input size, seed, device and
        the precision it computes in (an fp32 run never starts from a bf16 warm start)."""
        recipe = self.recipe
        weights = recipe.weights
        settings = {
            "version": checkpoint.WARM_START_VERSION,
            "input_size": self.backbone.spec.input_size(
                self.method.warm_start_grid(), self.network_options
            ),
            "seed": self.method.seed,
            "device": self.device.type,
            "precision": precision(self.device),
            "classes": self.classes,
            "weights": None if weights is None else checkpoint.file_identity(weights),
            **({"network": self.network_options} if self.network_options else {}),
            # Left out at sgd, its value before it was a setting, so cached warm starts stay.
            **(
                {"optimizer": recipe.warm_start_optimizer}
                if recipe.warm_start_optimizer != "sgd"
                else {}
            ),
            **{
                name: getattr(recipe, name)
                for name in (
                    "backbone",
                    "width",
                    "warm_start_batch_size",
                    "momentum",
                    "nesterov",
                    "weight_decay",
                    "schedule",
                    "lr_step_epochs",
                    "flip",
                    "translate",
                    "test_flips",
                    "warm_start_epochs",
                    "warm_start_lr",
                    "label_smoothing",
                )
            },
            # Left out at None, its value before it was a setting.
            **({"epoch_size": recipe.epoch_size} if recipe.epoch_size is not None else {}),
        }
        validation = self.validation
        return checkpoint.digest(
            settings,
            self.train.inputs,
            self.train.labels,
            None if validation is None else validation.indices,
            None if validation is None else validation.labels,
        )

    def load_warm_start(self) -> bool:
        path = checkpoint.warm_start_path(self.warm_start_key)
        cached = checkpoint.load(path)
        if cached is None:
            return False
        self.network.load_state_dict(cached["network"])
        self.set_random_state(cached["random"], path)
        self.history = [{**entry, "cached": True} for entry in cached["history"]]
        return True

    def store_warm_start(self) -> None:
        checkpoint.save(
            checkpoint.warm_start_path(self.warm_start_key),
            {
                "network": self.network.state_dict(),
                "random": self.random_state(),
                "history": [e for e in self.history if e["phase"] == WARM_START],
            },
        )
