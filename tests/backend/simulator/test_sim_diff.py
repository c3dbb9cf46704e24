"""Deltas: merging diff(old, new) into old with the Swarm rules gives new."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from backend.simulator.diff import diff

from .support import swarm_merge

KEYS = st.sampled_from(["1", "2", "3", "id", "price", "market", "event", "info"])
SCALARS = st.one_of(
    st.integers(-3, 3), st.floats(-3, 3, allow_nan=False), st.booleans(), st.sampled_from(["", "a", "b"]),
)
# trees as Swarm sends them: objects, arrays and scalars, but no nulls (null means "delete")
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=12,
)
TREES = st.dictionaries(KEYS, VALUES, max_size=5)


@settings(max_examples=250, deadline=None)
@given(old=TREES, new=TREES)
def test_merging_the_delta_into_the_old_tree_gives_the_new_tree(old, new) -> None:
    delta = diff(old, new)
    merged = swarm_merge(old, delta or {})
    assert merged == new
    assert same_json(merged, new)


@settings(max_examples=120, deadline=None)
@given(tree=TREES)
def test_an_unchanged_tree_has_no_delta(tree) -> None:
    assert diff(tree, tree) is None


@settings(max_examples=120, deadline=None)
@given(old=TREES, new=TREES)
def test_a_delta_holds_only_what_changed(old, new) -> None:
    delta = diff(old, new) or {}
    for key, value in delta.items():
        if value is None:
            assert key in old and key not in new
        elif key not in old:
            assert value == new[key]
        elif isinstance(value, dict) and isinstance(old[key], dict) and isinstance(new[key], dict):
            assert value  # nested deltas are never empty
        else:
            assert value == new[key]


def test_delta_shapes() -> None:
    old = {"game": {"1": {"id": 1, "info": {"score1": "0", "score2": "0"}, "live_events": [1]}, "2": {"id": 2}}}
    new = {"game": {"1": {"id": 1, "info": {"score1": "1", "score2": "0"}, "live_events": [1, 2]}, "3": {"id": 3}}}
    assert diff(old, new) == {"game": {
        "1": {"info": {"score1": "1"}, "live_events": [1, 2]},
        "2": None,
        "3": {"id": 3},
    }}


def test_numbers_compare_as_json_numbers() -> None:
    assert diff({"p": 1}, {"p": 1.0}) is None
    assert diff({"p": 1}, {"p": True}) == {"p": True}
    assert diff({"p": "1"}, {"p": 1}) == {"p": 1}
    assert diff({"p": [1, {"a": 0}]}, {"p": [True, {"a": 0}]}) == {"p": [True, {"a": 0}]}
    assert diff({"p": [1, {"a": 0}]}, {"p": [1.0, {"a": 0.0}]}) is None


def same_json(a, b) -> bool:
    """Equality that, unlike ==, tells true from 1."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_json(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b))
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b
