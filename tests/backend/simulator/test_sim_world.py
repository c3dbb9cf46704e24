"""The simulated world: determinism, invariants, dynamics, and every query the hub sends."""

from __future__ import annotations

import math
import re
from typing import Any

import pytest

from backend.hub import queries
from backend.simulator.catalog import EXTRA_SPORTS, SPORTS
from backend.simulator.config import SimulatorConfig
from backend.simulator.markets import sport_markets
from backend.simulator.query import evaluate, parse_query
from backend.simulator.world import World

T0 = 1_767_700_000.0
SMALL = SimulatorConfig(seed=7, live_games=20, prematch_games=70, price_changes_per_second=150.0,
                        history_games_per_day=40)

SPORT_NOT_VIRTUAL = {"type": {"@nin": [1, 4]}}
PREMATCH_GAME = {"@or": [{"visible_in_prematch": 1}, {"type": {"@in": [0, 2]}}]}
FEATURED_MARKETS = {"@or": [
    {"display_key": {"@in": ["HANDICAP", "TOTALS"]}, "display_sub_key": "MATCH", "main_order": 1},
    {"display_key": "WINNER", "display_sub_key": "MATCH"},
]}
ODDS_WHAT = {
    "game": ["id", "markets_count"],
    "market": ["id", "game_id", "type", "order", "is_blocked", "display_key", "display_sub_key", "main_order", "base"],
    "event": ["id", "market_id", "type", "type_1", "name", "order", "price", "base", "is_blocked"],
}


def everything(world: World, now: float) -> dict[str, Any]:
    """The whole observable state: every game with all markets and events, and the results."""
    tree = evaluate(parse_query({"game": [], "market": [], "event": []}), world, now).tree
    results = [g.listing() for g in world.history.between(0, 2**40)]
    return {"tree": tree, "results": results, "live": world.game_ids(live=True)}


def test_same_seed_gives_the_same_world() -> None:
    assert everything(World(SMALL, T0), T0) == everything(World(SMALL, T0), T0)
    other = SimulatorConfig(seed=8, live_games=20, prematch_games=70, history_games_per_day=40)
    assert everything(World(other, T0), T0) != everything(World(SMALL, T0), T0)


def test_same_ticks_give_the_same_state_whatever_the_queries_in_between() -> None:
    a, b = World(SMALL, T0), World(SMALL, T0)
    for step in range(1, 121):
        now = T0 + step * 0.25
        a.tick(now)
        b.tick(now)
        if step % 40 == 0:
            everything(b, now)  # materialising books must not change anything
    assert everything(a, T0 + 30) == everything(b, T0 + 30)


def test_state_does_not_depend_on_how_often_tick_is_called() -> None:
    fine, coarse = World(SMALL, T0), World(SMALL, T0)
    for step in range(1, 121):
        fine.tick(T0 + step * 0.25)
    coarse.tick(T0 + 10)
    coarse.tick(T0 + 30)
    assert everything(fine, T0 + 30) == everything(coarse, T0 + 30)


def test_time_never_goes_back() -> None:
    world = World(SMALL, T0)
    world.tick(T0 + 5)
    assert world.tick(T0 + 1) == 0
    assert world.now == T0 + 5


def assert_world_invariants(world: World, now: float) -> None:
    tree = evaluate(parse_query({"sport": ["id", "alias", "type"], "game": [], "market": [], "event": []}), world, now).tree
    seen_markets: set[int] = set()
    seen_events: set[int] = set()
    for sport in tree["sport"].values():
        main_type = world.market_types(sport["alias"])[0]["BasaltKind"]
        for gid, game in sport["game"].items():
            markets = game["market"]
            assert game["id"] == int(gid)
            assert game["markets_count"] == len(markets) >= 1
            main = next(m for m in markets.values() if m["order"] == 1)
            assert main["type"] == ("Outright" if game["show_type"] == "OUTRIGHT" else main_type)
            for mid, market in markets.items():
                assert market["game_id"] == game["id"] and market["id"] == int(mid)
                assert market["id"] not in seen_markets
                seen_markets.add(market["id"])
                assert market["event"], market
                for eid, event in market["event"].items():
                    assert event["market_id"] == market["id"] and event["id"] == int(eid)
                    assert event["id"] not in seen_events
                    seen_events.add(event["id"])
                    price = event["price"]
                    assert isinstance(price, float) and price >= 1.01 and math.isfinite(price)
                    assert round(price, 3) == price
                if market["type"] in ("Handicap", "PeriodHandicap"):
                    home, away = market["event"].values()
                    assert home["base"] == market["base"] == -away["base"]
            check_game_state(game)


