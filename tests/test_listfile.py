"""List files and the data sets built from them: parsing, merging, decoding, caching, errors."""

from __future__ import annotations

from concurrent.futures import Executor, Future
from pathlib import Path

import numpy as np
import pytest
from fixtures.listdata import COCO, IMAGENET100, NUSWIDE, SMALL, write_list_dataset
from PIL import Image

from hashbench.data import imagestore
from hashbench.data.listfile import merge_lists, read_list_file
from hashbench.data.loading import load_dataset
from hashbench.errors import HashbenchError
from hashbench.splits.protocol import default_protocol


def write(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


# -- reading one list ---------------------------------------------------------------------------
def test_a_list_reads_back_exactly(tmp_path: Path) -> None:
    path = write(tmp_path / "test.txt", "a/1.jpg 0 1 1\r\nb/2.jpg  1 0 0\nc/3.jpg 0 0 0")
    listed = read_list_file(path, classes=3)
    assert listed.images == ("a/1.jpg", "b/2.jpg", "c/3.jpg")
    assert listed.labels.dtype == np.uint8
    np.testing.assert_array_equal(listed.labels, [[0, 1, 1], [1, 0, 0], [0, 0, 0]])
    assert listed.where(1) == f"line 2 of list file {path}"


def test_without_a_class_count_line_one_sets_the_length(tmp_path: Path) -> None:
    path = write(tmp_path / "l.txt", "a.jpg 1 0\nb.jpg 0 1\n")
    assert read_list_file(path).labels.shape == (2, 2)
    write(path, "a.jpg 1 0\nb.jpg 0 1 1\n")
    with pytest.raises(HashbenchError, match=r"line 2 of .* has 3 labels, expected 2 \(as many"):
        read_list_file(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("a.jpg 0 1 0\n\nb.jpg 1 0 0\n", "line 2 of list file {path} is empty; remove it"),
        ("a.jpg 0 1 0\n   \n", "line 2 of list file {path} is empty"),
        ("a.jpg 0 1 0\nb.jpg\n", "line 2 of list file {path} has an image path but no labels"),
        ("a.jpg 0 2 0\n", "line 1 of list file {path} has label '2', but labels are 0 or 1"),
        ("a.jpg 0 1 0\nb.jpg 0 x 1\n", "line 2 of list file {path} has label 'x'"),
        ("a.jpg 0 1 0\nb.jpg 0 1\n", "line 2 of list file {path} has 2 labels, expected 3 (one"),
        ("a.jpg 0 1 0 1\n", "line 1 of list file {path} has 4 labels, expected 3"),
        ("a.jpg 0 1 0\nb.jpg 1 0 0\na.jpg 0 1 0\n", "line 3 of list file {path} lists a.jpg again"),
        ("", "list file {path} is empty; expected one image a line"),
        ("\n", "line 1 of list file {path} is empty"),
        (b"a.jpg 0 1 0\n\xff\xfe 1 0 0\n", "list file {path} is not UTF-8 text"),
    ],
)
def test_each_mistake_in_a_list_is_named_with_its_line(
    tmp_path: Path, content: str | bytes, message: str
) -> None:
    path = write(tmp_path / "train.txt", content)
    with pytest.raises(HashbenchError) as raised:
        read_list_file(path, classes=3)
    assert message.format(path=path) in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_missing_list_is_named(tmp_path: Path) -> None:
    with pytest.raises(HashbenchError, match="cannot read list file .*nope.txt"):
        read_list_file(tmp_path / "nope.txt", classes=3)


# -- merging lists ------------------------------------------------------------------------------
def test_lists_merge_into_sorted_distinct_items_with_parts(tmp_path: Path) -> None:
    test = read_list_file(write(tmp_path / "test.txt", "q.jpg 1 0\nb.jpg 0 1\n"), 2)
    train = read_list_file(write(tmp_path / "train.txt", "d.jpg 1 1\n"), 2)
    database = read_list_file(write(tmp_path / "database.txt", "d.jpg 1 1\na.jpg 0 0\n"), 2)
    merged = merge_lists([test, train, database])
    assert merged.images.tolist() == ["a.jpg", "b.jpg", "d.jpg", "q.jpg"]
    np.testing.assert_array_equal(merged.labels, [[0, 0], [0, 1], [1, 1], [1, 0]])
    assert {k: v.tolist() for k, v in merged.parts.items()} == {
        "test": [1, 3],
        "train": [2],
        "database": [0, 2],
    }
    assert merged.origin(2) == f"line 1 of list file {tmp_path / 'train.txt'}"
    assert merged.origin(0) == f"line 2 of list file {tmp_path / 'database.txt'}"


