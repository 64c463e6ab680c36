"""Per-query retrieval metrics from a chunk's ranking outputs (see :mod:`.ranking`).

Every function returns one value per query row; the evaluator averages them. Conventions:

* AP@K divides by the relevant items found in the top K (the most used code's convention,
  not min(R, K)); a query with none there scores 0. K beyond the database means all of it.
* Precision of an empty set (no item within the radius) is 0, and so is the recall of a query
  with no relevant item in the database: such queries stay in the means and pull them down.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy.special import gammaln


def average_precision(top: np.ndarray, k: int) -> np.ndarray:
    """AP@k under the fixed order of ``top`` (rows x at least k, ranking order): the mean over
    the relevant items found of (relevance so far / rank).

    ``top`` is bool relevance, or graded relevance (numbers of shared labels, see
    :mod:`~hashbench.evaluation.graded`): then the "precision" at each relevant rank is its
    ACG and this is DSRH's weighted AP@k.
    """
    grades = top[:, :k]
    relevant = grades if grades.dtype == np.bool_ else grades > 0
    gains = np.cumsum(grades, axis=1, dtype=np.int32)
    found = np.count_nonzero(relevant, axis=1)
    gains *= relevant
    ranks = np.arange(1, grades.shape[1] + 1, dtype=np.float64)
    precision_sums = gains @ (1.0 / ranks)
    return np.divide(precision_sums, found, out=np.zeros(len(found)), where=found > 0)


def precision_at(top: np.ndarray, n: int) -> np.ndarray:
    """Mean relevance of the first n (n clipped to the ranked length): on bool relevance the
    share of relevant items, on graded relevance DSRH's ACG@n."""
    n = min(n, top.shape[1])
    return top[:, :n].sum(axis=1) / n


def precision_within_radius(
    all_counts: np.ndarray, relevant_counts: np.ndarray, radius: int
) -> np.ndarray:
    """Precision of the items within Hamming distance ``radius``; 0 when there are none."""
    inside = all_counts[:, : radius + 1].sum(axis=1)
    hits = relevant_counts[:, : radius + 1].sum(axis=1)
    return np.divide(hits, inside, out=np.zeros(len(inside)), where=inside > 0)


def precision_recall_by_radius(
    all_counts: np.ndarray, relevant_counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(rows, bits + 1) precision and recall of the set within each radius 0..bits."""
    inside = np.cumsum(all_counts, axis=1)
    hits = np.cumsum(relevant_counts, axis=1)
    total = hits[:, -1:]
    precision = np.divide(hits, inside, out=np.zeros(hits.shape), where=inside > 0)
    recall = np.divide(hits, total, out=np.zeros(hits.shape), where=total > 0)
    return precision, recall


def tie_aware_average_precision(
    all_counts: np.ndarray, relevant_counts: np.ndarray, k: int
) -> np.ndarray:
    """Expected AP@k when the order within each tie is uniformly random (closed form).

    He, Cakir, Bargal, Sclaroff (CVPR 2018) give the expectation over tie orders of AP over
    the whole ranking. Here it is the expectation of exactly the fixed-order AP@k above: ties
    shuffled uniformly and independently, the top k taken, the precision sum divided by the
    relevant items found in it (0 if none). Every block of ties wholly inside the top k
    contributes its expected precision sum (linearity); the block cut at k, holding N items
    of which n relevant and contributing its first m, has X ~ Hypergeometric(N, n, m)
    relevant items inside, so the expectation is a sum over X of
    P(X = x) * (sum of the full blocks' expectations + that of m slots holding x) / (found).
    With k = all items it reduces to the paper's tie-aware AP.
    """
    rows, _ = all_counts.shape
    size = int(all_counts[0].sum())
    k = min(k, size)
    harmonic, log_factorial = _tables(size)
    before_all = np.cumsum(all_counts, axis=1) - all_counts
    before_relevant = np.cumsum(relevant_counts, axis=1) - relevant_counts
    cut = (before_all + all_counts < k).sum(axis=1)
    whole = np.arange(all_counts.shape[1]) < cut[:, None]
    expected = _expected_block_precision(
        before_all, before_relevant, all_counts, relevant_counts, harmonic
    )
    full_blocks = (expected * whole).sum(axis=1)

    row = np.arange(rows)
    before = before_all[row, cut]
    found_before = before_relevant[row, cut]
    block, block_relevant = all_counts[row, cut], relevant_counts[row, cut]
    taken = k - before
    low = np.maximum(0, taken - (block - block_relevant))
    high = np.minimum(taken, block_relevant)
    terms = high - low + 1
    owner = np.repeat(row, terms)
    x = np.arange(terms.sum()) - np.repeat(np.cumsum(terms) - terms, terms) + low[owner]
    probability = _hypergeometric(
        x, block[owner], block_relevant[owner], taken[owner], owner, log_factorial
    )
    partial = _expected_block_precision(
        before[owner], found_before[owner], taken[owner], x, harmonic
    )
    found = found_before[owner] + x
    value = np.divide(
        probability * (full_blocks[owner] + partial), found, out=np.zeros(len(x)), where=found > 0
    )
    return np.bincount(owner, weights=value, minlength=rows)


@functools.lru_cache(maxsize=4)
def _tables(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Harmonic numbers H(0..size) and log(0..size!), computed once per database size."""
    harmonic = np.concatenate([[0.0], np.cumsum(1.0 / np.arange(1, size + 1))])
    log_factorial = gammaln(np.arange(size + 1) + 1.0)
    for table in (harmonic, log_factorial):
        table.flags.writeable = False
    return harmonic, log_factorial


def _expected_block_precision(
    before: np.ndarray,
    found_before: np.ndarray,
    size: np.ndarray,
    relevant: np.ndarray,
    harmonic: np.ndarray,
) -> np.ndarray:
    """E[sum of precision at each relevant item] for ``size`` slots after ``before`` items
    (``found_before`` of them relevant) holding ``relevant`` items in uniformly random slots.

    The slot at rank t is relevant with probability n/N and then has on average
    (t - before - 1)(n - 1)/(N - 1) relevant items ahead of it inside the block, so the sum is
    (n/N) [(found_before + 1) (H(before + N) - H(before))
           + (n - 1)/(N - 1) (N - (before + 1)(H(before + N) - H(before)))].
    """
    size = np.asarray(size)
    spread = harmonic[before + size] - harmonic[before]
    share = np.divide(relevant, size, out=np.zeros(np.shape(size)), where=size > 0)
    pairs = np.divide(relevant - 1, size - 1, out=np.zeros(np.shape(size)), where=size > 1)
    return share * ((found_before + 1) * spread + pairs * (size - (before + 1) * spread))


def _hypergeometric(
    x: np.ndarray,
    size: np.ndarray,
    relevant: np.ndarray,
    draws: np.ndarray,
    owner: np.ndarray,
    log_factorial: np.ndarray,
) -> np.ndarray:
    """P(X = x) for X ~ Hypergeometric(size, relevant, draws), each owner's terms summing to 1.

    From a log-factorial table; normalising over each owner's full support removes the
    rounding common to its terms (scipy.stats.hypergeom is ~100x slower here).
    """
    lf = log_factorial
    log_p = (
        lf[relevant]
        - lf[x]
        - lf[relevant - x]
        + lf[size - relevant]
        - lf[draws - x]
        - lf[size - relevant - draws + x]
        + lf[draws]
        + lf[size - draws]
        - lf[size]
    )
    probability = np.exp(log_p)
    return probability / np.bincount(owner, weights=probability)[owner]
