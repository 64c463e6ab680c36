"""Intervals and paired tests: coverage of a known mAP, exact p-values enumerated by hand or by
brute force, Holm's adjustment worked by hand, and the refusals."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from hashbench.errors import HashbenchError
from hashbench.evaluation.evaluator import evaluate
from hashbench.evaluation.inference import (
    FLIPS,
    bootstrap_interval,
    holm,
    sign_flip_test,
    sign_flip_tests,
)

# -- intervals ------------------------------------------------------------------------------

#: Two classes, each at one code: class 0 all zeros, class 1 all ones (8 bits), 20 items each.
BITS, PER_CLASS = 8, 20
DATABASE = np.repeat(np.array([[0] * BITS, [1] * BITS], dtype=np.uint8), PER_CLASS, axis=0)
DATABASE_LABELS = np.repeat([0, 1], PER_CLASS)
#: A query at its own class's code finds its 20 relevant items at distance 0: AP 1. At the
#: other class's code it finds the 20 others first, then its own at ranks 21..40.
AP_LOST = np.mean([j / (PER_CLASS + j) for j in range(1, PER_CLASS + 1)])
HIT_RATE = 0.7
TRUE_MAP = HIT_RATE + (1 - HIT_RATE) * AP_LOST


def drawn_queries(rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Queries whose code is their class's with probability HIT_RATE, else the other's: the
    expected mAP over such draws is TRUE_MAP exactly."""
    labels = rng.integers(0, 2, count)
    lands = np.where(rng.random(count) < HIT_RATE, labels, 1 - labels)
    return np.repeat(lands[:, None], BITS, axis=1).astype(np.uint8), labels


def test_intervals_cover_a_known_map_at_their_level() -> None:
    simulations, queries = 300, 100
    codes, labels = drawn_queries(np.random.default_rng(0), simulations * queries)
    per_query = evaluate(codes, DATABASE, labels, DATABASE_LABELS, topk=None).per_query["map@all"]
    assert set(np.round(per_query, 12)) == {1.0, round(AP_LOST, 12)}  # the codes do as designed
    intervals = [
        bootstrap_interval([values], seed=i)
        for i, values in enumerate(per_query.reshape(simulations, queries))
    ]
    covered = np.mean([i.low <= TRUE_MAP <= i.high for i in intervals])
    # 95% nominal; 300 simulations put 3 standard errors at about 0.04.
    assert 0.90 <= covered <= 0.99
    # Not by being wide: the width is the normal interval's, 2 x 1.96 standard errors.
    std_error = (1 - AP_LOST) * np.sqrt(HIT_RATE * (1 - HIT_RATE) / queries)
    widths = [i.high - i.low for i in intervals]
    assert np.mean(widths) == pytest.approx(2 * 1.96 * std_error, rel=0.1)
    assert np.mean([i.std_error for i in intervals]) == pytest.approx(std_error, rel=0.1)


def test_an_interval_is_seeded_and_strata_resample_on_their_own() -> None:
    values = np.random.default_rng(1).random(50)
    first, again = bootstrap_interval([values], seed=3), bootstrap_interval([values], seed=3)
    assert first == again
    assert bootstrap_interval([values], seed=4) != first
    # A constant second stratum (another seed's queries) only shifts and halves the
    # resampled means: the mean of the strata's means.
    both = bootstrap_interval([values, np.full(7, 0.2)], seed=3)
    assert both.mean == pytest.approx((values.mean() + 0.2) / 2)
    assert both.low == pytest.approx((first.low + 0.2) / 2)
    assert both.high == pytest.approx((first.high + 0.2) / 2)
    assert both.std_error == pytest.approx(first.std_error / 2)


# -- the paired test ------------------------------------------------------------------------


def test_sign_flip_p_value_enumerated_by_hand() -> None:
    # Differences 0.3, -0.1, 0.2: sum 0.4. The eight sign patterns give sums
    # +-0.6, +-0.4, +-0.2, 0, 0; four reach |0.4|: p = 4/8.
    assert sign_flip_test([np.array([0.3, -0.1, 0.2])]) == pytest.approx(0.5)
    # All of one sign: only the pattern itself and its mirror reach it, 2/8.
    assert sign_flip_test([np.array([0.5, 0.4, 0.3])]) == pytest.approx(0.25)
    # No difference at all is no evidence at all.
    assert sign_flip_test([np.zeros(5)]) == 1.0


def brute_p_value(strata: list[np.ndarray]) -> float:
    """Every sign pattern of the mean of the strata's means, counted in Python."""
    weights = [1 / (len(s) * len(strata)) for s in strata for _ in s]
    values = [v for s in strata for v in s]
    observed = abs(sum(w * v for w, v in zip(weights, values, strict=True)))
    hits = 0
    for signs in itertools.product((1, -1), repeat=len(values)):
        total = abs(sum(s * w * v for s, w, v in zip(signs, weights, values, strict=True)))
        hits += total >= observed - 1e-12
    return hits / 2 ** len(values)


def test_exact_p_value_of_two_strata_matches_brute_force() -> None:
    rng = np.random.default_rng(2)
    strata = [rng.normal(0.05, 0.1, 6), rng.normal(0.05, 0.1, 4)]  # 2^10 <= FLIPS: exact
    assert sign_flip_test(strata) == pytest.approx(brute_p_value(strata), abs=1e-12)


def test_random_sign_flips_estimate_the_exact_p_value() -> None:
    differences = np.random.default_rng(3).normal(0.04, 0.1, 16)  # 2^16 > FLIPS: sampled
    exact = brute_p_value([differences])
    sampled = sign_flip_test([differences])
    assert abs(sampled - exact) < 4 * np.sqrt(exact * (1 - exact) / FLIPS) + 1 / FLIPS
    assert sign_flip_test([np.full(40, 0.1)]) == pytest.approx(1 / (FLIPS + 1))  # never 0


def test_tests_of_a_column_give_each_test_its_own_p_value() -> None:
    # A column's tests share one draw of patterns where their lengths agree: each p-value must
    # be the one its test gets alone, exact (5 and 3 differences) or sampled (30 and 12 + 18).
    rng = np.random.default_rng(4)
    tests = [
        [rng.normal(0.02, 0.1, 30)],
        [rng.normal(0.0, 0.1, 5)],
        [rng.normal(0.05, 0.1, 30)],
        [rng.normal(0.03, 0.1, 12), rng.normal(0.03, 0.1, 18)],
        [rng.normal(0.1, 0.1, 3)],
    ]
    assert sign_flip_tests(tests) == [sign_flip_test(strata) for strata in tests]
    assert sign_flip_tests(tests[1:2]) == [pytest.approx(brute_p_value(tests[1]), abs=1e-12)]


def test_holm_adjustment_worked_by_hand() -> None:
    # Sorted 0.01, 0.03, 0.04 times 3, 2, 1: 0.03, 0.06, 0.04, made monotone: 0.03, 0.06, 0.06.
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])  # capped at 1
    assert holm([0.02]) == pytest.approx([0.02])


@pytest.mark.parametrize("strata", [[], [np.array([])], [np.zeros((2, 2))]])
def test_no_values_is_refused(strata: list) -> None:
    with pytest.raises(HashbenchError, match="non-empty set of per-query values"):
        bootstrap_interval(strata)
    with pytest.raises(HashbenchError, match="non-empty set of per-query values"):
        sign_flip_test(strata)
