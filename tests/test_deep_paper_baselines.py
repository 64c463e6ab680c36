"""DSDH, DCH, DDSH, HashNet and CSQ: each loss against its formula computed pair by pair in
plain Python, the discrete steps against their objectives, the centres' geometry, and the
optimisers their presets name."""

from __future__ import annotations

import math
from itertools import combinations, product
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from hashbench import HashbenchError, create_method
from hashbench.deep.losses import balance_weights, balanced_likelihood, similarity
from hashbench.deep.recipes import learning_rate, resolve
from hashbench.methods.csq import centre_targets, csq_loss, hash_centres
from hashbench.methods.dch import dch_loss
from hashbench.methods.ddsh import (
    SOLVERS,
    bit_objective,
    ddsh_loss,
    homogeneous_form,
    solve_bit,
    solve_bit_balanced,
    update_sampled_codes,
)
from hashbench.methods.dsdh import classifier_weights, discrete_objective, update_codes
from hashbench.methods.hashnet import continuation_beta
from hashbench.records import config_hash

B, K = 6, 4


@pytest.fixture
def batch() -> tuple[torch.Tensor, torch.Tensor]:
    """Relaxed codes of 6 items in (-1, 1) and their similarities (multi-hot labels)."""
    generator = torch.Generator().manual_seed(0)
    u = torch.tanh(torch.randn(B, K, generator=generator, dtype=torch.float64) * 2)
    labels = torch.tensor([[1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1], [1, 0, 0]])
    return u, similarity(labels, labels).double()


def pair_weights(s: torch.Tensor) -> list[list[float]]:
    similar = sum(float(v) for v in s.flatten())
    total = s.numel()
    return [[total / similar if v else total / (total - similar) for v in row] for row in s]


def test_balance_weights_make_both_kinds_of_pair_weigh_the_same(batch) -> None:
    _, s = batch
    weights = balance_weights(s)
    assert weights.flatten().tolist() == pytest.approx(sum(pair_weights(s), []))
    assert float((weights * s).sum()) == pytest.approx(float((weights * (1 - s)).sum()))
    assert balance_weights(torch.ones(3, 3)).tolist() == torch.ones(3, 3).tolist()


def branching_weights(s: torch.Tensor) -> torch.Tensor:
    """balance_weights as it was, with a Python branch on the counts (a host sync per batch)."""
    total, similar = s.numel(), s.sum()
    dissimilar = total - similar
    if similar == 0 or dissimilar == 0:
        return torch.ones_like(s)
    return torch.where(s > 0, total / similar, total / dissimilar)


def similarities(rows: int, columns: int, density: float) -> torch.Tensor:
    generator = torch.Generator().manual_seed(rows * columns)
    return (torch.rand(rows, columns, generator=generator) < density).float()


