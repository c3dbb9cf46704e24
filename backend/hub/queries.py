"""Every Swarm ``get`` the hub sends (docs/api.md D7, items 1-9), as functions of their parameters.

Keeping them in one place keeps the hub's upstream traffic reviewable against the spec, and lets
the simulator's tests assert that each of them is understood.
"""

from __future__ import annotations

from typing import Any

SPORT_NOT_VIRTUAL = {"type": {"@nin": [1, 4]}}
PREMATCH_GAME = {"@or": [{"visible_in_prematch": 1}, {"type": {"@in": [0, 2]}}]}
FEATURED_MARKETS = {"@or": [
    {"display_key": {"@in": ["HANDICAP", "TOTALS"]}, "display_sub_key": "MATCH", "main_order": 1},
    {"display_key": "WINNER", "display_sub_key": "MATCH"},
]}

LIST_GAME_FIELDS = ["id", "sport_id", "type", "start_ts", "team1_name", "team2_name", "is_blocked", "info",
                    "text_info", "markets_count", "competition_id", "region_id"]
PREMATCH_GAME_FIELDS = [f for f in LIST_GAME_FIELDS if f not in ("info", "text_info")] + ["visible_in_prematch"]

ODDS_WHAT = {
    "game": ["id", "markets_count"],
    "market": ["id", "game_id", "type", "order", "is_blocked", "display_key", "display_sub_key", "main_order",
               "base"],
    "event": ["id", "market_id", "type", "type_1", "name", "order", "price", "base", "is_blocked"],
}
CHUNK_WHAT = {
    "game": ["id", "markets_count"],
    "market": ["id", "game_id", "type", "order", "is_blocked", "display_key"],
    "event": ["id", "market_id", "type", "name", "order", "price", "base", "is_blocked"],
}
GAME_FIELDS = ["id", "stats", "info", "is_neutral_venue", "add_info_name", "text_info", "markets_count", "type",
               "start_ts", "is_stat_available", "team1_id", "team1_name", "team2_id", "team2_name", "last_event",
               "live_events", "match_length", "sport_alias", "sportcast_id", "region_alias", "is_blocked",
               "show_type", "game_number"]
MARKET_FIELDS = ["id", "game_id", "group_id", "group_name", "group_order", "type", "name_template", "sequence",
                 "point_sequence", "name", "order", "display_key", "display_sub_key", "col_count", "express_id",
                 "extra_info", "cashout", "is_new", "has_early_payout", "prematch_express_id", "main_order", "base",
                 "is_blocked"]
EVENT_FIELDS = ["id", "market_id", "type_1", "type", "price", "name", "base", "home_value", "away_value",
                "display_column", "order", "is_blocked"]

Query = tuple[dict[str, Any], dict[str, Any]]  # (what, where)


def counts(live: bool) -> Query:
    return ({"sport": ["id", "name"], "game": ["id"]},
            {"sport": SPORT_NOT_VIRTUAL, "game": {"type": 1} if live else PREMATCH_GAME})


def sport_games(sport_id: int, live: bool) -> Query:
    what = {"sport": ["id", "name"], "region": ["id", "name"], "competition": ["id", "name"],
            "game": LIST_GAME_FIELDS if live else PREMATCH_GAME_FIELDS}
    return what, {"sport": {"id": sport_id}, "game": {"type": 1} if live else PREMATCH_GAME}


def live_main_odds(sport_id: int, market_type: str) -> Query:
    return ODDS_WHAT, {"sport": {"id": sport_id}, "game": {"type": 1}, "market": {"type": market_type}}


def featured_odds(sport_id: int) -> Query:
    what = {
        "sport": ["id", "name", "alias", "order"],
        "game": [["id", "markets_count", "is_blocked", "is_stat_available", "show_type", "sport_alias", "team1_name",
                  "team2_name", "team1_id", "team2_id", "sportcast_id", "start_ts", "_parent_id", "region_alias"]],
        "market": ["type", "name", "display_key", "base", "id", "express_id", "name_template", "main_order"],
        "event": ["id", "price", "type_1", "name", "base", "order"],
    }
    where = {"sport": {"id": sport_id, "type": {"@nin": [1, 4]}},
             "game": {"show_type": {"@ne": "OUTRIGHT"}, "start_ts": {"@now": {"@gte": 1800, "@lt": 3600}}},
             "market": FEATURED_MARKETS}
    return what, where


def odds_chunk(game_ids: list[int], market_types: list[str]) -> Query:
    return CHUNK_WHAT, {"game": {"id": {"@in": game_ids}}, "market": {"type": {"@in": market_types[:8]}}}


def competition_odds(competition_id: int, live: bool) -> Query:
    return ODDS_WHAT, {"competition": {"id": competition_id}, "game": {"type": 1} if live else PREMATCH_GAME,
                       "market": FEATURED_MARKETS}


def single_game(game_id: int) -> Query:
    return {"game": GAME_FIELDS, "market": MARKET_FIELDS, "event": EVENT_FIELDS}, {"game": {"id": game_id}}


def hierarchy(filtered: bool = True) -> Query:
    what = {"sport": ["id", "name", "alias", "order"], "region": ["id", "name", "alias", "order"],
            "competition": ["id", "name", "alias", "order"]}
    return what, ({"sport": SPORT_NOT_VIRTUAL} if filtered else {})
