"""A results folder's runs: each record with its codes and the per-query scores behind its mAP.

Tables, the report and ``hashbench compare`` read runs this way, so their intervals and tests
come from one computation: the one evaluator run again on the codes kept beside each record
(existing records too, no retraining). It takes seconds per run at CIFAR-10 scale (about 0.5 s
for 1,000 queries against 54,000 items on a 2-core Xeon, mAP@all ranking them all), so its
per-query values are cached under ``<cache>/query-scores/``, keyed by the sha256 of the codes
file and the evaluation's settings: the next table or report reads them in milliseconds, and
codes written again are evaluated again. A run whose recomputed metrics disagree with its
record is treated as having no codes: intervals built on other codes would be wrong.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from hashbench.data.cache import cache_root
from hashbench.errors import HashbenchError
from hashbench.evaluation.codes_file import CodesBundle, load_codes
from hashbench.evaluation.evaluator import evaluate
from hashbench.evaluation.names import graded_depth
from hashbench.fileio import atomic_write, sha256_file
from hashbench.records import codes_path, iter_record_files, records_folder, variant
from hashbench.reporting.tables import method_label, metric_key

#: Bump when the evaluator's per-query values change, so that cached ones are not reused.
SCORES_VERSION = 2
#: Recomputed means may differ from the record's in the last bits (summation order).
_AGREEMENT = 1e-9
_WITHIN_RADIUS = "within_radius"


@dataclass(frozen=True)
class QueryScores:
    """One run's per-query values, recomputed from its codes."""

    #: Keyed as the record's metrics (``map@all``, ``precision@r2``, ...), in query order.
    values: dict[str, np.ndarray]
    #: int64 (queries, 3): database items within Hamming distance 0, 1 and 2 of each query.
    within_radius: np.ndarray


@dataclass
class Run:
    """A record, its codes if they could be read, and otherwise why not."""

    path: Path
    record: dict[str, Any]
    codes: CodesBundle | None
    #: Why the run has no codes or no scores; None while it has both.
    missing: str | None
    codes_file: Path

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def seed(self) -> int:
        return self.record["seed"]

    @property
    def bits(self) -> int:
        return self.record["bits"]

    @property
    def protocol(self) -> str:
        return self.record["protocol"]["name"]

    @property
    def label(self) -> str:
        return method_label(self.record["method"], variant(self.record))

    @property
    def map(self) -> float:
        return self.record["metrics"][metric_key(self.record, "map")]

    @property
    def queries(self) -> str:
        """What fixes its queries: the data set's bytes and the drawn splits."""
        return f"{self.record['dataset']['checksum']}:{self.record['splits']['checksum']}"

    @functools.cached_property
    def scores(self) -> QueryScores | None:
        """Per-query values from the codes (cached on disk); None where ``missing`` says why."""
        if self.codes is None:
            return None
        found = _cached_scores(self.codes_file, self.codes, self.record)
        disagreement = _disagreement(found, self.record)
        if disagreement:
            self.missing = (
                f"{self.codes_file}: {disagreement}, so they are not this run's codes; "
                "re-run it with --force to write them again"
            )
            return None
        return found


def collect_runs(results: Path) -> list[Run]:
    """Every record under ``results/records`` with the codes kept beside it."""
    records_dir = records_folder(results)
    runs = [load_run(results, path, record) for path, record in iter_record_files(records_dir)]
    if not runs:
        raise HashbenchError(
            f"no records in {records_dir}; run `hashbench run --results {results}` first"
        )
    return runs


def load_run(results: Path, path: Path, record: dict[str, Any]) -> Run:
    """The record at ``path`` with its codes from ``results``, or why they are missing."""
    codes_file = codes_path(results, record["protocol"]["name"], path.stem)
    if not codes_file.is_file():
        missing = (
            f"no codes at {codes_file}: this run predates kept codes; "
            "re-run it with --force to keep them"
        )
        return Run(path, record, None, missing, codes_file)
    try:
        return Run(path, record, load_codes(codes_file), None, codes_file)
    except HashbenchError as error:
        missing = f"{error}; re-run it with --force to write them again"
        return Run(path, record, None, missing, codes_file)


def score_all(runs: Iterable[Run]) -> None:
    """Compute (or read from the cache) every run's scores, with a progress bar on a
    terminal: the first table of a results folder evaluates every run once."""
    with_codes = [run for run in runs if run.codes is not None]
    for run in tqdm(with_codes, desc="per-query scores", unit="run", leave=False, disable=None):
        _ = run.scores


def _cached_scores(codes_file: Path, codes: CodesBundle, record: dict[str, Any]) -> QueryScores:
    topk = record["protocol"]["topk"]
    depths = sorted(
        int(key.split("@")[1])
        for key in record["metrics"]
        if key.startswith("precision@") and key.split("@")[1].isdigit()
    )
    graded = sorted({graded_depth(key) for key in record["metrics"]} - {None})
    settings = json.dumps([SCORES_VERSION, topk, depths, graded])
    path = cache_root() / "query-scores" / f"{sha256_file(codes_file)}-{_short(settings)}.npz"
    if path.is_file():
        with np.load(path, allow_pickle=False) as stored:
            arrays = {key: stored[key] for key in stored.files}
        within_radius = arrays.pop(_WITHIN_RADIUS)
        return QueryScores(values=arrays, within_radius=within_radius)
    evaluation = evaluate(
        codes.query_codes,
        codes.database_codes,
        codes.query_labels,
        codes.database_labels,
        topk=topk,
        precision_at=depths,
        graded_at=graded,
    )
    arrays = {**evaluation.per_query, _WITHIN_RADIUS: evaluation.within_radius}
    atomic_write(path, lambda handle: np.savez(handle, **arrays))
    return QueryScores(values=evaluation.per_query, within_radius=evaluation.within_radius)


def _short(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _disagreement(scores: QueryScores, record: dict[str, Any]) -> str | None:
    for key, value in record["metrics"].items():
        if key in scores.values and abs(scores.values[key].mean() - value) > _AGREEMENT:
            return f"its codes give {key} {scores.values[key].mean():.6f}, the record {value:.6f}"
    return None
