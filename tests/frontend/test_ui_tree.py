"""Grouping and keyed reconciliation plans for the games tree."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st
from oddsui.messages import decode
from oddsui.tree import OTHER, apply_plan, group_games, plan_children


def games(rows):
    payload = decode(json.dumps({"sportId": "1", "data": rows}), "games")
    return [(str(g.id), g) for g in payload.data]


def test_groups_follow_server_order_and_missing_names_go_to_other():
    grouped = group_games(games([
        {"id": 1, "region": "Spain", "competition": "La Liga", "competition_id": 5},
        {"id": 2, "region": "England", "competition": "Premier League"},
        {"id": 3, "region": "Spain", "competition": "Copa"},
        {"id": 4, "region": "Spain", "competition": "La Liga"},
        {"id": 5},
        {"id": 6, "region": "World", "competition": {"id": 9, "name": "Cup"}},
    ]))
    assert [(r.name, [(c.name, c.game_keys) for c in r.competitions]) for r in grouped] == [
        ("Spain", [("La Liga", ["1", "4"]), ("Copa", ["3"])]),
        ("England", [("Premier League", ["2"])]),
        (OTHER, [(OTHER, ["5"])]),
        ("World", [("Cup", ["6"])]),
    ]
    assert grouped[0].competitions[0].competition_id == "5"
    assert grouped[3].competitions[0].competition_id == "9"
    assert grouped[0].game_count == 3


def test_unchanged_children_need_no_operations():
    assert plan_children(["a", "b", "c"], ["a", "b", "c"]) == []


def test_one_moved_child_costs_one_insert():
    ops = plan_children(["a", "b", "c", "d"], ["b", "c", "d", "a"])
    assert ops == [("insert", "a", None)]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.integers(0, 25), unique=True), st.lists(st.integers(0, 25), unique=True))
def test_a_plan_turns_old_into_new(old, new):
    ops = plan_children(old, new)
    assert apply_plan(old, ops) == new
    inserts = [key for op, key, _ in ops if op == "insert"]
    assert len(inserts) == len(set(inserts))
    # Nothing that keeps its relative order is touched more than needed: inserts <= len(new)
    assert len(inserts) <= len(new)
    assert all(key not in new for op, key, _ in ops if op == "remove")


def _reference_groups(rows):
    """Grouping spelt out game by game: what ``group_games`` must equal, however it gets there."""
    def name(value):
        if isinstance(value, dict):
            value = value.get("name")
        return value.strip() if isinstance(value, str) and value.strip() else OTHER

    order, comps = [], {}
    for row in rows:
        region, comp = name(row.get("region")), name(row.get("competition"))
        if region not in comps:
            order.append(region)
            comps[region] = {}
        if comp not in comps[region]:
            cid = row.get("competition_id")
            if cid is None and isinstance(row.get("competition"), dict):
                cid = row["competition"].get("id")
            comps[region][comp] = (None if cid is None else str(cid), [])
        comps[region][comp][1].append(str(row["id"]))
    return [(r, [(c, cid, keys) for c, (cid, keys) in comps[r].items()]) for r in order]


NAMES = st.sampled_from([None, "", "  ", "Spain", " Spain ", "England", {"name": "Spain"}, {"name": " Cup"},
                         {"id": 4, "name": "Cup"}, {"name": None}, 7])


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(NAMES, NAMES, st.sampled_from([None, 1, 2])), max_size=40))
def test_grouping_equals_the_game_by_game_reference(rows):
    """The grouping reuses the group of a (region, competition) pair already seen: same result as
    normalising every game's names, for names that are strings, padded, empty, objects or junk."""
    data = []
    for index, (region, comp, cid) in enumerate(rows):
        row = {"id": index}
        if region is not None:
            row["region"] = region
        if comp is not None:
            row["competition"] = comp
        if cid is not None:
            row["competition_id"] = cid
        data.append(row)
    grouped = group_games(games(data))
    assert [(r.name, [(c.name, c.competition_id, c.game_keys) for c in r.competitions]) for r in grouped] \
        == _reference_groups(data)