def test_an_image_listed_with_two_label_vectors_is_refused(tmp_path: Path) -> None:
    train = read_list_file(write(tmp_path / "train.txt", "x.jpg 0 1\nd.jpg 1 1\n"), 2)
    database = read_list_file(write(tmp_path / "database.txt", "a.jpg 0 0\nd.jpg 1 0\n"), 2)
    with pytest.raises(HashbenchError) as raised:
        merge_lists([train, database])
    assert str(raised.value) == (
        f"d.jpg has different labels on line 2 of list file {tmp_path / 'database.txt'} and on "
        f"line 2 of list file {tmp_path / 'train.txt'}; make the list files agree"
    )


# -- list-file data sets ------------------------------------------------------------------------
def expected_image(file: Path, size: int) -> np.ndarray:
    with Image.open(file) as image:
        rgb = image.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
        return np.asarray(rgb)


@pytest.mark.parametrize("layout", [COCO, NUSWIDE, IMAGENET100], ids=lambda x: x.dataset)
def test_a_list_data_set_reads_back_exactly(tmp_path: Path, layout) -> None:
    written = write_list_dataset(tmp_path / layout.dataset, layout)
    dataset = load_dataset(layout.dataset, data_root=tmp_path)
    assert dataset.name == layout.dataset and dataset.multi_label
    assert isinstance(dataset.images, np.memmap)
    assert dataset.images.shape == (72, 64, 64, 3) and dataset.images.dtype == np.uint8
    assert dataset.labels.shape == (72, layout.classes)
    assert len(dataset.class_names) == layout.classes
    assert set(dataset.parts) == {"test", "train", "database"}
    paths = {}
    for part, (images, labels) in written.lists.items():
        items = dataset.parts[part]
        assert len(items) == len(images)
        order = np.argsort(images)
        np.testing.assert_array_equal(dataset.labels[items], labels[order])
        paths.update(zip(items.tolist(), np.asarray(images)[order].tolist(), strict=True))
    assert len(paths) == 72
    for item in (0, 5, 33, 71):
        file = written.root / paths[item]
        np.testing.assert_array_equal(dataset.images[item], expected_image(file, 64))
    assert set(dataset.parts["train"]) <= set(dataset.parts["database"])
    assert not set(dataset.parts["test"]) & set(dataset.parts["database"])


def test_one_all_list_is_a_data_set_too(tmp_path: Path) -> None:
    written = write_list_dataset(tmp_path, COCO, one_list=True)
    dataset = load_dataset("coco", data_root=tmp_path)
    assert list(dataset.parts) == ["all"] and len(dataset) == len(written.lists["all"][0]) == 72


def test_the_image_root_is_found_by_data_root_or_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_list_dataset(tmp_path / "elsewhere", COCO)
    write_list_dataset(tmp_path / "data" / "coco", COCO, test=6, seed=1)
    monkeypatch.chdir(tmp_path)  # ./data is a default data root
    monkeypatch.delenv("HASHBENCH_DATA", raising=False)
    assert len(load_dataset("coco")) == 66
    monkeypatch.setenv("HASHBENCH_COCO_ROOT", str(tmp_path / "elsewhere"))
    assert len(load_dataset("coco")) == 72
    assert len(load_dataset("coco", data_root=tmp_path / "data")) == 66
    assert len(load_dataset("coco", data_root=tmp_path / "data" / "coco")) == 66


def test_no_image_root_says_where_it_looked_and_what_to_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(HashbenchError) as raised:
        load_dataset("nuswide", data_root=tmp_path)
    message = str(raised.value)
    assert f"{tmp_path}, {tmp_path / 'nuswide'}" in message
    assert "test.txt, train.txt, database.txt, all.txt" in message
    assert "HASHBENCH_NUSWIDE_ROOT" in message and "--data-root" in message


