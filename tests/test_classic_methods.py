"""The six classic methods, each pinned by the property that defines it, on small data.

LSH and SKLSH: bit collision rates equal their closed forms. PCAH: signs of the top principal
projections. ITQ: the quantisation loss never rises and the rotation stays orthogonal. SH: the
K smallest omega^2 modes, against a brute-force enumeration. FSSH: the pairwise similarity
term without the n x n matrix, and it beats ITQ when labels are given. Plus the shared
preprocessing and the errors users see.
"""

from __future__ import annotations

import numpy as np
import pytest

from hashbench import HashbenchError, Subset, create_method
from hashbench.classic.preprocess import (
    NEIGHBOUR_RANK,
    fit_centring_and_scale,
    neighbour_distance,
    principal_directions,
)
from hashbench.evaluation.evaluator import mean_average_precision
from hashbench.methods.fssh import label_matrix, similarity_times_labels

CLASSIC = ["lsh", "sh", "sklsh", "pcah", "itq", "fssh"]


def gaussian_subset(n: int = 300, d: int = 12, seed: int = 0) -> Subset:
    """Anisotropic Gaussian features with an offset, so that centring and PCA matter."""
    rng = np.random.default_rng(seed)
    inputs = rng.normal(size=(n, d)) * np.linspace(3.0, 0.5, d) + 5.0
    return Subset(np.arange(n), inputs.astype(np.float32), np.arange(n) % 3)


