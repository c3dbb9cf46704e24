"""Which games a subscription delta touched: the input that drives change-only emission.

Pure functions over Swarm trees (no I/O, no clock). A game is named by its *path*: the keys from the
top of the tree down to the game key (``("1", "20001", "538", "2345")`` in a sport > region >
competition > game tree, ``("2345",)`` in a flat one), as ``payloads.iter_game_paths`` yields it.
:func:`touched` reads a delta and says which game paths
it changed or removed -- or that the delta changed the shape above the games (deleted a competition,
added a level), in which case the caller re-walks the whole tree. A group then recomputes only the
touched games, which ``tests/backend/hub/test_changes.py`` holds equal to a full re-walk on any
sequence of deltas.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .payloads import GAME_LEVELS, GamePath, iter_game_paths, walk_level

LEVELS = GAME_LEVELS


def node_at(tree: Any, path: GamePath) -> tuple[dict[str, Any], ...] | None:
    """The ``(sport, region, competition, game)`` nodes at ``path`` following the walk, or None."""
    node = tree
    nodes: list[dict[str, Any]] = []
    depth = 0
    for key in path:
        found = walk_level(node, depth) if isinstance(node, dict) else None
        if found is None or not isinstance(found[1], dict):
            return None
        index, children = found
        child = children.get(key)
        if not isinstance(child, dict):
            return None
        nodes += [{}] * (index - len(nodes)) + [child]
        node, depth = child, index + 1
    return tuple(nodes) if depth == 4 else None


@dataclass
class Touched:
    """The games a delta changed (``changed``) or deleted (``removed``), by path."""

    changed: set[GamePath] = field(default_factory=set)
    removed: set[GamePath] = field(default_factory=set)


def touched(merged: dict[str, Any], delta: dict[str, Any]) -> Touched | None:
    """Which games ``delta`` touched, read against ``merged`` (the tree *after* the merge).

    None means the delta changed the tree above its games -- a region or competition deleted, a
    level added where the walk goes another way, a level that is not an object -- and the caller
    must re-walk everything.
    """
    out = Touched()

    def walk(dnode: dict[str, Any], mnode: Any, depth: int, keys: GamePath) -> bool:
        present = [i for i in range(depth, len(LEVELS)) if LEVELS[i] in dnode]
        if not present:
            return True  # only fields of this node changed
        if len(present) > 1:
            return False
        index = present[0]
        dchildren = dnode[LEVELS[index]]
        walked = walk_level(mnode, depth) if isinstance(mnode, dict) else None
        if not isinstance(dchildren, dict) or walked is None or walked[0] != index or not isinstance(walked[1], dict):
            return False
        if sum(1 for i in range(depth, len(LEVELS)) if LEVELS[i] in mnode) > 1:
            return False  # two levels side by side: the walk takes one of them, whatever the delta did
        mchildren = walked[1]
        for key, dchild in dchildren.items():
            path = keys + (key,)
            if dchild is None:
                if index != 3:
                    return False
                out.removed.add(path)
            elif not isinstance(dchild, dict):
                return False
            elif index == 3:
                out.changed.add(path)
            elif not walk(dchild, mchildren.get(key), index + 1, path):
                return False
        return True

    return out if walk(delta, merged, 0, ()) else None


def walk_order(path: GamePath) -> tuple[tuple[int, int], ...]:
    """Sort key putting game paths in the order :func:`iter_game_paths` yields them (numeric keys)."""
    out = []
    for key in path:
        try:
            out.append((0, int(key)))
        except ValueError:
            out.append((1, 0))
    return tuple(out)


class GamesFingerprint:
    """The ``games`` fingerprint of docs/api.md B2 (one line per listed game), kept up to date from deltas.

    ``update(tree, delta)`` says whether the fingerprint changed -- whether a ``games`` event is due --
    recomputing only the lines of touched games. The lines are kept as a multiset, exactly like the
    sorted join of the original: a game that moves to another competition unchanged changes nothing.
    """

    def __init__(self, line: Callable[[tuple[dict[str, Any], ...]], str | None]) -> None:
        self._line = line  # a game's line, or None when the game is not listed
        self.lines: dict[GamePath, str] = {}
        self._counts: Counter[str] = Counter()

    def __len__(self) -> int:
        return len(self.lines)

    def reset(self, tree: Any) -> bool:
        """Recompute from the whole tree; returns whether the fingerprint changed."""
        before = self._counts
        self.lines = {}
        self._counts = Counter()
        for path, nodes in iter_game_paths(tree):
            line = self._line(nodes)
            if line is not None:
                self.lines[path] = line
                self._counts[line] += 1
        return before != self._counts

    def update(self, tree: Any, delta: dict[str, Any] | None) -> bool:
        """Fold in ``delta`` (already merged into ``tree``); None or a shape change re-walks all."""
        found = touched(tree, delta) if delta is not None else None
        if found is None:
            return self.reset(tree)
        net: Counter[str] = Counter()
        for path in found.removed | found.changed:
            old = self.lines.pop(path, None)
            if old is not None:
                net[old] -= 1
            nodes = node_at(tree, path) if path in found.changed else None
            new = self._line(nodes) if nodes is not None else None
            if new is not None:
                self.lines[path] = new
                net[new] += 1
        changed = False
        for line, n in net.items():
            if n:
                changed = True
                self._counts[line] += n
                if self._counts[line] <= 0:
                    del self._counts[line]
        return changed


def touched_games(tree: Any, delta: dict[str, Any] | None) -> list[dict[str, Any]] | None:
    """The game nodes ``delta`` changed, in walk order; None when every game must be looked at."""
    found = touched(tree, delta) if delta is not None else None
    if found is None:
        return None
    games = []
    for path in sorted(found.changed, key=walk_order):
        nodes = node_at(tree, path)
        if nodes is not None:
            games.append(nodes[3])
    return games