def test_a_missing_image_is_named_with_its_list_and_line(tmp_path: Path) -> None:
    written = write_list_dataset(tmp_path, NUSWIDE)
    train_images = written.lists["train"][0]
    (tmp_path / train_images[4]).unlink()
    with pytest.raises(HashbenchError) as raised:
        load_dataset("nuswide", data_root=tmp_path)
    assert str(raised.value) == (
        f"image {train_images[4]} on line 5 of list file {tmp_path / 'train.txt'} is missing: "
        f"no file {tmp_path / train_images[4]}; listed paths are relative to the image root "
        f"{tmp_path}; restore the image or remove the line"
    )


@pytest.mark.parametrize("listed", ["../outside.jpg", "a/../../outside.jpg", "/etc/passwd"])
def test_a_listed_path_outside_the_image_root_is_refused_unless_allowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, listed: str
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    path = write(root / "all.txt", f"in.jpg 1 0\n{listed} 0 1\n")
    with pytest.raises(HashbenchError) as raised:
        load_dataset(str(root))
    assert str(raised.value) == (
        f"line 2 of list file {path} names {listed}, which is outside the image root; list paths "
        "relative to the image root, or set HASHBENCH_ALLOW_OUTSIDE_ROOT=1 to read it anyway"
    )
    monkeypatch.setenv("HASHBENCH_ALLOW_OUTSIDE_ROOT", "1")
    assert read_list_file(path).images == ("in.jpg", listed)


def test_a_wrong_label_vector_in_a_data_set_is_named(tmp_path: Path) -> None:
    written = write_list_dataset(tmp_path, COCO)
    lines = (tmp_path / "database.txt").read_text().splitlines()
    lines[6] = f"{written.lists['database'][0][6]} 0 1 0"
    (tmp_path / "database.txt").write_text("\n".join(lines) + "\n")
    with pytest.raises(HashbenchError, match=r"line 7 of list file .*database.txt has 3 labels, "
                       r"expected 80 \(one per class\)"):  # fmt: skip
        load_dataset("coco", data_root=tmp_path)


def test_a_corrupt_image_is_named(tmp_path: Path) -> None:
    written = write_list_dataset(tmp_path, IMAGENET100)
    broken = written.lists["test"][0][2]
    (tmp_path / broken).write_bytes(b"not a jpeg")
    with pytest.raises(HashbenchError, match=f"cannot decode image {broken} in {tmp_path}"):
        load_dataset("imagenet100", data_root=tmp_path)


# -- the image store ----------------------------------------------------------------------------
def test_the_second_load_reads_no_image_and_a_changed_image_is_decoded_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written = write_list_dataset(tmp_path, COCO)
    first = load_dataset("coco", data_root=tmp_path)

    def refuse(*args: object) -> None:
        raise AssertionError("decoded again")

    with monkeypatch.context() as patch:
        patch.setattr(imagestore, "_decode_into", refuse)
        second = load_dataset("coco", data_root=tmp_path)
    assert second.checksum == first.checksum
    np.testing.assert_array_equal(second.images, first.images)

    changed = tmp_path / written.lists["test"][0][0]
    Image.new("RGB", (50, 40), (255, 0, 0)).save(changed, "JPEG")
    third = load_dataset("coco", data_root=tmp_path)
    assert third.checksum != first.checksum
    changed_rows = np.flatnonzero(np.any(third.images != first.images, axis=(1, 2, 3)))
    assert len(changed_rows) == 1
    np.testing.assert_array_equal(third.images[changed_rows[0]], expected_image(changed, 64))


