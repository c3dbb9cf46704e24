"""Subscription deltas: the recursive difference between two result trees (pure).

A delta is what a client must deep-merge into the tree it holds to get the new tree, under the
Swarm merge rules: a ``null`` value deletes the key, an object recurses (into ``{}`` if the target
is not an object), anything else (scalars, arrays) replaces. So :func:`diff` puts ``None`` for a
removed key, the whole value for a new key, a nested delta for a changed object, and the new
value for a changed scalar or array.

Because ``null`` means "delete", a field whose value is ``None`` cannot travel inside a delta as
a value: it arrives as an absent key. Trees should not rely on ``null`` fields surviving updates.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def same_value(old: Any, new: Any) -> bool:
    """JSON equality: 1 and 1.0 are the same number, but 1 and true are not (also inside arrays)."""
    if type(old) is not type(new):
        numbers = (int, float)
        if isinstance(old, numbers) and isinstance(new, numbers):
            return not isinstance(old, bool) and not isinstance(new, bool) and old == new
        return False
    if isinstance(old, list):
        return len(old) == len(new) and all(same_value(a, b) for a, b in zip(old, new, strict=True))
    if isinstance(old, dict):
        return old.keys() == new.keys() and all(same_value(v, new[k]) for k, v in old.items())
    return bool(old == new)


def diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any] | None:
    """The delta turning ``old`` into ``new``, or None when they are equal."""
    delta: dict[str, Any] = {}
    for key in old:
        if key not in new:
            delta[key] = None
    for key, value in new.items():
        if key not in old:
            delta[key] = value
            continue
        before = old[key]
        if before is value:
            continue  # a reused, never-mutated subtree
        if isinstance(value, dict) and isinstance(before, dict):
            nested = diff(before, value)
            if nested is not None:
                delta[key] = nested
        elif not same_value(before, value):
            delta[key] = value
    return delta or None
