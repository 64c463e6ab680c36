"""List-file data sets (MS-COCO, NUS-WIDE, ImageNet-100 as the hashing literature ships them).

A list file names one image a line, by its path relative to an image root, then the image's
multi-hot label vector, as HashNet and DeepHash-pytorch publish them::

    train2014/COCO_train2014_000000000009.jpg 0 1 0 ... 1

The image root holds the images and the list files: ``test.txt``, ``train.txt`` and
``database.txt`` (DeepHash-pytorch's names for the circulated splits) and/or ``all.txt`` (every
image once, for protocols that draw their own splits). Each list file present is a part of the
data set, named after the file; the data set's items are the distinct listed images, sorted by
path, so that the same lists always give the same item order. Every mistake in a list is one
error naming the file and the line.

Besides the named data sets, any folder of list files is a data set by its path
(``--dataset PATH``): ``lists-<folder>``, with as many labels as its lines have (all lines of
all its lists must agree), images resolved against the folder or a given image root.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hashbench.data.containment import require_relative
from hashbench.data.dataset import Dataset
from hashbench.data.imagestore import store_images
from hashbench.errors import DataNotFound, HashbenchError
from hashbench.fileio import sha256_file

#: The list files looked for in an image root, in this order; each found one becomes a part.
LIST_FILES = ("test.txt", "train.txt", "database.txt", "all.txt")
FORMAT = "'relative/path.jpg 0 1 0 ... 1' (an image path, then one 0 or 1 per class)"


@dataclass(frozen=True)
class ListSource:
    """Where a list-file data set lives and what its lists must hold."""

    name: str
    #: Labels per line; None: as many as the first list's first line has.
    classes: int | None
    #: The sub-folder of a data root searched for the image root (the root itself is, too).
    folder: str
    #: The environment variable naming the image root when no --data-root is given.
    env: str
    #: Images are resized to this square size unless the user asks for another.
    image_size: int = 64


@dataclass(frozen=True)
class ImageList:
    """One list file: the image paths as written, and uint8 multi-hot labels (n, classes)."""

    path: Path
    images: tuple[str, ...]
    labels: np.ndarray

    def where(self, index: int) -> str:
        """The list file and line of item ``index`` (lists hold no blank lines)."""
        return f"line {index + 1} of list file {self.path}"


def read_list_file(path: Path, classes: int | None = None) -> ImageList:
    """Parse and check a list file; ``classes`` is the label vector's length (else line 1's)."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise HashbenchError(
            f"list file {path} is not UTF-8 text ({error}); expected lines {FORMAT}"
        ) from error
    except OSError as error:
        raise HashbenchError(f"cannot read list file {path}: {error}") from error
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # the final newline ends the last line; it does not start an empty one
    if not lines:
        raise HashbenchError(f"list file {path} is empty; expected one image a line, {FORMAT}")
    images: list[str] = []
    rows: list[str] = []
    first_line: dict[str, int] = {}
    expected = classes
    for number, line in enumerate(lines, start=1):
        fields = line.split()
        where = f"line {number} of list file {path}"
        if not fields:
            raise HashbenchError(f"{where} is empty; remove it (expected {FORMAT})")
        image, labels = fields[0], fields[1:]
        require_relative(image, where)
        if not labels:
            raise HashbenchError(f"{where} has an image path but no labels; expected {FORMAT}")
        if not set(labels) <= {"0", "1"}:
            wrong = next(label for label in labels if label not in ("0", "1"))
            raise HashbenchError(
                f"{where} has label {wrong!r}, but labels are 0 or 1; expected {FORMAT}"
            )
        expected = len(labels) if expected is None else expected
        if len(labels) != expected:
            whose = "one per class" if classes is not None else "as many as line 1"
            raise HashbenchError(
                f"{where} has {len(labels)} labels, expected {expected} ({whose}); "
                "fix or remove that line"
            )
        if image in first_line:
            raise HashbenchError(
                f"{where} lists {image} again (first on line {first_line[image]}); "
                "remove one of the two lines"
            )
        first_line[image] = number
        images.append(image)
        rows.append("".join(labels))
    flat = np.frombuffer("".join(rows).encode("ascii"), dtype=np.uint8) - ord("0")
    return ImageList(path, tuple(images), flat.reshape(len(rows), -1))


