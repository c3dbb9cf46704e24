"""Market grouping and tab assignment for the details panel (oddsui.markets; docs/api.md C3)."""

from __future__ import annotations

import json
import math

from hypothesis import given, settings
from hypothesis import strategies as st
from oddsui.markets import TAB_ALL, format_line, market_groups, tab_key, tabs_of
from oddsui.messages import decode
from ui_samples import HANDICAPS, MAIN, TOTALS, event, football_markets, market


def decoded(markets):
    payload = {"gameId": "7", "data": {"id": 7, "market": markets}}
    return decode(json.dumps(payload), "game").data.market


def test_groups_follow_group_order_and_line_markets_become_sorted_tables():
    groups = market_groups(decoded(football_markets()), "Arsenal", "Chelsea")
    assert [(g.name, g.tab) for g in groups] == [("Main", "main"), ("Totals", "totals"), ("Handicaps", "handicaps")]
    main, totals, handicaps = groups
    assert [(i.kind, i.title) for i in main.items] == [("market", "Match Result"), ("market", "Both Teams To Score")]
    assert [c.label for c in main.items[0].cells] == ["W1", "Draw", "W2"] and main.items[0].cols == 3
    (table,) = totals.items
    assert table.kind == "table" and table.title == "Total Goals" and table.columns == ("Over", "Under")
    assert [row.line for row in table.rows] == ["1.5", "2.5", "3.5"]  # sorted by line, not by market order
    assert [c.price for c in table.rows[1].cells] == [2.0, 1.8]
    (hcap,) = handicaps.items
    assert hcap.columns == ("Arsenal", "Chelsea") and [r.line for r in hcap.rows] == ["-0.5", "+0.5"]


def test_tabs_are_all_then_one_per_feed_group_with_main_called_match():
    groups = market_groups(decoded(football_markets()))
    tabs = tabs_of(groups)
    assert [(t.key, t.label, t.count) for t in tabs] == [
        (TAB_ALL, "All", 7), ("main", "Match", 2), ("totals", "Totals", 3), ("handicaps", "Handicaps", 2)]


def test_locks_markets_without_group_and_null_entries():
    markets = {
        "1": market(1, "Winner", (None, None, None), [event(10, 1, "1", 1.5, 0), event(11, 1, "2", 2.5, 1)], 1,
                    blocked=1),
        "2": None,
        "3": market(3, "Empty", MAIN, [], 2),
    }
    markets["1"]["group_id"] = None
    markets["1"]["group_name"] = None
    (group,) = market_groups(decoded(markets))
    assert group.name == "Other" and group.items[0].locked and all(c.locked for c in group.items[0].cells)


def test_format_line():
    assert [format_line(v) for v in (2.5, 2.0, -0.5, 0, "x", None)] == ["2.5", "2", "-0.5", "0", "x", ""]
    assert [format_line(v, signed=True) for v in (0.5, -1.5, 0)] == ["+0.5", "-1.5", "0"]
    assert tab_key("Team Totals") == "team-totals" and tab_key("  ") == "other"


GROUPS = st.sampled_from([MAIN, TOTALS, HANDICAPS, (9, "Corners", 8), (4, "Halves", 4)])


@st.composite
def market_maps(draw):
    markets = {}
    eid = 1000
    for mid in draw(st.lists(st.integers(1, 400), unique=True, max_size=25)):
        group = draw(GROUPS)
        kind = draw(st.sampled_from(["WINNER", "TOTALS", "HANDICAP", "CORRECT SCORE"]))
        n = 2 if kind in ("TOTALS", "HANDICAP") and draw(st.booleans()) else draw(st.integers(0, 5))
        events = []
        for order in draw(st.permutations(range(n))):
            eid += 1
            events.append(event(eid, mid, f"e{eid}", draw(st.floats(1.01, 50)), order, base=draw(
                st.one_of(st.none(), st.sampled_from([0.5, 1.5, -2.5, 3])))))
        markets[str(mid)] = market(mid, f"M{mid}", group, events, draw(st.integers(0, 30)), display_key=kind,
                                   type_=draw(st.sampled_from(["A", "B"])), base=draw(
                                       st.one_of(st.none(), st.sampled_from([0.5, 2.5, -1.5]))),
                                   blocked=draw(st.sampled_from([0, 1])))
    return markets


@settings(max_examples=200, deadline=None)
@given(market_maps())
def test_every_outcome_appears_exactly_once_in_a_group_whose_tab_exists(markets):
    groups = market_groups(decoded(markets))
    seen = [cell.key for g in groups for item in g.items for cell in item.all_cells()]
    expected = [str(e["id"]) for m in markets.values() for e in m["event"].values()]
    assert sorted(seen) == sorted(expected)  # nothing lost, nothing doubled
    market_ids = [mid for g in groups for item in g.items for mid in item.market_ids]
    assert sorted(market_ids) == sorted(k for k, m in markets.items() if m["event"])
    tab_keys = [t.key for t in tabs_of(groups)]
    assert tab_keys[0] == TAB_ALL and len(set(tab_keys)) == len(tab_keys)
    assert all(g.tab in tab_keys for g in groups)
    assert tabs_of(groups)[0].count == len(market_ids)
    orders = [g.order for g in groups]
    assert orders == sorted(orders)
    for g in groups:
        assert len({item.key for item in g.items}) == len(g.items)
        for item in g.items:
            if item.kind == "table":
                lines = [float(r.line) if r.line not in ("",) else math.inf for r in item.rows]
                assert lines == sorted(lines)
                assert all(len(r.cells) == len(item.columns) == 2 for r in item.rows)
            # a market's lock locks every outcome of it
            for mid in item.market_ids:
                if markets[mid]["is_blocked"]:
                    ids = {str(e["id"]) for e in markets[mid]["event"].values()}
                    assert all(c.locked for c in item.all_cells() if c.key in ids)


@settings(max_examples=100, deadline=None)
@given(market_maps())
def test_item_keys_and_shapes_are_stable_when_only_prices_change(markets):
    before = market_groups(decoded(markets))
    for m in markets.values():
        for e in m["event"].values():
            e["price"] = round(e["price"] * 1.1, 3)
    after = market_groups(decoded(markets))
    assert [(g.key, [(i.key, i.shape) for i in g.items]) for g in before] == \
        [(g.key, [(i.key, i.shape) for i in g.items]) for g in after]
