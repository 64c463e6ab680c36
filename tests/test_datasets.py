"""Data sets: digits, image folders and their archives, the CIFAR-10 releases, the cache."""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import tarfile
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hashbench.data import cifar, imagefolder
from hashbench.data.dataset import Dataset
from hashbench.data.imagefolder import Member, decode_images
from hashbench.data.loading import default_data_roots, list_datasets, load_dataset
from hashbench.errors import HashbenchError
from hashbench.fileio import sha256_file

CIFAR10_SHA256 = "728409932378d926378e37a92acf6d23c165559cf8a89eb04ee4d98bfce7ebdd"


def forbid(monkeypatch: pytest.MonkeyPatch, module: object, name: str) -> None:
    """Make ``module.name`` fail, to prove a load never reaches it."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"{name} was called")

    monkeypatch.setattr(module, name, refuse)


# -- digits -----------------------------------------------------------------------------------
def test_digits_are_sklearns_digits_scaled_to_bytes() -> None:
    from sklearn.datasets import load_digits

    digits = load_dataset("digits")
    original = load_digits()
    assert digits.images.shape == (1797, 8, 8, 1) and digits.images.dtype == np.uint8
    assert list(digits.parts) == ["all"] and len(digits.parts["all"]) == 1797
    np.testing.assert_array_equal(digits.labels, original.target)
    # value v in 0..16 becomes round(v * 255 / 16), halves to even
    for value, byte in {0: 0, 1: 16, 4: 64, 8: 128, 15: 239, 16: 255}.items():
        assert set(np.unique(digits.images[..., 0][original.images == value])) == {byte}
    expected = hashlib.sha256(digits.images.tobytes() + digits.labels.tobytes()).hexdigest()
    assert digits.checksum == expected == load_dataset("digits").checksum


def test_digits_resized_when_an_image_size_is_given() -> None:
    digits = load_dataset("digits", image_size=16)
    assert digits.images.shape == (1797, 16, 16, 1)
    first = load_dataset("digits").images[0, ..., 0]
    resized = Image.fromarray(first).resize((16, 16), Image.Resampling.BILINEAR)
    np.testing.assert_array_equal(digits.images[0, ..., 0], np.asarray(resized))


def test_list_datasets_names_and_describes_the_known_ones() -> None:
    listed = dict(list_datasets())
    assert {"cifar10", "digits"} <= set(listed)
    assert all(description and "\n" not in description for description in listed.values())


def test_default_data_roots(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HASHBENCH_DATA", os.pathsep.join(["/a", "/b/c"]))
    assert default_data_roots() == [Path("/a"), Path("/b/c")]
    monkeypatch.delenv("HASHBENCH_DATA")
    assert default_data_roots() == [Path("data"), Path("../shared/data")]


# -- image folders ----------------------------------------------------------------------------
def pixels(seed: int, size: tuple[int, int] = (6, 5)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8)


#: part/class/file -> RGB pixels; "test/emu" exists only in the test part.
TINY = {
    "train/cat/a.png": pixels(1),
    "train/cat/b.png": pixels(2),
    "train/dog/c.bmp": pixels(3),
    "test/cat/d.png": pixels(4),
    "test/emu/e.png": pixels(5),
}


def write_folder(root: Path, images: dict[str, np.ndarray]) -> Path:
    for relative, array in images.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(array).save(root / relative)
    return root


def check_tiny(dataset: Dataset) -> None:
    """``dataset`` holds exactly TINY, in sorted path order."""
    order = sorted(TINY)  # test/... before train/...
    assert dataset.class_names == ("cat", "dog", "emu")
    np.testing.assert_array_equal(dataset.images, np.stack([TINY[p] for p in order]))
    expected_labels = [dataset.class_names.index(p.split("/")[1]) for p in order]
    np.testing.assert_array_equal(dataset.labels, expected_labels)
    assert dataset.labels.dtype == np.int64
    assert {k: v.tolist() for k, v in dataset.parts.items()} == {"test": [0, 1], "train": [2, 3, 4]}


def test_image_folder_reads_back_exactly(tmp_path: Path) -> None:
    root = write_folder(tmp_path / "pets", TINY)
    (root / "train" / "cat" / "notes.txt").write_text("not an image")
    dataset = load_dataset(str(root))
    check_tiny(dataset)
    assert dataset.name == "pets" and dataset.source == str(root)


def archive_of(folder: Path, path: Path) -> Path:
    """``folder`` archived under one wrapping top-level directory, as archives usually are."""
    files = sorted((p for p in folder.rglob("*") if p.is_file()), reverse=True)
    if path.suffix == ".zip":
        with zipfile.ZipFile(path, "w") as archive:
            for file in files:
                archive.write(file, f"wrap/{file.relative_to(folder).as_posix()}")
    else:
        with tarfile.open(path, "w:gz" if path.name.endswith(("gz", "tgz")) else "w") as archive:
            for file in files:
                archive.add(file, f"wrap/{file.relative_to(folder).as_posix()}")
    return path


@pytest.mark.parametrize("filename", ["pets.tar", "pets.tar.gz", "pets.tgz", "pets.zip"])
def test_archives_read_back_exactly(tmp_path: Path, filename: str) -> None:
    archive = archive_of(write_folder(tmp_path / "folder", TINY), tmp_path / filename)
    dataset = load_dataset(str(archive))
    check_tiny(dataset)
    assert dataset.name == "pets"
    assert dataset.checksum == sha256_file(archive)


def test_grey_and_jpeg_images_become_rgb(tmp_path: Path) -> None:
    grey = np.arange(30, dtype=np.uint8).reshape(6, 5)
    (tmp_path / "d" / "train" / "x").mkdir(parents=True)
    Image.fromarray(grey).save(tmp_path / "d" / "train" / "x" / "grey.png")
    Image.fromarray(pixels(7)).save(tmp_path / "d" / "train" / "x" / "photo.jpg", quality=90)
    dataset = load_dataset(str(tmp_path / "d"))
    assert dataset.images.shape == (2, 6, 5, 3)
    np.testing.assert_array_equal(dataset.images[0], np.repeat(grey[..., None], 3, axis=2))
    with Image.open(tmp_path / "d" / "train" / "x" / "photo.jpg") as photo:
        np.testing.assert_array_equal(dataset.images[1], np.asarray(photo.convert("RGB")))


def test_directory_checksum_follows_paths_and_bytes(tmp_path: Path) -> None:
    root = write_folder(tmp_path / "pets", TINY)
    first = load_dataset(str(root)).checksum
    assert load_dataset(str(root)).checksum == first
    os.utime(root / "train" / "cat" / "a.png", (0, 0))  # a new time stamp is not new data
    assert load_dataset(str(root)).checksum == first
    (root / "train" / "cat" / "a.png").rename(root / "train" / "cat" / "z.png")
    renamed = load_dataset(str(root)).checksum
    assert renamed != first
    Image.fromarray(pixels(99)).save(root / "train" / "cat" / "z.png")
    changed = load_dataset(str(root))
    assert changed.checksum not in (first, renamed)
    np.testing.assert_array_equal(changed.images[-2], pixels(99))  # not a stale cached array


def test_sizes_that_differ_need_an_image_size(tmp_path: Path) -> None:
    images = {"train/a/small.png": pixels(1, (4, 4)), "train/a/wide.png": pixels(2, (4, 9))}
    root = write_folder(tmp_path / "mixed", images)
    with pytest.raises(
        HashbenchError, match=r"small\.png is 4x4, train/a/wide\.png is 9x4.*--image-size"
    ):
        load_dataset(str(root))
    dataset = load_dataset(str(root), image_size=3)
    assert dataset.images.shape == (2, 3, 3, 3)
    expected = Image.fromarray(images["train/a/wide.png"]).resize((3, 3), Image.Resampling.BILINEAR)
    np.testing.assert_array_equal(dataset.images[1], np.asarray(expected))


def test_second_load_is_served_from_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = archive_of(write_folder(tmp_path / "folder", TINY), tmp_path / "pets.tar.gz")
    first = load_dataset(str(archive))
    forbid(monkeypatch, imagefolder, "decode_images")
    forbid(monkeypatch, imagefolder, "_read_archive")
    second = load_dataset(str(archive))
    np.testing.assert_array_equal(second.images, first.images)
    np.testing.assert_array_equal(second.labels, first.labels)
    assert second.checksum == first.checksum
    with pytest.raises(AssertionError, match="was called"):  # another size: decode again
        load_dataset(str(archive), image_size=4)


@pytest.mark.parametrize("damage", ["truncate", "garble", "lie"])
def test_a_damaged_cache_entry_names_the_file_to_delete(
    tmp_path: Path, isolated_cache: Path, damage: str
) -> None:
    root = write_folder(tmp_path / "pets", TINY)
    load_dataset(str(root))
    (entry,) = (isolated_cache / "images").glob("*.npy")
    data = entry.read_bytes()
    if damage == "truncate":
        entry.write_bytes(data[:-7])
    elif damage == "garble":
        entry.write_bytes(b"not an array at all")
    else:  # a header claiming far more than the file holds: refused before any allocation
        assert b"(5, 6, 5, 3)" in data
        entry.write_bytes(data.replace(b"(5, 6, 5, 3)", b"(9999999, 3)"))
    with pytest.raises(HashbenchError) as raised:
        load_dataset(str(root))
    message = str(raised.value)
    assert message.startswith(f"cache entry {entry} is damaged (")
    assert message.endswith("; delete it and it is rebuilt on the next run")
    entry.unlink()
    check_tiny(load_dataset(str(root)))


def test_parallel_decoding_matches_serial_decoding(tmp_path: Path) -> None:
    members = []
    for i in range(23):
        buffer = io.BytesIO()
        Image.fromarray(pixels(i)).save(buffer, format="PNG")
        members.append(Member(f"train/c/{i:02}.png", buffer.getvalue()))
    serial = decode_images(members, None, "tiny", chunk_size=len(members))
    parallel = decode_images(members, None, "tiny", chunk_size=4)
    np.testing.assert_array_equal(parallel, serial)
    np.testing.assert_array_equal(serial, np.stack([pixels(i) for i in range(23)]))
    members[17] = Member("train/c/17.png", b"garbage")
    with pytest.raises(HashbenchError, match=r"train/c/17\.png in tiny.*remove or replace"):
        decode_images(members, None, "tiny", chunk_size=4)


# -- errors -----------------------------------------------------------------------------------
def test_unknown_name_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(HashbenchError, match=r"'nosuch'.*cifar10, digits.*no such file"):
        load_dataset("nosuch")
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    with pytest.raises(
        HashbenchError,
        match=r"cifar10, digits.*not a folder of list files .*, an image folder or an archive",
    ):
        load_dataset(str(notes))


@pytest.mark.parametrize("archived", [False, True])
def test_a_corrupt_image_is_named(tmp_path: Path, archived: bool) -> None:
    root = write_folder(tmp_path / "folder", TINY)
    (root / "train" / "dog" / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    source = archive_of(root, tmp_path / "pets.zip") if archived else root
    with pytest.raises(HashbenchError, match=r"train/dog/broken\.jpg.*remove or replace"):
        load_dataset(str(source))


def test_a_truncated_image_is_named(tmp_path: Path) -> None:
    root = write_folder(tmp_path / "folder", TINY)
    whole = (root / "train" / "cat" / "b.png").read_bytes()
    (root / "train" / "cat" / "b.png").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(HashbenchError, match=r"train/cat/b\.png.*remove or replace"):
        load_dataset(str(root))


def test_an_empty_folder_says_the_expected_layout(tmp_path: Path) -> None:
    (tmp_path / "empty" / "train" / "cat").mkdir(parents=True)
    with pytest.raises(HashbenchError, match=r"no images found in .*empty.*<part>/<class>/<image>"):
        load_dataset(str(tmp_path / "empty"))


def test_an_image_outside_the_layout_is_named(tmp_path: Path) -> None:
    root = write_folder(tmp_path / "folder", TINY)
    Image.fromarray(pixels(0)).save(root / "train" / "loose.png")
    with pytest.raises(HashbenchError, match=r"train/loose\.png .*not in the expected layout"):
        load_dataset(str(root))


@pytest.mark.parametrize("filename", ["pets.tar.gz", "pets.zip"])
def test_a_corrupt_archive_is_named(tmp_path: Path, filename: str) -> None:
    archive = archive_of(write_folder(tmp_path / "folder", TINY), tmp_path / filename)
    whole = archive.read_bytes()
    archive.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(HashbenchError, match=rf"cannot read archive .*{filename}.*corrupt"):
        load_dataset(str(archive))


# -- CIFAR-10, python release -----------------------------------------------------------------
def write_batch(path: Path, images: np.ndarray, labels: list[int]) -> None:
    """A batch as the official release pickles it: rows of 1024 red, 1024 green, 1024 blue."""
    batch = {
        b"batch_label": path.name.encode(),
        b"labels": labels,
        b"data": images.transpose(0, 3, 1, 2).reshape(len(images), 3072),
        b"filenames": [f"{i}.png".encode() for i in range(len(images))],
    }
    path.write_bytes(pickle.dumps(batch, protocol=2))


def write_cifar_release(root: Path) -> tuple[np.ndarray, np.ndarray]:
    """A tiny ``cifar-10-batches-py`` (3 images per training batch, 4 test images)."""
    rng = np.random.default_rng(0)
    release = root / cifar.PYTHON_DIRECTORY
    release.mkdir(parents=True)
    images = rng.integers(0, 256, (19, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, 19)
    for i, name in enumerate([*cifar.TRAIN_BATCHES, cifar.TEST_BATCH]):
        rows = slice(3 * i, 3 * i + (3 if name != cifar.TEST_BATCH else 4))
        write_batch(release / name, images[rows], labels[rows].tolist())
    meta = {b"label_names": [c.encode() for c in cifar.CLASSES], b"num_vis": 3072}
    (release / cifar.META).write_bytes(pickle.dumps(meta, protocol=2))
    return images, labels


def check_release(dataset: Dataset, images: np.ndarray, labels: np.ndarray) -> None:
    assert dataset.name == "cifar10" and dataset.class_names == cifar.CLASSES
    np.testing.assert_array_equal(dataset.images, images)
    np.testing.assert_array_equal(dataset.labels, labels)
    assert dataset.parts["train"].tolist() == list(range(15))
    assert dataset.parts["test"].tolist() == [15, 16, 17, 18]


def test_cifar_python_release_reads_back_exactly(tmp_path: Path) -> None:
    images, labels = write_cifar_release(tmp_path)
    dataset = load_dataset("cifar10", data_root=tmp_path)
    check_release(dataset, images, labels)
    check_release(load_dataset(str(tmp_path / cifar.PYTHON_DIRECTORY)), images, labels)


def test_cifar_python_archive_reads_back_exactly(tmp_path: Path) -> None:
    images, labels = write_cifar_release(tmp_path / "unpacked")
    archive = tmp_path / "root" / cifar.PYTHON_ARCHIVE
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "unpacked" / cifar.PYTHON_DIRECTORY, cifar.PYTHON_DIRECTORY)
    dataset = load_dataset("cifar10", data_root=[tmp_path / "nothing", archive.parent])
    check_release(dataset, images, labels)
    assert dataset.checksum == sha256_file(archive)


def test_cifar_labels_agree_between_pickle_and_image_folder(tmp_path: Path) -> None:
    write_folder(
        tmp_path / "cifar10", {"train/truck/0.png": pixels(0), "test/cat/0.png": pixels(1)}
    )
    dataset = load_dataset("cifar10", data_root=tmp_path)
    assert dataset.name == "cifar10" and dataset.class_names == cifar.CLASSES
    assert dataset.labels.tolist() == [cifar.CLASSES.index("cat"), cifar.CLASSES.index("truck")]
    write_folder(tmp_path / "cifar10", {"train/unicorn/0.png": pixels(2)})
    with pytest.raises(HashbenchError, match="unicorn"):
        load_dataset("cifar10", data_root=tmp_path)


def test_cifar_releases_are_searched_in_order(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    for root in (first, second):
        (root / "cifar-10-batches-py").mkdir(parents=True)
        (root / "cifar10").mkdir()
        (root / "cifar-10-python.tar.gz").touch()
        (root / "cifar10-jpeg.tar.gz").touch()
    for expected in ("cifar-10-batches-py", "cifar-10-python.tar.gz", "cifar10-jpeg.tar.gz"):
        assert cifar.find_cifar10([first, second]) == first / expected
        path = first / expected
        path.rmdir() if path.is_dir() else path.unlink()
    assert cifar.find_cifar10([first, second]) == first / "cifar10"
    (first / "cifar10").rmdir()
    assert cifar.find_cifar10([first, second]) == second / "cifar-10-batches-py"


def test_cifar_missing_everywhere_tries_a_download_then_says_what_to_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts = []

    def offline(root: Path) -> Path:
        attempts.append(root)
        raise OSError("no network")

    monkeypatch.setattr(cifar, "download_cifar10", offline)
    roots = [tmp_path / "a", tmp_path / "b"]
    expected = r"CIFAR-10 not found.*a/cifar10-jpeg.*b/cifar10.*no network.*--data-root DIR"
    with pytest.raises(HashbenchError, match=expected):
        load_dataset("cifar10", data_root=roots)
    assert attempts == [roots[0]]


def malformed_batches() -> dict[str, bytes]:
    good = {b"labels": [0], b"data": np.zeros((1, 3072), np.uint8)}
    return {
        "not a dict": pickle.dumps([1, 2, 3], protocol=2),
        "not a uint8 matrix": pickle.dumps({**good, b"data": np.zeros((1, 3072))}, protocol=2),
        "3072": pickle.dumps({**good, b"data": np.zeros((1, 100), np.uint8)}, protocol=2),
        "one label per image": pickle.dumps({**good, b"labels": [0, 1]}, protocol=2),
        "integers 0..9": pickle.dumps({**good, b"labels": [10]}, protocol=2),
        "truncated": pickle.dumps(good, protocol=2)[:50],
        "os.system": b"cos\nsystem\n(S'echo hacked'\ntR.",
    }


@pytest.mark.parametrize("why", list(malformed_batches()))
def test_a_malformed_cifar_batch_is_named(tmp_path: Path, why: str) -> None:
    write_cifar_release(tmp_path)
    (tmp_path / cifar.PYTHON_DIRECTORY / "data_batch_3").write_bytes(malformed_batches()[why])
    expected = "Error" if why == "truncated" else why
    with pytest.raises(HashbenchError, match=rf"batch data_batch_3 in .*malformed.*{expected}"):
        load_dataset("cifar10", data_root=tmp_path)


def test_a_missing_cifar_batch_is_named(tmp_path: Path) -> None:
    write_cifar_release(tmp_path)
    (tmp_path / cifar.PYTHON_DIRECTORY / "test_batch").unlink()
    with pytest.raises(HashbenchError, match=r"test_batch is missing"):
        load_dataset("cifar10", data_root=tmp_path)


# -- bounded reading --------------------------------------------------------------------------
def bomb(path: Path, megabytes: int) -> Path:
    """TINY, plus one "image" of ``megabytes`` MB of zeros that compresses to a few KB."""
    folder = write_folder(path.parent / "bomb-folder", TINY)
    (folder / "train" / "cat" / "big.png").write_bytes(bytes(megabytes << 20))
    if path.suffix != ".zip":
        return archive_of(folder, path)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(p for p in folder.rglob("*") if p.is_file()):
            archive.write(file, f"wrap/{file.relative_to(folder).as_posix()}")
    return path


@pytest.mark.parametrize("filename", ["pets.zip", "pets.tar.gz"])
def test_an_archive_member_is_refused_past_the_limit_before_it_is_decompressed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, filename: str
) -> None:
    archive = bomb(tmp_path / filename, 64)
    assert archive.stat().st_size < 1 << 20
    monkeypatch.setenv("HASHBENCH_MAX_MEMBER_MB", "2")
    tracemalloc.start()
    try:
        message = r"wrap/train/cat/big.png in .*" + filename + r" exceeds the limit of 2 MB; "
        with pytest.raises(HashbenchError, match=message + ".* HASHBENCH_MAX_MEMBER_MB=N"):
            load_dataset(str(archive))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 24 << 20, f"{peak / 2**20:.0f} MB held: the member was decompressed whole"
    monkeypatch.setenv("HASHBENCH_MAX_MEMBER_MB", "64")
    with pytest.raises(HashbenchError, match="cannot decode image .*big.png"):
        load_dataset(str(archive))  # read now, and refused for what it is


def test_a_file_in_a_folder_and_the_whole_source_are_bounded_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_folder(tmp_path / "pets", TINY)
    (root / "train" / "dog" / "big.png").write_bytes(bytes(3 << 20))
    monkeypatch.setenv("HASHBENCH_MAX_MEMBER_MB", "2")
    with pytest.raises(HashbenchError, match=r"train/dog/big.png in .*pets exceeds the limit"):
        load_dataset(str(root))
    monkeypatch.setenv("HASHBENCH_MAX_MEMBER_MB", "4")
    monkeypatch.setenv("HASHBENCH_MAX_SOURCE_MB", "2")
    message = r"reading the images of .*pets exceeds the limit of 2 MB; "
    with pytest.raises(HashbenchError, match=message + ".*HASHBENCH_MAX_SOURCE_MB=N"):
        load_dataset(str(root))


def test_images_are_bounded_before_they_are_decoded_and_allocated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_folder(tmp_path / "pets", TINY)
    with monkeypatch.context() as patch:
        patch.setenv("HASHBENCH_MAX_IMAGE_PIXELS", "20")
        forbid(patch, Image.Image, "load")  # refused from the header: no pixel is decoded
        with pytest.raises(HashbenchError, match=r"image test/cat/d.png in .*pets \(5x6\) "
                           r"exceeds the limit of 20 pixels \(it needs 30\)"):  # fmt: skip
            load_dataset(str(root))
    monkeypatch.setenv("HASHBENCH_MAX_ARRAY_MB", "1")
    with pytest.raises(HashbenchError, match=r"the decoded images of .*pets \(5 x \(512, 512, 3"
                       r"\)\) exceeds the limit of 1 MB \(it needs 4\)"):  # fmt: skip
        load_dataset(str(root), image_size=512)


def test_a_cifar_batch_is_bounded_before_it_is_unpickled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_cifar_release(tmp_path)
    (tmp_path / cifar.PYTHON_DIRECTORY / "data_batch_2").write_bytes(bytes(2 << 20))
    monkeypatch.setenv("HASHBENCH_MAX_MEMBER_MB", "1")
    with pytest.raises(HashbenchError, match=r"data_batch_2 exceeds the limit of 1 MB"):
        load_dataset("cifar10", data_root=tmp_path)


@pytest.mark.parametrize("value", ["0", "-1", "2.5", "lots"])
def test_a_limit_that_is_not_a_whole_number_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    root = write_folder(tmp_path / "pets", TINY)
    monkeypatch.setenv("HASHBENCH_MAX_MEMBER_MB", value)
    with pytest.raises(HashbenchError, match=f"HASHBENCH_MAX_MEMBER_MB='{value}' is not a limit"):
        load_dataset(str(root))


def test_a_link_out_of_an_image_folder_is_not_followed_unless_allowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_folder(tmp_path / "pets", TINY)
    outside = write_folder(tmp_path / "elsewhere", {"secret.png": pixels(9)}) / "secret.png"
    (root / "train" / "cat" / "inside.png").symlink_to(root / "train" / "cat" / "a.png")
    assert len(load_dataset(str(root)).labels) == 6  # a link within the folder is read
    (root / "train" / "dog" / "z.png").symlink_to(outside)
    with pytest.raises(HashbenchError, match=r"z.png is a link to .*secret.png, outside the image "
                       r"folder .*pets; .* HASHBENCH_ALLOW_OUTSIDE_ROOT=1"):  # fmt: skip
        load_dataset(str(root))
    monkeypatch.setenv("HASHBENCH_ALLOW_OUTSIDE_ROOT", "1")
    assert len(load_dataset(str(root)).labels) == 7


# -- the real CIFAR-10 ------------------------------------------------------------------------
@pytest.mark.cifar10
def test_real_cifar10(cifar10: Dataset, cifar10_archive: Path) -> None:
    assert cifar10.name == "cifar10"
    assert cifar10.images.shape == (60000, 32, 32, 3) and cifar10.images.dtype == np.uint8
    assert {part: len(items) for part, items in cifar10.parts.items()} == {
        "train": 50000,
        "test": 10000,
    }
    assert np.bincount(cifar10.labels[cifar10.parts["train"]]).tolist() == [5000] * 10
    assert np.bincount(cifar10.labels[cifar10.parts["test"]]).tolist() == [1000] * 10
    assert cifar10.class_names == cifar.CLASSES
    assert cifar10.checksum == CIFAR10_SHA256 == sha256_file(cifar10_archive)
    # CIFAR-10's known channel means (red > green > blue): pixels decoded, and in RGB order
    means = cifar10.images[cifar10.parts["train"]].mean(axis=(0, 1, 2))
    np.testing.assert_allclose(means, [125.3, 123.0, 113.9], atol=1.5)


@pytest.mark.cifar10
def test_real_cifar10_second_load_comes_from_the_cache(
    cifar10: Dataset, cifar10_root: Path, cifar10_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HASHBENCH_CACHE", str(cifar10_cache))
    forbid(monkeypatch, imagefolder, "decode_images")
    forbid(monkeypatch, imagefolder, "_read_archive")
    started = time.perf_counter()
    again = load_dataset("cifar10", data_root=cifar10_root)
    print(f"warm load of CIFAR-10: {time.perf_counter() - started:.2f} s")
    assert np.array_equal(again.images, cifar10.images)
    assert np.array_equal(again.labels, cifar10.labels)
    assert again.checksum == cifar10.checksum