def symmetric_subset(n: int = 400, d: int = 16, seed: int = 0) -> Subset:
    """Points and their negatives: the training mean is exactly 0, so centring is a no-op."""
    half = np.random.default_rng(seed).normal(size=(n // 2, d)).astype(np.float32)
    inputs = np.concatenate([half, -half])
    return Subset(np.arange(n), inputs, np.zeros(n, dtype=np.int64))


def clustered_split(seed: int, classes: int = 6, d: int = 24, train: int = 600, queries: int = 200):
    """Overlapping Gaussian classes: unsupervised codes only half-separate them."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, train + queries)
    inputs = (rng.normal(size=(classes, d)) * 0.7)[labels] + rng.normal(size=(train + queries, d))
    # At GIST's scale (mean squared distance about 1.2), the one FSSH's sigma = 0.4 is set for:
    # pairs here are 2 d (1 + 0.7^2) apart in squared distance.
    inputs = (inputs / np.sqrt(2 * d * 1.49 / 1.2)).astype(np.float32)
    fit = Subset(np.arange(train), inputs[:train], labels[:train])
    return fit, inputs[train:], labels[train:]


def collision_rate(codes_a: np.ndarray, codes_b: np.ndarray) -> np.ndarray:
    return (codes_a == codes_b).mean(axis=1)


# -- shared preprocessing -------------------------------------------------------------------


def test_neighbour_distance_matches_brute_force() -> None:
    points = gaussian_subset(n=150).inputs - 5.0
    squared = ((points[:, None, :].astype(np.float64) - points[None, :, :]) ** 2).sum(-1)
    # Each point counts itself, as the toolbox's sort(dist)(:, 50) does.
    expected = np.sqrt(np.sort(squared, axis=1)[:, NEIGHBOUR_RANK - 1]).mean()
    actual = neighbour_distance(points, np.random.default_rng(0))  # sample = all 150 points
    assert actual == pytest.approx(expected, rel=1e-5)


def test_scaled_features_have_unit_neighbour_distance_and_zero_mean() -> None:
    inputs = gaussian_subset(n=150).inputs
    standardiser = fit_centring_and_scale(inputs, seed=0)
    scaled = standardiser.transform(inputs)
    np.testing.assert_allclose(scaled.mean(axis=0), 0, atol=1e-5)
    assert neighbour_distance(scaled, np.random.default_rng(1)) == pytest.approx(1, rel=1e-5)


def covariance_directions(centred: np.ndarray, count: int) -> np.ndarray:
    """PCA as hashbench computed it before, by brute force: every eigenvector of the d x d
    covariance in float64, the top ``count``, each signed so its largest entry is positive."""
    _, vectors = np.linalg.eigh(centred.astype(np.float64).T @ centred.astype(np.float64))
    top = vectors[:, ::-1][:, :count]
    return top * np.sign(top[np.abs(top).argmax(axis=0), np.arange(count)])


@pytest.mark.parametrize(
    ("items", "features", "count"),
    [(300, 16, 5), (40, 300, 10), (40, 300, 39), (60, 60, 20)],  # n > d, n < d, n = d
)
def test_principal_directions_are_the_top_eigenvectors_with_a_fixed_sign(
    items: int, features: int, count: int
) -> None:
    rng = np.random.default_rng(items + features)
    spread = np.geomspace(4, 0.1, features)  # distinct variances, so each direction is one
    inputs = (rng.standard_normal((items, features)) * spread).astype(np.float32)
    centred = inputs - inputs.mean(axis=0)
    directions = principal_directions(centred, count)
    assert directions.shape == (features, count) and directions.dtype == np.float32
    np.testing.assert_allclose(directions.T @ directions, np.eye(count), atol=1e-5)
    np.testing.assert_allclose(directions, covariance_directions(centred, count), atol=1e-5)
    _, singular, _ = np.linalg.svd(centred.astype(np.float64), full_matrices=False)
    variances = ((centred @ directions) ** 2).sum(axis=0)
    np.testing.assert_allclose(variances, singular[:count] ** 2, rtol=1e-4)


def test_principal_directions_of_data_with_fewer_independent_directions_than_asked() -> None:
    # 30 items spanning 4 directions of 200 features: beyond the 4th, any orthonormal basis
    # of the rest will do, as the covariance's eigenvectors give one.
    rng = np.random.default_rng(3)
    inputs = (rng.standard_normal((30, 4)) @ rng.standard_normal((4, 200))).astype(np.float32)
    centred = inputs - inputs.mean(axis=0)
    directions = principal_directions(centred, 10)
    np.testing.assert_allclose(directions.T @ directions, np.eye(10), atol=1e-5)
    np.testing.assert_allclose(directions[:, :3], covariance_directions(centred, 3), atol=1e-5)


# -- LSH and SKLSH: collision probabilities ------------------------------------------------


def test_lsh_collision_rate_is_one_minus_angle_over_pi() -> None:
    train = symmetric_subset()
    method = create_method("lsh", bits=8192, seed=1).fit(train)
    rng = np.random.default_rng(2)
    base = rng.normal(size=16)
    other = rng.normal(size=16)
    other -= (other @ base) / (base @ base) * base  # orthogonal to base
    angles = np.array([0.1, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0])
    unit = base / np.linalg.norm(base), other / np.linalg.norm(other)
    turned = np.cos(angles)[:, None] * unit[0] + np.sin(angles)[:, None] * unit[1]
    codes = method.encode(np.concatenate([unit[0][None], 3.0 * turned]).astype(np.float32))
    rates = collision_rate(codes[:1], codes[1:])
    # Binomial standard deviation over 8192 bits is at most 0.0055.
    np.testing.assert_allclose(rates, 1 - angles / np.pi, atol=0.025)


@pytest.mark.parametrize("gamma", [0.5, 1.0, 3.0])
def test_sklsh_collision_rate_follows_the_gaussian_kernel(gamma: float) -> None:
    # Raginsky & Lazebnik (2009), Lemma: P[bits differ] =
    # (8 / pi^2) sum_m (1 - K(m (x - y))) / (4 m^2 - 1), K(v) = exp(-gamma ||v||^2 / 2),
    # with distances measured after the method's scaling.
    train = symmetric_subset()
    method = create_method("sklsh", bits=8192, seed=3, gamma=gamma).fit(train)
    scale = method.standardiser_.scale
    distances = np.array([0.05, 0.2, 0.5, 1.0, 1.5, 2.5, 5.0])
    direction = np.random.default_rng(4).normal(size=16)
    direction /= np.linalg.norm(direction)
    start = train.inputs[0]
    ends = start + (distances * scale)[:, None] * direction
    codes = method.encode(np.concatenate([start[None], ends]).astype(np.float32))
    m = np.arange(1, 2001)[:, None]
    kernel = np.exp(-gamma * (m * distances) ** 2 / 2)
    differ = 8 / np.pi**2 * ((1 - kernel) / (4 * m**2 - 1)).sum(axis=0)
    np.testing.assert_allclose(collision_rate(codes[:1], codes[1:]), 1 - differ, atol=0.025)


# -- PCAH and ITQ --------------------------------------------------------------------------


def test_pcah_codes_are_signs_of_the_top_principal_projections() -> None:
    train = gaussian_subset()
    codes = create_method("pcah", bits=6).fit(train).encode(train.inputs)
    centred = train.inputs.astype(np.float64) - train.inputs.mean(axis=0, dtype=np.float64)
    _, _, right_t = np.linalg.svd(centred, full_matrices=False)
    expected = (centred @ right_t[:6].T) > 0
    # PCA fixes each direction up to sign: a bit may be flipped as a whole, nothing else.
    for bit in range(6):
        agree = (codes[:, bit] == expected[:, bit]).mean()
        assert agree in (0.0, 1.0), f"bit {bit} agrees on {agree:.1%} of the items"


def test_itq_loss_never_increases_and_rotation_stays_orthogonal() -> None:
    train = gaussian_subset(n=500, d=20)
    method = create_method("itq", bits=8, seed=5, iterations=30).fit(train)
    losses = np.array(method.quantisation_loss_)
    assert len(losses) == 32  # ITQ.m: for iter=0:n_iter, n_iter + 1 updates, then the final loss
    assert np.all(np.diff(losses) <= 1e-6 * losses[0]), np.diff(losses).max()
    assert losses[-1] < losses[0]
    rotation = method.rotation_
    np.testing.assert_allclose(rotation.T @ rotation, np.eye(8), atol=1e-10)
    np.testing.assert_allclose(rotation @ rotation.T, np.eye(8), atol=1e-10)


def test_itq_codes_are_the_rotated_principal_signs() -> None:
    train = gaussian_subset(n=500, d=20)
    method = create_method("itq", bits=8, seed=5).fit(train)
    pcah = create_method("pcah", bits=8).fit(train)
    centred = pcah.standardiser_.transform(train.inputs)
    expected = (centred @ pcah.projection_ @ method.rotation_.astype(np.float32)) > 0
    np.testing.assert_array_equal(method.encode(train.inputs), expected)


@pytest.mark.parametrize("name", ["pcah", "itq"])
def test_pca_methods_refuse_more_bits_than_dimensions(name: str) -> None:
    with pytest.raises(HashbenchError, match=r"bits <= the feature dimension \(12\)"):
        create_method(name, bits=13).fit(gaussian_subset(d=12))


@pytest.mark.parametrize("name", ["lsh", "sh", "sklsh"])
def test_other_methods_take_more_bits_than_dimensions(name: str) -> None:
    # (FSSH codes live on its anchors' kernel features, not on the input dimensions.)
    train = gaussian_subset(d=6)
    codes = create_method(name, bits=32).fit(train).encode(train.inputs)
    assert codes.shape == (len(train), 32)
    assert len({tuple(column) for column in codes.T}) > 16, "bits repeat each other"


# -- SH ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("bits", "d"), [(8, 12), (24, 12), (48, 6)])
def test_sh_keeps_the_modes_of_smallest_omega_squared(bits: int, d: int) -> None:
    train = gaussian_subset(d=d)
    method = create_method("sh", bits=bits).fit(train)
    projected = method.standardiser_.transform(train.inputs) @ method.projection_
    spans = projected.max(axis=0).astype(np.float64) - projected.min(axis=0)
    # Brute force: every one-dimensional mode k = 1 .. bits of every PCA dimension.
    candidates = sorted(
        ((k * np.pi / spans[i]) ** 2, i, k) for i in range(len(spans)) for k in range(1, bits + 1)
    )[:bits]
    expected_omegas = np.sqrt([omega2 for omega2, _, _ in candidates])
    np.testing.assert_array_equal(method.mode_dimension_, [i for _, i, _ in candidates])
    np.testing.assert_allclose(method.mode_frequency_, expected_omegas, rtol=1e-6)


def test_sh_bits_are_the_eigenfunction_signs() -> None:
    train = gaussian_subset()
    method = create_method("sh", bits=10).fit(train)
    projected = method.standardiser_.transform(train.inputs) @ method.projection_
    low = projected.min(axis=0)
    dims, omegas = method.mode_dimension_, method.mode_frequency_
    expected = np.sin(np.pi / 2 + omegas * (projected[:, dims] - low[dims])) > 0
    np.testing.assert_array_equal(method.encode(train.inputs), expected)


# -- FSSH ----------------------------------------------------------------------------------


@pytest.mark.parametrize("multi_label", [False, True])
def test_similarity_term_equals_the_explicit_n_by_n_product(multi_label: bool) -> None:
    rng = np.random.default_rng(6)
    # Multi-hot rows include some with no label at all.
    labels = (rng.random((80, 5)) < 0.3).astype(np.uint8) if multi_label else rng.integers(0, 4, 80)
    y = label_matrix(labels)
    similarity = np.where(y @ y.T > 0, 1.0, -1.0)
    np.testing.assert_allclose(similarity_times_labels(y), similarity @ y)


def test_fssh_beats_itq_when_labels_are_given() -> None:
    # 600 training items and the default 1,000 anchors: every item is an anchor, and the
    # kernel Gram matrix is singular (seed 2 once fell to mAP 0.18 through its inverse).
    for seed in range(3):
        train, queries, query_labels = clustered_split(seed)
        scores = {}
        for name in ("itq", "fssh"):
            method = create_method(name, bits=16, seed=seed).fit(train)
            scores[name] = mean_average_precision(
                method.encode(queries),
                method.encode_database(train),
                query_labels,
                train.labels,
                topk=None,
            )
        assert scores["fssh"] > scores["itq"] + 0.25, scores


def test_fssh_learns_from_multi_hot_labels() -> None:
    train, queries, query_classes = clustered_split(7, classes=4)
    to_multi_hot = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]], dtype=np.uint8)
    multi = Subset(train.indices, train.inputs, to_multi_hot[train.labels])
    method = create_method("fssh", bits=16).fit(multi)
    score = mean_average_precision(
        method.encode(queries),
        method.encode_database(multi),
        to_multi_hot[query_classes],
        multi.labels,
        topk=None,
    )
    itq = create_method("itq", bits=16).fit(multi)
    unsupervised = mean_average_precision(
        itq.encode(queries),
        itq.encode(multi.inputs),
        to_multi_hot[query_classes],
        multi.labels,
        topk=None,
    )
    assert score > unsupervised + 0.15, (score, unsupervised)


def test_fssh_database_keeps_learned_codes_for_training_items_only() -> None:
    train, queries, _ = clustered_split(8)
    method = create_method("fssh", bits=16).fit(train)
    unseen = Subset(np.arange(600, 800), queries, np.zeros(200, dtype=np.int64))
    database = Subset(
        np.concatenate([train.indices[::-1], unseen.indices]),
        np.concatenate([train.inputs[::-1], unseen.inputs]),
        np.zeros(800, dtype=np.int64),
    )
    codes = method.encode_database(database)
    np.testing.assert_array_equal(codes[:600], method.train_codes_[::-1])
    np.testing.assert_array_equal(codes[600:], method.encode(queries))
    regressed = create_method("fssh", bits=16, learned_database_codes=False).fit(train)
    np.testing.assert_array_equal(
        regressed.encode_database(database), regressed.encode(database.inputs)
    )


# -- seeds ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", CLASSIC)
def test_a_seed_fixes_the_codes(name: str) -> None:
    train = gaussian_subset()
    settings = {"sigma": 3.0} if name == "fssh" else {}  # these features' scale: distances ~9
    first = create_method(name, bits=8, seed=11, **settings).fit(train).encode(train.inputs)
    again = create_method(name, bits=8, seed=11, **settings).fit(train).encode(train.inputs)
    other = create_method(name, bits=8, seed=12, **settings).fit(train).encode(train.inputs)
    np.testing.assert_array_equal(first, again)
    if name in ("pcah", "sh"):  # deterministic methods ignore the seed
        np.testing.assert_array_equal(first, other)
    else:
        assert not np.array_equal(first, other)


def test_fssh_refuses_features_on_a_scale_its_kernel_cannot_see() -> None:
    train = gaussian_subset()  # squared distances about 80: exp(-80 / 0.32) underflows
    with pytest.raises(HashbenchError, match=r"RBF kernel is zero .* --set fssh.sigma=") as raised:
        create_method("fssh", bits=8).fit(train)
    assert "\n" not in str(raised.value)
