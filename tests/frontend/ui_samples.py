"""Payloads shaped like the backend's (docs/api.md B2, B4, C3, A2, A5-A7; the tracker frames of
``oddsui.tracker_feed``), small enough to read, for the CPython view and app tests."""

from __future__ import annotations

import json
from typing import Any

from oddsui.tracker_feed import Ball, BallUpdate, MatchEvent, MatchState, Possession, Score, Teams, encode_frame


def event(eid: int, mid: int, name: str, price: float, order: int, type_1: str = "", base: Any = None,
          blocked: int = 0) -> dict[str, Any]:
    return {"id": eid, "market_id": mid, "name": name, "type": type_1 or name, "type_1": type_1 or name,
            "price": price, "base": base, "order": order, "is_blocked": blocked}


def market(mid: int, name: str, group: tuple[int, str, int], events: list[dict[str, Any]], order: int,
           display_key: str = "WINNER", sub: str = "MATCH", type_: str = "", template: str = "",
           base: Any = None, blocked: int = 0, col_count: int | None = None) -> dict[str, Any]:
    return {"id": mid, "name": name, "name_template": template or name, "type": type_ or name.replace(" ", ""),
            "display_key": display_key, "display_sub_key": sub, "order": order, "is_blocked": blocked,
            "col_count": col_count if col_count is not None else len(events), "group_id": group[0],
            "group_name": group[1], "group_order": group[2], "base": base,
            "event": {str(e["id"]): e for e in events}}


MAIN = (1, "Main", 1)
TOTALS = (2, "Totals", 2)
HANDICAPS = (3, "Handicaps", 3)


def football_markets(gid: int = 7, p1: float = 1.85, over25: float = 2.0, blocked_draw: int = 0) -> dict[str, Any]:
    base = gid * 1000
    markets = [
        market(base + 1, "Match Result", MAIN, [event(base * 10 + 1, base + 1, "W1", p1, 0, "W1"),
                                                event(base * 10 + 2, base + 1, "Draw", 3.4, 1, "X", blocked=blocked_draw),
                                                event(base * 10 + 3, base + 1, "W2", 4.2, 2, "W2")], 1, type_="P1XP2"),
        market(base + 2, "Both Teams To Score", MAIN, [event(base * 10 + 4, base + 2, "Yes", 1.6, 0),
                                                        event(base * 10 + 5, base + 2, "No", 2.3, 1)], 5),
    ]
    for i, (line, over, under) in enumerate(((2.5, over25, 1.8), (1.5, 1.3, 3.5), (3.5, 3.9, 1.25))):
        mid = base + 10 + i
        markets.append(market(mid, f"Total Goals ({line})", TOTALS,
                              [event(mid * 10, mid, f"Over ({line})", over, 0, "Over", line),
                               event(mid * 10 + 1, mid, f"Under ({line})", under, 1, "Under", line)],
                              2 + i * 10, display_key="TOTALS", type_="OverUnder", template="Total Goals ({h})",
                              base=line))
    for i, line in enumerate((-0.5, 0.5)):
        mid = base + 20 + i
        markets.append(market(mid, f"Handicap ({line:+g})", HANDICAPS,
                              [event(mid * 10, mid, f"W1 ({line:+g})", 2.0 + i, 0, "Home", line),
                               event(mid * 10 + 1, mid, f"W2 ({-line:+g})", 1.8 - i / 2, 1, "Away", -line)],
                              3 + i * 10, display_key="HANDICAP", type_="Handicap", template="Handicap ({h})",
                              base=line))
    return {str(m["id"]): m for m in markets}


def list_game(gid: int = 7, live: bool = True, team1: str = "Arsenal", team2: str = "Chelsea",
              region: str = "England", competition: str = "Premier League", comp_id: int = 538,
              **extra: Any) -> dict[str, Any]:
    game = {"id": gid, "type": 1 if live else 0, "start_ts": 1767700800, "team1_name": team1, "team2_name": team2,
            "is_blocked": 0, "markets_count": 7, "competition_id": comp_id, "region_id": 1000, "sport": "Football",
            "region": region, "competition": competition, "market": {}}
    if live:
        game["info"] = {"current_game_state": "set1", "current_game_time": "37", "score1": "0", "score2": "1",
                        "shirt1_color": "FF0000", "shirt2_color": "0000FF", "add_minutes": ""}
        game["text_info"] = "0:1 37`"
    game.update(extra)
    return game