def check_game_state(game: dict[str, Any]) -> None:
    stats, info = game["stats"], game["info"]
    if game["type"] != 1:
        assert game["type"] in (0, 2)
        assert game["text_info"] == "" and info["current_game_state"] == "notstarted"
        return
    assert game["visible_in_prematch"] == 0
    assert info["current_game_state"].startswith("set")
    set_keys = sorted((k for k in stats if k.startswith("score_set")), key=lambda k: int(k[9:]))
    sets = [stats[k] for k in set_keys]
    assert len(sets) == int(info["current_game_state"][3:])
    if game["sport_alias"] in {s.alias for s in SPORTS + EXTRA_SPORTS if s.kind == "timed"}:
        s1 = sum(s["team1_value"] for s in sets)
        s2 = sum(s["team2_value"] for s in sets)
        assert int(info["current_game_time"]) >= 0
    else:
        finished = sets[:-1]
        s1 = sum(1 for s in finished if s["team1_value"] > s["team2_value"])
        s2 = len(finished) - s1
    assert (info["score1"], info["score2"]) == (str(s1), str(s2))
    assert re.match(rf"{s1}:{s2}( \(|$| )", game["text_info"]), game["text_info"]


def test_a_fresh_world_keeps_its_invariants() -> None:
    world = World(SMALL, T0)
    assert len(world.game_ids(live=True)) == SMALL.live_games
    assert len(world.game_ids(live=False)) == SMALL.prematch_games
    assert_world_invariants(world, T0)


def test_the_default_world_has_realistic_size_and_variety() -> None:
    world = World(SimulatorConfig(), T0)
    live, prematch = world.game_ids(live=True), world.game_ids(live=False)
    assert (len(live), len(prematch)) == (300, 3000)
    regular = [s for s in world.sports if s.type == 0]
    assert len(regular) >= 15 and {1, 4} <= {s.type for s in world.sports}
    counts = [world.game(g)["markets_count"] for g in live + prematch]
    assert min(counts) >= 20 and max(counts) <= 150 and max(counts) >= 100
    assert all(world.game(g)["type"] == 1 for g in live)
    visible = sum(world.game(g)["visible_in_prematch"] for g in prematch)
    assert visible > 0.9 * len(prematch)
    assert any(world.game(g)["show_type"] == "OUTRIGHT" for g in prematch)
    soon = evaluate(parse_query({"game": "@count"}, {"game": {"start_ts": {"@now": {"@gte": 1800, "@lt": 3600}}}}),
                    world, T0).tree["game"]
    assert soon >= 20  # the featured-odds window is never empty


def test_live_play_prices_and_lifecycle_move_on() -> None:
    cfg = SimulatorConfig(seed=3, live_games=30, prematch_games=60, time_scale=60.0, price_changes_per_second=100.0,
                          block_changes_per_second=5.0, history_games_per_day=10)
    world = World(cfg, T0)
    first_live = set(world.game_ids(live=True))
    first_prematch = set(world.game_ids(live=False))
    history = len(world.history)
    before = {g: dict(world.game(g)) for g in first_live}
    price_before = evaluate(parse_query(ODDS_WHAT, {"game": {"type": 1}}), world, T0).tree
    blocked_seen = changed = 0
    for step in range(1, 601):
        now = T0 + step * 0.5
        world.tick(now)
        changes = world.drain_changes()
        changed += len(changes.games) + len(changes.markets)
        blocked_seen += sum(1 for g in changes.games if (world.game(g) or {}).get("is_blocked") == 1)
        if step == 60:  # half a minute in, the first live games are still playing
            still = [g for g in first_live if world.game(g) is not None]
            assert any(world.game(g)["text_info"] != before[g]["text_info"] for g in still)
    now = T0 + 300
    live = set(world.game_ids(live=True))
    assert changed > 0 and blocked_seen > 0
    assert len(world.history) > history  # games finished into the results
    finished = first_live - live
    assert finished and all(world.history.get(g) is not None for g in finished)
    kicked_off = first_prematch - set(world.game_ids(live=False))
    assert any(g in live or world.history.get(g) is not None for g in kicked_off)  # prematch went live
    assert len(world.game_ids(live=False)) == cfg.prematch_games  # and were replaced
    assert 10 <= len(live) <= 60
    price_after = evaluate(parse_query(ODDS_WHAT, {"game": {"type": 1}}), world, now).tree
    assert price_after != price_before
    assert_world_invariants(world, now)


