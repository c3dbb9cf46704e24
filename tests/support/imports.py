"""The import graph of a package, read from its source with ``ast`` (nothing is imported), and the
loops in it.

Every ``import`` and ``from ... import`` statement counts wherever it stands: at module level, inside
a function or method (the usual way to hide a loop from Python), under ``if TYPE_CHECKING:`` or in a
``try``. A loop through any of them is still two modules that each need the other. An import names
one module of the package: ``from a.b import c`` is ``a.b.c`` when that is a module, else ``a.b``;
``import a.b.c`` is the longest of ``a.b.c``, ``a.b``, ``a`` that is one. Imports from outside the
package are not edges.
"""

from __future__ import annotations

import ast
from pathlib import Path


def modules(root: Path, package: str) -> dict[str, Path]:
    """Every module of ``package`` (a directory under ``root``) by dotted name; a package is its ``__init__``."""
    found: dict[str, Path] = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _known(name: str, known: dict[str, Path]) -> str | None:
    """``name`` or its nearest enclosing package that is a module of the package, else None."""
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def _base(module: str, is_package: bool, level: int) -> str:
    """The package a relative import of ``level`` dots is relative to."""
    parts = module.split(".") if is_package else module.split(".")[:-1]
    return ".".join(parts[: len(parts) - (level - 1)])


def graph(root: Path, package: str) -> dict[str, set[str]]:
    """Module -> the modules of the same package it imports (itself never included)."""
    known = modules(root, package)
    edges: dict[str, set[str]] = {name: set() for name in known}
    for name, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            targets: list[str | None] = []
            if isinstance(node, ast.Import):
                targets = [_known(alias.name, known) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                source = node.module or ""
                if node.level:
                    base = _base(name, path.name == "__init__.py", node.level)
                    source = f"{base}.{source}" if source and base else (base or source)
                for alias in node.names:
                    submodule = f"{source}.{alias.name}" if source else alias.name
                    targets.append(submodule if submodule in known else _known(source, known))
            edges[name].update(t for t in targets if t is not None and t != name)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """One shortest loop per strongly connected group of modules, as ``[a, b, ..., a]``; [] if none."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(node: str) -> None:  # Tarjan's algorithm; the graphs here are far too small to need a loop
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(edges.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return [_shortest_loop(min(group), group, edges) for group in sorted(groups, key=min)]


def _shortest_loop(start: str, group: set[str], edges: dict[str, set[str]]) -> list[str]:
    """The shortest path from ``start`` back to itself inside ``group`` (breadth first)."""
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for node in frontier:
            for other in sorted(edges[node] & group):
                if other == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if other not in came_from:
                    came_from[other] = node
                    following.append(other)
        frontier = following
    raise AssertionError(f"{start} is in a strongly connected group but no loop returns to it")


def describe(loops: list[list[str]]) -> str:
    return "; ".join(" -> ".join(loop) for loop in loops)
