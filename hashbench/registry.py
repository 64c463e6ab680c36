"""The method registry: a name for every hashing method, built-in or from another package.

Like timm's model registry: a method class is registered with one decorator next to its
definition, ``list_methods`` filters names with shell-style wildcards and ``create_method``
builds any of them. Built-in methods are the modules of :mod:`hashbench.methods`. Other
packages add methods without touching hashbench, pytest-plugin style, through the entry-point
group ``hashbench.methods``::

    [project.entry-points."hashbench.methods"]
    mymethod = "my_package.my_module:MyMethod"

Names, summaries, parameters and defaults come from each method's *declared class*, read from
its source without running its module (:mod:`hashbench.declarations`), so listing methods or
telling a table's variants imports no training code; a method's module is imported only when
the method is built (``get_method``, ``create_method``).
"""

from __future__ import annotations

import fnmatch
import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any, TypeVar

from hashbench.constraints import Constraint, check_settings
from hashbench.declarations import ModuleSource, declared_class
from hashbench.errors import HashbenchError
from hashbench.method import HashingMethod

ENTRY_POINT_GROUP = "hashbench.methods"
MethodClass = TypeVar("MethodClass", bound=type[HashingMethod])


@dataclass(frozen=True)
class MethodSource:
    """Where a method's class is declared: its module and class, and who provides it."""

    module: str
    class_name: str
    #: The built-in module, or "package <distribution>" for an entry point's.
    origin: str
    entry_point: EntryPoint | None = None

    def load(self, name: str) -> type:
        """The method's class itself, its module imported (an entry point's loaded)."""
        try:
            if self.entry_point is not None:
                return self.entry_point.load()
            return getattr(importlib.import_module(self.module), self.class_name)
        except Exception as error:  # a broken plugin must not hide the built-in methods
            raise HashbenchError(
                f"could not load method {name!r} from {self.origin} "
                f"({self.module}:{self.class_name}): {type(error).__name__}: {error}; "
                "fix or uninstall that package"
            ) from error

    def declared(self, name: str) -> type:
        """The method's declared class, its module not run."""
        try:
            return declared_class(ModuleSource.find(self.module), self.class_name)
        except HashbenchError as error:
            raise HashbenchError(
                f"could not read method {name!r} from {self.origin} "
                f"({self.module}:{self.class_name}): {error}; fix or uninstall that package"
            ) from error


