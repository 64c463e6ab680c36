"""What a run's codes cost, beside what they retrieve: encoding, storage, search, buckets.

Hashing exists to make search cheap, so the report sets four costs beside every run's quality:

* encoding throughput: items encoded per second during the run (queries and database, from
  the record's ``timings.encode_s``; asymmetric methods' learned database codes cost nothing
  and do not count), on the machine and precision the record names. For deep methods it is
  the network's forward passes (twice per image under test-time flips); for classic methods
  it starts from features already extracted (``features_s`` apart);
* bytes per item: the packed code, ceil(bits / 8) bytes;
* exhaustive search latency per query over the run's database, faiss's binary flat index
  beside hashbench's own ranking (:mod:`hashbench.evaluation.search`), measured here;
* for a hash-table lookup, the expected number of database items within Hamming radius 0, 1
  and 2 of a query (from the evaluator's per-query counts): how many a lookup of that radius
  returns, so collapsed codes with huge buckets show what they cost.

Encoding and search are measured on different machines in general; each is labelled with its
own, and a table never sets one machine's encoding beside another's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from hashbench.evaluation.search import Latency, search_latency
from hashbench.reporting.runs import Run


@dataclass(frozen=True)
class RetrievalCost:
    #: Items encoded per second during the run; None where the record has no encode time.
    encode_per_s: float | None
    #: The machine that encoded them, as the record names it.
    encoded_on: str
    #: The device and precision the run's network used ("cpu, bf16"); empty for classic ones.
    precision: str
    bytes_per_item: int
    latency: Latency
    #: Mean over queries of the database items within Hamming distance 0, 1 and 2.
    within_radius: np.ndarray


def retrieval_cost(run: Run) -> RetrievalCost | None:
    """The run's costs; None where it has no codes or no scores (``run.missing`` says why)."""
    if run.codes is None or run.scores is None:
        return None
    codes, record = run.codes, run.record
    report = record.get("report") or {}
    # Asymmetric methods (ADSH, DDSH) take the codes they learned for their training items
    # instead of encoding them: those items cost no encoding.
    learned = report.get("database_learned_codes", 0)
    items = len(codes.query_codes) + len(codes.database_codes) - learned
    seconds = (record.get("timings") or {}).get("encode_s")
    return RetrievalCost(
        encode_per_s=items / seconds if seconds else None,
        encoded_on=encoded_on(record),
        precision=", ".join(str(report[key]) for key in ("device", "precision") if key in report),
        bytes_per_item=-(-codes.database_codes.shape[1] // 8),
        latency=search_latency(codes.query_codes, codes.database_codes),
        within_radius=run.scores.within_radius.mean(axis=0),
    )


def encoded_on(record: dict[str, Any]) -> str:
    """The record's machine: processor, cores and GPU."""
    hardware = (record.get("provenance") or {}).get("hardware") or {}
    text = f"{hardware.get('cpu', 'unknown processor')}, {hardware.get('cpu_count', '?')} cores"
    return text + (f", GPU {hardware['gpu']}" if hardware.get("gpu") else "")
