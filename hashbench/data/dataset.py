"""The in-memory form of a data set that every protocol, feature and method reads."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np


@dataclass(frozen=True)
class Dataset:
    """Images, labels and the source's own parts, identified by the source's checksum.

    ``images`` is uint8 (n, H, W, C). ``labels`` is int64 class ids (n,) for single-label
    data or uint8 multi-hot (n, C). ``parts`` maps the source's own split names (for CIFAR-10
    ``train`` and ``test``) to sorted index arrays; protocols draw their splits from them.
    ``checksum`` is the sha256 of the source, so caches and records name exactly which bytes
    were read.
    """

    name: str
    images: np.ndarray
    labels: np.ndarray
    parts: dict[str, np.ndarray]
    class_names: tuple[str, ...]
    checksum: str
    source: str

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def multi_label(self) -> bool:
        return self.labels.ndim == 2

    @cached_property
    def several_labels(self) -> bool:
        """Whether some item carries more than one label: multi-hot data whose pairs mostly
        share one, where ImageNet-100's one-hot rows behave as class ids."""
        return self.multi_label and bool((self.labels.sum(axis=1, dtype=np.int64) > 1).any())
