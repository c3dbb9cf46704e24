"""Payload builders and fingerprints (docs/api.md B, C and D)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from backend.hub import payloads as p


def market(mid, mtype, events, order=1, blocked=0):
    return {"id": mid, "type": mtype, "order": order, "is_blocked": blocked, "display_key": "WINNER",
            "event": {str(e["id"]): e for e in events}}


def ev(eid, price, order, etype="", name="", blocked=0):
    return {"id": eid, "price": price, "order": order, "type": etype, "name": name, "is_blocked": blocked}


def test_counts_keep_upstream_order_drop_zero_and_sum():
    tree = {"sport": {"3": {"id": 3, "name": "Tennis", "game": {"1": {}, "2": {}}},
                      "1": {"id": 1, "name": "Football", "game": {"5": {}}},
                      "2": {"id": 2, "name": "Darts", "game": {}},
                      "4": {"id": 4, "name": "Golf", "game": 7}}}
    payload = p.counts_payload(tree)
    assert payload == {"sports": [{"name": "Football", "count": 1}, {"name": "Tennis", "count": 2},
                                  {"name": "Golf", "count": 7}], "total_games": 10}
    assert p.counts_fingerprint(payload) == "Football:1|Golf:7|Tennis:2"


def test_games_list_injects_names_and_walks_in_id_order():
    tree = {"sport": {"1": {"id": 1, "name": "Football", "region": {
        "20": {"id": 20, "name": "Spain", "competition": {"7": {"id": 7, "name": "La Liga", "game": {
            "11": {"id": 11, "sport_id": 1, "type": 1}, "3": {"id": 3, "sport_id": 1, "type": 1}}}}},
        "5": {"id": 5, "name": "England", "competition": {"9": {"id": 9, "name": "PL", "game": {
            "8": {"id": 8, "sport_id": 1, "type": 1, "competition_id": 9, "region_id": 5}}}}}}}}}
    games = p.games_list(tree, "Football", 1)
    assert [g["id"] for g in games] == [8, 3, 11]
    assert games[0] == {"id": 8, "sport_id": 1, "type": 1, "competition_id": 9, "region_id": 5,
                        "sport": "Football", "region": "England", "competition": "PL", "market": {}}
    assert games[1]["competition_id"] == 7 and games[1]["region"] == "Spain"


def test_prematch_list_keeps_only_visible_or_prematch_types():
    tree = {"game": {"1": {"id": 1, "type": 1, "visible_in_prematch": 0}, "2": {"id": 2, "type": 1,
            "visible_in_prematch": 1}, "3": {"id": 3, "type": 2, "visible_in_prematch": 0}}}
    assert [g["id"] for g in p.games_list(tree, "X", prematch=True)] == [2, 3]


def test_games_fingerprint_ignores_names_and_blocking_but_sees_the_score():
    g = {"id": 1, "markets_count": 40, "text_info": "1:0", "info": {"score1": "1", "current_game_time": "12"},
         "team1_name": "A", "is_blocked": 0}
    base = p.games_fingerprint([g])
    assert p.games_fingerprint([{**g, "team1_name": "B", "is_blocked": 1}]) == base
    assert p.games_fingerprint([{**g, "info": {"current_game_time": "13"}}]) != base
    assert p.games_fingerprint([{**g, "text_info": "2:0"}]) != base


def test_main_market_by_priority_then_lowest_nonzero_order():
    markets = {"1": market(1, "P1P2", [ev(1, 2.0, 1), ev(2, 1.8, 2)], order=0),
               "2": market(2, "P1P2", [ev(3, 2.1, 1), ev(4, 1.7, 2)], order=5),
               "3": market(3, "P1XP2", [ev(5, 2.0, 1), ev(6, 3.0, 2), ev(7, 4.0, 3)], order=1)}
    assert p.pick_main_market(markets, ["p1p2", "P1XP2"])["id"] == 2  # order 0 counts as last
    assert p.pick_main_market(markets, ["P1XP2"])["id"] == 3
    # No priority type: the first 2-3 outcome market by order/id.
    assert p.pick_main_market(markets, ["Nope"])["id"] == 3
    assert p.pick_main_market(markets, ["Nope"], allow_any=False) is None


def test_odds_labels_blocking_and_raw_prices():
    m = market(1, "P1XP2", [ev(9, 3.25, 2, name="Draw"), ev(8, 1.5, 1, etype="P1"), ev(10, 5, 3, etype="P2",
                                                                                          blocked=1)])
    assert p.odds_array(m) == [{"label": "1", "price": 1.5, "blocked": False},
                               {"label": "X", "price": 3.25, "blocked": False},
                               {"label": "2", "price": 5, "blocked": True}]
    m["is_blocked"] = True
    assert all(o["blocked"] for o in p.odds_array(m))
    two = market(2, "W", [ev(1, 1.9, 1, name="Home"), ev(2, 1.9, 2, name="Away")])
    assert [o["label"] for o in p.odds_array(two)] == ["1", "2"]
    assert p.odds_array(market(3, "T", [ev(1, 1.9, 1)])) is None
    assert p.odds_array(None) is None


def test_priority_lists():
    assert p.priority_list(["A"], "Football", with_fallback=False) == ["A"]
    assert p.priority_list([], "Football", with_fallback=False) == list(p.FOOTBALL_FALLBACK)
    fallback = p.fallback_types("Football")
    fallback.append("mine")  # a caller's list is its own
    assert "mine" not in p.fallback_types("Football")
    assert p.priority_list(["P1P2", "B"], "Tennis", with_fallback=True) == ["P1P2", "B", "P1XP2", "W1W2", "W1XW2"]
    details = [{"Order": 2, "BasaltKind": "B"}, {"Order": 1, "BasaltKind": "Z"}, {"Order": 1, "BasaltKind": "A"}]
    assert p.market_types_from_details(details) == ["A", "Z", "B"]


PRICES = st.floats(1.01, 30, allow_nan=False).map(lambda x: round(x, 2))


@given(st.lists(st.tuples(PRICES, PRICES, st.integers(10, 12), st.booleans()), min_size=1, max_size=30))
def test_odds_cache_emits_exactly_when_odds_count_or_lock_change(steps):
    cache = p.OddsCache()
    last = None
    for i, (p1, p2, count, blocked) in enumerate(steps):
        game = {"id": 5, "markets_count": count,
                "market": {"1": market(1, "P1P2", [ev(1, p1, 1), ev(2, p2, 2)], blocked=int(blocked))}}
        update = cache.update_game(game, ["P1P2"], now=i)
        state = (p1, p2, count, blocked)
        if state == last:
            assert update is None
        else:
            assert update == {"gameId": 5, "markets_count": count,
                              "odds": [{"label": "1", "price": p1, "blocked": blocked},
                                       {"label": "2", "price": p2, "blocked": blocked}]}
        last = state
    assert cache.snapshot() == [{"gameId": "5", "odds": cache.entries["5"]["odds"], "markets_count": last[2]}]


def test_snapshot_is_sorted_by_string_id_and_can_include_nulls():
    cache = p.OddsCache()
    cache.update_game({"id": 10, "markets_count": 1, "market": {}}, [], 0)
    cache.update_game({"id": 9, "markets_count": None, "market": {"1": market(1, "P1P2", [ev(1, 2, 1),
                                                                                          ev(2, 2, 2)])}}, [], 0)
    assert [u["gameId"] for u in cache.snapshot()] == ["9"]
    assert cache.snapshot(include_null=True) == [{"gameId": "10", "odds": None, "markets_count": 1},
                                                 {"gameId": "9", "odds": cache.entries["9"]["odds"],
                                                  "markets_count": 0}]
    cache.retain([10])
    assert list(cache.entries) == ["10"]


@given(st.lists(st.tuples(st.integers(1, 40), st.floats(0, 50)), max_size=120), st.integers(1, 10),
       st.floats(1, 100))
def test_odds_cache_is_bounded_by_ttl_and_size_keeping_the_freshest(steps, cap, ttl):
    cache = p.OddsCache(ttl=ttl, max_entries=cap, ttl_check=0.0)
    now = 0.0
    refreshed: dict[str, tuple[float, int]] = {}  # game -> (time, order) of its last refresh
    for i, (gid, dt) in enumerate(steps):
        now += dt
        cache.update_game({"id": gid, "markets_count": int(now) % 3, "market": {}}, [], now)
        refreshed[str(gid)] = (now, i)
        cache.evict(now)
        assert len(cache.entries) <= cap
        assert all(now - e["updated"] < ttl for e in cache.entries.values())
        # What is kept is exactly the most recently refreshed games within the TTL.
        alive = sorted((k for k, (t, _) in refreshed.items() if now - t < ttl), key=lambda k: refreshed[k][1])
        assert list(cache.entries) == alive[-cap:]


@given(st.lists(st.tuples(st.integers(1, 40), st.floats(0, 50)), max_size=80), st.floats(1, 100), st.floats(0, 30))
def test_an_amortised_ttl_never_lets_an_entry_outlive_ttl_plus_the_check_interval(steps, ttl, check):
    cache = p.OddsCache(ttl=ttl, max_entries=1000, ttl_check=check)
    now = 0.0
    for gid, dt in steps:
        now += dt
        cache.update_game({"id": gid, "markets_count": 1, "market": {}}, [], now)
        cache.evict(now)
        assert all(now - e["updated"] < ttl + check for e in cache.entries.values())


def test_games_still_in_a_subscription_tree_never_age_out_only_games_that_left_it():
    cache = p.OddsCache(ttl=10.0, max_entries=1000, ttl_check=0.0)
    for gid in (1, 2, 3):
        cache.update_game({"id": gid, "markets_count": 1, "market": {}}, [], 0.0)
    asked = []

    def present() -> set[str]:
        asked.append(1)
        return {"1", "3"}

    assert cache.evict(5.0, present) == 0
    assert cache.evict(11.0, present) == 1 and sorted(cache.entries) == ["1", "3"]
    assert asked == [1, 1]
