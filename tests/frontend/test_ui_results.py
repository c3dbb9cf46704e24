"""Results mode (oddsui.results; docs/api.md A5-A7): date windows, shaping, and the mode in the app."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlparse

from hypothesis import given, settings
from hypothesis import strategies as st
from oddsui.messages import decode
from oddsui.results import date_window, group_results, results_sports, settlement_rows
from ui_fakes import click
from ui_world import World

COMPETITIONS = {"success": True, "data": [
    {"Id": 3, "Name": "Basketball", "Regions": [{"Id": 1, "Name": "USA", "Competitions": [{"Id": 9, "Name": "NBA"}]}]},
    {"Id": 1, "Name": "Football", "Regions": [{"Id": 1000, "Name": "England", "Competitions": [
        {"Id": 2001, "Name": "Premier League"}, {"Id": 2002, "Name": "Championship"}]}]},
    {"Id": 99, "Name": "Virtual Football", "Regions": []},
]}


def result_game(gid, date, region="England", competition="Premier League", team1="Arsenal", team2="Chelsea"):
    return {"game_id": gid, "team1_name": team1, "team2_name": team2, "date": date, "region_name": region,
            "competition_name": competition, "scores": "2:1 (1:0, 1:1)", "sport_id": 1}


GAMES = {"success": True, "sportId": 1, "count": 3, "games": [
    result_game(11, 1796100000), result_game(12, 1796150000, competition="Championship"),
    result_game(13, 1796120000, region="Spain", competition="LaLiga", team1="Betis", team2="Sevilla")]}
SETTLE = {"success": True, "gameId": "11", "settlements": [
    {"market": "Match Result", "winners": ["W1"]}, {"market": "Double Chance", "winners": ["1X", "12"]},
    {"market": "Match Result", "winners": ["W1"]}]}


@settings(max_examples=300, deadline=None)
@given(st.floats(1_500_000_000_000, 2_000_000_000_000), st.integers(-720, 840))
def test_date_windows_are_local_days(now_ms, offset):
    today = date_window("today", now_ms, offset)
    yesterday = date_window("yesterday", now_ms, offset)
    week = date_window("week", now_ms, offset)
    now_s = now_ms / 1000
    assert today[0] <= now_s < today[1] and today[1] - today[0] == 86400
    assert (today[0] + offset * 60) % 86400 == 0  # a local midnight
    assert yesterday == (today[0] - 86400, today[0])
    assert week == (today[0] - 6 * 86400, today[1])


def test_results_sports_follow_the_hierarchy_order_and_keep_unknown_ones():
    payload = decode(json.dumps(COMPETITIONS), "results_competitions")
    items = results_sports(payload, {"1": 1.0, "3": 3.0}, {"football": "1"})
    assert [(s.id, s.name, s.competitions) for s in items] == [
        ("1", "Football", 2), ("3", "Basketball", 1), ("99", "Virtual Football", 0)]


def test_games_group_newest_first_and_settlements_merge_per_market():
    games = decode(json.dumps(GAMES), "results_games").games
    groups = group_results(games)
    assert [(r.name, [(c.name, [g.game_id for g in c.games]) for c in r.competitions]) for r in groups] == [
        ("England", [("Championship", [12]), ("Premier League", [11])]), ("Spain", [("LaLiga", [13])])]
    rows = settlement_rows(decode(json.dumps(SETTLE), "results_game"))
    assert rows == [("Match Result", ["W1"]), ("Double Chance", ["1X", "12"])]


def results_world():
    w = World()
    w.platform.hold_prefixes = ["/api/results/"]
    w.frame()
    click(w.dom.by_id("tab-results"), w.dom.by_id("mode-tabs"))
    return w


def resolve(w, prefix, body, status=200):
    held = [d for d in w.platform.held if d.url.startswith(prefix) and not d.done]
    assert held, [d.url for d in w.platform.held]
    held[-1].resolve((status, json.dumps(body)))
    return held[-1].url


def test_results_mode_lists_sports_games_and_a_games_settlements():
    w = results_world()
    assert w.app.mode == "results" and w.sources("/api/live-stream") == [] and w.sources("/api/prematch-stream") == []
    url = resolve(w, "/api/results/competitions", COMPETITIONS)
    query = parse_qs(urlparse(url).query)
    assert int(query["to"][0]) - int(query["from"][0]) == 86400  # today
    w.run_frames()
    assert [n.attrs["data-sport-id"] for n in w.dom.by_id("sport-list").children] == ["1", "3", "99"]
    assert [b.attrs["aria-pressed"] for b in w.dom.by_id("results-dates").children] == ["true", "false", "false"]
    w.click_sport(1)
    w.run_frames()
    assert not w.dom.by_id("loading").hidden  # the loading overlay while the games load
    resolve(w, "/api/results/games/1?", GAMES)
    w.run_frames()
    assert w.dom.by_id("loading").hidden
    assert w.dom.by_id("content-title").text == "Football \u00b7 Results"
    assert w.dom.by_id("content-sub").text == "3 games \u00b7 Today"
    results = w.dom.by_id("results")
    assert [n.attrs["data-result-id"] for n in results.find_all(cls="result-row")] == ["12", "11", "13"]
    button = [b for b in results.find_all(cls="result-open") if b.attrs["data-result-game"] == "11"][0]
    click(button.children[1], results)
    assert button.attrs["aria-expanded"] == "true"
    panel = [p for p in results.find_all(cls="settlements") if p.attrs["data-settle"] == "11"][0]
    assert not panel.hidden and "Loading settlements" in panel.text
    resolve(w, "/api/results/game/11", SETTLE)
    w.run_frames()
    assert [th.text for th in panel.find(cls="settle-table").find_all(attr="scope") if th.attrs["scope"] == "row"] \
        == ["Match Result", "Double Chance"]
    click(button, results)
    assert button.attrs["aria-expanded"] == "false" and panel.hidden


def test_a_new_date_choice_reloads_and_late_answers_for_the_old_one_are_dropped():
    w = results_world()
    resolve(w, "/api/results/competitions", COMPETITIONS)
    w.click_sport(1)
    old = [d for d in w.platform.held if d.url.startswith("/api/results/games/1") and not d.done][-1]
    w.run_frames()
    chips = list(w.dom.by_id("results-dates").children)
    click(chips[1], w.dom.by_id("results-dates"))  # Yesterday
    assert w.app.results.range == "yesterday"
    w.run_frames()
    # the same buttons, only pressed or not: the chosen one is not replaced (it keeps the focus)
    assert list(w.dom.by_id("results-dates").children) == chips
    assert [c.attrs["aria-pressed"] for c in chips] == ["false", "true", "false"]
    assert ["active" in c.classes for c in chips] == [False, True, False]
    new_url = resolve(w, "/api/results/games/1?", {"success": True, "games": [result_game(21, 1796000000)]})
    old.resolve((200, json.dumps(GAMES)))  # the answer for "today" comes back late
    w.run_frames()
    assert parse_qs(urlparse(new_url).query)["from"] != parse_qs(urlparse(old.url).query)["from"]
    assert [n.attrs["data-result-id"] for n in w.dom.by_id("results").find_all(cls="result-row")] == ["21"]
    assert w.dom.by_id("content-sub").text == "1 game \u00b7 Yesterday"


def test_errors_are_said_and_leaving_the_mode_releases_its_fetches_and_listeners():
    w = results_world()
    resolve(w, "/api/results/competitions", {"success": False, "error": "get_active_competitions failed: x"}, 500)
    w.run_frames()
    assert "get_active_competitions failed" in w.dom.by_id("toasts").text
    assert w.dom.by_id("sport-list").children == []  # no sport has results we know of
    w.app.select_sport("1")
    resolve(w, "/api/results/games/1?", {"success": False, "error": "Invalid sportId"}, 400)
    w.run_frames()
    assert "Could not load results: Invalid sportId" in w.dom.by_id("results").text
    w.app.select_sport("3")
    pending = [d for d in w.platform.held if not d.done]
    assert pending
    click(w.dom.by_id("tab-live"), w.dom.by_id("mode-tabs"))
    w.run_frames()
    assert w.app.results is None and all(d.task.cancelled() for d in pending)
    assert w.dom.by_id("results").hidden and w.dom.by_id("results").children == []
    assert w.dom.by_id("results").listener_count() == 0 and w.dom.by_id("results-dates").listener_count() == 0
    assert w.source("/api/live-stream").url == "/api/live-stream?sportId=3"


def test_result_names_are_text():
    w = results_world()
    resolve(w, "/api/results/competitions", COMPETITIONS)
    w.click_sport(1)
    evil = "<img src=x onerror=alert(1)>"
    resolve(w, "/api/results/games/1?", {"success": True, "games": [result_game(5, 1, region=evil, team1=evil)]})
    w.run_frames()
    results = w.dom.by_id("results")
    assert all(n.tag != "img" for n in results.iter()) and evil in results.find(cls="r-team").text
