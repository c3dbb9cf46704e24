"""The shape of a Swarm subscription tree, checked before a snapshot is stored or a delta merged.

A tree nests ``sport > region > competition > game > market > event``; each level is an object
keyed by id whose values are entity objects (``null`` in a delta deletes the entity, or the whole
level). A tree may start at any level (a query without ``sport`` gives ``{"game": {...}}``), and
under an entity only deeper levels may appear. The fields the hub reads have fixed JSON types
(:data:`FIELD_TYPES`); ``null`` is allowed for every field (in a delta it deletes the key). Other
fields may hold any JSON value, nested at most :data:`MAX_DEPTH` deep.

:func:`tree_error` returns why a tree does not fit, or None. The session rejects a delta that does
not fit *whole* -- a half-applied delta would leave a state the feed never had -- counts it as a
parse error and resubscribes to repair the divergence (``session.py``).
"""

from __future__ import annotations

from typing import Any

LEVELS = ("sport", "region", "competition", "game", "market", "event")
_DEPTH = {name: i for i, name in enumerate(LEVELS)}
MAX_DEPTH = 32  # of values in fields the schema does not name (info, stats, ...)

_NUM = (int, float)
_INT = (int,)
_STR = (str,)
_OBJ = (dict,)
_FLAG = (bool, int)  # is_blocked and friends arrive as 0/1 or true/false

_COMMON = {"id": _INT, "name": _STR, "alias": _STR, "order": _NUM}
FIELD_TYPES: dict[str, dict[str, tuple[type, ...]]] = {
    "sport": {**_COMMON, "type": _INT},
    "region": dict(_COMMON),
    "competition": dict(_COMMON),
    "game": {
        "id": _INT, "sport_id": _INT, "type": _INT, "start_ts": _NUM, "team1_name": _STR, "team2_name": _STR,
        "is_blocked": _FLAG, "info": _OBJ, "text_info": _STR, "markets_count": _INT, "competition_id": _INT,
        "region_id": _INT, "visible_in_prematch": _INT, "stats": _OBJ, "is_stat_available": _FLAG,
        "show_type": _STR, "sport_alias": _STR, "region_alias": _STR,
    },
    "market": {
        "id": _INT, "game_id": _INT, "type": _STR, "order": _NUM, "is_blocked": _FLAG, "display_key": _STR,
        "display_sub_key": _STR, "main_order": _NUM, "base": _NUM, "name": _STR, "group_id": _INT,
        "group_name": _STR, "group_order": _NUM, "col_count": _INT,
    },
    "event": {
        "id": _INT, "market_id": _INT, "type": _STR, "type_1": _STR, "name": _STR, "order": _NUM,
        "price": _NUM, "base": _NUM, "is_blocked": _FLAG,
    },
}


class _Misfit(Exception):
    pass


def tree_error(tree: Any) -> str | None:
    """Why ``tree`` (a snapshot or a delta) does not fit the schema, or None if it does."""
    if not isinstance(tree, dict):
        return f"tree must be an object, got {_kind(tree)}"
    try:
        _entity_children(tree, -1, "")
    except _Misfit as exc:
        return str(exc)
    return None


def _entity_children(node: dict[str, Any], depth: int, path: str) -> None:
    """Check the level keys of an entity (or of the root, ``depth`` -1)."""
    for level, children in node.items():
        level_depth = _DEPTH.get(level)
        if level_depth is None:
            continue
        if level_depth <= depth:
            raise _Misfit(f"{path}{level}: a {level} cannot be nested under a {LEVELS[depth]}")
        if children is None:
            continue  # a delta deleting the whole level
        if not isinstance(children, dict):
            raise _Misfit(f"{path}{level} must be an object keyed by id, got {_kind(children)}")
        fields = FIELD_TYPES[level]
        for key, entity in children.items():
            if entity is None:
                continue
            where = f"{path}{level}.{key}"
            if not isinstance(entity, dict):
                raise _Misfit(f"{where} must be an object, got {_kind(entity)}")
            for name, value in entity.items():
                if value is None or name in _DEPTH:
                    continue
                expected = fields.get(name)
                if expected is not None:
                    if isinstance(value, bool) and bool not in expected or not isinstance(value, expected):
                        raise _Misfit(f"{where}.{name} must be {'/'.join(t.__name__ for t in expected)}, "
                                      f"got {_kind(value)}")
                    if isinstance(value, dict):
                        _bounded(value, 1, f"{where}.{name}")
                elif isinstance(value, (dict, list)):
                    _bounded(value, 1, f"{where}.{name}")
            _entity_children(entity, level_depth, where + ".")


def _bounded(value: Any, depth: int, where: str) -> None:
    if depth > MAX_DEPTH:
        raise _Misfit(f"{where} is nested deeper than {MAX_DEPTH}")
    if isinstance(value, dict):
        for item in value.values():
            if isinstance(item, (dict, list)):
                _bounded(item, depth + 1, where)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, (dict, list)):
                _bounded(item, depth + 1, where)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else type(value).__name__
