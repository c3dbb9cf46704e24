"""The ``get`` query language: every operator against a reference predicate, tree shape, @count."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.simulator.query import QueryError, compile_conditions, evaluate, parse_query

from .support import FIELD_VALUES, Node, PlainSource, node_fields, sources

MISSING = object()


def is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def ref_equal(value: Any, target: Any) -> bool:
    """Plain equality, except that a numeric string equals the number it spells."""
    if value is MISSING:
        return False
    if is_number(value) and isinstance(target, str):
        try:
            return float(target) == value
        except ValueError:
            return False
    return value == target


def ref_order(value: Any, op: str, target: Any) -> bool:
    """Numbers compare with numbers (numeric strings included), strings with strings, else false."""
    if is_number(value) and isinstance(target, str):
        try:
            target = float(target)
        except ValueError:
            return False
    ok = (is_number(value) and is_number(target)) or (isinstance(value, str) and isinstance(target, str))
    if not ok:
        return False
    return {"@gt": value > target, "@gte": value >= target, "@lt": value < target, "@lte": value <= target}[op]


def ref_condition(value: Any, op: str, target: Any, now: float) -> bool:
    if op == "=":
        return ref_equal(value, target)
    if op == "@ne":
        return not ref_equal(value, target)
    if op == "@in":
        return any(ref_equal(value, t) for t in target)
    if op == "@nin":
        return not any(ref_equal(value, t) for t in target)
    if op == "@now":
        return is_number(value) and all(ref_order(value, o, now + off) for o, off in target.items())
    return value is not MISSING and ref_order(value, op, target)


def as_condition(op: str, target: Any) -> Any:
    return target if op == "=" else {op: target}


conditions = st.one_of(
    st.tuples(st.just("="), FIELD_VALUES),
    st.tuples(st.sampled_from(["@ne", "@gt", "@gte", "@lt", "@lte"]), FIELD_VALUES.filter(lambda v: not isinstance(v, bool))),
    st.tuples(st.sampled_from(["@in", "@nin"]), st.lists(FIELD_VALUES, max_size=4)),
)


@settings(max_examples=300, deadline=None)
@given(fields=node_fields(), field=st.sampled_from(["type", "score", "name"]), cond=conditions)
def test_each_operator_matches_the_reference_predicate(fields, field, cond) -> None:
    op, target = cond
    predicate = compile_conditions({field: as_condition(op, target)})
    assert predicate(fields, 0.0) == ref_condition(fields.get(field, MISSING), op, target, 0.0)


@settings(max_examples=200, deadline=None)
@given(
    fields=node_fields(),
    alternatives=st.lists(st.tuples(st.sampled_from(["type", "score", "name"]), conditions), min_size=1, max_size=3),
)
def test_or_matches_when_any_alternative_matches(fields, alternatives) -> None:
    where = {"@or": [{f: as_condition(op, t)} for f, (op, t) in alternatives]}
    expected = any(ref_condition(fields.get(f, MISSING), op, t, 0.0) for f, (op, t) in alternatives)
    assert compile_conditions(where)(fields, 0.0) == expected


@settings(max_examples=200, deadline=None)
@given(
    value=st.one_of(st.integers(0, 20_000), st.just("1000"), st.none()),
    now=st.floats(0, 10_000, allow_nan=False),
    bounds=st.dictionaries(st.sampled_from(["@gt", "@gte", "@lt", "@lte"]), st.integers(-5000, 5000), min_size=1),
)
def test_now_compares_the_field_with_now_plus_offsets(value, now, bounds) -> None:
    node = {} if value is None else {"start_ts": value}
    predicate = compile_conditions({"start_ts": {"@now": bounds}})
    assert predicate(node, now) == ref_condition(node.get("start_ts", MISSING), "@now", bounds, now)


def test_now_window_as_the_featured_odds_use_it() -> None:
    predicate = compile_conditions({"start_ts": {"@now": {"@gte": 1800, "@lt": 3600}}})
    now = 1_000_000.0
    assert not predicate({"start_ts": now + 1799}, now)
    assert predicate({"start_ts": now + 1800}, now)
    assert predicate({"start_ts": now + 3599}, now)
    assert not predicate({"start_ts": now + 3600}, now)
    assert parse_query({"game": ["id"]}, {"game": {"start_ts": {"@now": {"@gte": 0}}}}).uses_now


def test_conditions_on_one_level_must_all_hold() -> None:
    predicate = compile_conditions({"type": 1, "score": {"@gte": 1, "@lt": 3}})
    assert predicate({"type": 1, "score": 2}, 0)
    assert not predicate({"type": 1, "score": 3}, 0)
    assert not predicate({"type": 0, "score": 2}, 0)


def test_ids_sent_as_strings_still_match() -> None:
    assert compile_conditions({"id": {"@in": ["12", "13"]}})({"id": 12}, 0)
    assert compile_conditions({"id": "12"})({"id": 12}, 0)
    assert not compile_conditions({"id": {"@nin": ["12"]}})({"id": 12}, 0)


@pytest.mark.parametrize(
    ("what", "where"),
    [
        ({}, None),
        ([], None),
        ({"player": ["id"]}, None),
        ({"game": "id"}, None),
        ({"game": [1, 2]}, None),
        ({"game": "@count", "market": ["id"]}, None),
        ({"game": ["id"]}, {"game": {"id": {"@like": 3}}}),
        ({"game": ["id"]}, {"game": {"id": {"@in": 3}}}),
        ({"game": ["id"]}, {"game": {"@or": {"id": 3}}}),
        ({"game": ["id"]}, {"game": {"@and": [{"id": 3}]}}),
        ({"game": ["id"]}, {"game": {"start_ts": {"@now": 5}}}),
        ({"game": ["id"]}, {"game": {"start_ts": {"@now": {"@eq": 5}}}}),
        ({"game": ["id"]}, {"game": {"id": {}}}),
        ({"game": ["id"]}, {"game": [1]}),
        ({"game": ["id"]}, {"team": {}}),
        ({"game": ["id"]}, "game"),
    ],
)
def test_malformed_what_or_where_is_rejected(what, where) -> None:
    with pytest.raises(QueryError):
        parse_query(what, where)


def small_source() -> PlainSource:
    game = Node({"id": 123, "type": 1, "team1_name": "A"}, [
        Node({"id": 9, "type": "P1XP2"}, [Node({"id": 77, "price": 1.5}), Node({"id": 78, "price": 2.5})]),
    ])
    other = Node({"id": 124, "type": 0, "team1_name": "B"})
    comp = Node({"id": 538, "name": "Premier League"}, [game, other])
    region = Node({"id": 20001, "name": "England"}, [comp])
    return PlainSource([Node({"id": 1, "name": "Football", "type": 0}, [region]), Node({"id": 2, "name": "Tennis"})])


def test_tree_nests_only_the_requested_levels_keyed_by_string_ids() -> None:
    src = small_source()
    result = evaluate(parse_query({"sport": ["id", "name"], "game": ["id"]}), src, 0)
    assert result.tree == {"sport": {"1": {"id": 1, "name": "Football", "game": {"123": {"id": 123}, "124": {"id": 124}}}}}
    result = evaluate(parse_query({"game": ["id"], "market": ["id"], "event": ["price"]}, {"game": {"id": 123}}), src, 0)
    assert result.tree == {"game": {"123": {"id": 123, "market": {"9": {"id": 9, "event": {
        "77": {"price": 1.5}, "78": {"price": 2.5}}}}}}}
    assert result.games == {123}


def test_all_fields_missing_fields_and_double_wrapped_lists() -> None:
    src = small_source()
    tree = evaluate(parse_query({"game": [["id", "nope"]]}, {"game": {"id": 124}}), src, 0).tree
    assert tree == {"game": {"124": {"id": 124}}}
    tree = evaluate(parse_query({"game": []}, {"game": {"id": 124}}), src, 0).tree
    assert tree == {"game": {"124": {"id": 124, "type": 0, "team1_name": "B"}}}


def test_nodes_above_the_deepest_level_need_a_matching_descendant() -> None:
    src = small_source()
    tree = evaluate(parse_query({"sport": ["name"]}), src, 0).tree
    assert set(tree["sport"]) == {"1", "2"}  # D is sport: every sport matches
    tree = evaluate(parse_query({"sport": ["name"]}, {"game": {"type": 1}}), src, 0).tree
    assert set(tree["sport"]) == {"1"}  # D is game: Tennis has none
    tree = evaluate(parse_query({"sport": ["name"]}, {"market": {"type": "nope"}}), src, 0).tree
    assert tree == {"sport": {}}


@settings(max_examples=80, deadline=None)
@given(src=sources(), cond=conditions, field=st.sampled_from(["type", "score", "name"]))
def test_count_equals_the_size_of_the_map(src, cond, field) -> None:
    op, target = cond
    where = {"game": {field: as_condition(op, target)}}
    mapped = evaluate(parse_query({"sport": ["id"], "game": ["id"]}, where), src, 0).tree["sport"]
    counted = evaluate(parse_query({"sport": ["id"], "game": "@count"}, where), src, 0).tree["sport"]
    assert {k: v["game"] for k, v in counted.items()} == {k: len(v["game"]) for k, v in mapped.items()}
    total = evaluate(parse_query({"game": "@count"}, where), src, 0).tree["game"]
    assert total == sum(len(v["game"]) for v in mapped.values())
    assert evaluate(parse_query({"sport": "@count"}, where), src, 0).tree["sport"] == len(mapped)


@settings(max_examples=80, deadline=None)
@given(src=sources(), cond=conditions, field=st.sampled_from(["type", "score", "name"]),
       sport_cond=conditions)
def test_included_games_are_exactly_the_matching_ones_under_matching_ancestors(src, cond, field, sport_cond) -> None:
    game_where = {field: as_condition(*cond)}
    sport_where = {"type": as_condition(*sport_cond)}
    result = evaluate(parse_query({"competition": ["id"], "game": ["id"]}, {"sport": sport_where, "game": game_where}), src, 0)
    expected = {
        path[-1] for path, node in src.at_level(3)
        if ref_condition(node.fields.get(field, MISSING), cond[0], cond[1], 0)
        and ref_condition(src.node_at(path[:1]).get("type", MISSING), sport_cond[0], sport_cond[1], 0)
    }
    assert result.games == expected
    shown = {int(g) for comp in result.tree["competition"].values() for g in comp["game"]}
    assert shown == expected
    # a competition shows up exactly when it holds an included game
    assert all(comp["game"] for comp in result.tree["competition"].values())


@settings(max_examples=60, deadline=None)
@given(src=sources(), ids=st.lists(st.integers(300, 320), max_size=4))
def test_id_lookups_give_the_same_result_as_a_full_scan(src, ids) -> None:
    by_hint = evaluate(parse_query({"game": ["id"]}, {"game": {"id": {"@in": ids}}}), src, 0).tree
    by_scan = evaluate(parse_query({"game": ["id"]}, {"game": {"@or": [{"id": {"@in": ids}}]}}), src, 0).tree
    assert by_hint == by_scan
    assert set(by_hint["game"]) == {str(p[-1]) for p, _ in src.at_level(3) if p[-1] in ids}
