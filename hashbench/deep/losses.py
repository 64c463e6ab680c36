"""Loss pieces shared by several deep methods; each method's own loss lives in its own file."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def multi_hot(labels: np.ndarray, classes: int) -> torch.Tensor:
    """Class ids (n,) or multi-hot (n, C) -> float32 multi-hot (n, classes)."""
    labels = np.asarray(labels)
    if labels.ndim == 2:
        return torch.as_tensor(labels, dtype=torch.float32)
    return F.one_hot(torch.as_tensor(labels, dtype=torch.long), classes).float()


def similarity(labels_a: torch.Tensor, labels_b: torch.Tensor) -> torch.Tensor:
    """s_ij = 1 when items i and j share at least one label, else 0 (float32, (n_a, n_b))."""
    return (labels_a @ labels_b.T > 0).float()


def pairwise_likelihood(u: torch.Tensor, v: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """DPSH's negative log-likelihood of the pairs, averaged: mean of log(1 + e^T) - s T.

    T_ij = 0.5 u_i^T v_j; softplus keeps it finite for any T (the "log trick" of DPSH's code).
    """
    theta = 0.5 * u @ v.T
    return (F.softplus(theta) - s * theta).mean()


def classification_loss(
    logits: torch.Tensor, targets: torch.Tensor, *, single_label: bool, label_smoothing: float
) -> torch.Tensor:
    """The warm start's loss: cross-entropy for single labels, binary cross-entropy for many."""
    if single_label:
        return F.cross_entropy(logits, targets.argmax(dim=1), label_smoothing=label_smoothing)
    return F.binary_cross_entropy_with_logits(logits, targets)
