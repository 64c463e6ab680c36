"""Who runs which cell of a grid: claim files, failure files and the journal of finished runs.

Records stay the single source of truth for what is done; beside them, under the results
folder:

* ``claims/<protocol>/<run>.json``: taken atomically (``O_CREAT | O_EXCL``) before a run
  starts and removed when it ends. A running claim names its worker, host, pid and start and
  is refreshed every :data:`HEARTBEAT_S` seconds; one whose heartbeat is older than the claim
  timeout, or whose process is gone from this host, is stale and taken over. A ``queued`` claim
  marks a cell submitted to SLURM and not yet started: it is never stale by age (a queue can be
  long); its job replaces it with a running claim when it starts.
* ``failures/<protocol>/<run>.json``: the one-line error of a failed run and where its log is;
  a failed cell has no record and is run again by the next command.
* ``journal.log``: one line per finished run (time, worker, run), appended atomically, so a
  grid's history shows that no cell ran twice. It is written after the record, so a worker
  killed between the two loses the line, never the record, and the cell is not run again.

A claim file is created with ``O_EXCL`` and otherwise changed only under the lock of its
folder (``claims/<protocol>/.lock``, an ``fcntl`` lock the system releases when its process
dies): a heartbeat, a release or the takeover of a stale claim re-reads the claim under the lock
and acts only if it is still what it judged. A takeover replaces the stale claim by its own in
one rename, so the file never disappears and no third worker can create a claim in between;
a fresh claim is never moved. A claim file that parses but is not a claim (hand-edited) stops
the command with one line naming it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hashbench.constraints import Fields, Integer, OneOf, Real, Text, check
from hashbench.fileio import atomic_write_text

CLAIMS, FAILURES, JOURNAL = "claims", "failures", "journal.log"
HEARTBEAT_S = 30.0
#: A running claim without a heartbeat for this long is taken over (``--claim-timeout``).
DEFAULT_TIMEOUT_S = 600.0
#: What :meth:`Claim.content` and :func:`mark_queued` write.
CLAIM = Fields(
    {"state": OneOf(("running", "queued")), "worker": Text(), "heartbeat": Real()},
    {"host": Text(), "pid": Integer(minimum=1), "started": Real(), "job": Text()},
)
LOCK = ".lock"


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def claim_path(results: Path, protocol: str, run: str) -> Path:
    return results / CLAIMS / protocol / f"{run}.json"


def failure_path(results: Path, protocol: str, run: str) -> Path:
    return results / FAILURES / protocol / f"{run}.json"


def read_json(path: Path) -> dict[str, Any] | None:
    """The file's JSON object, or None when it is gone or torn (being replaced)."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def read_claim(path: Path) -> dict[str, Any] | None:
    """The claim at ``path``, None when it is gone or torn (being written); one error line if
    it parses but is not a claim."""
    claim = read_json(path)
    if claim is None:
        return None
    return check(
        claim, CLAIM, f"claim file {path}", "delete it once no worker is running that cell"
    )


