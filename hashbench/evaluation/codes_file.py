"""Codes as one .npz: query and database codes with their labels.

``hashbench evaluate CODES.npz`` reads it. A file made anywhere holds ``query_codes`` and
``database_codes`` (n x bits, {0,1} or {-1,+1}) and ``query_labels``, ``database_labels``
(class ids (n,) or multi-hot (n, C)). Every ``hashbench run`` keeps its codes this way beside
its record (``results/codes/<protocol>/<run>.npz``), bit-packed (``*_codes_packed`` rows of
``np.packbits`` plus ``bits``, 8x smaller than a byte per bit) and with the data set indices of
the queries and the database items, so a report can show the images a code retrieves.

A file is checked before anything is allocated from its contents: each array's header (its
shape and type, against the bytes the archive holds for it and the array limit of
:mod:`hashbench.limits`) before the array is read, and ``bits`` against the packed rows before
they are unpacked.
"""

from __future__ import annotations

import math
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hashbench.constraints import POSITIVE_INTEGER, check
from hashbench.errors import HashbenchError
from hashbench.evaluation.hamming import as_bits
from hashbench.evaluation.relevance import as_labels, check_same_kind
from hashbench.fileio import atomic_write
from hashbench.limits import ARRAY_BYTES, read_array_header

KEYS = ("query_codes", "database_codes", "query_labels", "database_labels")
CODES = ("query_codes", "database_codes")
INDICES = ("query_indices", "database_indices")
PACKED = "_packed"
NPY_MAGIC = b"\x93NUMPY"


@dataclass(frozen=True)
class CodesBundle:
    query_codes: np.ndarray
    database_codes: np.ndarray
    query_labels: np.ndarray
    database_labels: np.ndarray
    #: Positions in the data set of the queries and database items, where known.
    query_indices: np.ndarray | None = None
    database_indices: np.ndarray | None = None


def load_codes(path: Path) -> CodesBundle:
    """Read and validate; every problem is one HashbenchError line naming the file."""
    path = Path(path)
    if not path.is_file():
        raise HashbenchError(f"{path}: no such file; expected an .npz with {', '.join(KEYS)}")
    if not zipfile.is_zipfile(path):  # np.load would read a lone .npy's array unchecked
        with open(path, "rb") as handle:
            single = handle.read(len(NPY_MAGIC)) == NPY_MAGIC
        raise HashbenchError(
            f"{path}: a single .npy array, not an .npz archive" if single
            else f"{path}: not a readable .npz archive (not a complete zip file)"
        )  # fmt: skip
    try:
        with np.load(path, allow_pickle=False) as archive:
            files = set(archive.files)
            missing = [key for key in KEYS if key not in files and key + PACKED not in files]
            if missing:
                raise HashbenchError(
                    f"{path}: missing {', '.join(missing)}; expected arrays {', '.join(KEYS)}"
                )
            arrays = {key: _read(archive, key, path) for key in KEYS if key in files}
            arrays |= {key: _unpacked(archive, key, path) for key in CODES if key not in arrays}
            arrays |= {key: _read(archive, key, path) for key in INDICES if key in files}
    except HashbenchError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as error:
        raise HashbenchError(f"{path}: not a readable .npz archive ({error})") from None
    try:
        return _validated(CodesBundle(**arrays))
    except HashbenchError as error:
        raise HashbenchError(f"{path}: {error}") from None


def save_codes(path: Path, bundle: CodesBundle) -> None:
    """Validate, then write compressed and atomically, codes bit-packed."""
    bundle = _validated(bundle)
    arrays = {key + PACKED: np.packbits(getattr(bundle, key), axis=1) for key in CODES}
    arrays["bits"] = np.array(bundle.query_codes.shape[1])
    arrays["query_labels"], arrays["database_labels"] = bundle.query_labels, bundle.database_labels
    for key in INDICES:
        if getattr(bundle, key) is not None:
            arrays[key] = getattr(bundle, key)
    atomic_write(Path(path), lambda handle: np.savez_compressed(handle, **arrays))


def _unpacked(archive: np.lib.npyio.NpzFile, key: str, path: Path) -> np.ndarray:
    """Rows of ``np.packbits``, unpacked once ``bits`` is known to be their length."""
    if "bits" not in archive.files:
        raise HashbenchError(f"{path}: {key}{PACKED} without bits (the code length)")
    stored = _read(archive, "bits", path)
    bits = check(
        stored.item() if stored.size == 1 else f"an array of shape {stored.shape}",
        POSITIVE_INTEGER,
        f"{path}: bits (the code length)",
    )
    packed = _read(archive, key + PACKED, path)
    width = math.ceil(bits / 8)
    if packed.dtype != np.uint8 or packed.ndim != 2 or packed.shape[1] != width:
        raise HashbenchError(
            f"{path}: {key}{PACKED} must be uint8 rows of {width} bytes (bits = {bits}), got "
            f"{packed.dtype} {packed.shape}; the file is corrupt, write it again"
        )
    return np.unpackbits(packed, axis=1, count=bits)


def _read(archive: np.lib.npyio.NpzFile, key: str, path: Path) -> np.ndarray:
    """The array, once its header says it is plain numbers the archive holds in full."""
    info = archive.zip.getinfo(f"{key}.npy")
    with archive.zip.open(info) as member:
        header = read_array_header(member, f"{path}: {key}")
    described = f"{header.dtype} {header.shape}"
    ARRAY_BYTES.require(f"{path}: {key} ({described})", header.size)
    if header.offset + header.size > info.file_size:
        raise HashbenchError(
            f"{path}: {key} says it is {described} but the file holds less; it is truncated "
            "or corrupt, write it again"
        )
    return archive[key]


def _validated(bundle: CodesBundle) -> CodesBundle:
    query_codes = as_bits(bundle.query_codes, "query_codes")
    database_codes = as_bits(bundle.database_codes, "database_codes")
    if query_codes.shape[1] != database_codes.shape[1]:
        raise HashbenchError(
            f"query_codes have {query_codes.shape[1]} bits but database_codes "
            f"{database_codes.shape[1]}; they must match"
        )
    query_labels = as_labels(bundle.query_labels, len(query_codes), "query_labels")
    database_labels = as_labels(bundle.database_labels, len(database_codes), "database_labels")
    check_same_kind(query_labels, database_labels)
    indices = {}
    for key, codes in zip(INDICES, (query_codes, database_codes), strict=True):
        value = getattr(bundle, key)
        if value is not None:
            value = np.asarray(value)
            if value.shape != (len(codes),) or value.dtype.kind not in "iu":
                raise HashbenchError(
                    f"{key} must be {len(codes)} integer positions, got {value.dtype} {value.shape}"
                )
        indices[key] = value
    return CodesBundle(query_codes, database_codes, query_labels, database_labels, **indices)
