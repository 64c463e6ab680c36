"""The package reads as its data flow: no import circle between modules nor between the parts
they make up (data, splits, features, classic, deep, evaluation, records, experiment,
reporting, cli and the modules at the top), and reporting never reaches up into the
experiment runner (both stand on hashbench.records).

Read statically from the sources (every import, a function's own included: a lazy import is a
dependency all the same), so a circle is caught where it is written, not where it first runs.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: Where each installed package's modules live in the repository.
PACKAGES = {"hashbench": REPO / "hashbench", "hashbench.methods": REPO / "methods"}


def modules() -> dict[str, Path]:
    found = {}
    for package, root in PACKAGES.items():
        for path in root.rglob("*.py"):
            name = ".".join((package, *path.relative_to(root).with_suffix("").parts))
            found[name.removesuffix(".__init__")] = path
    return found


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The hashbench modules ``name`` imports; ``from package import module`` counts as the
    module, not the package it comes through."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                origin = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{origin}.{base}" if base else origin
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    found = modules()
    return {name: imports(name, path, set(found)) for name, path in found.items()}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The graph's strongly connected components of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for neighbour in graph[node]:
            if neighbour not in index:
                visit(neighbour)
                low[node] = min(low[node], low[neighbour])
            elif neighbour in stack:
                low[node] = min(low[node], index[neighbour])
        if low[node] == index[node]:
            component = []
            while not component or component[-1] != node:
                component.append(stack.pop())
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_sees_lazy_imports_and_a_circle_through_them() -> None:
    graph = import_graph()
    # backbones builds HybridHash's network through a function's own import (timm, lazily).
    assert "hashbench.deep.hybridhash_network" in graph["hashbench.deep.backbones"]
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_circle_between_hashbench_modules() -> None:
    assert circles(import_graph()) == []


def part(module: str) -> str:
    """The part of hashbench a module belongs to: its sub-package, or itself at the top."""
    return ".".join(module.split(".")[:2])


def test_no_import_circle_between_the_parts_of_hashbench() -> None:
    parts: dict[str, set[str]] = {}
    for name, targets in import_graph().items():
        own = parts.setdefault(part(name), set())
        own.update(part(target) for target in targets if part(target) != part(name))
    for target in {t for targets in parts.values() for t in targets}:
        parts.setdefault(target, set())
    assert circles(parts) == []


def test_reporting_does_not_import_the_experiment_runner() -> None:
    upward = [
        f"{name} imports {target}"
        for name, targets in import_graph().items()
        if name.startswith("hashbench.reporting")
        for target in targets
        if target.startswith("hashbench.experiment")
    ]
    assert upward == []