def test_a_new_list_changes_the_checksum_but_not_the_stored_images(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_list_dataset(tmp_path, COCO)
    first = load_dataset("coco", data_root=tmp_path)
    text = (tmp_path / "database.txt").read_text() + (tmp_path / "test.txt").read_text()
    (tmp_path / "all.txt").write_text(text)
    monkeypatch.setattr(imagestore, "_decode_into", lambda *args: pytest.fail("decoded again"))
    second = load_dataset("coco", data_root=tmp_path)
    assert list(second.parts) == ["test", "train", "database", "all"]
    assert second.checksum != first.checksum
    np.testing.assert_array_equal(second.images, first.images)


def test_an_image_size_resizes_and_changes_the_checksum(tmp_path: Path) -> None:
    written = write_list_dataset(tmp_path, COCO)
    default = load_dataset("coco", data_root=tmp_path)
    small = load_dataset("coco", data_root=tmp_path, image_size=24)
    assert small.images.shape == (72, 24, 24, 3) and small.checksum != default.checksum
    name = sorted(written.lists["database"][0])[0]
    np.testing.assert_array_equal(small.images[0], expected_image(tmp_path / name, 24))


def test_parallel_decoding_matches_serial_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_list_dataset(tmp_path, NUSWIDE)
    monkeypatch.setattr(imagestore, "CHUNK_BYTES", 7 * 32 * 32 * 3)  # 11 chunks of 7 images
    monkeypatch.setattr(imagestore, "decode_workers", lambda: 1)
    serial = load_dataset("nuswide", data_root=tmp_path, image_size=32)
    monkeypatch.setenv("HASHBENCH_CACHE", str(tmp_path / "second-cache"))
    monkeypatch.setattr(imagestore, "decode_workers", lambda: 2)
    parallel = load_dataset("nuswide", data_root=tmp_path, image_size=32)
    assert parallel.checksum == serial.checksum
    np.testing.assert_array_equal(parallel.images, serial.images)


class CountingExecutor(Executor):
    """Runs each task at once, counting tasks submitted but not yet handed back."""

    def __init__(self) -> None:
        self.submitted = 0

    def submit(self, function, /, *args, **kwargs) -> Future:  # type: ignore[override]
        self.submitted += 1
        future: Future = Future()
        future.set_result(function(*args, **kwargs))
        return future


def test_decoded_chunks_waiting_in_memory_are_bounded() -> None:
    executor = CountingExecutor()
    waiting = []
    results = []
    for consumed, result in enumerate(imagestore._in_order(executor, str, range(20), 3), 1):
        waiting.append(executor.submitted - consumed)
        results.append(result)
    assert results == [str(i) for i in range(20)]
    assert max(waiting) == 2  # the window of 3 includes the one being handed back


def test_a_folder_of_list_files_is_a_data_set_by_path_with_its_own_label_count(
    tmp_path: Path,
) -> None:
    written = write_list_dataset(tmp_path / "mine", SMALL)
    dataset = load_dataset(str(tmp_path / "mine"))
    assert dataset.name == "lists-mine" and dataset.labels.shape[1] == SMALL.classes == 10
    assert sorted(dataset.parts) == ["database", "test", "train"]
    _, labels = written.lists["test"]
    test_labels = dataset.labels[dataset.parts["test"]]
    assert sorted(map(tuple, test_labels)) == sorted(map(tuple, labels))
    assert default_protocol(dataset.name).name == "listfolder"


def test_a_list_folder_may_take_its_images_from_another_root(tmp_path: Path) -> None:
    write_list_dataset(tmp_path / "images", SMALL)
    lists = tmp_path / "lists"
    lists.mkdir()
    for name in ("test.txt", "train.txt", "database.txt"):
        (lists / name).write_text((tmp_path / "images" / name).read_text())
    with pytest.raises(HashbenchError, match="is missing: no file"):
        load_dataset(str(lists))  # the images are not beside these lists
    dataset = load_dataset(str(lists), data_root=tmp_path / "images")
    assert len(dataset) == 72


@pytest.mark.parametrize(
    ("damage", "fragment"),
    [
        (lambda text: text.replace(" 0", " 2", 1), "has label '2', but labels are 0 or 1"),
        (lambda text: text.replace("\n", " 1\n", 1), "line 2 .* has 10 labels, expected 11"),
        (lambda text: text.replace(".jpg", "-gone.jpg", 1), "on line 1 of list file .* missing"),
    ],
)
def test_bad_list_folders_get_one_line(tmp_path: Path, damage, fragment: str) -> None:
    write_list_dataset(tmp_path / "mine", SMALL)
    test_list = tmp_path / "mine" / "test.txt"
    test_list.write_text(damage(test_list.read_text()))
    with pytest.raises(HashbenchError, match=fragment) as raised:
        load_dataset(str(tmp_path / "mine"))
    assert "\n" not in str(raised.value) and str(test_list) in str(raised.value)


def test_list_files_of_different_widths_are_refused(tmp_path: Path) -> None:
    write_list_dataset(tmp_path / "mine", SMALL)
    train = tmp_path / "mine" / "train.txt"
    train.write_text("".join(line + " 0\n" for line in train.read_text().splitlines()))
    with pytest.raises(HashbenchError, match=r"has 11 labels a line but .* has 10"):
        load_dataset(str(tmp_path / "mine"))
