"""The codes file: a round trip keeps everything, and every kind of bad file is one clear line."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from hashbench.errors import HashbenchError
from hashbench.evaluation.codes_file import KEYS, CodesBundle, load_codes, save_codes


def bundle(**change: np.ndarray) -> CodesBundle:
    arrays = {
        "query_codes": np.array([[1, -1, 1, 1], [-1, -1, 1, -1]]),
        "database_codes": np.array([[0, 1, 1, 0], [1, 1, 1, 1], [0, 0, 0, 0]], np.uint8),
        "query_labels": np.array([3, 1]),
        "database_labels": np.array([1, 3, 3]),
    }
    return CodesBundle(**(arrays | change))


def write_npz(path: Path, **arrays: np.ndarray) -> Path:
    np.savez(path, **arrays)
    return path


def test_round_trip_stores_codes_bit_packed(tmp_path: Path) -> None:
    path = tmp_path / "codes.npz"
    save_codes(path, bundle())
    loaded = load_codes(path)
    np.testing.assert_array_equal(loaded.query_codes, [[1, 0, 1, 1], [0, 0, 1, 0]])
    np.testing.assert_array_equal(loaded.database_codes, bundle().database_codes)
    np.testing.assert_array_equal(loaded.query_labels, [3, 1])
    np.testing.assert_array_equal(loaded.database_labels, [1, 3, 3])
    with np.load(path) as raw:  # eight bits a byte
        np.testing.assert_array_equal(raw["query_codes_packed"], [[0b10110000], [0b00100000]])
        assert raw["database_codes_packed"].shape == (3, 1)
    # Compressed: a zip whose members are deflated.
    with zipfile.ZipFile(path) as archive:
        assert {info.compress_type for info in archive.infolist()} == {zipfile.ZIP_DEFLATED}
    assert [p.name for p in tmp_path.iterdir()] == ["codes.npz"]  # no temporary left behind


def test_multi_hot_labels_round_trip(tmp_path: Path) -> None:
    labels = np.array([[1, 0, 1], [0, 0, 1]]), np.array([[1, 1, 0], [0, 0, 0], [0, 1, 1]])
    path = tmp_path / "multi.npz"
    save_codes(path, bundle(query_labels=labels[0], database_labels=labels[1]))
    loaded = load_codes(path)
    np.testing.assert_array_equal(loaded.query_labels, labels[0])
    np.testing.assert_array_equal(loaded.database_labels, labels[1])


def test_save_refuses_invalid_bundles(tmp_path: Path) -> None:
    with pytest.raises(HashbenchError, match="query_codes: values must be"):
        save_codes(tmp_path / "bad.npz", bundle(query_codes=np.array([[0, 1, 2, 1]] * 2)))
    assert not (tmp_path / "bad.npz").exists()


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(HashbenchError, match=r"nowhere\.npz: no such file; expected an \.npz"):
        load_codes(tmp_path / "nowhere.npz")


@pytest.mark.parametrize(
    "content", [b"", b"certainly not a zip archive", b"PK\x03\x04 truncated zip header"]
)
def test_corrupt_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "corrupt.npz"
    path.write_bytes(content)
    with pytest.raises(HashbenchError, match=r"corrupt\.npz: not a readable \.npz archive"):
        load_codes(path)


def test_truncated_archive(tmp_path: Path) -> None:
    path = tmp_path / "codes.npz"
    save_codes(path, bundle())
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(HashbenchError, match=r"codes\.npz: not a readable \.npz archive"):
        load_codes(path)


def test_single_npy_array(tmp_path: Path) -> None:
    path = tmp_path / "codes.npy"
    np.save(path, np.zeros((2, 4)))
    with pytest.raises(HashbenchError, match=r"codes\.npy: a single \.npy array, not an \.npz"):
        load_codes(path)


def test_missing_key(tmp_path: Path) -> None:
    arrays = {key: getattr(bundle(), key) for key in ("query_codes", "database_codes")}
    path = write_npz(tmp_path / "partial.npz", **arrays, query_labels=np.array([3, 1]))
    with pytest.raises(HashbenchError, match=r"partial\.npz: missing database_labels; expected"):
        load_codes(path)


def test_object_arrays_are_refused_without_unpickling(tmp_path: Path) -> None:
    arrays = {key: getattr(bundle(), key) for key in ("query_codes", "database_codes")}
    objects = np.array([{"label": 3}, {"label": 1}], dtype=object)
    path = write_npz(
        tmp_path / "objects.npz", **arrays, query_labels=objects, database_labels=np.arange(3)
    )
    with pytest.raises(HashbenchError, match=r"objects\.npz: query_labels holds Python objects"):
        load_codes(path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"query_codes": np.array([1, 0, 1, 1])}, r"query_codes: expected a 2-D array"),
        ({"database_codes": np.zeros((3, 5))}, r"query_codes have 4 bits but database_codes 5"),
        ({"database_codes": np.full((3, 4), 0.5)}, r"database_codes: values must be .*found 0.5"),
        ({"query_labels": np.array([3, 1, 1])}, r"query_labels: 3 labels for 2 codes"),
        ({"database_labels": np.eye(3)}, r"query labels are class ids but database labels are"),
        (
            {"query_labels": np.eye(2, 4), "database_labels": np.eye(3)},
            r"query labels are multi-hot with 4 classes but database labels are multi-hot with 3",
        ),
        ({"query_codes": np.zeros((0, 4))}, r"query_codes: empty array"),
        (
            {"database_codes": np.zeros((0, 4)), "database_labels": np.zeros(0)},
            r"database_codes: empty array",
        ),
    ],
)
def test_invalid_contents(tmp_path: Path, change: dict, message: str) -> None:
    arrays = {key: getattr(bundle(**change), key) for key in KEYS}
    path = write_npz(tmp_path / "invalid.npz", **arrays)
    with pytest.raises(HashbenchError, match=r"invalid\.npz: " + message):
        load_codes(path)


def test_indices_round_trip_and_must_match_the_codes(tmp_path: Path) -> None:
    path = tmp_path / "codes.npz"
    save_codes(path, bundle(query_indices=np.array([7, 2]), database_indices=np.array([0, 1, 5])))
    loaded = load_codes(path)
    np.testing.assert_array_equal(loaded.query_indices, [7, 2])
    np.testing.assert_array_equal(loaded.database_indices, [0, 1, 5])
    assert load_codes(_plain(tmp_path)).query_indices is None
    with pytest.raises(HashbenchError, match="database_indices must be 3 integer positions"):
        save_codes(path, bundle(database_indices=np.array([0, 1])))


def test_plain_files_made_elsewhere_load(tmp_path: Path) -> None:
    loaded = load_codes(_plain(tmp_path))
    np.testing.assert_array_equal(loaded.query_codes, [[1, 0, 1, 1], [0, 0, 1, 0]])


def test_packed_codes_without_their_length(tmp_path: Path) -> None:
    path = write_npz(
        tmp_path / "packed.npz",
        query_codes_packed=np.zeros((2, 1), np.uint8),
        database_codes_packed=np.zeros((3, 1), np.uint8),
        query_labels=np.array([3, 1]),
        database_labels=np.array([1, 3, 3]),
    )
    with pytest.raises(HashbenchError, match="query_codes_packed without bits"):
        load_codes(path)


def _plain(tmp_path: Path) -> Path:
    arrays = bundle()
    return write_npz(tmp_path / "plain.npz", **{key: getattr(arrays, key) for key in KEYS})


def packed_file(tmp_path: Path, bits: object, width: int = 1) -> Path:
    return write_npz(
        tmp_path / "packed.npz",
        query_codes_packed=np.zeros((2, width), np.uint8),
        database_codes_packed=np.zeros((3, width), np.uint8),
        bits=np.array(bits),
        query_labels=np.array([3, 1]),
        database_labels=np.array([1, 3, 3]),
    )


@pytest.mark.parametrize(
    ("bits", "message"),
    [
        (2_000_000_000, r"query_codes_packed must be uint8 rows of 250000000 bytes \(bits = 2000"),
        (-3, r"bits \(the code length\) must be an integer >= 1, got -3"),
        (0, r"bits \(the code length\) must be an integer >= 1, got 0"),
        (16.7, r"bits \(the code length\) must be an integer >= 1, got 16.7"),
        (12, r"query_codes_packed must be uint8 rows of 2 bytes \(bits = 12\), got uint8 \(2, 1\)"),
        ([8, 8], r"bits \(the code length\) must be an integer >= 1, got 'an array of shape"),
    ],
)
def test_bits_must_be_the_packed_rows_length_before_anything_is_unpacked(
    tmp_path: Path, bits: object, message: str
) -> None:
    with pytest.raises(HashbenchError, match=r"packed\.npz: " + message):
        load_codes(packed_file(tmp_path, bits))


def test_a_packed_file_whose_bits_fit_its_rows_loads(tmp_path: Path) -> None:
    loaded = load_codes(packed_file(tmp_path, 12, width=2))
    assert loaded.query_codes.shape == (2, 12)


def test_an_array_header_is_checked_before_the_array_is_allocated(tmp_path: Path) -> None:
    """A 1 KB file whose header claims 8 TB is refused from its header alone."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (10**6, 10**6)}
    )
    path = tmp_path / "liar.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("query_codes.npy", header.getvalue() + bytes(64))
        for key in KEYS[1:]:
            member = io.BytesIO()
            np.save(member, np.zeros(2))
            archive.writestr(f"{key}.npy", member.getvalue())
    with pytest.raises(HashbenchError, match=r"liar\.npz: query_codes \(float64 \(1000000, 1000000"
                       r"\)\) exceeds the limit of 16,384 MB \(it needs 7,629,395\)"):  # fmt: skip
        load_codes(path)


