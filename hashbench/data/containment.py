"""Images are read only from inside the folder that holds them, unless the user says otherwise.

A list file naming ``../../etc/passwd`` or ``/home/someone/photo.jpg``, or a link in an image
folder that points elsewhere, would read (and show in a report's gallery) files the data set
does not own. Both are refused in one line, unless ``HASHBENCH_ALLOW_OUTSIDE_ROOT=1`` says the
data set is laid out that way on purpose.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from hashbench.errors import HashbenchError

ALLOW_VARIABLE = "HASHBENCH_ALLOW_OUTSIDE_ROOT"
REMEDY = f"or set {ALLOW_VARIABLE}=1 to read it anyway"


def outside_allowed() -> bool:
    return os.environ.get(ALLOW_VARIABLE, "") not in ("", "0")


def require_relative(listed: str, where: str) -> None:
    """A listed path names a place under the root: not absolute, no ``..``."""
    path = PurePosixPath(listed)
    if (path.is_absolute() or ".." in path.parts) and not outside_allowed():
        raise HashbenchError(
            f"{where} names {listed}, which is outside the image root; list paths relative to "
            f"the image root, {REMEDY}"
        )


def require_inside(root: Path, file: Path) -> None:
    """A file found under ``root`` that is a link must lead to a file under ``root`` too."""
    if not file.is_symlink() or outside_allowed():
        return
    target = file.resolve()
    if not target.is_relative_to(root.resolve()):
        raise HashbenchError(
            f"{file} is a link to {target}, outside the image folder {root}; replace the link "
            f"by the image, {REMEDY}"
        )
