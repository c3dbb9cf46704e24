"""A late joiner's odds snapshot speaks for every listed game (docs/api.md B2): a browser that comes
back to a group made again -- a new epoch, which has not read every game's odds yet -- must end up
showing what a new browser shows, not the odds the old incarnation once sent it."""

from __future__ import annotations

import json

from backend.clock import FakeClock
from backend.hub.groups import LiveSport, PrematchSport
from backend.hub.service import OddsHub
from backend.settings import Settings

MARKET = {"m1": {"id": 1, "type": "P1XP2", "order": 1, "event": {
    "1": {"id": 1, "type": "P1", "price": 1.5, "order": 1}, "2": {"id": 2, "type": "X", "price": 3.0, "order": 2},
    "3": {"id": 3, "type": "P2", "price": 5.0, "order": 3}}}}


def games_tree(ids, live=False):
    games = {str(g): {"id": g, "type": 1 if live else 0, "sport_id": 1, "markets_count": 7, "team1_name": "A"}
             for g in ids}
    return {"sport": {"1": {"id": 1, "region": {"10": {"id": 10, "competition": {"100": {"id": 100, "game": games}}}}}}}


def browser_after(opening: list[bytes], before: dict[str, object]) -> dict[str, object]:
    """What the UI (frontend/oddsui/store.py) shows after applying an opening over what it had: odds
    merged by game, games that left the list dropped, a game with null odds shown without."""
    odds = dict(before)
    listed: list[str] = []
    for frame in opening:
        lines = dict(line.split(": ", 1) for line in frame.decode().strip().split("\n"))
        payload = json.loads(lines["data"])
        if lines.get("event") == "games":
            listed = [str(g["id"]) for g in payload["data"]]
        elif lines.get("event") == "odds":
            for u in payload["updates"]:
                odds[str(u["gameId"])] = u["odds"]
    return {g: odds[g] for g in listed if odds.get(g) is not None}


def test_a_returning_browser_forgets_odds_the_new_prematch_group_has_not_read_yet():
    hub = OddsHub(Settings(), FakeClock(), "ws://127.0.0.1:9/")
    group = PrematchSport(hub, ("prematch", "1"), "1")
    group.priorities = ["P1XP2"]
    group.on_games(games_tree([1, 2, 3]))
    # only game 1's odds have been polled so far (chunks come every 2.5 s)
    group.on_odds({"game": {"1": {"id": 1, "markets_count": 7, "market": MARKET}}})
    opening = group.late_joiner_frames()
    old = {"1": [{"label": "1", "price": 9.9, "blocked": False}], "2": [{"label": "1", "price": 2.2, "blocked": False}],
           "3": [{"label": "1", "price": 4.4, "blocked": False}]}  # what the old incarnation had sent
    assert browser_after(opening, old) == browser_after(opening, {})
    assert set(browser_after(opening, {})) == {"1"}


def test_the_snapshot_follows_the_list_and_keeps_the_listed_markets_count():
    hub = OddsHub(Settings(), FakeClock(), "ws://127.0.0.1:9/")
    group = LiveSport(hub, ("live", "1"), "1")
    group.priorities = ["P1XP2"]
    group.on_games(games_tree([1, 2], live=True))
    group.on_odds({"game": {"1": {"id": 1, "markets_count": 7, "market": MARKET}}}, None, resubscribed=True)
    (odds,) = [f for f in group.late_joiner_frames() if f.startswith(b"event: odds")]
    updates = json.loads(odds.decode().split("data: ", 1)[1])["updates"]
    assert [(u["gameId"], u["odds"] is None, u["markets_count"]) for u in updates] == [("1", False, 7), ("2", True, 7)]
    group.on_games(games_tree([1, 2, 4], live=True))  # a new game is listed: the snapshot names it too
    (odds,) = [f for f in group.late_joiner_frames() if f.startswith(b"event: odds")]
    assert [u["gameId"] for u in json.loads(odds.decode().split("data: ", 1)[1])["updates"]] == ["1", "2", "4"]
