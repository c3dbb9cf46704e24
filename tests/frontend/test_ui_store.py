"""Store: pure state updates from decoded payloads (docs/api.md A1, B1, B2, C; docs/design.md R10)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from oddsui.messages import DecodeError, decode
from oddsui.store import LIVE, MAX_UNKNOWN_ODDS, PREMATCH, Store


def hierarchy(sports, under_data=False):
    body = {"sport": sports}
    return decode(json.dumps({"data": body} if under_data else {**body, "cached": True}), "hierarchy")


def counts(pairs, total=None):
    payload = {"sports": [{"name": n, "count": c} for n, c in pairs]}
    if total is not None:
        payload["total_games"] = total
    return decode(json.dumps(payload), "counts")


def game(gid, region="England", competition="Premier League", **extra):
    base = {"id": gid, "type": 1, "team1_name": f"H{gid}", "team2_name": f"A{gid}", "region": region,
            "competition": competition, "competition_id": 538, "markets_count": 10, "market": {}}
    base.update(extra)
    return base


def games_payload(games, sport_id="1"):
    return decode(json.dumps({"sportId": sport_id, "sportName": "Football", "data": games,
                              "last_updated": "2026-01-06T12:00:00.000Z"}), "games")


def odds_payload(updates, sport_id="1"):
    return decode(json.dumps({"sportId": sport_id, "updates": updates}), "odds")


def three_way(p1, px, p2, blocked=False):
    return [{"label": "1", "price": p1, "blocked": blocked}, {"label": "X", "price": px, "blocked": False},
            {"label": "2", "price": p2, "blocked": False}]


def test_hierarchy_sorted_by_order_with_defaults_and_key_fallback():
    store = Store()
    sports = store.set_hierarchy(hierarchy({
        "1": {"id": 1, "name": "Football", "alias": "Soccer", "order": 2},
        "3": {"id": 3, "name": "Basketball", "order": 1},
        "7": {"name": "Curling"},  # no id, no order: key and 999
    }))
    assert [(s.id, s.name, s.order) for s in sports] == [("3", "Basketball", 1), ("1", "Football", 2),
                                                         ("7", "Curling", 999)]
    assert store.sports_by_id["1"].alias == "Soccer" and store.sports_by_id["3"].alias == "Basketball"


def test_hierarchy_under_data_and_empty_hierarchy_is_a_failure():
    store = Store()
    assert [s.id for s in store.set_hierarchy(hierarchy({"2": {"id": 2, "name": "Tennis", "order": 1}},
                                                          under_data=True))] == ["2"]
    with pytest.raises(ValueError):
        Store().set_hierarchy(hierarchy({}))


def test_hierarchy_decoding_skips_the_deep_tree():
    body = decode(json.dumps({"sport": {"1": {"id": 1, "name": "Football", "order": 1, "region": {
        "20001": {"id": 20001, "competition": {"538": {"id": 538}}}}}}}), "hierarchy")
    assert body.sports()["1"].name == "Football"


def test_counts_match_sports_by_lowercased_name():
    store = Store()
    store.set_hierarchy(hierarchy({"1": {"id": 1, "name": "Football", "order": 1},
                                   "2": {"id": 2, "name": "Tennis", "order": 2}}))
    football, tennis = store.sports
    assert store.count_for(LIVE, football) is None  # nothing known yet
    assert store.apply_counts(LIVE, counts([("FOOTBALL", 112)], total=112))
    assert store.count_for(LIVE, football) == 112 and store.count_for(LIVE, tennis) == 0
    assert store.totals[LIVE] == 112 and store.totals[PREMATCH] is None
    assert not store.apply_counts(LIVE, counts([("football", 112)], total=112))  # same: no change
    assert store.apply_counts(PREMATCH, counts([("Tennis", 40), ("Football", 2)]))
    assert store.totals[PREMATCH] == 42  # total_games missing: the sum


def test_set_games_reports_added_removed_updated_and_keeps_server_order():
    store = Store()
    change = store.set_games(games_payload([game(3), game(1), game(2)]))
    assert change.added == ["3", "1", "2"] and store.game_order == ["3", "1", "2"]
    change = store.set_games(games_payload([game(3), game(2, text_info="1:0"), game(4)]))
    assert change.added == ["4"] and change.removed == ["1"] and change.updated == ["2"]
    assert set(store.games) == {"3", "2", "4"}


def test_game_key_falls_back_to_game_id_then_index():
    store = Store()
    store.set_games(games_payload([{"gameId": "g9", "region": "R"}, {"region": "R"}]))
    assert store.game_order == ["g9", "1"]


def test_odds_update_and_null_odds_keep_prices():
    store = Store()
    store.set_games(games_payload([game(10), game(11)]))
    changed = store.apply_odds(odds_payload([{"gameId": 10, "odds": three_way(1.85, 3.4, 4.2), "markets_count": 143}]))
    assert changed == ["10"]
    entry = store.odds_for("10")
    assert [o.price for o in entry.outcomes] == [1.85, 3.4, 4.2] and entry.markets_count == 143
    # odds null: only the count changes, the old prices stay
    assert store.apply_odds(odds_payload([{"gameId": "10", "odds": None, "markets_count": 120}])) == ["10"]
    assert [o.price for o in store.odds_for("10").outcomes] == [1.85, 3.4, 4.2]
    assert store.odds_for("10").markets_count == 120
    # the same again: nothing changed
    assert store.apply_odds(odds_payload([{"gameId": "10", "odds": None, "markets_count": 120}])) == []


def test_odds_of_games_that_left_the_list_are_dropped():
    store = Store()
    store.set_games(games_payload([game(10), game(11)]))
    store.apply_odds(odds_payload([{"gameId": 11, "odds": three_way(1, 2, 3)}]))
    store.set_games(games_payload([game(10)]))
    assert store.odds_for("11") is None


def test_odds_for_unknown_games_are_bounded():
    store = Store()
    updates = [{"gameId": i, "odds": three_way(1, 2, 3)} for i in range(MAX_UNKNOWN_ODDS + 50)]
    assert store.apply_odds(odds_payload(updates)) == []  # not rows: nothing to render
    assert len(store.odds) == MAX_UNKNOWN_ODDS


def test_list_markets_count_refreshes_the_pill_count():
    store = Store()
    store.set_games(games_payload([game(10, markets_count=50)]))
    assert store.odds_for("10") is None  # no odds yet: the row reads the list's count itself
    store.apply_odds(odds_payload([{"gameId": 10, "odds": three_way(1, 2, 3), "markets_count": 40}]))
    store.set_games(games_payload([game(10, markets_count=50)]))
    assert store.odds_for("10").markets_count == 50  # the newest count wins


def test_decode_errors_name_the_payload():
    with pytest.raises(DecodeError, match="odds payload"):
        decode('{"updates": 5}', "odds")
    with pytest.raises(DecodeError):
        decode("not json", "games")


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.integers(0, 30), unique=True, max_size=20), min_size=1, max_size=8))
def test_games_dict_and_order_always_agree(lists):
    store = Store()
    for ids in lists:
        before = set(store.games)
        change = store.set_games(games_payload([game(i) for i in ids]))
        assert store.game_order == [str(i) for i in ids]
        assert set(store.games) == set(store.game_order)
        assert set(change.added) == set(store.games) - before
        assert set(change.removed) == before - set(store.games)
        assert set(store.odds) <= set(store.games)
