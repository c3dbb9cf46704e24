"""The delta merge against a path-level reference model of the Swarm rules."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from backend.swarm.merge import merge

KEYS = st.sampled_from(["1", "2", "3", "game", "market", "price"])
SCALARS = st.one_of(st.integers(-5, 5), st.floats(1.01, 50, allow_nan=False), st.text(max_size=3), st.booleans())
VALUES = st.one_of(SCALARS, st.lists(SCALARS, max_size=3))
PATHS = st.lists(KEYS, min_size=1, max_size=4)
# A change is (path, value); value None means delete.
CHANGES = st.lists(st.tuples(PATHS, st.one_of(st.none(), VALUES)), max_size=25)

JSON = st.recursive(SCALARS | st.lists(SCALARS, max_size=3),
                    lambda children: st.dictionaries(KEYS, children, max_size=4), max_leaves=20)
TREES = st.dictionaries(KEYS, JSON, max_size=4)


def reference_apply(tree: dict[str, Any], path: list[str], value: Any) -> None:
    """The spec, one path at a time: walk (a non-object becomes {}), then set or delete the leaf."""
    node = tree
    for key in path[:-1]:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    if value is None:
        node.pop(path[-1], None)
    else:
        node[path[-1]] = copy.deepcopy(value)


def delta_for(path: list[str], value: Any) -> dict[str, Any]:
    delta: Any = copy.deepcopy(value)
    for key in reversed(path):
        delta = {key: delta}
    return delta


@given(TREES, CHANGES)
def test_merged_deltas_equal_the_changes_applied_to_a_reference_model(initial, changes):
    state = copy.deepcopy(initial)
    model = copy.deepcopy(initial)
    for path, value in changes:
        merge(state, delta_for(path, value))
        reference_apply(model, path, value)
    assert state == model


def _without_nulls(tree: Any) -> Any:
    if isinstance(tree, dict):
        return {k: _without_nulls(v) for k, v in tree.items() if v is not None}
    return tree


@given(TREES, TREES)
def test_reapplying_a_full_snapshot_is_idempotent(state, snapshot):
    once = merge(copy.deepcopy(state), copy.deepcopy(snapshot))
    twice = merge(copy.deepcopy(once), copy.deepcopy(snapshot))
    assert once == twice


@given(TREES)
def test_a_snapshot_merged_into_nothing_is_the_snapshot(snapshot):
    assert merge({}, copy.deepcopy(snapshot)) == _without_nulls(snapshot)


def test_null_deletes_arrays_replace_objects_recurse():
    state = {"game": {"1": {"id": 1, "info": {"score1": "0", "score2": "0"}, "events": [1, 2, 3]}, "2": {"id": 2}}}
    merge(state, {"game": {"1": {"info": {"score1": "1"}, "events": [9]}, "2": None}})
    assert state == {"game": {"1": {"id": 1, "info": {"score1": "1", "score2": "0"}, "events": [9]}}}


def test_a_non_object_target_becomes_an_object_first():
    state = {"a": 5, "b": [1]}
    merge(state, {"a": {"x": 1}, "b": {"y": None}})
    assert state == {"a": {"x": 1}, "b": {}}
