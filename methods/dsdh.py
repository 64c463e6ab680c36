"""DSDH: deep supervised discrete hashing (Li, Sun, He, Tan, NIPS 2017).

Paper: https://arxiv.org/abs/1705.10999v2 (NIPS 2017, pp. 2482-2491). Authors' code:
liqi-casia/DSDH-HashingCode (MATLAB, train.m); PyTorch: TreezzZ/DSDH_PyTorch
(models/dsdh.py, models/dsdh_loss.py), whose schedule and defaults this follows.
"""

from __future__ import annotations

from typing import Any

import torch

from hashbench.constraints import Real
from hashbench.deep.hooks import TrainingContext
from hashbench.deep.losses import pairwise_likelihood, similarity
from hashbench.deep.method import BankedHashingMethod
from hashbench.deep.recipes import RMSPROP_REFERENCE
from hashbench.registry import register_method


def signs(values: torch.Tensor) -> torch.Tensor:
    """+-1, zero taken as +1 (a tie changes no objective here)."""
    return torch.where(values >= 0, 1.0, -1.0)


def classifier_weights(codes: torch.Tensor, labels: torch.Tensor, ridge: float) -> torch.Tensor:
    """The W-step: W = (B^T B + (nu / mu) I)^-1 B^T Y, the minimiser over W of
    mu ||Y - B W||^2 + nu ||W||^2 (B (n, K), Y (n, C), W (K, C))."""
    codes, exact = codes.double(), labels.double()  # float64: no TF32 rounding on a GPU
    gram = codes.T @ codes + ridge * torch.eye(codes.shape[1], device=codes.device)
    return torch.linalg.solve(gram, codes.T @ exact).to(labels.dtype)


def discrete_objective(
    codes: torch.Tensor,
    weights: torch.Tensor,
    labels: torch.Tensor,
    outputs: torch.Tensor,
    mu: float,
    nu: float,
    eta: float,
) -> float:
    """mu ||Y - B W||^2 + nu ||W||^2 + eta ||B - U||^2: what the B- and W-steps minimise."""
    fit = (labels - codes @ weights).pow(2).sum()
    return float(mu * fit + nu * weights.pow(2).sum() + eta * (codes - outputs).pow(2).sum())


def update_codes(
    codes: torch.Tensor,
    weights: torch.Tensor,
    labels: torch.Tensor,
    outputs: torch.Tensor,
    eta_over_mu: float,
) -> None:
    """The B-step, one sweep of discrete cyclic coordinate descent (SDH's), in place.

    With P = Y W^T + (eta / mu) U, bit k of every item is exactly optimal given the others:
    B_k = sign(P_k - B_{-k} W_{-k} w_k^T), w_k row k of W.
    """
    weights = weights.double()  # float64: each bit exactly optimal, even where TF32 is on
    p = labels.double() @ weights.T + eta_over_mu * outputs.double()
    coupling = weights @ weights.T  # (K, K): W_{-k} w_k^T is column k without entry k
    exact = codes.double()
    for k in range(codes.shape[1]):
        rest = exact @ coupling[:, k] - exact[:, k] * coupling[k, k]
        exact[:, k] = signs(p[:, k] - rest)
    codes.copy_(exact)


@register_method("dsdh")
class DSDH(BankedHashingMethod):
    """Pairwise likelihood plus a linear classifier on discrete codes B, learned in turn.

    B by discrete cyclic coordinate descent and W in closed form, once per epoch after the
    network's updates.
    ``mu`` (classification), ``nu`` (W's ridge) and ``eta`` (||B - U||^2, in the network's
    loss too, as the paper and TreezzZ's dsdh_loss.py have it): TreezzZ/DSDH_PyTorch's 1e-2, 1
    and 1e-2, with one W-step and one sweep over B per epoch, as its dsdh.py. (DeepHash-pytorch's
    DSDH.py differs: no eta term in the network's loss, and before every batch's loss 10
    rounds of a W-step and a sweep over B with mu 1, nu 1, eta 55.) B starts at random signs,
    as TreezzZ's code. Relaxed codes are tanh outputs (TreezzZ's hash layer ends in tanh).
    Codes are the network's signs for every item, as in both codes.
    """

    squash = True
    # The sweep on held-out validation (results/sweep/, 48 bits, width 1, seed 0): lr 0.05 ->
    # 0.656, 0.1 -> 0.677, 0.2 -> 0.689, 0.5 -> 0.669 mAP; 0.2, the best, is the default (the
    # first recipe's sweep against the training items chose 0.1: results/superseded/sweep/).
    scratch_recipe = {"lr": 0.2}
    # TreezzZ/DSDH_PyTorch's run.py; its cosine annealing to 1e-7 becomes a constant rate.
    paper_recipe = {**RMSPROP_REFERENCE, "batch_size": 128}

    parameters = {"mu": Real(above=0), "nu": Real(above=0), "eta": Real(minimum=0)}

    def __init__(
        self,
        bits: int,
        seed: int = 0,
        *,
        mu: float = 1e-2,
        nu: float = 1.0,
        eta: float = 1e-2,
        **training: Any,
    ) -> None:
        super().__init__(bits, seed, **training)
        self.mu, self.nu, self.eta = mu, nu, eta

    def start_hashing(self, context: TrainingContext) -> None:
        super().start_hashing(context)
        draw = torch.randn(context.n, self.bits, generator=torch.Generator().manual_seed(self.seed))
        self.codes_ = signs(draw).to(context.device)
        self.classifier_ = classifier_weights(self.codes_, context.labels, self.nu / self.mu)

    def batch_loss(
        self, context: TrainingContext, codes: torch.Tensor, indices: torch.Tensor
    ) -> torch.Tensor:
        """The likelihood against the bank, plus eta times the mean ||b_i - u_i||^2 entry, both
        means over their terms, as TreezzZ's dsdh_loss."""
        bank = self.remember(indices, codes)
        s = similarity(context.labels[indices], context.labels)
        quantisation = (self.codes_[indices] - codes).pow(2).mean()
        return pairwise_likelihood(codes, bank, s) + self.eta * quantisation

    def after_hashing_epoch(self, context: TrainingContext) -> None:
        """TreezzZ's order: the W-step, then one B-sweep, with U the bank of outputs."""
        self.classifier_ = classifier_weights(self.codes_, context.labels, self.nu / self.mu)
        update_codes(self.codes_, self.classifier_, context.labels, self.bank_, self.eta / self.mu)

    def training_state(self) -> dict[str, torch.Tensor]:
        return {**super().training_state(), "codes": self.codes_, "classifier": self.classifier_}

    def load_training_state(self, state: dict[str, torch.Tensor]) -> None:
        super().load_training_state(state)
        self.codes_.copy_(state["codes"])
        self.classifier_.copy_(state["classifier"])
