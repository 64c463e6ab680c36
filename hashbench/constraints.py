"""What a value may be, declared once as plain data and checked by one function.

A method declares each parameter's constraint, in the spirit of scikit-learn's
``_parameter_constraints``::

    parameters = {"iterations": Integer(minimum=0), "gamma": Real(above=0)}

and the files hashbench reads (records, run configs, claims, grid files) declare their fields
with the same constraints. Constraints are frozen dataclasses of plain values (numbers, strings,
tuples), so a listing can show them and a reader can load them without importing the code they
guard. Every failure is one line: where the value is, what it must be and what it was.
"""

from __future__ import annotations

import math
import numbers
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hashbench.errors import HashbenchError

#: Longer values are shortened in messages, which stay one line.
SHOWN_CHARACTERS = 60
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")


def shown(value: Any) -> str:
    """``repr(value)``, cut to fit a one-line message (repr escapes newlines)."""
    text = repr(value)
    return text if len(text) <= SHOWN_CHARACTERS else text[: SHOWN_CHARACTERS - 3] + "..."


def place(where: str, key: object) -> str:
    """``where.key``, or ``key`` at the top."""
    return f"{where}.{key}" if where else str(key)


class Constraint(ABC):
    """What one value may be."""

    @abstractmethod
    def describe(self) -> str:
        """What a value must be, as the end of "x must be ..."."""

    @abstractmethod
    def fits(self, value: Any) -> bool:
        """Whether ``value`` itself fits (containers: its shape, not its items)."""

    def problem(self, value: Any, where: str) -> str | None:
        """None if ``value`` fits, else ``<where> must be <what>, got <value>``."""
        if self.fits(value):
            return None
        return f"{where} must be {self.describe()}, got {shown(value)}"


