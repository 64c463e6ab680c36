"""How much hashbench reads from a file before it knows the file is sane.

An archive member, an image file or an array in a codes file is refused, in one line, when it
would take more memory than these limits; each can be raised through its environment variable
(a whole number of megabytes, or of pixels). The defaults are far above any real data set's
items (a CIFAR-10 batch is 31 MB, a JPEG of ImageNet well under 1 MB, 4096 x 4096 pixels a
large photograph) and far below what exhausts a workstation.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

from hashbench.errors import HashbenchError

MB = 1 << 20


@dataclass(frozen=True)
class Limit:
    variable: str
    default: int
    #: What the number counts, and the factor to the unit the code compares with.
    unit: str
    scale: int

    def value(self) -> int:
        """The limit in the code's unit (bytes or pixels), from the environment or default."""
        text = os.environ.get(self.variable, "")
        if not text:
            return self.default * self.scale
        if not text.isdigit() or int(text) < 1:
            raise HashbenchError(
                f"{self.variable}={text!r} is not a limit; give a whole number of {self.unit}, "
                f"e.g. {self.default}, or unset it"
            )
        return int(text) * self.scale

    def exceeded(self, what: str, amount: int | None = None) -> HashbenchError:
        """The error for ``what`` going past the limit (needing ``amount``, where known)."""
        needs = "" if amount is None else f" (it needs {amount / self.scale:,.0f})"
        return HashbenchError(
            f"{what} exceeds the limit of {self.value() / self.scale:,.0f} {self.unit}{needs}; "
            f"if the file is what you meant, raise the limit with {self.variable}=N"
        )

    def require(self, what: str, amount: int) -> None:
        if amount > self.value():
            raise self.exceeded(what, amount)


#: Bytes of one file read from a folder or an archive (an image, a CIFAR-10 batch).
MEMBER_BYTES = Limit("HASHBENCH_MAX_MEMBER_MB", 64, "MB", MB)
#: Bytes of everything read from one folder or archive of images (held in memory to decode).
SOURCE_BYTES = Limit("HASHBENCH_MAX_SOURCE_MB", 8192, "MB", MB)
#: Pixels of one decoded image (checked from its header, before it is decoded).
IMAGE_PIXELS = Limit("HASHBENCH_MAX_IMAGE_PIXELS", 4096 * 4096, "pixels", 1)
#: Bytes of one array built from a file's contents (a codes file's arrays, a source's decoded
#: images), checked before it is allocated.
ARRAY_BYTES = Limit("HASHBENCH_MAX_ARRAY_MB", 16384, "MB", MB)

#: The .npy format versions numpy writes for plain arrays, and their header readers.
NPY_HEADER_READERS = {
    (1, 0): np.lib.format.read_array_header_1_0,
    (2, 0): np.lib.format.read_array_header_2_0,
}


@dataclass(frozen=True)
class ArrayHeader:
    """What an .npy header says its array is, and where the array's bytes begin."""

    shape: tuple[int, ...]
    dtype: np.dtype
    offset: int

    @property
    def size(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


def read_array_header(handle: BinaryIO, what: str) -> ArrayHeader:
    """The header of the .npy array ``handle`` is at, read before anything is allocated from
    it: a format numpy writes, and plain numbers (never objects, which would be unpickled)."""
    version = np.lib.format.read_magic(handle)
    if version not in NPY_HEADER_READERS:
        raise HashbenchError(f"{what} is in .npy format {version}; save it with numpy.save(z)")
    shape, _, dtype = NPY_HEADER_READERS[version](handle)
    if dtype.hasobject:
        raise HashbenchError(f"{what} holds Python objects; store plain numeric arrays")
    return ArrayHeader(shape, dtype, handle.tell())
