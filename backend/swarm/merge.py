"""The Swarm delta merge.

A subscription's state is a JSON tree; each push carries a delta for it. The rules, applied
recursively: a ``null`` value deletes the key, an object merges into the object at that key (a
missing or non-object target becomes ``{}`` first), and anything else -- arrays included -- replaces
the value. Deltas never replace the root.
"""

from __future__ import annotations

from typing import Any


def merge(target: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    """Merge ``delta`` into ``target`` in place and return ``target``.

    Values taken from the delta are not copied: callers must not mutate the delta afterwards.
    """
    for key, value in delta.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict):
            current = target.get(key)
            if not isinstance(current, dict):
                current = {}
                target[key] = current
            merge(current, value)
        else:
            target[key] = value
    return target