def _is_integer(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


@dataclass(frozen=True)
class Integer(Constraint):
    """An integer (not a bool, not a float such as 2.0) within ``minimum``..``maximum``."""

    minimum: int | None = None
    maximum: int | None = None

    def describe(self) -> str:
        if self.minimum is not None and self.maximum is not None:
            return f"an integer in [{self.minimum}, {self.maximum}]"
        if self.minimum is not None:
            return f"an integer >= {self.minimum}"
        if self.maximum is not None:
            return f"an integer <= {self.maximum}"
        return "an integer"

    def fits(self, value: Any) -> bool:
        return (
            _is_integer(value)
            and (self.minimum is None or value >= self.minimum)
            and (self.maximum is None or value <= self.maximum)
        )


@dataclass(frozen=True)
class Real(Constraint):
    """A finite number (integers count) within bounds: ``minimum``/``maximum`` include the
    bound, ``above``/``below`` exclude it. ``finite=False`` admits NaN and infinities (a
    record's measured values), which no setting may be."""

    minimum: float | None = None
    above: float | None = None
    maximum: float | None = None
    below: float | None = None
    finite: bool = True

    def describe(self) -> str:
        opening, low = ("[", self.minimum) if self.minimum is not None else ("(", self.above)
        closing, high = ("]", self.maximum) if self.maximum is not None else (")", self.below)
        if low is not None and high is not None:
            return f"a number in {opening}{low}, {high}{closing}"
        if low is not None:
            return f"a number {'>=' if opening == '[' else '>'} {low}"
        if high is not None:
            return f"a number {'<=' if closing == ']' else '<'} {high}"
        return "a number" if self.finite else "a number, NaN or Infinity"

    def fits(self, value: Any) -> bool:
        if not _is_number(value):
            return False
        if not math.isfinite(value):
            return not self.finite and all(
                bound is None for bound in (self.minimum, self.above, self.maximum, self.below)
            )
        return (
            (self.minimum is None or value >= self.minimum)
            and (self.above is None or value > self.above)
            and (self.maximum is None or value <= self.maximum)
            and (self.below is None or value < self.below)
        )


@dataclass(frozen=True)
class Boolean(Constraint):
    def describe(self) -> str:
        return "true or false"

    def fits(self, value: Any) -> bool:
        return isinstance(value, bool)


@dataclass(frozen=True)
class Text(Constraint):
    """A non-empty string."""

    def describe(self) -> str:
        return "a non-empty text"

    def fits(self, value: Any) -> bool:
        return isinstance(value, str) and value != ""


@dataclass(frozen=True)
class Name(Constraint):
    """A name that is safe as one file or folder name: it can never lead out of a folder."""

    def describe(self) -> str:
        return "a name of letters, digits, '_', '-' and '.' (not starting with '.' or '-')"

    def fits(self, value: Any) -> bool:
        return isinstance(value, str) and _NAME.fullmatch(value) is not None


@dataclass(frozen=True)
class OneOf(Constraint):
    choices: tuple[Any, ...]

    def describe(self) -> str:
        return "one of " + ", ".join(str(choice) for choice in self.choices)

    def fits(self, value: Any) -> bool:
        # 1 == True in Python: a choice matches only a value of its own type.
        return any(type(value) is type(c) and value == c for c in self.choices)


@dataclass(frozen=True)
class File(Constraint):
    """The path of an existing regular file (its contents are the reader's to check)."""

    def describe(self) -> str:
        return "the path of an existing file"

    def fits(self, value: Any) -> bool:
        return isinstance(value, (str, Path)) and str(value) != "" and Path(value).is_file()


@dataclass(frozen=True)
class Anything(Constraint):
    def describe(self) -> str:
        return "any value"

    def fits(self, value: Any) -> bool:
        return True


@dataclass(frozen=True)
class Nullable(Constraint):
    """null (None), or what ``inner`` accepts."""

    inner: Constraint

    def describe(self) -> str:
        return f"null or {self.inner.describe()}"

    def fits(self, value: Any) -> bool:
        return value is None or self.inner.fits(value)

    def problem(self, value: Any, where: str) -> str | None:
        if not self.fits(value):
            return super().problem(value, where)
        return None if value is None else self.inner.problem(value, where)


@dataclass(frozen=True)
class ListOf(Constraint):
    """A list (or tuple) of at least ``minimum_length`` items, each fitting ``item``."""

    item: Constraint
    minimum_length: int = 1

    def describe(self) -> str:
        size = "a non-empty list" if self.minimum_length == 1 else "a list"
        if self.minimum_length > 1:
            size = f"a list of at least {self.minimum_length} items"
        return f"{size}, each {self.item.describe()}"

    def fits(self, value: Any) -> bool:
        return isinstance(value, (list, tuple)) and len(value) >= self.minimum_length

    def problem(self, value: Any, where: str) -> str | None:
        if not self.fits(value):
            return super().problem(value, where)
        for index, item in enumerate(value):
            if found := self.item.problem(item, f"{where}[{index}]"):
                return found
        return None


@dataclass(frozen=True)
class MappingOf(Constraint):
    """A table (a JSON object) of text keys, each value fitting ``values``."""

    values: Constraint = Anything()

    def describe(self) -> str:
        if isinstance(self.values, Anything):
            return "a table"
        return f"a table whose values are each {self.values.describe()}"

    def fits(self, value: Any) -> bool:
        return isinstance(value, Mapping) and all(isinstance(key, str) for key in value)

    def problem(self, value: Any, where: str) -> str | None:
        if not self.fits(value):
            return super().problem(value, where)
        for key, item in value.items():
            if found := self.values.problem(item, place(where, key)):
                return found
        return None


@dataclass(frozen=True)
class Fields(Constraint):
    """A table with the ``required`` keys and perhaps the ``optional`` ones, each fitting its
    constraint; other keys are left alone (a newer writer may add some)."""

    required: Mapping[str, Constraint]
    optional: Mapping[str, Constraint] = field(default_factory=dict)

    def describe(self) -> str:
        return "a table with " + ", ".join(self.required)

    def fits(self, value: Any) -> bool:
        return isinstance(value, Mapping)

    def problem(self, value: Any, where: str) -> str | None:
        if not self.fits(value):
            return super().problem(value, where)
        for key, constraint in self.required.items():
            if key not in value:
                return f"{place(where, key)} is missing (it must be {constraint.describe()})"
        for key, constraint in {**self.required, **self.optional}.items():
            if key in value and (found := constraint.problem(value[key], place(where, key))):
                return found
        return None


POSITIVE_INTEGER = Integer(minimum=1)


def check(value: Any, constraint: Constraint, what: str, remedy: str = "") -> Any:
    """``value`` unchanged if it fits, else one error line: ``<what>: <problem>[; <remedy>]``."""
    found = constraint.problem(value, "")
    if found is None:
        return value
    # A problem with the value itself reads "<what> must be ..."; one inside it "<what>: x ...".
    message = f"{what}{found}" if found.startswith(" ") else f"{what}: {found}"
    raise HashbenchError(message + (f"; {remedy}" if remedy else ""))


def check_settings(
    owner: str, declared: Mapping[str, Constraint], values: Mapping[str, Any]
) -> None:
    """Refuse a setting ``owner`` does not declare, or a value its constraint does not admit."""
    unknown = sorted(set(values) - set(declared))
    if unknown:
        raise HashbenchError(
            f"{owner} has no settable parameter {', '.join(unknown)}; "
            f"its parameters: {', '.join(declared) or '(none)'}"
        )
    for name, value in values.items():
        if found := declared[name].problem(value, name):
            raise HashbenchError(f"{owner}: {found}")
