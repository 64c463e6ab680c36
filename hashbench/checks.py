"""The checks many settings share, written once so every message reads the same."""

from __future__ import annotations

from typing import Any

import numpy as np

from hashbench.errors import HashbenchError


def is_whole(value: Any, minimum: int = 1) -> bool:
    """Whether ``value`` is an integer (not a bool) of at least ``minimum``."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= minimum


def require_whole(value: Any, what: str, minimum: int = 1) -> int:
    """``value`` as an int, or one error line: ``<what> must be an integer >= <minimum>``."""
    if not is_whole(value, minimum):
        raise HashbenchError(f"{what} must be an integer >= {minimum}, got {value!r}")
    return int(value)