def test_an_array_header_that_claims_more_than_the_archive_holds_is_refused(
    tmp_path: Path,
) -> None:
    path = _plain(tmp_path)
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<i8", "fortran_order": False, "shape": (2, 4000)}
    )
    with zipfile.ZipFile(path) as original, zipfile.ZipFile(tmp_path / "short.npz", "w") as out:
        for info in original.infolist():
            content = original.read(info)
            if info.filename == "query_codes.npy":
                content = header.getvalue() + content[-64:]
            out.writestr(info.filename, content)
    with pytest.raises(HashbenchError, match=r"short\.npz: query_codes says it is int64 \(2, "
                       r"4000\) but the file holds less; it is truncated or corrupt"):  # fmt: skip
        load_codes(tmp_path / "short.npz")


def test_the_array_limit_is_documented_and_can_be_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "big.npz"
    codes = np.zeros((2, 4), np.uint8)
    labels = np.zeros((2_000_000,), np.int64)  # 16 MB
    write_npz(path, query_codes=codes, database_codes=codes, query_labels=labels[:2],
              database_labels=labels)  # fmt: skip
    monkeypatch.setenv("HASHBENCH_MAX_ARRAY_MB", "8")
    message = r"database_labels \(int64 \(2000000,\)\) exceeds the limit of 8 MB \(it needs 15\); "
    with pytest.raises(HashbenchError, match=message + r".* with HASHBENCH_MAX_ARRAY_MB=N"):
        load_codes(path)
    monkeypatch.setenv("HASHBENCH_MAX_ARRAY_MB", "32")
    with pytest.raises(HashbenchError, match="database_labels: 2000000 labels for 2 codes"):
        load_codes(path)  # read now, and refused for what it holds
    monkeypatch.setenv("HASHBENCH_MAX_ARRAY_MB", "lots")
    with pytest.raises(HashbenchError, match="HASHBENCH_MAX_ARRAY_MB='lots' is not a limit"):
        load_codes(path)