@contextlib.contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Exclusive use of the claims in ``folder`` by this process, released if it dies."""
    descriptor = os.open(folder / LOCK, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # closing releases the lock


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_stale(claim: dict[str, Any], timeout: float, now: float | None = None) -> bool:
    """A running claim whose heartbeat is too old, or whose process on this host has died."""
    if claim.get("state") == "queued":
        return False
    now = time.time() if now is None else now
    if now - float(claim.get("heartbeat", 0)) > timeout:
        return True
    same_host = claim.get("host") == socket.gethostname()
    return same_host and isinstance(claim.get("pid"), int) and not process_alive(claim["pid"])


@dataclass
class Claim:
    """A held claim; :meth:`release` (or leaving the ``with`` block) gives it up."""

    path: Path
    worker: str
    started: float
    _stop: threading.Event
    _thread: threading.Thread | None = None

    def content(self) -> dict[str, Any]:
        return {
            "state": "running",
            "worker": self.worker,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started": self.started,
            "heartbeat": time.time(),
        }

    def is_ours(self) -> bool:
        current = read_json(self.path)
        return current is not None and current.get("worker") == self.worker

    def beat(self) -> bool:
        """Refresh the heartbeat while the claim is still ours; False once it is not (or its
        folder is gone)."""
        try:
            with folder_lock(self.path.parent):
                if not self.is_ours():
                    return False
                atomic_write_text(self.path, json.dumps(self.content()))
        except FileNotFoundError:
            return False
        return True

    def start_heartbeat(self, interval: float = HEARTBEAT_S) -> None:
        def loop() -> None:
            while not self._stop.wait(interval) and self.beat():
                pass

        self._thread = threading.Thread(target=loop, name="hashbench-heartbeat", daemon=True)
        self._thread.start()

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with contextlib.suppress(FileNotFoundError), folder_lock(self.path.parent):
            if self.is_ours():
                self.path.unlink(missing_ok=True)

    def __enter__(self) -> Claim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def try_claim(
    path: Path, timeout: float = DEFAULT_TIMEOUT_S, worker: str | None = None
) -> Claim | None:
    """Take the claim at ``path`` (a stale one is taken over); None while another holds it.

    A queued claim is free for the SLURM job it names, and for no one else.
    """
    worker = worker or worker_name()
    path.parent.mkdir(parents=True, exist_ok=True)
    claim = Claim(path, worker, time.time(), threading.Event())
    for _ in range(2):
        if _create(path, claim.content()):
            return claim
        # Another claim is there: wait for it to be written, respect it, or take it over.
        current = read_claim(path)
        if current is None and not _abandoned(path):  # being written or replaced
            time.sleep(0.05)
            continue
        if not _free_for_us(current, timeout):
            return None
        with folder_lock(path.parent):
            if not path.exists():  # released meanwhile: create it afresh
                continue
            if read_json(path) != current:  # refreshed or taken over meanwhile
                return None
            atomic_write_text(path, json.dumps(claim.content()))  # one rename: no gap
        return claim
    return None


def _free_for_us(current: dict[str, Any] | None, timeout: float) -> bool:
    """An abandoned (unreadable) or stale claim, or the queued claim of this SLURM job."""
    if current is None or is_stale(current, timeout):
        return True
    return current["state"] == "queued" and current.get("job") == own_slurm_job()


def remove_stale(path: Path, stale: dict[str, Any]) -> None:
    """Remove the claim at ``path`` if it is still the ``stale`` one read before."""
    with folder_lock(path.parent):
        if read_json(path) == stale:
            path.unlink()


def _create(path: Path, content: dict[str, Any]) -> bool:
    """Write ``content`` to ``path`` unless the file exists (atomically: ``O_EXCL``)."""
    try:
        descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(content))
    return True


#: A claim file still empty or unreadable after this long was left by a crashed worker.
ABANDONED_S = 10.0


def _abandoned(path: Path) -> bool:
    try:
        return time.time() - path.stat().st_mtime > ABANDONED_S
    except FileNotFoundError:
        return False


def own_slurm_job() -> str | None:
    """This process's SLURM job id as submitit names it (``ARRAY_TASK`` in an array)."""
    array, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    if array and task:
        return f"{array}_{task}"
    return os.environ.get("SLURM_JOB_ID")


def mark_queued(path: Path, job: str) -> None:
    """A claim for a cell submitted as SLURM job ``job``, unless the job has started already."""
    content = {"state": "queued", "job": job, "worker": f"slurm:{job}", "heartbeat": time.time()}
    path.parent.mkdir(parents=True, exist_ok=True)
    _create(path, content)


def write_failure(path: Path, error: str, log: str | None) -> None:
    atomic_write_text(
        path,
        json.dumps(
            {"error": error, "log": log, "worker": worker_name(), "time": time.time()}, indent=1
        ),
    )


def append_journal(results: Path, run: str, protocol: str) -> None:
    """One line per finished run; a single short ``O_APPEND`` write is never interleaved."""
    results.mkdir(parents=True, exist_ok=True)
    line = f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {worker_name()} {protocol}/{run}\n"
    descriptor = os.open(results / JOURNAL, os.O_CREAT | os.O_APPEND | os.O_WRONLY, 0o644)
    try:
        os.write(descriptor, line.encode("utf-8"))
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def held(path: Path, timeout: float) -> Iterator[Claim | None]:
    """``with held(path, timeout) as claim``: claim is None when another worker holds it."""
    claim = try_claim(path, timeout)
    if claim is None:
        yield None
        return
    claim.start_heartbeat()
    try:
        yield claim
    finally:
        claim.release()