def full_game(gid: int = 7, live: bool = True, markets: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    game = list_game(gid, live, **extra)
    game["stats"] = {"score_set1": {"team1_value": 0, "team2_value": 1},
                     "corner": {"team1_value": 3, "team2_value": 1},
                     "yellow_card": {"team1_value": 0, "team2_value": 2}} if live else {}
    game["live_events"] = [{"event_type": "goal", "team": "team2", "value": 1, "time": "21", "period": "set1"},
                           {"event_type": "corner", "team": "team1", "value": 1, "time": "30", "period": "set1"}] \
        if live else []
    game["market"] = football_markets(gid) if markets is None else markets
    return game


def game_event(gid: int = 7, **kwargs: Any) -> str:
    return json.dumps({"gameId": str(gid), "data": full_game(gid, **kwargs), "last_updated": "2026-12-01T21:00:00Z"})


def games_event(sport_id: int, games: list[dict[str, Any]]) -> str:
    return json.dumps({"sportId": str(sport_id), "sportName": "Football", "data": games, "last_updated": "t"})


def tracker_state(gid: int = 7, sport: str = "football", x: float = 0.5, y: float = 0.5, team: str | None = None,
                  zone: str = "safe", seq: int = 0) -> MatchState:
    return MatchState(game_id=str(gid), seq=seq, sport=sport, teams=Teams("Arsenal", "Chelsea"), period="1H",
                      minute=37, clock="37'", score=Score(0, 1), periods=[Score(0, 1)],
                      stats={"corners": Score(3, 1)}, possession=Possession(55, 45),
                      ball=Ball(x=x, y=y, team=team, zone=zone), timeline=[])


def frame_json(frame: Any) -> str:
    return encode_frame(frame).decode()


def ball_frame(gid: int, seq: int, x: float, y: float, team: str | None = "home", zone: str = "attack") -> str:
    return frame_json(BallUpdate(game_id=str(gid), seq=seq, ball=Ball(x=x, y=y, team=team, zone=zone)))


def goal_frame(gid: int, seq: int, team: str, home: int, away: int, minute: int) -> str:
    return frame_json(MatchEvent(game_id=str(gid), seq=seq, kind="goal", team=team, period="1H", minute=minute,
                                 score=Score(home, away), points=1))


HEALTH = {
    "status": "ok", "uptime": 3725.0,
    "live_tracker": {"active_games": 1, "active_sse_clients": 2, "upstream_ws_connected_games": 1,
                     "ws_messages_total": 120, "ws_messages_last_60s": 60, "ws_parse_errors_total": 0,
                     "last_message_at": "2026-12-01T21:00:00.000Z"},
    "swarm_ws": {"connected": True, "session_id": "abc", "ws_url": "ws://x", "ws_messages_total": 5000,
                 "ws_messages_last_60s": 300, "ws_parse_errors_total": 1, "state": "live",
                 "active_subscriptions": 4, "updates_last_60s_total": 290, "reconnects_total": 0,
                 "by_endpoint": {"live": {"active_subscriptions": 2, "updates_last_60s": 200}},
                 "by_tag": {"odds": {"active_subscriptions": 2, "updates_last_60s": 150}}, "clients": 3},
    "cache": {"hits": 42, "misses": 3, "hit_rate": 0.933},
    "responseTime": {"avg": 1.7, "p95": 4.2, "slowRequests": 0, "count": 45},
    "counts_stream": {"runs_last_60s": 12, "last_reason": "delta", "runs_by_reason": {"delta": 12}},
    "memory": {"rss_bytes": 80_000_000, "services": {"odds_hub": {"replay_bytes": 1000, "cache_bytes": 2000}}},
    "upstream": {"odds_feed": {"connected": 1, "failure_rate_5m": 0.0}},
    "groups": {"count": 3, "max_clients": 2},
    "messages_per_second": {"odds_feed": [i % 7 for i in range(60)], "tracker_feed": [1] * 60},
    "alerts": [{"name": "upstream_stalled", "severity": "warning", "message": "The odds feed stalled 1 time",
                "value": 1, "threshold": 0}],
}
