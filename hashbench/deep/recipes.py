"""How deep methods are trained: two presets, every setting overridable one by one.

* ``scratch`` (default) is one recipe for every deep method, so that they differ only in their
  hashing loss: the airbench-like network, trained first by cross-entropy on the training
  labels (the warm start), then by the method's loss with a fresh hash layer. This is what
  works from scratch on CIFAR-10 (see the project's fast-training notes): without the warm
  start pairwise losses stop far lower. Backbone, augmentation, schedule, epochs and the warm
  start are the same for all the convolutional methods; only the hashing phase's learning
  rate is each method's own (``scratch_recipe``), because the losses' scales differ by orders
  of magnitude (ADSH's squared inner products grow with K^2, DPSH's likelihood does not).
  Each rate is chosen on the validation split only, never on the queries; each method file
  says on what evidence. HybridHash, a transformer, departs where its file says.
* ``paper`` is each paper's own optimiser, learning rate, batch and epochs on CNN-F from
  ImageNet weights, for users who have ``imagenet-vgg-f.mat``. Each method declares its
  values beside its loss (``paper_recipe``); what a paper leaves unsaid is said there.

Epoch counts and the like are ordinary hyper-parameters, so tests can use tiny values.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

from hashbench.constraints import (
    Boolean,
    Constraint,
    File,
    Integer,
    Nullable,
    OneOf,
    Real,
    check_settings,
)
from hashbench.deep.backbone_specs import BACKBONE_SPECS
from hashbench.errors import HashbenchError

PRESETS = ("scratch", "paper")
OPTIMIZERS = ("sgd", "rmsprop", "adam", "adamw")
SCHEDULES = ("onecycle", "step", "exponential", "constant")
VAL_DATABASES = ("validation", "training")
#: Share of the steps over which "onecycle" ramps the learning rate up.
ONECYCLE_WARMUP = 0.2
#: Total decay of "exponential": ADSH's learning rates logspace(-4, -6).
EXPONENTIAL_DECAY = 0.01


def setting(constraint: Constraint) -> Any:
    """A recipe field with the constraint its value must meet: one line declares both."""
    return field(metadata={"constraint": constraint})


@dataclass(frozen=True)
class Recipe:
    """Every setting of a deep method's training that is not the method's own loss."""

    backbone: str = setting(OneOf(tuple(BACKBONE_SPECS)))
    #: ImageNet weights: imagenet-vgg-f.mat (cnnf) or a torchvision .pth
    weights: str | None = setting(Nullable(File()))
    #: channel multiplier of airbench and cnnf (tests use small widths)
    width: float = setting(Real(above=0, maximum=4))
    epochs: int = setting(Integer(minimum=1))  # epochs of the hashing loss (ADSH: outer iterations)
    #: Items per epoch of either phase, drawn in turn from a running shuffle of the training
    #: set (None: every item, every epoch). Epoch-counted budgets and each method's per-epoch
    #: steps (ADSH's and DDSH's discrete updates, HashNet's continuation) then cost the same on
    #: 4,500 training images as on 49,000: a protocol with a large training set sets it.
    epoch_size: int | None = setting(Nullable(Integer(minimum=2)))
    batch_size: int = setting(Integer(minimum=2))
    #: The hashing phase's optimiser: sgd | rmsprop (momentum as its own; DeepHash-pytorch's
    #: choice) | adam | adamw (decoupled weight decay; both ignore momentum and nesterov).
    optimizer: str = setting(OneOf(OPTIMIZERS))
    lr: float = setting(Real(above=0))
    momentum: float = setting(Real(minimum=0, below=1))
    nesterov: bool = setting(Boolean())
    weight_decay: float = setting(Real(minimum=0))
    #: The hashing phase's gradients are clipped to this total norm (None: not clipped), as
    #: DMRH's authors' train.py clips them to 1.
    clip_grad_norm: float | None = setting(Nullable(Real(above=0)))
    #: onecycle | step (x0.1 every lr_step_epochs) | exponential | constant
    schedule: str = setting(OneOf(SCHEDULES))
    lr_step_epochs: int = setting(Integer(minimum=1))
    flip: bool = setting(Boolean())  # random horizontal flips
    #: random translations of up to this many pixels (stored resolution)
    translate: int = setting(Integer(minimum=0, maximum=64))
    #: Codes (and validation) from the mean of each image's and its mirror image's outputs.
    test_flips: bool = setting(Boolean())
    #: cross-entropy epochs on the training labels before hashing
    warm_start_epochs: int = setting(Integer(minimum=0))
    warm_start_batch_size: int = setting(Integer(minimum=2))
    warm_start_lr: float = setting(Real(above=0))
    #: sgd for every method but HybridHash
    warm_start_optimizer: str = setting(OneOf(OPTIMIZERS))
    label_smoothing: float = setting(Real(minimum=0, below=1))  # of the warm start's cross-entropy
    #: model selection by validation mAP@val_topk (None: all)
    val_topk: int | None = setting(Nullable(Integer(minimum=1)))
    #: What validation queries search: "validation" (the validation split's other half, unseen
    #: in training like protocol cifar10's database) or "training" (the training items, like
    #: a protocol whose database is the training set, cifar10-dmrh's).
    val_database: str = setting(OneOf(VAL_DATABASES))
    #: With val_database "training": how many training items (a seeded sample, the same every
    #: epoch) the validation queries search; None: all of them. Encoding 49,000 items every
    #: epoch would cost several times the epoch's training.
    val_database_size: int | None = setting(Nullable(Integer(minimum=2)))

    def visits_every_item(self, n: int) -> bool:
        """Whether each epoch draws all ``n`` training items (no ``epoch_size`` below n)."""
        return self.epoch_size is None or self.epoch_size >= n


#: Each field's constraint, as a method's ``parameters`` declare them.
RECIPE_PARAMETERS: dict[str, Constraint] = {
    f.name: f.metadata["constraint"] for f in fields(Recipe)
}
RECIPE_FIELDS = tuple(f.name for f in fields(Recipe))

SCRATCH = Recipe(
    backbone="airbench",
    weights=None,
    width=1.0,
    epochs=20,
    epoch_size=None,
    batch_size=512,
    optimizer="sgd",
    lr=0.05,
    momentum=0.9,
    nesterov=True,
    weight_decay=5e-4,
    clip_grad_norm=None,
    schedule="onecycle",
    lr_step_epochs=50,
    flip=True,
    translate=2,
    test_flips=True,
    #: 60 led 30 and 120 on held-out validation (DPSH at 48 bits, width 1, lr 0.2, seed 0:
    #: 0.683 / 0.690 / 0.681 mAP at 30 / 60 / 120; results/sweep/), as it led 30 and 100
    #: against the training items before (DPSH, width 0.5: 0.810 / 0.833 / 0.809).
    warm_start_epochs=60,
    #: 128 led 512 (validation accuracy after 30 epochs: 0.780 against 0.694; 512 made 9
    #: steps an epoch of 4,500 images) and 64 (0.726).
    warm_start_batch_size=128,
    warm_start_lr=0.2,
    warm_start_optimizer="sgd",
    label_smoothing=0.2,
    val_topk=5000,
    #: Against the training items, whose codes the loss itself fits, validation measures fit
    #: as much as generalisation, and it kept rising with the hashing rate (48 bits: DPSH 0.828
    #: at 0.1, 0.2 and 0.4 alike, DMRH 0.826 / 0.827 / 0.830); protocol cifar10's database is,
    #: like the validation split's other half, never trained on.
    val_database="validation",
    val_database_size=None,
)

#: What the papers share: CNN-F fine-tuned from ImageNet, images resized, no warm start; no
#: augmentation is hashbench's choice (DeepHash-pytorch resizes CIFAR-10 only, but flips and
#: crops 224 of 256 px on its list data sets; thulab DeepHash and HybridHash flip and crop).
#: Each method adds its optimiser, learning rate, batch and epochs.
PAPER_BASE: dict[str, Any] = {
    "backbone": "cnnf",
    "width": 1.0,
    "nesterov": False,
    "schedule": "step",
    "flip": False,
    "translate": 0,
    "test_flips": False,
    "warm_start_epochs": 0,
    "label_smoothing": 0.0,
}


#: DeepHash-pytorch's training settings for HashNet, DCH, CSQ and DSDH (TreezzZ's DSDH too):
#: RMSprop at 1e-5, weight decay 1e-5, 150 epochs; constant rate (their papers cross-validate
#: rates and give none). Each method adds its batch size.
RMSPROP_REFERENCE: dict[str, Any] = {
    "optimizer": "rmsprop",
    "lr": 1e-5,
    "momentum": 0.0,
    "weight_decay": 1e-5,
    "epochs": 150,
    "schedule": "constant",
}


def resolve(
    method: str,
    preset: str,
    given: dict[str, Any],
    scratch: dict[str, Any] | None = None,
    paper: dict[str, Any] | None = None,
) -> Recipe:
    """The preset's recipe, the method's own values for it (``scratch``, ``paper``), then the
    user's settings on top, each checked against its constraint; then what no single
    constraint can say."""
    if preset == "scratch":
        recipe = replace(SCRATCH, **(scratch or {}))
    elif preset == "paper":
        settings = {**PAPER_BASE, **(paper or {})}
        settings.setdefault("warm_start_lr", settings.get("lr", SCRATCH.lr))
        settings.setdefault("warm_start_batch_size", settings.get("batch_size", SCRATCH.batch_size))
        recipe = replace(SCRATCH, **settings)
    else:
        raise HashbenchError(
            f"{method}: unknown preset {preset!r}; choose one of {', '.join(PRESETS)}"
        )
    check_settings(method, RECIPE_PARAMETERS, given)
    recipe = replace(recipe, **given)
    check(method, preset, recipe)
    return recipe


def check(method: str, preset: str, recipe: Recipe) -> None:
    """What the fields say together: preset ``paper`` needs ImageNet weights."""
    if preset == "paper" and recipe.backbone != "airbench" and recipe.weights is None:
        hint = BACKBONE_SPECS[recipe.backbone].weights_hint
        raise HashbenchError(
            f"{method}: preset 'paper' fine-tunes {recipe.backbone} from ImageNet weights; "
            f"pass --set {method}.weights=PATH ({hint}) or use preset 'scratch'"
        )


def learning_rate(recipe: Recipe, base: float, epochs: int, epoch: int, progress: float) -> float:
    """The rate at ``progress`` in [0, 1) through epoch ``epoch`` (0-based) of ``epochs``."""
    if recipe.schedule == "onecycle":
        t = (epoch + progress) / epochs
        if t < ONECYCLE_WARMUP:
            return base * t / ONECYCLE_WARMUP
        return base * (1 - t) / (1 - ONECYCLE_WARMUP)
    if recipe.schedule == "step":
        return base * 0.1 ** (epoch // recipe.lr_step_epochs)
    if recipe.schedule == "exponential":
        return base * EXPONENTIAL_DECAY ** (epoch / max(epochs - 1, 1))
    return base


#: Under ``scratch`` on multi-label data the hashing phase clips its gradients' norm here, as
#: DMRH's authors' train.py always does. There most pairs share a label, so every similar
#: pair's gradient pulls the same way and the step at the one-cycle peak grows with them: DMRH
#: at 48 bits on a 500-image folder in MS-COCO's layout climbed from loss 0.57 to 7.4 after
#: the peak, its held-out validation mAP falling from 0.92 to 0.80 by epoch 10, where clipped
#: it descended to 0.14 and reached 0.97 (README, "multi-label data"). Single-label data
#: keeps the recipe its rates were chosen under.
MULTI_LABEL_CLIP_GRAD_NORM = 1.0


def protocol_settings(
    method: str,
    bits: int,
    scratch: dict[str, Any],
    given: dict[str, Any],
    table: dict[str, Any],
    database_is_training: bool,
    several_labels: bool,
) -> dict[str, Any]:
    """What a protocol sets for a deep method at ``bits``, beneath the user's ``given``
    settings: under preset ``scratch`` its ``[recipe]`` table (a large training set's budget,
    beneath the method's own ``scratch`` values), its ``[recipe.<method>]`` table (this
    method's choices on this protocol, with ``[recipe.<method>.<bits>]`` over them at that code
    length) and, where items carry several labels, :data:`MULTI_LABEL_CLIP_GRAD_NORM`;
    and validation against the training items wherever the protocol's database is the
    training set (the items, or under ADSH the codes, it will be tested on). The table was
    checked where the protocol file was read (:func:`check_recipe_table`)."""
    label_kind = {"clip_grad_norm": MULTI_LABEL_CLIP_GRAD_NORM} if several_labels else {}
    preset = given.get("preset", "scratch")
    settings = table_settings(method, bits, scratch, preset, {**label_kind, **table})
    settings["val_database"] = "training" if database_is_training else "validation"
    return {key: value for key, value in settings.items() if key not in given}


#: Settings no ``[recipe]`` table may give: where validation searches follows the protocol's
#: database, and the preset is the user's.
FOLLOWS_THE_PROTOCOL = frozenset({"val_database", "preset"})


def check_recipe_table(table: dict[str, Any]) -> None:
    """A protocol's ``[recipe]`` names recipe settings, and ``[recipe.<method>]`` tables (and
    ``[recipe.<method>.<bits>]`` in them) name installed deep methods and settings of theirs:
    one error line for the first that does not.
    Called once, where the protocol file is read."""
    from hashbench.registry import REGISTRY

    shared = shared_settings(table)
    unknown = sorted(set(shared) - set(RECIPE_FIELDS))
    if unknown:
        raise HashbenchError(
            f"[recipe] sets {', '.join(unknown)}, which no deep recipe has; its settings: "
            f"{', '.join(f for f in RECIPE_FIELDS if f not in FOLLOWS_THE_PROTOCOL)}"
        )
    check_settings("[recipe]", RECIPE_PARAMETERS, shared)
    tables = sorted(set(table) - set(shared))
    installed = set(REGISTRY.names())
    strangers = [
        m for m in tables if m not in installed or REGISTRY.declaration(m).input_kind != "images"
    ]
    if strangers:
        raise HashbenchError(
            f"[recipe.{strangers[0]}] names no installed deep method; "
            "`hashbench list` lists the methods"
        )
    method_tables = [entry for method in tables for entry in _method_tables(method, table[method])]
    for name, settings in [("recipe", shared), *(entry[1:] for entry in method_tables)]:
        fixed = sorted(FOLLOWS_THE_PROTOCOL & set(settings))
        if fixed:
            raise HashbenchError(
                f"[{name}] sets {fixed[0]}, which follows the protocol's database or the "
                "user's --set, not a recipe table; remove it"
            )
    for method, name, settings in method_tables:
        try:
            REGISTRY.check_params(method, settings)
        except HashbenchError as error:
            raise HashbenchError(f"[{name}]: {error}") from error


def _method_tables(method: str, table: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """``[recipe.<method>]``'s settings and each ``[recipe.<method>.<bits>]`` in it, as
    (method, table name, settings); one error line for a sub-table not named by a code length."""
    lengths = {key: value for key, value in table.items() if isinstance(value, dict)}
    # a code length as TOML keys spell it: ASCII digits, no leading zero ("²" is a digit too)
    odd = sorted(k for k in lengths if not (k.isascii() and k.isdigit() and k[0] != "0"))
    if odd:
        raise HashbenchError(
            f"[recipe.{method}.{odd[0]}] is not a code length: a table inside [recipe.{method}] "
            f"holds its settings at one number of bits, e.g. [recipe.{method}.128]"
        )
    return [
        (method, f"recipe.{method}", shared_settings(table)),
        *((method, f"recipe.{method}.{bits}", lengths[bits]) for bits in sorted(lengths, key=int)),
    ]


def table_settings(
    method: str, bits: int, scratch: dict[str, Any], preset: str, table: dict[str, Any]
) -> dict[str, Any]:
    """The entries of a protocol's ``[recipe]`` table ``method`` takes at ``bits``, under
    preset ``scratch`` only (the paper presets keep their budgets): the shared settings its own
    ``scratch`` values leave open, its own ``[recipe.<method>]`` table over them, and that
    table's ``[recipe.<method>.<bits>]`` over all."""
    if preset != "scratch":
        return {}
    left_open = {key: value for key, value in shared_settings(table).items() if key not in scratch}
    own = table.get(method, {})
    return {**left_open, **shared_settings(own), **own.get(str(bits), {})}


def shared_settings(table: dict[str, Any]) -> dict[str, Any]:
    """A table's settings for every method (``[recipe]``) or every code length
    (``[recipe.<method>]``): all but its sub-tables."""
    return {key: value for key, value in table.items() if not isinstance(value, dict)}
