"""Swarm ``get`` evaluation: parsing ``what``/``where`` and walking a tree source (pure).

This module owns the query language. :func:`parse_query` turns a request's ``what`` and ``where``
into a :class:`Query` (or raises :class:`QueryError`, which the protocol answers with
``CODE_BAD_REQUEST``); :func:`evaluate` walks any :class:`TreeSource` and returns the result tree.

Semantics:

* Levels form the chain sport > region > competition > game > market > event. The tree starts at
  the top-most level named in ``what`` and nests only the levels named there, each as a map keyed
  by the node id as a string. ``[]`` selects every field, a missing field is omitted, a doubly
  wrapped list ``[[...]]`` is the same as ``[...]``, and ``"@count"`` replaces the map by the
  number of matching nodes (it must be the deepest level in ``what``).
* D is the deepest level named in ``what`` or ``where``. A node at D is included when it and all
  its ancestors match their ``where``; a node above D only when it also has an included
  descendant on the way to D.
* ``where`` maps a level to ``{field: condition, "@or": [cond-dict, ...]}``. A condition is a plain
  value (equality) or a dict of operators, all of which must hold: ``@in``, ``@nin``, ``@ne``,
  ``@gt``, ``@gte``, ``@lt``, ``@lte`` and ``@now`` (``{"@now": {"@gte": a, "@lt": b}}`` compares
  the field with ``now + a`` / ``now + b``).
* Comparison rules: a number field equals a numeric string (ids sent as strings still match);
  ordering compares number with number or string with string, anything else is false; a field
  the node lacks fails every condition except ``@ne`` and ``@nin``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

LEVELS: Final = ("sport", "region", "competition", "game", "market", "event")
LEVEL_INDEX: Final = {name: i for i, name in enumerate(LEVELS)}
SPORT, REGION, COMPETITION, GAME, MARKET, EVENT = range(6)
COUNT: Final = "@count"
ALL_FIELDS: Final = ()  # the parsed form of ``[]``

Fields = tuple[str, ...] | str  # a field list (empty: all fields) or COUNT
Predicate = Callable[[Mapping[str, Any], float], bool]
_MISSING: Any = object()
_COMPARISONS: Final = ("@gt", "@gte", "@lt", "@lte")


class QueryError(ValueError):
    """The client sent a malformed ``what`` or ``where`` (the client's fault)."""


class TreeSource(Protocol):
    """What :func:`evaluate` walks. Nodes are mappings of Swarm fields including ``id``."""

    def children(self, level: int, path: tuple[int, ...]) -> Iterable[Mapping[str, Any]]:
        """Nodes of ``level`` under the ancestors ``path`` (ids from the sport down), by id."""
        ...

    def locate(self, level: int, node_id: int) -> tuple[int, ...] | None:
        """The full id path of a competition, game, market or event, or None if unknown."""
        ...

    def node_at(self, path: tuple[int, ...]) -> Mapping[str, Any] | None:
        """The node at the end of ``path`` (its level is ``len(path) - 1``)."""
        ...


class VersionedSource(TreeSource, Protocol):
    """A source that can tell when a subtree has not changed, so results can be reused."""

    def version(self, level: int, path: tuple[int, ...]) -> Hashable | None:
        """A value that changes whenever the node at ``path`` or anything below it changes (None:
        unknown, do not reuse). Asked for game and market nodes only."""
        ...


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _as_number(v: Any) -> float | None:
    """A numeric string's value (ids are often sent as strings), else None."""
    if isinstance(v, str):
        try:
            number = float(v)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def values_equal(value: Any, target: Any) -> bool:
    """Equality as ``where`` understands it (see the module docstring)."""
    if value is _MISSING:
        return False
    if isinstance(target, str) and _is_number(value):
        number = _as_number(target)
        return number is not None and number == value
    return bool(value == target)


def values_compare(value: Any, op: str, target: Any) -> bool:
    if _is_number(value):
        if isinstance(target, str):
            target = _as_number(target)
        if not _is_number(target):
            return False
    elif not (isinstance(value, str) and isinstance(target, str)):
        return False
    if op == "@gt":
        return bool(value > target)
    if op == "@gte":
        return bool(value >= target)
    if op == "@lt":
        return bool(value < target)
    return bool(value <= target)


class _Membership:
    """Fast ``@in`` over hashable targets, falling back to a scan for the rest."""

    def __init__(self, targets: list[Any]) -> None:
        self.raw: set[Any] = set()
        self.numeric: set[float] = set()
        self.others: list[Any] = []
        for t in targets:
            if isinstance(t, (dict, list)):
                self.others.append(t)
                continue
            self.raw.add(t)
            number = _as_number(t)
            if number is not None:
                self.numeric.add(number)

    def __contains__(self, value: Any) -> bool:
        if value is _MISSING:
            return False
        if not isinstance(value, (dict, list)):
            if value in self.raw:
                return True
            if _is_number(value) and value in self.numeric:
                return True
        return any(value == t for t in self.others)


def _scalar_target(op: str, target: Any) -> None:
    if isinstance(target, (dict, list)):
        raise QueryError(f"{op} takes a scalar, got {type(target).__name__}")


def _compile_operator(op: str, target: Any, uses_now: list[bool]) -> Callable[[Any, float], bool]:
    if op in ("@in", "@nin"):
        if not isinstance(target, list):
            raise QueryError(f"{op} takes a list")
        members = _Membership(target)
        if op == "@in":
            return lambda v, now: v in members
        return lambda v, now: v not in members
    if op == "@ne":
        _scalar_target(op, target)
        return lambda v, now: not values_equal(v, target)
    if op in _COMPARISONS:
        if not (_is_number(target) or isinstance(target, str)):
            raise QueryError(f"{op} takes a number or a string")
        return lambda v, now: values_compare(v, op, target)
    if op == "@now":
        if not isinstance(target, dict) or not target:
            raise QueryError("@now takes an object of comparisons, e.g. {\"@gte\": 0}")
        bounds: list[tuple[str, float]] = []
        for sub_op, offset in target.items():
            if sub_op not in _COMPARISONS:
                raise QueryError(f"unknown operator {sub_op} inside @now")
            if not _is_number(offset):
                raise QueryError(f"@now offsets must be numbers, got {offset!r}")
            bounds.append((sub_op, float(offset)))
        uses_now[0] = True
        return lambda v, now: _is_number(v) and all(values_compare(v, o, now + off) for o, off in bounds)
    raise QueryError(f"unknown operator {op}")


def _compile_field(name: str, condition: Any, uses_now: list[bool]) -> Predicate:
    if isinstance(condition, dict):
        if not condition:
            raise QueryError(f"empty condition for field {name}")
        checks = []
        for op, target in condition.items():
            if not isinstance(op, str) or not op.startswith("@"):
                raise QueryError(f"unknown operator {op!r} for field {name}")
            checks.append(_compile_operator(op, target, uses_now))
        if len(checks) == 1:
            only = checks[0]
            return lambda node, now: only(node.get(name, _MISSING), now)
        return lambda node, now: all(c(node.get(name, _MISSING), now) for c in checks)
    return lambda node, now: values_equal(node.get(name, _MISSING), condition)


def compile_conditions(conditions: Any, uses_now: list[bool] | None = None) -> Predicate:
    """Compile one level's ``where`` dict into a predicate ``(node, now) -> bool``."""
    flag = uses_now if uses_now is not None else [False]
    if not isinstance(conditions, dict):
        raise QueryError("a where level must be an object of conditions")
    checks: list[Predicate] = []
    for key, value in conditions.items():
        if not isinstance(key, str):
            raise QueryError("field names must be strings")
        if key == "@or":
            if not isinstance(value, list) or not value:
                raise QueryError("@or takes a non-empty list of condition objects")
            checks.append(_any_of([compile_conditions(c, flag) for c in value]))
        elif key.startswith("@"):
            raise QueryError(f"unknown operator {key}")
        else:
            checks.append(_compile_field(key, value, flag))
    if not checks:
        return lambda node, now: True
    if len(checks) == 1:
        return checks[0]
    return lambda node, now: all(c(node, now) for c in checks)


def _any_of(alternatives: list[Predicate]) -> Predicate:
    return lambda node, now: any(a(node, now) for a in alternatives)


def _id_hint(conditions: Mapping[str, Any]) -> frozenset[int] | None:
    """Ids a level is limited to by a top-level ``id`` equality or ``@in`` (None: no limit known)."""
    if "id" not in conditions:
        return None
    cond = conditions["id"]
    if isinstance(cond, dict):
        if set(cond) != {"@in"}:
            return None
        targets = cond["@in"]
    else:
        targets = [cond]
    ids: set[int] = set()
    for t in targets:
        number = t if _is_number(t) else _as_number(t)
        if number is None or number != int(number):
            return None
        ids.add(int(number))
    return frozenset(ids)


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed ``get``: what to output and what to match. Build it with :func:`parse_query`."""

    what: Mapping[int, Fields]
    where: Mapping[int, Predicate]
    deepest: int  # D
    now_levels: frozenset[int]  # levels whose conditions read the time (@now)
    id_hints: Mapping[int, frozenset[int]]

    @property
    def uses_now(self) -> bool:
        """The result depends on time as well as on the data."""
        return bool(self.now_levels)

    @property
    def reusable_levels(self) -> frozenset[int]:
        """Game and market levels whose output nodes may be reused while their version holds:
        output as maps (not counts), with no time-dependent condition at or below them."""
        floor = max(self.now_levels, default=-1)
        return frozenset(lv for lv in (GAME, MARKET) if lv in self.what and self.what[lv] != COUNT and lv > floor)

    @property
    def top(self) -> int:
        return min(self.what)

    def next_output(self, level: int) -> int | None:
        later = [lv for lv in self.what if lv > level]
        return min(later) if later else None

    def game_may_match(self, source: TreeSource, game_path: tuple[int, ...], now: float) -> bool:
        """Whether the game at ``game_path`` passes every condition from the sport down to the game.

        A subscription need not be re-evaluated for a changed game that fails this and was not in
        its last result: the game cannot have entered or left that result.
        """
        for level in range(GAME + 1):
            hint = self.id_hints.get(level)
            if hint is not None and game_path[level] not in hint:
                return False
        for level in range(GAME + 1):
            pred = self.where.get(level)
            if pred is None:
                continue
            node = source.node_at(game_path[: level + 1])
            if node is None or not pred(node, now):
                return False
        return True


def _parse_fields(level: str, fields: Any) -> Fields:
    if fields == COUNT:
        return COUNT
    if not isinstance(fields, list):
        raise QueryError(f"what.{level} must be a list of field names or \"@count\"")
    if len(fields) == 1 and isinstance(fields[0], list):
        fields = fields[0]  # the hub sometimes double-wraps the field list
    if not all(isinstance(f, str) for f in fields):
        raise QueryError(f"what.{level} must list field names as strings")
    return tuple(dict.fromkeys(fields))


def parse_query(what: Any, where: Any = None) -> Query:
    """Validate and compile a request's ``what`` and ``where``; raises :class:`QueryError`."""
    if not isinstance(what, dict) or not what:
        raise QueryError("what must be a non-empty object keyed by level")
    parsed_what: dict[int, Fields] = {}
    for level, fields in what.items():
        if level not in LEVEL_INDEX:
            raise QueryError(f"unknown level {level!r} in what")
        parsed_what[LEVEL_INDEX[level]] = _parse_fields(level, fields)
    counts = [lv for lv, f in parsed_what.items() if f == COUNT]
    if counts and counts[0] != max(parsed_what):
        raise QueryError("@count must be the deepest level in what")
    if where is None:
        where = {}
    if not isinstance(where, dict):
        raise QueryError("where must be an object keyed by level")
    predicates: dict[int, Predicate] = {}
    hints: dict[int, frozenset[int]] = {}
    now_levels: set[int] = set()
    for level, conditions in where.items():
        if level not in LEVEL_INDEX:
            raise QueryError(f"unknown level {level!r} in where")
        index = LEVEL_INDEX[level]
        uses_now = [False]
        predicates[index] = compile_conditions(conditions, uses_now)
        if uses_now[0]:
            now_levels.add(index)
        hint = _id_hint(conditions)
        if hint is not None:
            hints[index] = hint
    deepest = max([*parsed_what, *predicates])
    return Query(dict(sorted(parsed_what.items())), predicates, deepest, frozenset(now_levels), hints)


def _project(node: Mapping[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    out = {}
    for name in fields:
        value = node.get(name, _MISSING)
        if value is not _MISSING:
            out[name] = value
    return out


Memo = dict[tuple[int, int], tuple[Hashable, Any]]  # (level, id) -> (version, output node or None)


@dataclass(frozen=True, slots=True)
class Evaluation:
    tree: dict[str, Any]
    games: frozenset[int] | None  # ids of included games (None when D is above the game level)
    memo: Memo | None = None  # pass it to the next evaluate() of the same query to reuse nodes


def _allowed_ids(query: Query, source: TreeSource) -> dict[int, set[int]]:
    """Per level, the only ids worth walking, from id equalities and their ancestors."""
    allowed: dict[int, set[int]] = {}

    def restrict(level: int, ids: set[int]) -> None:
        allowed[level] = ids if level not in allowed else allowed[level] & ids

    for level, ids in query.id_hints.items():
        restrict(level, set(ids))
        if level < COMPETITION:
            continue
        ancestors: list[set[int]] = [set() for _ in range(level)]
        found: set[int] = set()
        for node_id in ids:
            path = source.locate(level, node_id)
            if path is None:
                continue
            found.add(node_id)
            for i in range(level):
                ancestors[i].add(path[i])
        restrict(level, found)
        for i, ids_at in enumerate(ancestors):
            restrict(i, ids_at)
    return allowed


def evaluate(query: Query, source: TreeSource, now: float, memo: Memo | None = None) -> Evaluation:
    """Run a parsed query against a source at time ``now`` (used only by ``@now``).

    With a ``memo`` from the previous evaluation of the same query and a :class:`VersionedSource`,
    game and market output nodes whose version has not changed are reused as they are (the same
    objects), so only what changed is walked again; the result is the same either way.
    """
    what, where, deepest = query.what, query.where, query.deepest
    allowed = _allowed_ids(query, source)
    track_games = deepest >= GAME
    games: set[int] = set()
    next_out = {level: query.next_output(level) for level in range(len(LEVELS))}
    version_of = getattr(source, "version", None) if memo is not None else None
    reusable = query.reusable_levels if version_of is not None else frozenset()
    old_memo: Memo = memo or {}
    new_memo: Memo | None = {} if version_of is not None else None

    def walk(level: int, path: tuple[int, ...], sink: dict[str, Any] | list[int] | None) -> bool:
        """Visit the matching nodes of ``level`` under ``path``; True if any is included."""
        pred = where.get(level)
        ids = allowed.get(level)
        reusing = version_of is not None and level in reusable and isinstance(sink, dict)
        found = False
        for node in source.children(level, path):
            node_id = node["id"]
            if ids is not None and node_id not in ids:
                continue
            if reusing and isinstance(sink, dict):
                node_path = path + (node_id,)
                version = version_of(level, node_path) if version_of is not None else None
                if version is not None:
                    out = reuse_or_build(level, node, node_path, version)
                    if out is not None:
                        sink[str(node_id)] = out
                        found = True
                        if track_games and level == GAME:
                            games.add(node_id)
                    continue
            if pred is not None and not pred(node, now):
                continue
            if visit(level, node, path + (node_id,), sink):
                found = True
                if sink is None:
                    break  # nothing below is output: one included descendant is enough
        return found

    def reuse_or_build(level: int, node: Mapping[str, Any], path: tuple[int, ...], version: Hashable) -> Any:
        """The output node of a map-level node (None if not included), reused while its version holds."""
        key = (level, path[-1])
        entry = old_memo.get(key)
        if entry is None or entry[0] != version:
            pred = where.get(level)
            out = None
            if pred is None or pred(node, now):
                holder: dict[str, Any] = {}
                out = holder[str(path[-1])] if visit(level, node, path, holder) else None
            entry = (version, out)
        if new_memo is not None:
            new_memo[key] = entry
        return entry[1]

    def visit(level: int, node: Mapping[str, Any], path: tuple[int, ...],
              sink: dict[str, Any] | list[int] | None) -> bool:
        fields = what.get(level)
        if fields is None:  # a level walked for filtering only
            included = level == deepest or walk(level + 1, path, sink)
        elif fields == COUNT:
            included = level == deepest or walk(level + 1, path, None)
            if included and isinstance(sink, list):
                sink[0] += 1
        else:
            below = next_out[level]
            child_sink: dict[str, Any] | list[int] | None = None
            if below is not None:
                child_sink = [0] if what[below] == COUNT else {}
            included = level == deepest or walk(level + 1, path, child_sink)
            if included and isinstance(sink, dict):
                out = dict(node) if not fields else _project(node, tuple(fields))
                if below is not None:
                    out[LEVELS[below]] = child_sink[0] if isinstance(child_sink, list) else child_sink
                sink[str(path[-1])] = out
        if included and track_games and level == GAME:
            games.add(path[-1])
        return included

    top = query.top
    root: dict[str, Any] | list[int] = [0] if what[top] == COUNT else {}
    walk(SPORT, (), root)
    tree = {LEVELS[top]: root[0] if isinstance(root, list) else root}
    return Evaluation(tree, frozenset(games) if track_games else None, new_memo)
