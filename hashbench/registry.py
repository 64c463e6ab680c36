"""The method registry: a name for every hashing method, built-in or from another package.

Like timm's model registry: a method class is registered with one decorator next to its
definition, ``list_methods`` filters names with shell-style wildcards and ``create_method``
builds any of them. Built-in methods are the modules of :mod:`hashbench.methods`. Other
packages add methods without touching hashbench, pytest-plugin style, through the entry-point
group ``hashbench.methods``::

    [project.entry-points."hashbench.methods"]
    mymethod = "my_package.my_module:MyMethod"

Everything is loaded lazily, on the first lookup.
"""

from __future__ import annotations

import fnmatch
import importlib
import pkgutil
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any, TypeVar

from hashbench.constraints import Constraint, check_settings
from hashbench.errors import HashbenchError
from hashbench.method import HashingMethod

ENTRY_POINT_GROUP = "hashbench.methods"
MethodClass = TypeVar("MethodClass", bound=type[HashingMethod])


class MethodRegistry:
    """Name -> method class, with the built-in and entry-point methods found on demand."""

    def __init__(self, builtin_package: str, entry_point_group: str) -> None:
        self._builtin_package = builtin_package
        self._entry_point_group = entry_point_group
        self._methods: dict[str, type[HashingMethod]] = {}
        self._origins: dict[str, str] = {}
        self._discovered = False

    def register(self, name: str) -> Callable[[MethodClass], MethodClass]:
        """Class decorator: ``@register_method("lsh")``."""

        def decorate(cls: MethodClass) -> MethodClass:
            self._add(name, cls, origin=cls.__module__)
            return cls

        return decorate

    def _add(self, name: str, cls: type, origin: str) -> None:
        if not (isinstance(cls, type) and issubclass(cls, HashingMethod)):
            raise HashbenchError(
                f"method {name!r} from {origin} is not a subclass of hashbench.HashingMethod"
            )
        _check_declarations(name, cls, origin)
        if name in self._methods and self._methods[name] is not cls:
            raise HashbenchError(
                f"method name {name!r} is registered twice: by {self._origins[name]} and {origin}"
            )
        cls.name = name
        self._methods[name] = cls
        self._origins[name] = origin

    def _discover(self) -> None:
        if self._discovered:
            return
        self._discovered = True
        package = importlib.import_module(self._builtin_package)
        for module in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"{self._builtin_package}.{module.name}")
        for entry_point in entry_points(group=self._entry_point_group):
            origin = f"package {entry_point.dist.name if entry_point.dist else '?'}"
            try:
                cls = entry_point.load()
            except Exception as error:  # a broken plugin must not hide the built-in methods
                raise HashbenchError(
                    f"could not load method {entry_point.name!r} from {origin} "
                    f"({entry_point.value}): {type(error).__name__}: {error}; "
                    "fix or uninstall that package"
                ) from error
            self._add(entry_point.name, cls, origin=origin)

    def names(self, pattern: str = "*") -> list[str]:
        self._discover()
        return sorted(name for name in self._methods if fnmatch.fnmatchcase(name, pattern))

    def get(self, name: str) -> type[HashingMethod]:
        self._discover()
        if name not in self._methods:
            known = ", ".join(self.names())
            raise HashbenchError(
                f"unknown method {name!r}; known methods: {known} (see `hashbench list`)"
            )
        return self._methods[name]

    def origin(self, name: str) -> str:
        self.get(name)
        return self._origins[name]

    def check_params(self, name: str, params: dict[str, Any]) -> None:
        """Refuse a hyper-parameter the method does not declare (``bits`` and ``seed`` included:
        they are set per run, not per method) or a value its constraint does not admit."""
        settable = {
            key: constraint
            for key, constraint in self.get(name).declared_parameters().items()
            if key not in ("bits", "seed")
        }
        check_settings(name, settable, params)

    def create(self, name: str, bits: int, seed: int = 0, **params: Any) -> HashingMethod:
        """The method, its every setting checked before it is built."""
        self.check_params(name, params)
        cls = self.get(name)
        check_settings(name, cls.declared_parameters(), {"bits": bits, "seed": seed})
        return cls(bits=bits, seed=seed, **params)


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
