"""Each deep method's loss equals its paper's formula computed pair by pair, in plain Python."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from hashbench.deep.losses import multi_hot, pairwise_likelihood, similarity
from hashbench.methods.adsh import adsh_loss, update_database_codes
from hashbench.methods.dmrh import dmrh_loss
from hashbench.methods.dpsh import dpsh_loss
from hashbench.methods.dsh import dsh_loss

B, K = 5, 4


def sign(x: float) -> float:
    return (x > 0) - (x < 0)


@pytest.fixture
def batch() -> tuple[torch.Tensor, torch.Tensor]:
    """Relaxed codes of 5 items and their similarities from multi-hot labels."""
    generator = torch.Generator().manual_seed(0)
    u = torch.randn(B, K, generator=generator, dtype=torch.float64) * 2
    labels = torch.tensor([[1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1]]).double()
    return u, similarity(labels, labels)


def likelihood_term(ui: torch.Tensor, uj: torch.Tensor, s: float) -> float:
    theta = 0.5 * sum(float(a) * float(b) for a, b in zip(ui, uj, strict=True))
    return math.log1p(math.exp(theta)) - s * theta


def test_similarity_is_sharing_at_least_one_label() -> None:
    labels = multi_hot(np.array([[1, 0, 1], [0, 1, 0], [0, 0, 1]]), 3)
    expected = [[1, 0, 1], [0, 1, 0], [1, 0, 1]]
    assert similarity(labels, labels).tolist() == expected
    ids = multi_hot(np.array([2, 0, 2]), 3)
    assert similarity(ids, ids).tolist() == expected


def test_pairwise_likelihood_is_stable_for_large_inner_products() -> None:
    u = torch.full((2, 8), 30.0)  # Theta = 3600: exp overflows, softplus does not
    s = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    loss = pairwise_likelihood(u, u, s)
    # Similar pairs cost log(1 + e^T) - T ~ 0, dissimilar ones log(1 + e^T) ~ T.
    assert torch.isfinite(loss)
    assert float(loss) == pytest.approx(3600 / 2, rel=1e-6)


def test_dpsh_loss_matches_the_paper_pair_by_pair(batch) -> None:
    u, s = batch
    n, eta = 50, 10.0
    pairs = sum(likelihood_term(u[i], u[j], float(s[i, j])) for i in range(B) for j in range(B))
    quantisation = sum(
        (sign(float(u[i, k])) - float(u[i, k])) ** 2 for i in range(B) for k in range(K)
    )
    expected = pairs / B**2 + eta / n * quantisation / B
    assert float(dpsh_loss(u, u, s, eta, n)) == pytest.approx(expected, rel=1e-10)


@pytest.fixture
def bank() -> tuple[torch.Tensor, torch.Tensor]:
    """Codes of 7 training items and their similarities (5, 7) to the batch's items."""
    codes = torch.randn(7, K, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    return codes, (torch.arange(B)[:, None] % 2 == torch.arange(7)[None, :] % 2).double()


def bank_pairs(u: torch.Tensor, bank: torch.Tensor, s: torch.Tensor) -> float:
    return sum(likelihood_term(u[i], bank[j], float(s[i, j])) for i in range(B) for j in range(7))


def test_dpsh_loss_against_a_bank_pairs_the_batch_with_every_item(batch, bank) -> None:
    (u, _), (bank, s) = batch, bank
    pairs = bank_pairs(u, bank, s)
    quantisation = float((u - u.sign()).pow(2).sum())
    expected = pairs / (B * 7) + 10.0 / 7 * quantisation / B
    assert float(dpsh_loss(u, bank, s, 10.0, 7)) == pytest.approx(expected, rel=1e-10)


def test_dmrh_loss_matches_the_paper_pair_by_pair(batch) -> None:
    h, s = batch
    eta = 0.02
    pairs = sum(likelihood_term(h[i], h[j], float(s[i, j])) for i in range(B) for j in range(B))
    quantisation = sum(
        (sign(float(h[i, k])) - float(h[i, k])) ** 2 for i in range(B) for k in range(K)
    )
    expected = pairs / B**2 + eta / (B * K) * quantisation
    assert float(dmrh_loss(h, h, s, eta)) == pytest.approx(expected, rel=1e-10)


def test_dmrh_loss_against_a_bank_pairs_the_batch_with_every_item(batch, bank) -> None:
    (h, _), (bank, s) = batch, bank
    pairs = bank_pairs(h, bank, s)
    quantisation = float((h - h.sign()).pow(2).sum())
    expected = pairs / (B * 7) + 0.02 / (B * K) * quantisation
    assert float(dmrh_loss(h, bank, s, 0.02)) == pytest.approx(expected, rel=1e-10)


def test_dsh_loss_matches_the_paper_pair_by_pair(batch) -> None:
    u, s = batch
    margin, alpha = 2.0 * K, 0.01

    def regulariser(i: int) -> float:
        return sum(abs(abs(float(u[i, k])) - 1) for k in range(K))

    total = 0.0
    for i in range(B):
        for j in range(B):
            distance = sum((float(u[i, k]) - float(u[j, k])) ** 2 for k in range(K))
            similar = float(s[i, j])
            total += 0.5 * similar * distance + 0.5 * (1 - similar) * max(margin - distance, 0)
            total += alpha * (regulariser(i) + regulariser(j))
    assert float(dsh_loss(u, s, margin, alpha)) == pytest.approx(total / B**2, rel=1e-10)


def test_adsh_loss_matches_the_paper_pair_by_pair(batch) -> None:
    u, _ = batch
    u = torch.tanh(u)
    n, gamma = 6, 200.0
    generator = torch.Generator().manual_seed(2)
    v = torch.randint(0, 2, (n, K), generator=generator).double() * 2 - 1
    s = torch.randint(0, 2, (B, n), generator=generator).double() * 2 - 1
    own = [3, 0, 5, 1, 2]  # the batch's items are database items 3, 0, 5, 1, 2
    total = 0.0
    for i in range(B):
        for j in range(n):
            inner = sum(float(u[i, k]) * float(v[j, k]) for k in range(K))
            total += (inner - K * float(s[i, j])) ** 2
        total += gamma * sum((float(v[own[i], k]) - float(u[i, k])) ** 2 for k in range(K))
    loss = adsh_loss(u, v, K * s, v[own], gamma)
    assert float(loss) == pytest.approx(total / (n * B), rel=1e-10)


def adsh_objective(v: torch.Tensor, u: torch.Tensor, s: torch.Tensor, sampled, gamma: float):
    """||U V^T - K S||^2 + gamma ||V_sampled - U||^2: what the discrete step minimises."""
    return float((u @ v.T - K * s).pow(2).sum() + gamma * (v[sampled] - u).pow(2).sum())


def test_adsh_discrete_step_minimises_each_bit_exactly() -> None:
    generator = torch.Generator().manual_seed(3)
    n, m, gamma = 9, 4, 3.0
    sampled = torch.tensor([6, 1, 4, 0])
    u = torch.tanh(torch.randn(m, K, generator=generator, dtype=torch.float64))
    s = torch.randint(0, 2, (m, n), generator=generator).double() * 2 - 1
    v = torch.randint(0, 2, (n, K), generator=generator).double() * 2 - 1
    before = adsh_objective(v, u, s, sampled, gamma)
    q = -2 * K * s.T @ u
    q[sampled] -= 2 * gamma * u
    update_database_codes(v, u, q)
    after = adsh_objective(v, u, s, sampled, gamma)
    assert set(v.unique().tolist()) <= {-1.0, 1.0}
    assert after <= before + 1e-9
    # The last bit was set given all the others: no single flip in it can lower the objective.
    for j in range(n):
        flipped = v.clone()
        flipped[j, K - 1] *= -1
        assert adsh_objective(flipped, u, s, sampled, gamma) >= after - 1e-9