@pytest.mark.parametrize("profile", [s for s in SPORTS + EXTRA_SPORTS], ids=lambda s: s.alias)
def test_market_types_list_what_the_sport_really_offers(profile) -> None:
    world = World(SimulatorConfig(sports=18, live_games=0, prematch_games=0, history_days=0), T0)
    details = world.market_types(profile.alias.upper())
    assert details is not None
    assert [d["Order"] for d in details] == list(range(1, len(details) + 1))
    assert details[0]["BasaltKind"] == ("P1XP2" if profile.three_way else "P1P2")
    offered = {t.type for t in sport_markets(profile).templates[:150]}
    assert {d["BasaltKind"] for d in details} == offered | {"Outright", "OutrightTop", "HeadToHead"}
    assert {d["BasaltKind"] for d in details[: len(offered)]} == offered  # match markets come first
    assert all(isinstance(d["Id"], int) and isinstance(d["Name"], str) for d in details)
    assert world.market_types("Curling") is None


def test_main_three_way_markets_carry_a_sane_margin() -> None:
    world = World(SMALL, T0)
    tree = evaluate(parse_query(ODDS_WHAT, {"sport": {"id": 1}, "market": {"type": "P1XP2"}}), world, T0).tree
    books = [sum(1 / e["price"] for e in m["event"].values()) for g in tree["game"].values() for m in g["market"].values()]
    assert books and all(0.98 < b < 1.15 for b in books)


def test_results_history_shapes() -> None:
    world = World(SMALL, T0)
    sports = world.history.active_competitions(T0 - 7 * 86400, T0)
    assert sports
    for sport in sports:
        assert set(sport) == {"Id", "Name", "Alias", "Regions"}
        for region in sport["Regions"]:
            assert set(region) == {"Id", "Name", "Competitions"}
            assert all(set(c) == {"Id", "Name"} for c in region["Competitions"])
    sport_id = sports[0]["Id"]
    games = world.history.between(T0 - 7 * 86400, T0, sport_id)
    assert games
    listing = games[0].listing()
    assert set(listing) == {"game_id", "team1_name", "team2_name", "date", "region_name", "competition_name",
                            "scores", "sport_id"}
    assert re.fullmatch(r"\d+:\d+( \((\d+:\d+)(, \d+:\d+)*\))?", listing["scores"])
    lines = games[0].settlements()
    assert lines[0]["line_name"] in ("Match Result", "Match Winner")
    assert all(isinstance(line["events"]["event_name"], list) for line in lines)
    assert world.history.between(T0 + 10, T0 + 20) == []


def hub_queries(sport_id: int, competition_id: int, game_ids: list[int], market_type: str) -> dict[str, tuple]:
    """Every get of docs/api.md D7, items 1-9, with the exact operators the hub uses."""
    list_fields = ["id", "sport_id", "type", "start_ts", "team1_name", "team2_name", "is_blocked", "info",
                   "text_info", "markets_count", "competition_id", "region_id"]
    prematch_fields = [f for f in list_fields if f not in ("info", "text_info")] + ["visible_in_prematch"]
    games_what = {"sport": ["id", "name"], "region": ["id", "name"], "competition": ["id", "name"], "game": list_fields}
    return {
        "1 live counts": ({"sport": ["id", "name"], "game": ["id"]}, {"sport": SPORT_NOT_VIRTUAL, "game": {"type": 1}}),
        "1 prematch counts": ({"sport": ["id", "name"], "game": ["id"]}, {"sport": SPORT_NOT_VIRTUAL, "game": PREMATCH_GAME}),
        "2 live games": (games_what, {"sport": {"id": sport_id}, "game": {"type": 1}}),
        "3 prematch poll": ({**games_what, "game": prematch_fields}, {"sport": {"id": sport_id}, "game": PREMATCH_GAME}),
        "4 live main odds": (ODDS_WHAT, {"sport": {"id": sport_id}, "game": {"type": 1}, "market": {"type": market_type}}),
        "5 featured": (
            {"sport": ["id", "name", "alias", "order"],
             "game": [["id", "markets_count", "is_blocked", "is_stat_available", "show_type", "sport_alias",
                       "team1_name", "team2_name", "team1_id", "team2_id", "sportcast_id", "start_ts", "_parent_id",
                       "region_alias"]],
             "market": ["type", "name", "display_key", "base", "id", "express_id", "name_template", "main_order"],
             "event": ["id", "price", "type_1", "name", "base", "order"]},
            {"sport": {"id": sport_id, "type": {"@nin": [1, 4]}},
             "game": {"show_type": {"@ne": "OUTRIGHT"}, "start_ts": {"@now": {"@gte": 1800, "@lt": 3600}}},
             "market": FEATURED_MARKETS}),
        "6 chunk": ({"game": ["id", "markets_count"], "market": ["id", "game_id", "type", "order", "is_blocked", "display_key"],
                     "event": ["id", "market_id", "type", "name", "order", "price", "base", "is_blocked"]},
                    {"game": {"id": {"@in": game_ids}}, "market": {"type": {"@in": ["P1XP2", "OverUnder", "Handicap",
                     "1X12X2", "P1P2", "W1XW2", "Team1OverUnder", "BothTeamsToScore"]}}}),
        "7 competition live": (ODDS_WHAT, {"competition": {"id": competition_id}, "game": {"type": 1}, "market": FEATURED_MARKETS}),
        "7 competition prematch": (ODDS_WHAT, {"competition": {"id": competition_id}, "game": PREMATCH_GAME,
                                               "market": FEATURED_MARKETS}),
        "8 single game": ({"game": ["id", "stats", "info", "markets_count"], "market": [], "event": []},
                          {"game": {"id": game_ids[0]}}),
        "9 hierarchy": ({"sport": ["id", "name", "alias", "order"], "region": ["id", "name", "alias", "order"],
                         "competition": ["id", "name", "alias", "order"]}, {"sport": SPORT_NOT_VIRTUAL}),
        "9 hierarchy unfiltered": ({"sport": ["id", "name", "alias", "order"], "region": ["id", "name", "alias", "order"],
                                    "competition": ["id", "name", "alias", "order"]}, {}),
    }