@pytest.mark.parametrize(
    "s",
    [torch.zeros(5, 5), torch.ones(5, 5), torch.zeros(3, 40), torch.ones(3, 40),
     similarities(8, 8, 0.1), similarities(8, 8, 0.9), similarities(16, 300, 0.5),
     similarities(1, 1, 1.0)],
    ids=["none-similar", "all-similar", "bank-none-similar", "bank-all-similar", "sparse",
         "dense", "bank", "one-pair"],
)  # fmt: skip
def test_balance_weights_equal_the_branching_formula_without_reading_a_value_back(
    s: torch.Tensor, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = branching_weights(s)

    def host_sync(*_: object) -> None:
        raise AssertionError("balance_weights read a tensor's value into Python")

    for name in ("__bool__", "__float__", "__int__", "__index__", "item", "tolist"):
        monkeypatch.setattr(torch.Tensor, name, host_sync)
    weights = balance_weights(s)
    monkeypatch.undo()
    assert torch.equal(weights, expected)
    assert torch.isfinite(weights).all()


@pytest.mark.cuda
def test_balance_weights_never_synchronise_with_the_gpu() -> None:
    s = similarities(64, 64, 0.3).cuda()
    torch.cuda.set_sync_debug_mode("error")
    try:
        weights = balance_weights(s)
        edge = balance_weights(torch.ones_like(s))
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert torch.equal(weights.cpu(), branching_weights(s.cpu()))
    assert torch.equal(edge.cpu(), torch.ones(64, 64))


def test_hashnet_loss_matches_the_paper_pair_by_pair(batch) -> None:
    u, s = batch
    alpha, weights, total = 10 / K, pair_weights(s), 0.0
    for i in range(B):
        for j in range(B):
            dot = alpha * sum(float(a) * float(b) for a, b in zip(u[i], u[j], strict=True))
            total += weights[i][j] * (math.log1p(math.exp(dot)) - float(s[i, j]) * dot)
    assert float(balanced_likelihood(u, u, s, alpha)) == pytest.approx(total / B**2, rel=1e-10)


def test_hashnet_continuation_raises_beta_by_the_square_root_law() -> None:
    assert [continuation_beta(e, 3) for e in (0, 2, 3, 8, 9)] == pytest.approx(
        [1, 1, math.sqrt(2), math.sqrt(3), 2]
    )
    method = create_method("hashnet", bits=16)
    assert method.alpha is None and method.stage_epochs is None  # 10 / K and 3 (scratch)


def test_dch_loss_matches_the_paper_pair_by_pair(batch) -> None:
    u, s = batch
    gamma, q_lambda, weights = 20.0, 0.1, pair_weights(s)

    def distance(a: list[float], b: list[float]) -> float:
        cosine = sum(x * y for x, y in zip(a, b, strict=True)) / math.hypot(*a) / math.hypot(*b)
        return K / 2 * (1 - min(cosine, 0.99))

    rows = [[float(x) for x in row] for row in u]
    pairs = 0.0
    for i in range(B):
        for j in range(B):
            d, similar = distance(rows[i], rows[j]), float(s[i, j])
            p = gamma / (gamma + d)  # the Cauchy probability of a similar pair
            pairs += weights[i][j] * -(similar * math.log(p) + (1 - similar) * math.log(1 - p))
    quantisation = sum(math.log1p(distance([abs(x) for x in r], [1.0] * K) / gamma) for r in rows)
    expected = pairs / B**2 + q_lambda * quantisation / B
    assert float(dch_loss(u, s, gamma, q_lambda)) == pytest.approx(expected, rel=1e-9)


def test_hadamard_centres_are_half_or_all_bits_apart() -> None:
    centres, kind = hash_centres(10, 16, np.random.default_rng(0))
    assert kind == "hadamard" and centres.shape == (10, 16)
    assert {int((a != b).sum()) for a, b in combinations(centres, 2)} <= {8, 16}


def test_random_centres_are_balanced_and_well_separated_where_hadamard_cannot_serve() -> None:
    centres, kind = hash_centres(10, 48, np.random.default_rng(0))  # 48: not a power of two
    assert kind.startswith("random") and centres.shape == (10, 48)
    assert (centres == 1).sum(axis=1).tolist() == [24] * 10
    gaps = [int((a != b).sum()) for a, b in combinations(centres, 2)]
    assert min(gaps) > 48 / 4 and np.mean(gaps) >= 48 / 2
    assert hash_centres(40, 16, np.random.default_rng(0))[1].startswith("random")  # 40 > 2K


def test_multi_label_centres_are_the_sign_of_the_labels_centres_sum() -> None:
    centres = torch.tensor([[1.0, 1, -1, -1], [1, -1, 1, -1], [-1, -1, 1, 1]])
    fallback = torch.tensor([1.0, -1, -1, 1])
    labels = torch.tensor([[1.0, 0, 0], [1, 1, 0], [1, 1, 1]])
    # one label: its centre; two: the sign of the sum, zeros from the fallback; three likewise
    expected = [[1, 1, -1, -1], [1, -1, -1, -1], [1, -1, 1, -1]]
    assert centre_targets(labels, centres, fallback).tolist() == expected


def test_csq_loss_matches_its_formula_item_by_item(batch) -> None:
    u, _ = batch
    z = torch.atanh(u)
    targets = torch.tensor([[1.0, -1, 1, -1]] * 3 + [[-1.0, -1, 1, 1]] * 3, dtype=torch.float64)
    q_lambda, bce, quantisation = 1e-4, 0.0, 0.0
    for i in range(B):
        for k in range(K):
            p, t = (float(u[i, k]) + 1) / 2, (float(targets[i, k]) + 1) / 2
            bce -= t * math.log(p) + (1 - t) * math.log(1 - p)
            quantisation += (abs(float(u[i, k])) - 1) ** 2
    expected = bce / (B * K) + q_lambda * quantisation / (B * K)
    assert float(csq_loss(z, targets, q_lambda)) == pytest.approx(expected, rel=1e-9)


def test_dsdh_w_step_is_the_ridge_minimiser() -> None:
    rng = np.random.default_rng(0)
    codes = torch.from_numpy(np.sign(rng.normal(size=(30, 8))))
    labels = torch.from_numpy(np.eye(3)[rng.integers(0, 3, 30)])
    weights = classifier_weights(codes, labels, ridge=0.5)
    gradient = -2 * codes.T @ (labels - codes @ weights) + 2 * 0.5 * weights  # mu = 1, nu = 0.5
    assert gradient.abs().max() < 1e-9


def test_dsdh_b_step_never_raises_the_objective_and_leaves_each_last_bit_optimal() -> None:
    rng = np.random.default_rng(1)
    n, bits, classes, mu, nu, eta = 40, 8, 4, 1e-2, 1.0, 1e-2
    labels = torch.from_numpy(np.eye(classes)[rng.integers(0, classes, n)])
    outputs = torch.from_numpy(np.tanh(rng.normal(size=(n, bits))))
    codes = torch.from_numpy(np.sign(rng.normal(size=(n, bits))))
    weights = classifier_weights(codes, labels, nu / mu)
    before = discrete_objective(codes, weights, labels, outputs, mu, nu, eta)
    for _ in range(3):
        update_codes(codes, weights, labels, outputs, eta / mu)
        after = discrete_objective(codes, weights, labels, outputs, mu, nu, eta)
        assert after <= before + 1e-9
        before = after
    assert set(codes.unique().tolist()) <= {-1.0, 1.0}
    for i in range(n):  # the last bit was set given all the others: no flip of it helps
        flipped = codes.clone()
        flipped[i, -1] *= -1
        assert discrete_objective(flipped, weights, labels, outputs, mu, nu, eta) >= after - 1e-9


def random_bit_problem(m: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(seed)
    q = torch.from_numpy(rng.normal(size=(m, m)))
    q = q + q.T
    q.fill_diagonal_(0)
    return q, torch.from_numpy(rng.normal(size=m) * 3)


def test_ddsh_bit_solver_descends_to_a_point_no_single_flip_improves() -> None:
    m = 12
    q, p = random_bit_problem(m, seed=2)
    start = torch.from_numpy(np.sign(np.random.default_rng(3).normal(size=m)))
    solved = solve_bit(start, q, p)
    assert bit_objective(solved, q, p) <= bit_objective(start, q, p)
    for i in range(m):
        flipped = solved.clone()
        flipped[i] *= -1
        assert bit_objective(flipped, q, p) >= bit_objective(solved, q, p) - 1e-9


def test_ddsh_homogeneous_form_is_the_bit_objective_up_to_one_constant() -> None:
    q, p = random_bit_problem(6, seed=4)
    a = homogeneous_form(q, p)
    gaps = []
    for entries in product([-1.0, 1.0], repeat=6):
        b = torch.tensor(entries, dtype=torch.float64)
        x = torch.cat([(b + 1) / 2, torch.ones(1, dtype=torch.float64)])
        gaps.append(float(x @ a @ x) - bit_objective(b, q, p))
    assert max(gaps) - min(gaps) < 1e-9


@pytest.mark.parametrize(("m", "ones"), [(6, 3), (7, 3), (100, 50)])
def test_ddsh_balanced_solver_sets_solve_m_s_count_of_ones(m, ones) -> None:
    q, p = random_bit_problem(m, seed=m)
    solved = solve_bit_balanced(torch.ones(m, dtype=torch.float64), q, p)
    assert set(solved.tolist()) <= {-1.0, 1.0}
    assert int((solved > 0).sum()) == ones  # round((m + 1) / 2) - 1, as Solve.m


def test_ddsh_balanced_solver_finds_a_planted_split_and_its_sign() -> None:
    """Items 0, 2, 4, 6 agree with each other and disagree with 1, 3, 5, 7; p prefers item 0
    at -1: the best balanced code, by brute force over all 70, is -1 on the even items."""
    group = torch.arange(8) % 2
    q = torch.where(group[:, None] == group[None, :], -1.0, 1.0).double()
    q.fill_diagonal_(0)
    p = torch.zeros(8, dtype=torch.float64)
    p[0] = 0.5
    balanced = [
        torch.tensor(entries, dtype=torch.float64)
        for entries in product([-1.0, 1.0], repeat=8)
        if sum(entries) == 0
    ]
    best = min(balanced, key=lambda b: bit_objective(b, q, p))
    assert best.tolist() == [-1.0, 1.0] * 4
    assert solve_bit_balanced(torch.ones(8, dtype=torch.float64), q, p).tolist() == best.tolist()


def test_ddsh_solver_is_the_presets_and_names_one_of_the_solvers(tmp_path) -> None:
    weights = tmp_path / "imagenet-vgg-f.mat"
    weights.touch()
    assert create_method("ddsh", bits=K).solver == "exact"
    assert create_method("ddsh", bits=K, preset="paper", weights=weights).solver == "balanced"
    method = create_method("ddsh", bits=K, solver="balanced")
    assert method.solver == "balanced"
    assert set(SOLVERS) == set(type(method).parameters["solver"].inner.choices)
    with pytest.raises(HashbenchError, match="solver"):
        create_method("ddsh", bits=K, solver="greedy")


def test_ddsh_discrete_step_with_the_balanced_solver_splits_every_bit_in_half() -> None:
    rng = np.random.default_rng(5)
    n, m, bits = 20, 6, 4
    labels = torch.from_numpy(np.eye(3)[rng.integers(0, 3, n + m)])
    s = similarity(labels, labels[n:]).double()
    targets = bits * s  # {0, 1}, as DDSH's targets on multi-label data
    rest = torch.from_numpy(np.sign(rng.normal(size=(n, bits))))
    sampled = torch.from_numpy(np.sign(rng.normal(size=(m, bits))))
    updated = update_sampled_codes(sampled, rest, targets[:n], targets[n:], "balanced")
    assert updated.sum(0).tolist() == [0.0] * bits


def test_ddsh_discrete_step_fits_each_bit_to_what_the_earlier_bits_leave() -> None:
    rng = np.random.default_rng(3)
    n, m, bits = 20, 6, 4
    labels = torch.from_numpy(np.eye(3)[rng.integers(0, 3, n + m)])
    s = similarity(labels, labels[n:]).double()
    targets = bits * (2 * s - 1)
    rest = torch.from_numpy(np.sign(rng.normal(size=(n, bits))))
    sampled = torch.from_numpy(np.sign(rng.normal(size=(m, bits))))
    updated = update_sampled_codes(sampled, rest, targets[:n], targets[n:])

    def greedy(k: int, column: torch.Tensor) -> float:
        """||R_Gamma - g b^T||^2 + ||R_Omega - b b^T||^2 off the diagonal, R after bits < k."""
        fit_rest = targets[:n] - rest[:, :k] @ updated[:, :k].T - torch.outer(rest[:, k], column)
        fit_own = targets[n:] - updated[:, :k] @ updated[:, :k].T - torch.outer(column, column)
        fit_own.fill_diagonal_(0)
        return float(fit_rest.pow(2).sum() + fit_own.pow(2).sum())

    for k in range(bits):
        assert greedy(k, updated[:, k]) <= greedy(k, sampled[:, k]) + 1e-9
        for i in range(m):
            flipped = updated[:, k].clone()
            flipped[i] *= -1
            assert greedy(k, flipped) >= greedy(k, updated[:, k]) - 1e-9


def test_ddsh_loss_matches_its_formula_entry_by_entry(batch) -> None:
    u, _ = batch
    sampled = torch.tensor([[1.0, -1, 1, 1], [-1, -1, 1, -1], [1, 1, 1, -1]], dtype=torch.float64)
    targets = torch.tensor([[K, -0.5 * K, K]] * B, dtype=torch.float64)
    total = sum(
        (sum(float(u[i, k]) * float(sampled[j, k]) for k in range(K)) - float(targets[i, j])) ** 2
        for i in range(B)
        for j in range(3)
    )
    assert float(ddsh_loss(u, sampled, targets)) == pytest.approx(total / (B * 3), rel=1e-10)


# --- presets and the optimiser -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "optimizer", "lr", "batch_size"),
    [("hashnet", "rmsprop", 1e-5, 64), ("dch", "rmsprop", 1e-5, 128),
     ("csq", "rmsprop", 1e-5, 64), ("dsdh", "rmsprop", 1e-5, 128), ("ddsh", "sgd", 1e-2, 128)],
)  # fmt: skip
def test_paper_presets_take_the_reference_codes_optimisers(
    name: str, optimizer: str, lr: float, batch_size: int, tmp_path
) -> None:
    weights = tmp_path / "imagenet-vgg-f.mat"
    weights.touch()  # a weights file must exist; it is read only when the network is built
    params = create_method(name, bits=16, preset="paper", weights=weights).get_params()
    assert (params["optimizer"], params["lr"], params["batch_size"], params["epochs"]) == (
        optimizer, lr, batch_size, 150,
    )  # fmt: skip
    assert create_method(name, bits=16).get_params()["optimizer"] == "sgd"  # scratch: shared


@pytest.mark.parametrize("name", ["optimizer", "warm_start_optimizer"])
def test_an_unknown_optimizer_is_refused(name: str) -> None:
    with pytest.raises(HashbenchError, match=f"{name} must be one of sgd, .*, got 'lbfgs'"):
        resolve("dpsh", "scratch", {name: "lbfgs"})


@pytest.mark.parametrize(
    ("name", "old", "new"),
    [("optimizer", "sgd", "adam"), ("warm_start_optimizer", "sgd", "adam"),
     ("warm_start_batch_size", 512, 128), ("test_flips", False, True), ("bank", False, True),
     ("val_database", "training", "validation")],
)  # fmt: skip
def test_added_settings_keep_older_records_names_at_their_old_value(
    name: str, old: object, new: object
) -> None:
    config = {"method": "dmrh", "params": {"lr": 0.05}, "bits": 16}
    with_old = {**config, "params": {"lr": 0.05, name: old}}
    with_new = {**config, "params": {"lr": 0.05, name: new}}
    assert config_hash(with_old) == config_hash(config) != config_hash(with_new)


# --- what each paper preset takes from its reference code ------------------------------------


def test_hashnet_takes_its_presets_alpha_10_over_k_from_thuml_and_0_1_from_deephash_pytorch(
    batch, tmp_path
) -> None:
    u, s = batch
    labels = torch.tensor([[1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1], [1, 0, 0]])
    context = SimpleNamespace(labels=labels.double())
    weights = tmp_path / "imagenet-vgg-f.mat"
    weights.touch()
    presets = {"scratch": {}, "paper": {"preset": "paper", "weights": weights}}
    for preset, alpha in (("scratch", 10 / K), ("paper", 0.1)):
        method = create_method("hashnet", bits=K, **presets[preset])
        loss = method.batch_loss(context, u, torch.arange(B))
        # (its similarities and weights in float32, as in training)
        assert float(loss) == pytest.approx(float(balanced_likelihood(u, u, s, alpha)), rel=1e-6)


def test_ddsh_paper_preset_divides_the_summed_loss_by_batch_times_gamma_as_trainddsh_m(
    batch, tmp_path
) -> None:
    u = batch[0].float()  # the training dtype: the batch's codes are stored in the code table
    weights = tmp_path / "imagenet-vgg-f.mat"
    weights.touch()
    n, omega = 20, torch.tensor([10, 14, 17])  # Omega: none of the batch (Gamma) items
    sampled = torch.tensor([[1.0, -1, 1, 1], [-1, -1, 1, -1], [1, 1, 1, -1]])
    targets = torch.full((n, 3), -0.5 * K)
    targets[::2] = K
    indices = torch.arange(B)
    summed = sum(
        (sum(float(u[i, k]) * float(sampled[j, k]) for k in range(K)) - float(targets[i, j])) ** 2
        for i in range(B)
        for j in range(3)
    )
    expected = {"scratch": summed / (B * 3), "paper": summed / (B * (n - 3))}
    for preset, extra in (("scratch", {}), ("paper", {"preset": "paper", "weights": weights})):
        method = create_method("ddsh", bits=K, **extra)
        method.codes_ = torch.zeros(n, K)
        method.codes_[omega] = sampled
        method.omega_, method.targets_ = omega, targets
        loss = method.batch_loss(SimpleNamespace(n=n), u, indices)
        assert float(loss) == pytest.approx(expected[preset], rel=1e-6)


def test_dmrh_paper_preset_is_the_authors_train_py(tmp_path) -> None:
    weights = tmp_path / "imagenet-vgg-f.mat"
    weights.touch()
    method = create_method("dmrh", bits=48, preset="paper", weights=weights)
    recipe = method.recipe()
    assert (recipe.optimizer, recipe.lr, recipe.momentum, recipe.weight_decay) == (
        "sgd", 0.1, 0.0, 1e-5,
    )  # fmt: skip
    assert (recipe.batch_size, recipe.epochs, recipe.clip_grad_norm) == (32, 9, 1.0)
    assert method.bank and method.eta == 0.02 and recipe.warm_start_epochs == 0
    rates = [learning_rate(recipe, recipe.lr, 9, epoch, 0.5) for epoch in range(9)]
    assert rates == pytest.approx([0.1] * 3 + [0.01] * 3 + [0.001] * 3)  # x0.1 every 3
    scratch = create_method("dmrh", bits=48)
    assert not scratch.bank and scratch.recipe().clip_grad_norm is None
