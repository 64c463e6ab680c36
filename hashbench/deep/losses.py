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


def signed_similarity(s: torch.Tensor, dissimilar: float) -> torch.Tensor:
    """s in {0, 1} as {dissimilar, 1}: ADSH's and DDSH's code use -r, r = similar / dissimilar
    pairs, where the papers write -1."""
    return s * (1 - dissimilar) + dissimilar


def pairwise_likelihood(
    u: torch.Tensor,
    v: torch.Tensor,
    s: torch.Tensor,
    alpha: float = 0.5,
    weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """The pairs' negative log-likelihood, averaged: mean of w_ij (log(1 + e^T) - s T).

    T_ij = alpha u_i^T v_j (DPSH: alpha = 0.5, w = 1; HashNet: its alpha and
    :func:`balance_weights`); softplus keeps it finite for any T (the "log trick" of DPSH's code).
    """
    theta = alpha * u @ v.T
    loss = F.softplus(theta) - s * theta
    return (loss if weights is None else weights * loss).mean()


def balance_weights(s: torch.Tensor) -> torch.Tensor:
    """HashNet's and DCH's pair weights: |S| / |S1| on similar pairs and |S| / |S0| on the
    others, so that each kind weighs as much in the mean (1 everywhere if a kind is absent:
    then every pair is of the other kind, whose weight is |S| / |S| = 1).

    No branch on the counts: reading a GPU tensor's value in Python waits for the GPU, at
    every batch; the clamp only keeps the absent kind's unused weight finite."""
    total, similar = s.numel(), s.sum()
    dissimilar = total - similar
    return torch.where(s > 0, total / similar.clamp(min=1), total / dissimilar.clamp(min=1))


def balanced_likelihood(
    u: torch.Tensor, v: torch.Tensor, s: torch.Tensor, alpha: float
) -> torch.Tensor:
    """HashNet's weighted pairwise logistic loss (its equation 4), mean over the pairs of
    w_ij (log(1 + e^(alpha u_i^T v_j)) - s_ij alpha u_i^T v_j), w from :func:`balance_weights`:
    HashNet pairs the batch with itself, HybridHash's Hash_Loss.py with a bank of outputs."""
    return pairwise_likelihood(u, v, s, alpha=alpha, weights=balance_weights(s))


def classification_loss(
    logits: torch.Tensor, targets: torch.Tensor, *, single_label: bool, label_smoothing: float
) -> torch.Tensor:
    """The warm start's loss: cross-entropy for single labels, binary cross-entropy for many."""
    if single_label:
        return F.cross_entropy(logits, targets.argmax(dim=1), label_smoothing=label_smoothing)
    return F.binary_cross_entropy_with_logits(logits, targets)