def test_every_query_the_hub_sends_is_understood() -> None:
    world = World(SimulatorConfig(seed=5, live_games=60, prematch_games=600), T0)
    live_football = [g for g in world.game_ids(live=True) if world.game(g)["sport_id"] == 1]
    competition = world.game(live_football[0])["competition_id"]
    queries = hub_queries(1, competition, live_football[:3], "P1XP2")
    trees = {name: evaluate(parse_query(what, where), world, T0).tree for name, (what, where) in queries.items()}
    live_counts = {s["name"]: len(s["game"]) for s in trees["1 live counts"]["sport"].values()}
    assert live_counts["Football"] == len(live_football)
    assert "Virtual Football" not in live_counts and "Virtual Tennis" not in live_counts
    prematch = sum(len(s["game"]) for s in trees["1 prematch counts"]["sport"].values())
    assert 0.9 * 600 < prematch <= 600
    games = [g for r in trees["2 live games"]["sport"]["1"]["region"].values()
             for c in r["competition"].values() for g in c["game"].values()]
    assert sorted(g["id"] for g in games) == sorted(live_football)
    assert all(isinstance(g["info"], dict) and g["type"] == 1 for g in games)
    assert len(trees["4 live main odds"]["game"]) == len(live_football)
    assert all(len(m["event"]) == 3 for g in trees["4 live main odds"]["game"].values() for m in g["market"].values())
    featured = trees["5 featured"]["sport"]["1"]["game"]
    assert featured
    for game in featured.values():
        assert T0 + 1800 <= game["start_ts"] < T0 + 3600
        keys = {(m["display_key"], m["main_order"]) for m in game["market"].values()}
        assert ("WINNER", 1) in keys and ("TOTALS", 1) in keys and ("HANDICAP", 1) in keys
    assert set(trees["6 chunk"]["game"]) == {str(g) for g in live_football[:3]}
    assert str(live_football[0]) in trees["7 competition live"]["game"]
    single = trees["8 single game"]["game"][str(live_football[0])]
    assert len(single["market"]) == single["markets_count"]
    hierarchy = trees["9 hierarchy"]["sport"]
    assert len(hierarchy) == 18 and all(s["region"] for s in hierarchy.values())
    assert len(trees["9 hierarchy unfiltered"]["sport"]) == 20


def test_the_hubs_own_query_builders_are_understood() -> None:
    world = World(SMALL, T0)
    game = world.game_ids(live=True)[0]
    for name in ("counts", "sport_games", "live_main_odds", "featured_odds", "odds_chunk", "competition_odds",
                 "single_game", "hierarchy"):
        builder = getattr(queries, name)  # a renamed builder fails here instead of dropping out
        args = {"counts": (True,), "sport_games": (1, True), "live_main_odds": (1, "P1XP2"), "featured_odds": (1,),
                "odds_chunk": ([game], ["P1XP2"]), "competition_odds": (world.game(game)["competition_id"], False),
                "single_game": (game,), "hierarchy": ()}[name]
        what, where = builder(*args)
        evaluate(parse_query(what, where), world, T0)


def test_the_hubs_liveness_probe_is_understood_and_cheap() -> None:
    from backend.swarm.session import PROBE

    result = evaluate(parse_query(PROBE["what"], PROBE["where"]), World(SMALL, T0), T0)
    assert result.tree == {} or not result.tree.get("sport")