class MethodRegistry:
    """Name -> method class, with the built-in and entry-point methods found on demand."""

    def __init__(self, builtin_package: str, entry_point_group: str) -> None:
        self._builtin_package = builtin_package
        self._entry_point_group = entry_point_group
        self._methods: dict[str, type[HashingMethod]] = {}
        self._origins: dict[str, str] = {}
        self._declared: dict[str, type[HashingMethod]] = {}
        self._found: dict[str, MethodSource] | None = None

    def register(self, name: str) -> Callable[[MethodClass], MethodClass]:
        """Class decorator: ``@register_method("lsh")``."""

        def decorate(cls: MethodClass) -> MethodClass:
            self._add(name, cls, origin=cls.__module__)
            return cls

        return decorate

    def _add(self, name: str, cls: type, origin: str) -> None:
        _check_class(name, cls, origin)
        if name in self._methods and self._methods[name] is not cls:
            raise HashbenchError(
                f"method name {name!r} is registered twice: by {self._origins[name]} and {origin}"
            )
        cls.name = name
        self._methods[name] = cls
        self._origins[name] = origin

    @property
    def _sources(self) -> dict[str, MethodSource]:
        """Every built-in and entry-point method's source, found by reading, not importing."""
        if self._found is not None:
            return self._found
        found: dict[str, MethodSource] = {}
        package = importlib.import_module(self._builtin_package)
        for module in pkgutil.iter_modules(package.__path__):
            name = f"{self._builtin_package}.{module.name}"
            for method, class_name in ModuleSource.find(name).registered().items():
                found[method] = MethodSource(name, class_name, origin=name)
        for entry_point in entry_points(group=self._entry_point_group):
            module, _, class_name = entry_point.value.partition(":")
            origin = f"package {entry_point.dist.name if entry_point.dist else '?'}"
            source = MethodSource(module.strip(), class_name.strip(), origin, entry_point)
            known = found.get(entry_point.name)
            if known is not None and (known.module, known.class_name) != (
                source.module,
                source.class_name,
            ):
                raise HashbenchError(
                    f"method name {entry_point.name!r} is registered twice: by {known.origin} "
                    f"and {origin}"
                )
            found[entry_point.name] = source
        self._found = found
        return found

    def names(self, pattern: str = "*") -> list[str]:
        known = set(self._sources) | set(self._methods)
        return sorted(name for name in known if fnmatch.fnmatchcase(name, pattern))

    def _source(self, name: str) -> MethodSource:
        if name not in self._sources:
            known = ", ".join(self.names())
            raise HashbenchError(
                f"unknown method {name!r}; known methods: {known} (see `hashbench list`)"
            )
        return self._sources[name]

    def get(self, name: str) -> type[HashingMethod]:
        """The method's class, its module imported."""
        if name not in self._methods:
            source = self._source(name)
            cls = source.load(name)
            if name not in self._methods or source.entry_point is not None:
                self._add(name, cls, origin=source.origin)
        return self._methods[name]

    def declaration(self, name: str) -> type[HashingMethod]:
        """The method's class as far as its declarations go (summary, kind, ``parameters``,
        ``default_params``), without importing its module: the class itself once imported."""
        if name in self._methods:
            return self._methods[name]
        if name not in self._declared:
            source = self._source(name)
            cls = source.declared(name)
            _check_class(name, cls, source.origin)
            cls.name = name
            self._declared[name] = cls
        return self._declared[name]

    def origin(self, name: str) -> str:
        if name in self._origins:
            return self._origins[name]
        return self._source(name).origin

    def check_params(self, name: str, params: dict[str, Any]) -> None:
        """Refuse a hyper-parameter the method does not declare (``bits`` and ``seed`` included:
        they are set per run, not per method) or a value its constraint does not admit."""
        settable = {
            key: constraint
            for key, constraint in self.declaration(name).declared_parameters().items()
            if key not in ("bits", "seed")
        }
        check_settings(name, settable, params)

    def create(self, name: str, bits: int, seed: int = 0, **params: Any) -> HashingMethod:
        """The method, its every setting checked before it is built."""
        self.check_params(name, params)
        cls = self.get(name)
        check_settings(name, cls.declared_parameters(), {"bits": bits, "seed": seed})
        return cls(bits=bits, seed=seed, **params)


def _check_class(name: str, cls: type, origin: str) -> None:
    if not (isinstance(cls, type) and issubclass(cls, HashingMethod)):
        raise HashbenchError(
            f"method {name!r} from {origin} is not a subclass of hashbench.HashingMethod"
        )
    _check_declarations(name, cls, origin)


def _check_declarations(name: str, cls: type[HashingMethod], origin: str) -> None:
    """A method declares a constraint for each constructor argument, and only for those."""
    declared = cls.declared_parameters()
    names = cls.param_names()
    undeclared = [key for key in names if key not in declared]
    extra = [key for key in declared if key not in names]
    wrong = [key for key, value in declared.items() if not isinstance(value, Constraint)]
    problems = []
    if undeclared:
        problems.append(f"declares no constraint for {', '.join(undeclared)}")
    if extra:
        problems.append(f"declares {', '.join(extra)}, which its __init__ does not take")
    if wrong:
        problems.append(f"declares {', '.join(wrong)} with no hashbench.constraints object")
    if problems:
        raise HashbenchError(
            f"method {name!r} from {origin} {'; '.join(problems)}: give each constructor "
            "argument a constraint in the class's `parameters` (see the README, Adding a method)"
        )


REGISTRY = MethodRegistry("hashbench.methods", ENTRY_POINT_GROUP)
register_method = REGISTRY.register
list_methods = REGISTRY.names
get_method = REGISTRY.get
create_method = REGISTRY.create
check_params = REGISTRY.check_params
