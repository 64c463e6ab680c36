"""How far a mean over queries can be trusted: bootstrap intervals, paired sign-flip tests, Holm.

Every run of a protocol and seed searches the same queries, so a run's mAP is a mean over a
sample of queries and two runs can be compared query by query. The queries are the unit
resampled; a run with several seeds is several *strata* (each seed draws its own queries),
resampled each on its own, and its value is the mean of the strata's means.

* :func:`bootstrap_interval`: the percentile interval of that mean over ``RESAMPLES`` seeded
  resamples of the queries (with replacement), and the resamples' standard deviation.
* :func:`sign_flip_test`: a paired test of "no difference" that assumes only that each
  query's difference is as likely positive as negative under it: exact (every sign pattern)
  up to ``2 ** n <= flips``, else ``flips`` seeded random patterns.
* :func:`holm`: Holm's step-down adjustment, for a family of such tests (a table's column).

Everything is vectorised in blocks of ``_BLOCK_ELEMENTS``: never a resamples x queries
float64 matrix at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hashbench.errors import HashbenchError

#: Bootstrap resamples of the queries behind every interval.
RESAMPLES = 1000
#: Random sign patterns of the paired test when there are too many to enumerate.
FLIPS = 10_000
LEVEL = 0.95
#: Significance level of the paired tests after Holm's correction.
ALPHA = 0.05
SEED = 0
_BLOCK_ELEMENTS = 1 << 21
#: Statistics within this relative distance of the observed one count as reaching it: sums
#: of the same numbers in another order differ in their last bits.
_RELATIVE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Interval:
    """A bootstrap interval of a mean over queries."""

    mean: float
    low: float
    high: float
    #: The standard deviation of the resampled means: the query sampling's standard error.
    std_error: float


def bootstrap_interval(
    strata: Sequence[np.ndarray],
    resamples: int = RESAMPLES,
    level: float = LEVEL,
    seed: int = SEED,
) -> Interval:
    """The mean of the strata's means, and its percentile interval over resampled queries."""
    strata = _checked(strata)
    generator = np.random.default_rng(seed)
    means = np.zeros(resamples)
    for values in strata:
        means += _resampled_means(values, resamples, generator)
    means /= len(strata)
    low, high = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    mean = float(np.mean([values.mean() for values in strata]))
    return Interval(mean, float(low), float(high), float(means.std(ddof=1)))


def _resampled_means(values: np.ndarray, resamples: int, generator: np.random.Generator):
    """``resamples`` means of ``len(values)`` draws with replacement, in blocks of rows."""
    count = len(values)
    rows = max(1, _BLOCK_ELEMENTS // count)
    means = np.empty(resamples)
    for start in range(0, resamples, rows):
        stop = min(start + rows, resamples)
        means[start:stop] = values[generator.integers(0, count, (stop - start, count))].mean(1)
    return means


def sign_flip_test(strata: Sequence[np.ndarray], flips: int = FLIPS, seed: int = SEED) -> float:
    """Two-sided p-value of "the paired differences are symmetric about 0".

    ``strata``: per seed, the differences of two runs query by query. The statistic is the
    mean of the strata's means; under the null each difference keeps or flips its sign with
    probability 1/2. With ``2 ** n <= flips`` (n differences in all) every pattern is counted
    and the p-value is exact; otherwise it is (1 + hits) / (1 + flips) over random patterns,
    which never reports 0.
    """
    return sign_flip_tests([strata], flips, seed)[0]


def sign_flip_tests(
    tests: Sequence[Sequence[np.ndarray]], flips: int = FLIPS, seed: int = SEED
) -> list[float]:
    """:func:`sign_flip_test` of each test's strata. Tests with as many differences share one
    draw of random patterns (a table's column compares every cell with its best over the same
    queries), as each would draw the same patterns alone: one matrix product for them all."""
    weighted = [_weighted(_checked(strata)) for strata in tests]
    p_values = [0.0] * len(tests)
    by_count: dict[int, list[int]] = {}
    for index, values in enumerate(weighted):
        by_count.setdefault(len(values), []).append(index)
    for count, indices in by_count.items():
        stacked = np.stack([weighted[index] for index in indices], axis=1)  # (count, tests)
        observed = np.abs(stacked.sum(0))
        reach = observed * (1 - _RELATIVE_TOLERANCE)
        if 2**count <= flips:
            patterns = (np.arange(2**count)[:, None] >> np.arange(count)) & 1
            found = np.mean(np.abs((1 - 2 * patterns) @ stacked) >= reach, axis=0)
        else:
            found = (1 + _random_hits(stacked, reach, flips, seed)) / (1 + flips)
        for index, p in zip(indices, found, strict=True):
            p_values[index] = float(p)
    return p_values


def _weighted(strata: list[np.ndarray]) -> np.ndarray:
    """Each difference weighted so that the weighted sum is the mean of the strata's means."""
    return np.concatenate([values / (len(values) * len(strata)) for values in strata])


def _random_hits(stacked: np.ndarray, reach: np.ndarray, flips: int, seed: int) -> np.ndarray:
    """Per column of ``stacked``, how many of ``flips`` seeded random sign patterns give a
    statistic at least ``reach`` in size."""
    count = len(stacked)
    generator = np.random.default_rng(seed)
    rows = max(1, _BLOCK_ELEMENTS // count)
    total = stacked.sum(0)
    hits = np.zeros(stacked.shape[1], dtype=np.int64)
    for start in range(0, flips, rows):
        # Eight fair coins a random byte, and a float64 product that BLAS computes: drawing
        # bools one by one and multiplying them took 3x as long at 10,000 queries.
        draws = generator.integers(0, 256, (min(rows, flips - start), -(-count // 8)), np.uint8)
        flipped = np.unpackbits(draws, axis=1, count=count).astype(np.float64)
        # A pattern's statistic: the total less twice the flipped differences.
        hits += np.count_nonzero(np.abs(total - 2 * (flipped @ stacked)) >= reach, axis=0)
    return hits


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's adjusted p-values (step-down, monotone, at most 1), in the order given: reject
    where the adjusted value is at most the level, and the family's error rate stays there."""
    p = np.asarray(p_values, dtype=float)
    order = np.argsort(p, kind="stable")
    scaled = p[order] * (len(p) - np.arange(len(p)))
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(np.maximum.accumulate(scaled), 1.0)
    return adjusted


def _checked(strata: Sequence[np.ndarray]) -> list[np.ndarray]:
    arrays = [np.asarray(values, dtype=np.float64) for values in strata]
    if not arrays or any(values.ndim != 1 or len(values) == 0 for values in arrays):
        raise HashbenchError("need at least one non-empty set of per-query values")
    return arrays
