"""A method class's declarations, read from its source without running its module.

``hashbench list``, tables and the report need what a method declares (its summary, kind,
parameters with their constraints and defaults) but none of its training code, whose module
imports torch: 2.4 s and 800 MiB before the first line is printed. So the registry reads a
method's class statement from its file (built-in or a plugin's) with :mod:`ast` and makes a
*declared class* of it: a subclass of the method's real base classes (imported: hashbench's
own bases import no torch), with the class's docstring, the class-level settings its bases
declare (``parameters``, ``input_kind``, ``supervised``, ``scratch_recipe``, ...) and its
``__init__``'s signature. It lists, checks settings and gives defaults as the method itself
does (a test holds every built-in method to it), but it cannot be built: running a method
imports its module through the registry.

The settings and the ``__init__`` defaults are Python expressions evaluated as the class
statement would evaluate them, each name taken from the class body, else from the module's
top level: an import (imported then), an assignment (evaluated the same way), a class (read
the same way), else a builtin. A name bound otherwise (a function, a loop) stops the read
with one line.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import importlib
import importlib.util
import inspect
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from hashbench.errors import HashbenchError

#: The decorator whose string argument names a built-in method.
REGISTER = "register_method"


class DeclarationError(HashbenchError):
    """A declaration that cannot be read without running its module."""


class UndefinedName(DeclarationError):
    """A name the module does not bind (perhaps a comprehension's own variable)."""


@dataclass
class ModuleSource:
    """One module's top-level statements, read and evaluated on demand."""

    name: str
    path: Path
    tree: ast.Module
    _values: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def find(cls, module: str) -> ModuleSource:
        """The source of ``module``, found as ``import`` would find it but not run."""
        try:
            spec = importlib.util.find_spec(module)
        except (ImportError, ValueError) as error:
            raise DeclarationError(f"module {module} cannot be found ({error})") from error
        if spec is None:
            raise DeclarationError(f"module {module} cannot be found")
        if spec.origin is None or not spec.origin.endswith(".py"):
            raise DeclarationError(f"module {module} has no Python source to read")
        path = Path(spec.origin)
        try:
            tree = ast.parse(path.read_bytes(), filename=str(path))
        except (OSError, SyntaxError, ValueError) as error:
            raise DeclarationError(f"cannot read {path}: {error}") from error
        return cls(module, path, tree)

    @cached_property
    def bindings(self) -> dict[str, ast.stmt]:
        """Each name the module's top level binds, with the (last) statement binding it."""
        found: dict[str, ast.stmt] = {}
        for statement in self.tree.body:
            for name in _bound_names(statement):
                found[name] = statement
        return found

    def registered(self) -> dict[str, str]:
        """Method name -> class name, for each class decorated ``@register_method("name")``."""
        found = {}
        for statement in self.tree.body:
            if not isinstance(statement, ast.ClassDef):
                continue
            for decorator in statement.decorator_list:
                if (
                    isinstance(decorator, ast.Call)
                    and _callee(decorator.func) == REGISTER
                    and decorator.args
                    and isinstance(decorator.args[0], ast.Constant)
                    and isinstance(decorator.args[0].value, str)
                ):
                    found[decorator.args[0].value] = statement.name
        return found

    def value(self, name: str) -> Any:
        """What ``name`` is at the module's top level (see the module's docstring)."""
        if name not in self._values:
            self._values[name] = self._resolve(name)
        return self._values[name]

    def _resolve(self, name: str) -> Any:
        statement = self.bindings.get(name)
        if statement is None:
            if hasattr(builtins, name):
                return getattr(builtins, name)
            raise UndefinedName(f"{self.path}: {name} is not defined at its top level")
        if isinstance(statement, ast.Import):
            return _imported(statement, name)
        if isinstance(statement, ast.ImportFrom):
            return _imported_from(statement, name, self.name)
        if isinstance(statement, (ast.Assign, ast.AnnAssign)) and statement.value is not None:
            return self.evaluate(statement.value, self.value)
        if isinstance(statement, ast.ClassDef):
            return declared_class(self, name)
        raise DeclarationError(
            f"{self.path}: {name} is bound by a {type(statement).__name__.lower()} statement, "
            "which cannot be read without running the module"
        )

    def evaluate(self, node: ast.expr, lookup: Callable[[str], Any]) -> Any:
        """The expression's value, its free names looked up with ``lookup``."""
        names = {
            child.id
            for child in ast.walk(node)
            if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Load)
        }
        scope: dict[str, Any] = {"__builtins__": builtins}
        for name in names:
            with contextlib.suppress(UndefinedName):  # a comprehension's own, or a NameError
                scope[name] = lookup(name)
        code = compile(ast.Expression(body=node), str(self.path), "eval")
        try:
            return eval(code, scope)
        except Exception as error:
            raise DeclarationError(
                f"{self.path}, line {node.lineno}: {type(error).__name__}: {error}"
            ) from error