@dataclass(frozen=True)
class MergedLists:
    """The distinct images of several lists, sorted, with their labels and each list's items."""

    images: np.ndarray
    labels: np.ndarray
    parts: dict[str, np.ndarray]
    lists: tuple[ImageList, ...]
    #: Row of each item's first listing in the lists concatenated, and where each list starts.
    first: np.ndarray
    starts: np.ndarray

    def origin(self, item: int) -> str:
        """Where item ``item`` is first listed: "line N of FILE"."""
        return self._where(int(self.first[item]))

    def _where(self, row: int) -> str:
        which = int(np.searchsorted(self.starts, row, side="right")) - 1
        return self.lists[which].where(row - int(self.starts[which]))


def merge_lists(lists: Sequence[ImageList]) -> MergedLists:
    """One item per distinct path; an image listed twice must carry the same labels."""
    listed = np.concatenate([np.asarray(image_list.images) for image_list in lists])
    labels = np.concatenate([image_list.labels for image_list in lists])
    starts = np.cumsum([0] + [len(image_list.images) for image_list in lists])
    images, first, inverse = np.unique(listed, return_index=True, return_inverse=True)
    parts = {
        image_list.path.stem: np.sort(inverse[starts[k] : starts[k + 1]]).astype(np.int64)
        for k, image_list in enumerate(lists)
    }
    merged = MergedLists(images, labels[first], parts, tuple(lists), first, starts)
    clash = np.flatnonzero(np.any(labels != merged.labels[inverse], axis=1))
    if len(clash):
        row = int(clash[0])
        raise HashbenchError(
            f"{listed[row]} has different labels on {merged._where(row)} and on "
            f"{merged.origin(int(inverse[row]))}; make the list files agree"
        )
    return merged


def find_image_root(source: ListSource, roots: Sequence[Path]) -> Path:
    """The first of each root and its ``source.folder`` sub-folder that holds a list file."""
    candidates = [path for root in roots for path in (Path(root), Path(root) / source.folder)]
    for candidate in candidates:
        if any((candidate / name).is_file() for name in LIST_FILES):
            return candidate
    looked = ", ".join(str(candidate) for candidate in candidates)
    raise DataNotFound(
        f"{source.name} not found: none of {', '.join(LIST_FILES)} in {looked}; put the list "
        f"files in the folder the listed image paths are relative to, and pass that folder "
        f"with --data-root DIR or set {source.env}"
    )


def load_list_dataset(
    source: ListSource, roots: Sequence[Path], image_size: int | None = None
) -> Dataset:
    """The data set in the first image root found in ``roots``, images resized to a square."""
    root = find_image_root(source, roots)
    return read_lists(source, root, root, image_size)


#: The name prefix of list-file folders given by path; their default protocol is ``listfolder``.
LIST_FOLDER_PREFIX = "lists-"


def is_list_folder(path: Path) -> bool:
    return path.is_dir() and any((path / name).is_file() for name in LIST_FILES)


def load_list_folder(
    folder: Path, image_size: int | None = None, image_root: Path | None = None
) -> Dataset:
    """A folder of list files as a data set; images relative to ``image_root`` (the folder)."""
    folder = Path(folder).resolve()
    source = ListSource(f"{LIST_FOLDER_PREFIX}{folder.name}", None, "", "")
    return read_lists(source, folder, Path(image_root or folder), image_size)


def read_lists(
    source: ListSource, folder: Path, image_root: Path, image_size: int | None
) -> Dataset:
    found = [folder / name for name in LIST_FILES if (folder / name).is_file()]
    lists = [read_list_file(path, source.classes) for path in found]
    first = lists[0]
    for other in lists[1:]:
        if other.labels.shape[1] != first.labels.shape[1]:
            raise HashbenchError(
                f"list file {other.path} has {other.labels.shape[1]} labels a line but "
                f"{first.path} has {first.labels.shape[1]}; every line of every list file "
                "must have one label per class"
            )
    classes = first.labels.shape[1]
    merged = merge_lists(lists)
    size = image_size or source.image_size
    stored = store_images(image_root, merged.images.tolist(), size, merged.origin)
    digest = hashlib.sha256()
    for path in found:
        digest.update(f"{path.name}\0{sha256_file(path)}\0".encode())
    digest.update(f"images\0{stored.checksum}\0size\0{size}".encode())
    return Dataset(
        name=source.name,
        images=stored.images,
        labels=merged.labels,
        parts=merged.parts,
        class_names=tuple(str(label) for label in range(classes)),
        checksum=digest.hexdigest(),
        source=f"{folder} (lists {', '.join(p.name for p in found)}; images {size}x{size})",
    )
