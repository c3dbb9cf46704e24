"""Test helpers for the simulator: a reference Swarm merge, a plain tree source, tree strategies."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from backend.simulator.query import COMPETITION, EVENT, GAME, MARKET


def swarm_merge(target: Any, delta: Mapping[str, Any]) -> dict[str, Any]:
    """The hub's merge rule (docs/api.md D4): null deletes, objects recurse (into {} if the target is not
    an object), arrays and scalars replace."""
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in delta.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict):
            out[key] = swarm_merge(out.get(key), value)
        else:
            out[key] = value
    return out


@dataclass
class Node:
    fields: dict[str, Any]
    children: list[Node] = field(default_factory=list)


class PlainSource:
    """A TreeSource over a list of sport Nodes, found by brute force (the obvious reference)."""

    def __init__(self, sports: list[Node]) -> None:
        self.sports = sports

    def _node(self, path: tuple[int, ...]) -> Node | None:
        nodes = self.sports
        found: Node | None = None
        for node_id in path:
            found = next((n for n in nodes if n.fields["id"] == node_id), None)
            if found is None:
                return None
            nodes = found.children
        return found

    def children(self, level: int, path: tuple[int, ...]) -> Iterable[Mapping[str, Any]]:
        if level == 0:
            return [n.fields for n in self.sports]
        parent = self._node(path)
        return [n.fields for n in parent.children] if parent is not None else []

    def locate(self, level: int, node_id: int) -> tuple[int, ...] | None:
        assert level in (COMPETITION, GAME, MARKET, EVENT)
        for path, node in self.walk():
            if len(path) == level + 1 and node.fields["id"] == node_id:
                return path
        return None

    def node_at(self, path: tuple[int, ...]) -> Mapping[str, Any] | None:
        node = self._node(path)
        return node.fields if node is not None else None

    def walk(self) -> Iterable[tuple[tuple[int, ...], Node]]:
        stack = [((n.fields["id"],), n) for n in self.sports]
        while stack:
            path, node = stack.pop()
            yield path, node
            stack.extend((path + (c.fields["id"],), c) for c in node.children)

    def at_level(self, level: int) -> list[tuple[tuple[int, ...], Node]]:
        return [(p, n) for p, n in self.walk() if len(p) == level + 1]


FIELD_VALUES = st.one_of(
    st.integers(-3, 3), st.sampled_from([0.5, 1.5, -2.5]), st.sampled_from(["a", "b", "1", "2", "-3", ""]),
    st.booleans(),
)
FIELD_NAMES = ("type", "score", "name")


@st.composite
def node_fields(draw: st.DrawFn) -> dict[str, Any]:
    names = draw(st.lists(st.sampled_from(FIELD_NAMES), unique=True))
    return {name: draw(FIELD_VALUES) for name in names}


@st.composite
def sources(draw: st.DrawFn, depth: int = 4) -> PlainSource:
    """Random sport > region > competition > game (> market) trees; ids unique per level."""
    counters = [itertools.count(1 + 100 * level) for level in range(6)]

    def make(level: int) -> list[Node]:
        if level >= depth:
            return []
        width = draw(st.integers(0 if level else 1, 3))
        nodes = []
        for _ in range(width):
            fields = {"id": next(counters[level]), **draw(node_fields())}
            nodes.append(Node(fields, make(level + 1)))
        return nodes

    return PlainSource(make(0))