def declared_class(source: ModuleSource, class_name: str) -> type:
    """The declared class of ``class_name`` in ``source`` (see the module's docstring)."""
    statement = source.bindings.get(class_name)
    if not isinstance(statement, ast.ClassDef):
        raise DeclarationError(f"{source.path} defines no class {class_name}")
    assigned = {
        name: value
        for child in statement.body
        if isinstance(child, (ast.Assign, ast.AnnAssign)) and child.value is not None
        for name, value in [(n, child.value) for n in _bound_names(child)]
    }
    values: dict[str, Any] = {}

    def lookup(name: str) -> Any:  # the class body first, then the module, as Python does
        if name in assigned:
            if name not in values:
                values[name] = source.evaluate(assigned[name], lookup)
            return values[name]
        return source.value(name)

    bases = tuple(source.evaluate(base, source.value) for base in statement.bases)
    namespace: dict[str, Any] = {
        "__module__": source.name,
        "__qualname__": class_name,
        "__doc__": ast.get_docstring(statement, clean=False),
    }
    for name in assigned:
        if any(hasattr(base, name) for base in bases):  # a setting a base class declares
            namespace[name] = lookup(name)
    init = next(
        (
            child
            for child in statement.body
            if isinstance(child, ast.FunctionDef) and child.name == "__init__"
        ),
        None,
    )
    if init is not None:
        namespace["__init__"] = _unbuildable(
            f"{class_name} as declared in {source.path}", _signature(init, source, lookup)
        )
    return types.new_class(class_name, bases, exec_body=lambda body: body.update(namespace))


def _signature(
    function: ast.FunctionDef, source: ModuleSource, lookup: Callable[[str], Any]
) -> inspect.Signature:
    """The signature ``function`` declares, its defaults evaluated in the class body."""
    arguments = function.args
    positional = [*arguments.posonlyargs, *arguments.args]
    defaults = [inspect.Parameter.empty] * (len(positional) - len(arguments.defaults))
    defaults += [source.evaluate(node, lookup) for node in arguments.defaults]
    parameters = [
        inspect.Parameter(
            argument.arg,
            inspect.Parameter.POSITIONAL_ONLY
            if argument in arguments.posonlyargs
            else inspect.Parameter.POSITIONAL_OR_KEYWORD,
            default=default,
        )
        for argument, default in zip(positional, defaults, strict=True)
    ]
    if arguments.vararg is not None:
        parameters.append(inspect.Parameter(arguments.vararg.arg, inspect.Parameter.VAR_POSITIONAL))
    for argument, node in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True):
        default = inspect.Parameter.empty if node is None else source.evaluate(node, lookup)
        parameters.append(
            inspect.Parameter(argument.arg, inspect.Parameter.KEYWORD_ONLY, default=default)
        )
    if arguments.kwarg is not None:
        parameters.append(inspect.Parameter(arguments.kwarg.arg, inspect.Parameter.VAR_KEYWORD))
    return inspect.Signature(parameters)


def _unbuildable(what: str, signature: inspect.Signature) -> Callable[..., None]:
    def __init__(self: object, *args: Any, **kwargs: Any) -> None:
        raise TypeError(f"{what} is a declaration: build the method through the registry")

    __init__.__signature__ = signature  # type: ignore[attr-defined]
    return __init__


def _bound_names(statement: ast.stmt) -> list[str]:
    """The names a top-level or class-level statement binds."""
    if isinstance(statement, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
        return [statement.name]
    if isinstance(statement, ast.Assign):
        return [target.id for target in statement.targets if isinstance(target, ast.Name)]
    if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
        return [statement.target.id]
    if isinstance(statement, (ast.Import, ast.ImportFrom)):
        return [
            alias.asname or alias.name.split(".")[0]
            for alias in statement.names
            if alias.name != "*"
        ]
    return []


def _callee(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    return node.attr if isinstance(node, ast.Attribute) else None


def _imported(statement: ast.Import, name: str) -> Any:
    for alias in statement.names:
        if alias.asname == name:
            return _import(alias.name)
        if alias.asname is None and alias.name.split(".")[0] == name:
            return _import(name)
    raise AssertionError(name)  # _bound_names found it in this statement


def _imported_from(statement: ast.ImportFrom, name: str, module: str) -> Any:
    package = module if statement.level == 0 else module.rsplit(".", statement.level)[0]
    origin = statement.module or ""
    if statement.level:
        origin = f"{package}.{origin}" if origin else package
    for alias in statement.names:
        if (alias.asname or alias.name) == name:
            imported = _import(origin)
            if hasattr(imported, alias.name):
                return getattr(imported, alias.name)
            return _import(f"{origin}.{alias.name}")
    raise AssertionError(name)


def _import(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except Exception as error:
        message = f"cannot import {module}: {type(error).__name__}: {error}"
        raise DeclarationError(message) from error
