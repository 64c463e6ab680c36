"""The deep methods' multi-label logic against their authors' code: DDSH's similarity
(jiangqy/DDSH-TIP2018, trainDDSH.m), CSQ's centres (yuanli2333/Hadamard-Matrix-for-hashing,
train.py's Hash_center_multilables) and DSDH's classifier on multi-hot labels
(liqi-casia/DSDH-HashingCode, train.m; TreezzZ/DSDH_PyTorch)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hashbench.deep.hooks import TrainingContext
from hashbench.deep.losses import similarity
from hashbench.methods.csq import centre_targets
from hashbench.methods.ddsh import DDSH
from hashbench.methods.dsdh import classifier_weights, discrete_objective, update_codes

#: Multi-hot labels of 8 items over 4 classes: one to three labels each.
LABELS = torch.tensor(
    [[1, 0, 0, 0], [1, 1, 0, 0], [0, 1, 0, 0], [0, 0, 1, 1],
     [0, 0, 0, 1], [1, 0, 1, 0], [0, 1, 1, 1], [0, 0, 1, 0]],
    dtype=torch.float32,
)  # fmt: skip


def context(labels: torch.Tensor, multi_label: bool) -> TrainingContext:
    """What DDSH reads of a run: the labels, their kind, a sampler and batches of all."""
    return TrainingContext(
        n=len(labels),
        indices=np.arange(len(labels)),
        labels=labels,
        multi_label=multi_label,
        device=torch.device("cpu"),
        sampler=torch.Generator().manual_seed(0),
        batches=lambda indices=None: [indices],
        encode_training_items=lambda items=None: torch.zeros(0),
        epoch=lambda: 0,
    )


def test_ddsh_negative_similarity_is_zero_on_multi_label_data() -> None:
    # trainDDSH.m: SS = S (1 + r) - r with r = similar / dissimilar pairs, "for nus-wide dataset,
    # please set the negative similarity (SS) to 0".
    run = context(LABELS, multi_label=True)
    s = similarity(LABELS, LABELS[[0, 3, 6]])
    assert DDSH.dissimilar(s, run) == 0.0
    one_hot = torch.eye(3)[torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])]
    single = similarity(one_hot, one_hot[[0, 3, 6]])
    ratio = float(single.sum() / (1 - single).sum())
    assert ratio == pytest.approx(9 / 15)  # items 0, 3, 6 (class 0) match 3 of the 8 each
    assert DDSH.dissimilar(single, context(one_hot, multi_label=False)) == pytest.approx(-ratio)


def test_ddsh_round_targets_are_k_on_similar_and_0_on_dissimilar_multi_label_pairs() -> None:
    method = DDSH(4, columns=3, rounds=1)
    run = context(LABELS, multi_label=True)
    method.start_hashing(run)
    method.hashing_batches(run)
    expected = 4 * similarity(LABELS, LABELS[method.omega_])
    torch.testing.assert_close(method.targets_, expected)
    assert set(method.targets_.unique().tolist()) == {0.0, 4.0}


def authors_multi_label_centre(
    label: torch.Tensor, centres: torch.Tensor, random_centre: torch.Tensor
) -> torch.Tensor:
    """train.py's Hash_center_multilables for one item, transcribed: the mean of its labels'
    centres, its signs, zeros taken from one fixed random +-1 centre."""
    mean = centres[label.nonzero().squeeze(1)].mean(dim=0)
    mean[mean < 0], mean[mean > 0] = -1, 1
    mean[mean == 0] = random_centre[mean == 0]
    return mean


def test_csq_multi_label_centres_are_the_authors_mean_of_centres() -> None:
    rng = np.random.default_rng(0)
    centres = torch.from_numpy(rng.choice([-1.0, 1.0], size=(4, 16)))
    fallback = torch.from_numpy(rng.choice([-1.0, 1.0], size=16))
    labels = LABELS.double()
    got = centre_targets(labels, centres, fallback)
    for label, target in zip(labels, got, strict=True):
        assert target.tolist() == authors_multi_label_centre(label, centres, fallback).tolist()
    # Two labels with opposite bits tie at 0 there: the fixed random centre decides, so two
    # items with the same labels get the same centre.
    ties = (centres[0] + centres[1]) == 0
    assert ties.any() and torch.equal(got[1][ties], fallback[ties])


def test_dsdh_classifier_regresses_the_multi_hot_labels_themselves() -> None:
    # train.m and TreezzZ's dsdh.py: Y is the label matrix as it is, one-hot or multi-hot.
    rng = np.random.default_rng(1)
    n, bits, mu, nu, eta = 40, 8, 1e-2, 1.0, 1e-2
    labels = torch.from_numpy((rng.random((n, 5)) < 0.4).astype(np.float64))
    assert (labels.sum(dim=1) > 1).any()
    codes = torch.from_numpy(np.sign(rng.normal(size=(n, bits))))
    weights = classifier_weights(codes, labels, nu / mu)
    # The ridge minimiser of mu ||Y - B W||^2 + nu ||W||^2 for the multi-hot Y: zero gradient.
    gradient = -2 * mu * codes.T @ (labels - codes @ weights) + 2 * nu * weights
    assert gradient.abs().max() < 1e-9
    # The B-step on multi-hot labels: each bit exactly optimal given the others.
    outputs = torch.from_numpy(np.tanh(rng.normal(size=(n, bits))))
    before = discrete_objective(codes, weights, labels, outputs, mu, nu, eta)
    update_codes(codes, weights, labels, outputs, eta / mu)
    after = discrete_objective(codes, weights, labels, outputs, mu, nu, eta)
    assert after <= before
    for i in range(n):
        flipped = codes.clone()
        flipped[i, -1] *= -1
        assert discrete_objective(flipped, weights, labels, outputs, mu, nu, eta) >= after - 1e-9
