"""The contract every hashing method follows: ``fit`` on training data, then ``encode``.

Modelled on scikit-learn's estimators. ``__init__`` only stores hyper-parameters; ``fit``
learns and returns ``self``; learned state lives in attributes ending in ``_``. The base class
owns the checks every method needs (bits honoured, encode before fit refused, codes returned
as ``{0,1}`` uint8), so a method file holds only what makes the method itself: ``_fit`` and
``_encode``.

Three kinds of method fit this one interface:

* non-deep methods (``input_kind = "features"``) receive feature vectors, float32 (n, d);
* deep methods (``input_kind = "images"``) receive uint8 images (n, H, W, C);
* asymmetric methods (ADSH, FSSH) code the database items they learned codes for themselves
  and override :meth:`HashingMethod._encode_database`.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from hashbench.constraints import Constraint, Integer, check_settings
from hashbench.errors import HashbenchError

#: The longest code a run may ask for: far beyond the literature's 128 bits, short of what
#: would exhaust memory in evaluation before anything is learned.
MAX_BITS = 8192
BITS = Integer(minimum=1, maximum=MAX_BITS)
#: Seeds are what numpy and torch both take.
SEED = Integer(minimum=0, maximum=2**32 - 1)

#: Parameters added after runs were first recorded, with the value every older run used: a
#: parameter at that value is left out of a run's identity (its record's config hash, its
#: checkpoint's fingerprint), so that older records keep their names and checkpoints resume.
#: Keyed by name across methods: every older record ran its warm start at batch 512 (the
#: batch of the preset it ran), and every DPSH record names its bank, so only DMRH's lack it;
#: every DDSH record before ``solver`` solved each bit exactly.
ADDED_PARAMETERS: dict[str, Any] = {
    "optimizer": "sgd",
    "warm_start_optimizer": "sgd",
    "warm_start_batch_size": 512,
    "test_flips": False,
    "bank": False,
    "val_database": "training",
    "epoch_size": None,
    "clip_grad_norm": None,
    "val_database_size": None,
    "own_warm_start": True,
    "solver": "exact",
}


def without_added_defaults(params: dict[str, Any]) -> dict[str, Any]:
    added = ADDED_PARAMETERS
    return {key: value for key, value in params.items() if key not in added or added[key] != value}


InputKind = Literal["features", "images"]


@dataclass(frozen=True)
class Subset:
    """One split of a data set as a method sees it.

    ``indices`` are positions in the full data set, so that an asymmetric method can tell
    which database items it has already coded during training. ``labels`` are class ids of
    shape (n,) or multi-hot (n, C).
    """

    indices: np.ndarray
    inputs: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.indices)


class HashingMethod(ABC):
    """Base class of every registered method.

    Subclasses define ``__init__(self, bits, seed=0, *, <hyper-parameters with defaults>)``
    storing each argument under its own name, declare each hyper-parameter's constraint in
    ``parameters`` (the registry refuses a class that leaves one out), and implement ``_fit``
    and ``_encode``.
    ``_encode`` may return real values (the sign gives the bit: > 0 is 1) or booleans.
    """

    name: ClassVar[str] = ""
    #: Each constructor argument's constraint, declared once: a subclass declares its own
    #: hyper-parameters (``{"iterations": Integer(minimum=0)}``) and inherits its bases'.
    #: Every value is checked against it before any data is loaded.
    parameters: ClassVar[dict[str, Constraint]] = {"bits": BITS, "seed": SEED}
    input_kind: ClassVar[InputKind] = "features"
    #: Whether the method uses training labels; the table and records report it.
    supervised: ClassVar[bool] = False
    #: Whether a code takes at most one bit per feature dimension (PCA-based codes: ITQ, PCAH);
    #: the runner checks it against the features' width before any run starts.
    bits_within_dimension: ClassVar[bool] = False
    #: A directory the runner lends the method for checkpoints, so an interrupted fit can
    #: resume; ``None`` outside the runner. Not a hyper-parameter.
    workspace: Path | None = None
    #: Methods that train in epochs append one dict per epoch (``epoch``, ``loss``,
    #: ``val_map``, ...) to ``history_``; the runner stores it in the run's record, and
    #: likewise ``report_``, facts about the fit and the encoding (precision, items coded).

    def __init__(self, bits: int, seed: int = 0) -> None:
        self.bits = bits
        self.seed = seed

    # -- hyper-parameters, the scikit-learn way ------------------------------------------
    @classmethod
    def declared_parameters(cls) -> dict[str, Constraint]:
        """Every parameter's constraint: this class's ``parameters`` over its bases'."""
        declared: dict[str, Constraint] = {}
        for klass in reversed(cls.__mro__):
            declared.update(vars(klass).get("parameters", {}))
        return declared

    @classmethod
    def param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return [
            p.name
            for p in signature.parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]

    def get_params(self) -> dict[str, Any]:
        """The constructor arguments, so a run's config and record name every setting."""
        return {name: getattr(self, name) for name in self.param_names()}

    @classmethod
    def default_params(cls, bits: int) -> dict[str, Any]:
        """What ``get_params`` of ``cls(bits=bits)`` gives, from the declarations alone: the
        registry lists a method, and tables tell its variants, without importing its module
        (:mod:`hashbench.declarations`), so ``__init__`` only stores its arguments."""
        signature = inspect.signature(cls.__init__).parameters
        return {
            name: bits if name == "bits" else signature[name].default
            for name in cls.param_names()
            if name in signature
        }

    @classmethod
    def check_dimension(cls, bits: int, dimension: int) -> None:
        """Refuse more bits than the features have dimensions where the method codes one bit
        per dimension at most."""
        if cls.bits_within_dimension and bits > dimension:
            raise HashbenchError(
                f"{cls.name} needs bits <= the feature dimension ({dimension}), got {bits} bits; "
                f"use at most {dimension} bits or a feature with more dimensions"
            )

    def check_files(self) -> None:
        """Read what a setting names (a weights file) far enough to refuse a wrong one: the
        runner calls it once before any data is loaded. Nothing to read by default."""
        return None

    # -- the contract --------------------------------------------------------------------
    def fit(self, train: Subset, validation: Subset | None = None) -> HashingMethod:
        """Learn from ``train``; ``validation`` is the only data a method may select on."""
        check_settings(self.name, self.declared_parameters(), self.get_params())
        if len(train) == 0:
            raise HashbenchError(f"{self.name}: the training split is empty")
        self.check_dimension(self.bits, train.inputs.shape[1])
        self._fit(train, validation)
        self.fitted_ = True
        return self

    def encode(self, inputs: np.ndarray) -> np.ndarray:
        """Codes for new items (queries, or database items the method has not coded)."""
        if not getattr(self, "fitted_", False):
            raise HashbenchError(f"{self.name}: call fit() before encode()")
        return self._as_bits(self._encode(inputs), len(inputs))

    def encode_database(self, database: Subset) -> np.ndarray:
        """Codes for the retrieval database (which may share items with the training set)."""
        if not getattr(self, "fitted_", False):
            raise HashbenchError(f"{self.name}: call fit() before encode_database()")
        return self._as_bits(self._encode_database(database), len(database))

    def _as_bits(self, codes: np.ndarray, n: int) -> np.ndarray:
        codes = np.asarray(codes)
        if codes.shape != (n, self.bits):
            raise RuntimeError(
                f"{self.name} produced codes of shape {codes.shape}, expected {(n, self.bits)}"
            )
        if codes.dtype == np.bool_:
            return codes.astype(np.uint8)
        return (codes > 0).astype(np.uint8)

    @abstractmethod
    def _fit(self, train: Subset, validation: Subset | None) -> None:
        """Learn the hash functions; store learned state in attributes ending in ``_``."""

    @abstractmethod
    def _encode(self, inputs: np.ndarray) -> np.ndarray:
        """Return (n, bits) real values whose signs are the bits, or booleans."""

    def _encode_database(self, database: Subset) -> np.ndarray:
        """Like :meth:`_encode`; asymmetric methods give their learned codes to known items."""
        return self._encode(database.inputs)

    def _learned_or_encoded(
        self, database: Subset, indices: np.ndarray, learned: np.ndarray
    ) -> np.ndarray:
        """Database items among ``indices`` take their row of ``learned`` (codes the method
        learned for them, signs or {0,1}); the others are encoded. The record says how many."""
        order = np.argsort(indices)
        sorted_indices = np.asarray(indices)[order]
        wanted = np.asarray(database.indices)
        position = np.searchsorted(sorted_indices, wanted).clip(max=len(order) - 1)
        known = sorted_indices[position] == wanted
        codes = np.empty((len(database), self.bits), dtype=np.float32)
        codes[known] = learned[order[position[known]]]
        if not known.all():
            codes[~known] = self._encode(database.inputs[~known])
        self.report_ = {
            **getattr(self, "report_", {}),
            "database_learned_codes": int(known.sum()),
            "database_encoded": int((~known).sum()),
        }
        return codes
