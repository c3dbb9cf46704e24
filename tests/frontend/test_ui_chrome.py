"""Everything around the list: competition odds on expand, Refresh Data, warmup after a stream
error, the "Updated" time, the loading overlay, the phone drawer, keyboard paths (docs/ui.md 6)
and Retry-After after a 429."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlparse

from oddsui.competitions import MAX_OPEN
from oddsui.store import PREMATCH
from ui_fakes import click
from ui_samples import games_event, list_game
from ui_world import HIERARCHY, World

COMP = "/api/competition-odds-stream"


def three_competitions(w, mode_live=True):
    games = [list_game(1, live=mode_live, competition="Premier League", comp_id=538),
             list_game(2, live=mode_live, competition="Championship", comp_id=539),
             list_game(3, live=mode_live, competition="League One", comp_id=540)]
    stream = w.source("/api/live-stream" if mode_live else "/api/prematch-stream")
    stream.emit("games", games_event(1, games))
    w.run_frames()
    return {c.attrs["data-competition-id"]: c for c in w.dom.by_id("games").find_all(cls="competition")}


def toggle(w, comp):
    click(comp.find(cls="competition-name"), w.dom.by_id("games"))
    w.run_frames()


def test_expanding_a_competition_opens_its_odds_stream_and_collapsing_closes_it():
    w = World()
    w.click_sport(1)
    w.click_mode(PREMATCH)
    comps = three_competitions(w, mode_live=False)
    assert w.sources(COMP) == []  # shown expanded, but nobody expanded one: no stream
    toggle(w, comps["538"])  # collapse
    assert "collapsed" in comps["538"].classes and w.sources(COMP) == []
    toggle(w, comps["538"])  # expand: its stream opens
    (stream,) = w.sources(COMP)
    assert parse_qs(urlparse(stream.url).query) == {"competitionId": ["538"], "sportId": ["1"], "mode": ["prematch"]}
    assert "streaming" in comps["538"].classes and not comps["538"].find(cls="comp-stream").hidden
    stream.emit("odds", json.dumps({"sportId": "1", "competitionId": "538", "updates": [
        {"gameId": "1", "odds": [{"label": "1", "price": 2.75}, {"label": "X", "price": 3.1},
                                 {"label": "2", "price": 2.6}], "markets_count": 9}]}))
    w.run_frames()
    row = comps["538"].find(cls="game-row")
    assert row.find(cls="odd-price").text == "2.750"  # its odds reach the rows
    toggle(w, comps["538"])
    assert stream.closed and stream.listener_count() == 0 and w.sources(COMP) == []
    assert "streaming" not in comps["538"].classes


def test_at_most_two_competition_streams_the_oldest_gives_way_and_a_sport_change_closes_all():
    w = World()
    w.click_sport(1)
    comps = three_competitions(w)
    for cid in ("538", "539", "540"):
        toggle(w, comps[cid])
        toggle(w, comps[cid])
    streams = w.sources(COMP)
    assert len(streams) == MAX_OPEN == 2
    assert [parse_qs(urlparse(s.url).query)["competitionId"][0] for s in streams] == ["539", "540"]
    assert "streaming" not in comps["538"].classes and "collapsed" not in comps["538"].classes
    assert all(parse_qs(urlparse(s.url).query)["mode"] == ["live"] for s in streams)
    # six connections per origin: at most 5 streams, with the details panel (game + tracker) open too
    w.open_row(2)
    assert len(w.platform.open_sources()) == 5
    w.click_sport(2)
    assert w.sources(COMP) == [] and all(s.listener_count() == 0 for s in streams)


def test_refresh_data_reloads_the_hierarchy_and_says_so():
    w = World()
    w.frame()
    refreshed = {**HIERARCHY, "sport": {**HIERARCHY["sport"], "9": {"id": 9, "name": "Darts", "order": 9}}}
    w.platform.responses["/api/hierarchy?refresh=true"] = (200, json.dumps(refreshed))
    click(w.dom.by_id("refresh-btn"), w.dom.by_id("refresh-btn"))
    w.run_frames()
    assert "/api/hierarchy?refresh=true" in w.platform.fetches
    assert w.dom.by_id("toasts").find(cls="toast-ok").find(cls="toast-text").text == "Fetched fresh data"
    assert "9" in [n.attrs["data-sport-id"] for n in w.dom.by_id("sport-list").children]
    w.platform.responses["/api/hierarchy?refresh=true"] = (500, '{"error":"Hierarchy refresh returned 0 sports"}')
    click(w.dom.by_id("nav-refresh"), w.dom.by_id("bottom-nav"))
    assert "Refresh failed: Hierarchy refresh returned 0 sports" in w.dom.by_id("toasts").text


def test_bulk_scrape_asks_the_backend_and_says_what_it_answered():
    w = World()
    w.frame()
    toasts = w.dom.by_id("toasts")
    w.platform.responses["/api/fetch-all-sports"] = (200, '{"count":0,"errors":["Not supported"]}')
    click(w.dom.by_id("scrape-btn"), w.dom.by_id("scrape-btn"))
    w.run_frames()
    assert w.platform.fetches.count("/api/fetch-all-sports") == 1
    assert toasts.find(cls="toast-info").find(cls="toast-text").text == "Scraped 0 sports. 1 errors."
    w.platform.responses["/api/fetch-all-sports"] = (200, '{"count":12,"errors":[]}')
    click(w.dom.by_id("scrape-btn"), w.dom.by_id("scrape-btn"))
    w.run_frames()
    assert toasts.find(cls="toast-ok").find(cls="toast-text").text == "Scraped 12 sports. 0 errors."
    w.platform.responses["/api/fetch-all-sports"] = (503, '{"error":"busy"}')
    click(w.dom.by_id("scrape-btn"), w.dom.by_id("scrape-btn"))
    w.run_frames()
    assert "Bulk scrape failed: HTTP 503" in toasts.text
    w.platform.responses["/api/fetch-all-sports"] = (200, '[1, 2]')  # not the shape: said, not thrown
    click(w.dom.by_id("scrape-btn"), w.dom.by_id("scrape-btn"))
    w.run_frames()
    assert "Bulk scrape failed" in toasts.find_all(cls="toast-error")[-1].text
    assert w.platform.fetches.count("/api/fetch-all-sports") == 4


def test_a_sport_stream_error_warms_the_backend_up_at_most_three_times():
    w = World()
    w.click_sport(1)
    for _ in range(6):
        w.source("/api/live-stream").server_error('{"error":"upstream unavailable"}')
        w.platform.advance(60_000)
    assert w.platform.fetches.count("/api/warmup") == 3


def test_the_list_says_when_it_was_updated_and_shows_a_loading_overlay_first():
    w = World()
    w.platform.utc_offset = 60
    w.click_sport(1)
    w.run_frames()
    assert not w.dom.by_id("loading").hidden and w.dom.by_id("loading-text").text == "Loading games\u2026"
    assert w.dom.by_id("mode-panel").attrs["aria-busy"] == "true"
    w.platform.now = 5_000
    w.source("/api/live-stream").emit("games", games_event(1, [list_game(1)]))
    w.run_frames()
    assert w.dom.by_id("loading").hidden and w.dom.by_id("mode-panel").attrs["aria-busy"] == "false"
    # wall clock 2026-12-01 21:20:05 UTC, shown in local time (UTC+1)
    assert w.dom.by_id("content-updated").text == "Updated 22:20:05"


def test_the_drawer_opens_from_the_bottom_nav_and_closes_by_choice_overlay_or_escape():
    w = World()
    w.frame()
    sidebar, overlay, nav = w.dom.by_id("sidebar"), w.dom.by_id("drawer-overlay"), w.dom.by_id("nav-sports")
    w.click_node(nav, w.dom.by_id("bottom-nav"))
    w.run_frames()
    assert "open" in sidebar.classes and not overlay.hidden and nav.attrs["aria-expanded"] == "true"
    assert w.dom.focused is w.dom.by_id("sport-search")
    w.key(w.dom.by_id("sport-search"), "Escape")
    w.run_frames()
    assert "open" not in sidebar.classes and overlay.hidden and w.dom.focused is nav
    w.click_node(w.dom.by_id("menu-btn"), w.dom.by_id("menu-btn"))
    w.run_frames()
    assert w.dom.by_id("menu-btn").attrs["aria-expanded"] == "true"
    click(overlay, overlay)
    w.run_frames()
    assert "open" not in sidebar.classes
    w.click_node(nav, w.dom.by_id("bottom-nav"))
    w.click_sport(2)  # choosing a sport closes it
    w.run_frames()
    assert "open" not in sidebar.classes and w.app.sport_id == "2"
    click(w.dom.by_id("nav-live"), w.dom.by_id("bottom-nav"))
    assert w.app.mode == "live"


def test_arrow_keys_move_in_the_sports_list_and_the_mode_tabs():
    w = World()
    w.frame()
    items = w.dom.by_id("sport-list").children
    assert [i.attrs["tabindex"] for i in items] == ["0", "-1", "-1"] and items[0].attrs["role"] == "option"
    w.key(items[0], "ArrowDown", w.dom.by_id("sport-list"))
    assert w.dom.focused is items[1] and [i.attrs["tabindex"] for i in items] == ["-1", "0", "-1"]
    w.key(items[1], "End", w.dom.by_id("sport-list"))
    assert w.dom.focused is items[2]
    w.key(items[2], "Enter", w.dom.by_id("sport-list"))
    assert w.app.sport_id == "3"
    w.run_frames()
    assert items[2].attrs["aria-selected"] == "true"
    tabs = w.dom.by_id("mode-tabs")
    w.key(w.dom.by_id("tab-live"), "ArrowRight", tabs)
    assert w.app.mode == "results" and w.dom.focused is w.dom.by_id("tab-results")
    assert w.dom.by_id("tab-results").attrs["tabindex"] == "0" and w.dom.by_id("tab-live").attrs["tabindex"] == "-1"
    assert w.dom.by_id("mode-panel").attrs["aria-labelledby"] == "tab-results"
    w.key(w.dom.by_id("tab-results"), "ArrowRight", tabs)  # wraps
    assert w.app.mode == "prematch"
    w.key(w.dom.by_id("tab-prematch"), "ArrowLeft", tabs)
    assert w.app.mode == "results"


def test_after_a_429_the_reconnect_waits_at_least_retry_after():
    w = World()
    w.click_sport(1)
    w.platform.random_value = 0.0  # the jitter alone would retry at the floor (1 s)
    w.platform.probe_answers["/api/live-stream"] = (429, 6.0)
    first = w.source("/api/live-stream")
    first.fail()  # the browser gave up: the EventSource hides the status
    assert w.platform.probes == ["/api/live-stream?sportId=1"]
    w.platform.advance(5_900)
    assert w.sources("/api/live-stream") == []
    w.platform.advance(200)
    (second,) = w.sources("/api/live-stream")
    assert second is not first and w.app.sport_stream.stats.retry_after_honoured == 1
    w.platform.probe_answers["/api/live-stream"] = (200, None)
    second.fail()
    w.platform.advance(2_100)  # no Retry-After: the backoff alone
    assert len(w.sources("/api/live-stream")) == 1 and w.sources("/api/live-stream")[0] is not second
