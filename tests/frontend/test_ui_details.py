"""The details panel through the whole app on fakes (docs/api.md B4, A4; docs/design.md R1, R2,
R7): opening from a row, markets under tabs and accordions, survival of state across updates,
flashes, keyboard, opt-in announcements, and that closing releases everything."""

from __future__ import annotations

import json

from oddsui.details_panel import ANNOUNCE_EVERY_MS
from oddsui.flash import FLASH_MS
from oddsui.store import PREMATCH
from ui_fakes import click
from ui_samples import football_markets, full_game, game_event, games_event, list_game
from ui_world import World

GAME_URL = "/api/live-game-stream?gameId="


def live_world(*games):
    w = World()
    w.click_sport(1)
    live = w.source("/api/live-stream")
    live.emit("games", games_event(1, list(games) or [list_game(7), list_game(8, team1="Leeds", team2="Spurs")]))
    w.run_frames()
    return w, live


def details(w):
    return w.dom.by_id("details")


def groups(w):
    return details(w).find_all(cls="mgroup")


def price_button(w, event_id):
    return [b for b in details(w).find_all(cls="odd-btn") if b.attrs.get("data-event") == str(event_id)][0]


def test_a_row_opens_the_panel_which_shows_loading_then_every_market_grouped():
    w, _live = live_world()
    row = w.open_row(7)
    w.run_frames()
    panel = details(w)
    assert not panel.hidden and w.dom.by_id("details-title").text == "Arsenal v Chelsea"
    assert w.dom.focused is w.dom.by_id("details-title")  # focus moves into the panel
    assert not w.dom.by_id("details-loading").hidden and w.dom.by_id("details-loading").text == "Loading markets\u2026"
    assert "selected" in row.classes and row.attrs["aria-current"] == "true"
    game = w.source(GAME_URL)
    assert game.url == f"{GAME_URL}7" and w.source("/api/live-tracker").url == "/api/live-tracker?gameId=7"

    game.emit("game", game_event(7))
    w.run_frames()
    assert w.dom.by_id("details-loading").hidden
    assert [g.attrs["data-tab"] for g in groups(w)] == ["main", "totals", "handicaps"]
    tabs = w.dom.by_id("details-tabs").find_all(cls="details-tab")
    assert [t.find(cls="tab-count").text for t in tabs] == [" (7)", " (2)", " (3)", " (2)"]
    assert tabs[0].attrs["aria-selected"] == "true" and tabs[0].attrs["tabindex"] == "0"
    lines = panel.find(cls="lines")
    assert lines.tag == "table" and [th.text for th in lines.find_all(cls="line")] == ["1.5", "2.5", "3.5"]
    assert price_button(w, 70001).attrs["aria-label"] == "W1 1.850"
    assert price_button(w, 70100).attrs["aria-label"] == "Over 2.5 2.000"
    # live sections: statistics bars, the period table, the events timeline (newest first)
    assert [s.attrs["data-stat"] for s in panel.find_all(cls="stat")] == ["corner", "yellow_card"]
    assert panel.find(cls="stat-home").style["width"] == "75%"
    assert panel.find(cls="periods").tag == "table"
    assert [i.attrs["data-kind"] for i in w.dom.by_id("details-live").find_all(cls="timeline-item")] == ["corner", "goal"]
    # another game's events are ignored (docs/api.md G)
    game.emit("game", game_event(8))
    w.run_frames()
    assert w.app.details.game is not None and str(w.app.details.game.id) == "7"


def test_tabs_show_one_group_and_arrow_keys_move_and_select():
    w, _live = live_world()
    w.open_row(7)
    w.source(GAME_URL).emit("game", game_event(7))
    w.run_frames()
    tabs = {t.attrs["data-tab"]: t for t in w.dom.by_id("details-tabs").find_all(cls="details-tab")}
    click(tabs["totals"].children[0], details(w))
    w.run_frames()
    assert [g.attrs["data-tab"] for g in groups(w) if not g.hidden] == ["totals"]
    w.key(tabs["totals"], "ArrowRight", details(w))
    w.run_frames()
    tabs = {t.attrs["data-tab"]: t for t in w.dom.by_id("details-tabs").find_all(cls="details-tab")}
    assert w.app.details.tab == "handicaps" and w.dom.focused is tabs["handicaps"]
    assert tabs["handicaps"].attrs["aria-selected"] == "true" and tabs["totals"].attrs["tabindex"] == "-1"
    w.key(tabs["handicaps"], "Home", details(w))
    w.run_frames()
    assert w.app.details.tab == "all" and all(not g.hidden for g in groups(w))
    w.key(w.dom.focused, "ArrowLeft", details(w))  # wraps to the last tab
    assert w.app.details.tab == "handicaps"


def test_open_accordions_nodes_and_running_flashes_survive_updates():
    w, _live = live_world()
    w.open_row(7)
    game = w.source(GAME_URL)
    game.emit("game", game_event(7))
    w.run_frames()
    head = [g for g in groups(w) if g.attrs["data-tab"] == "handicaps"][0].find(cls="mgroup-head")
    click(head.children[1], details(w))
    assert head.attrs["aria-expanded"] == "false"
    button = price_button(w, 70001)
    w.platform.advance(100)
    game.emit("game", json.dumps({"gameId": "7", "data": full_game(7, markets=football_markets(7, p1=1.95, over25=1.9))}))
    w.run_frames()
    assert price_button(w, 70001) is button  # patched in place, not rebuilt
    assert "odd-up" in button.classes and button.find(cls="odd-arrow").text == "\u25b2"
    assert button.attrs["aria-label"] == "W1 1.950, rising"
    assert "odd-down" in price_button(w, 70100).classes
    assert head.attrs["aria-expanded"] == "false"  # the closed accordion stayed closed
    for _ in range(3):  # unchanged updates: nothing flashes again, the flash keeps its one timer
        game.emit("game", json.dumps({"gameId": "7", "data": full_game(7, markets=football_markets(7, p1=1.95, over25=1.9))}))
        w.run_frames()
        assert "odd-up" in button.classes
    w.platform.advance(FLASH_MS)
    assert "odd-up" not in button.classes and button.attrs["aria-label"] == "W1 1.950, rising"
    assert len(w.app.details.flasher) == 0


def test_a_locked_outcome_reads_suspended_and_shows_the_lock_icon():
    w, _live = live_world()
    w.open_row(7)
    w.source(GAME_URL).emit("game", json.dumps({"gameId": "7", "data": full_game(7, markets=football_markets(
        7, blocked_draw=1))}))
    w.run_frames()
    draw = price_button(w, 70002)
    assert draw.attrs["aria-label"] == "Draw suspended" and "odd-blocked" in draw.classes
    assert "odd-locked" in draw.find(cls="odd-price").classes


def test_closing_by_button_or_escape_releases_everything_and_returns_focus():
    w, live = live_world()
    w.frame()
    baseline = (w.listener_total(), w.platform.live_proxies(), len(w.platform.open_sources()), w.app.scope.live_count())
    timers = len(w.platform.timers)
    for cycle in range(20):
        row = w.open_row(7 if cycle % 2 else 8)
        opener = row.find(cls="game-open")
        game = w.source(GAME_URL)
        game.emit("game", game_event(int(row.attrs["data-game-id"])))
        w.source("/api/live-tracker").emit("ready", '{"gameId":"7"}')
        w.run_frames()
        assert len(w.platform.open_sources()) == baseline[2] + 2  # the game stream and the tracker
        if cycle % 2:
            click(w.dom.by_id("details-close"), details(w))
        else:
            event = w.key(w.dom.by_id("details-title"), "Escape", details(w))
            assert event.default_prevented
        w.run_frames()
        assert details(w).hidden and w.app.details is None
        assert w.dom.focused is opener  # back where it came from
        assert "selected" not in row.classes
        assert (w.listener_total(), w.platform.live_proxies(), len(w.platform.open_sources()),
                w.app.scope.live_count()) == baseline, cycle
        assert len(w.platform.timers) == timers
        assert w.dom.by_id("details-markets").children == [] and w.dom.by_id("details-tracker").children == []
    assert live is w.source("/api/live-stream")  # the list's stream was never touched


def test_another_row_replaces_the_panel_and_a_sport_change_closes_it():
    w, _live = live_world()
    w.open_row(7)
    first = w.source(GAME_URL)
    w.open_row(8)
    assert first.closed and first.listener_count() == 0
    assert w.source(GAME_URL).url == f"{GAME_URL}8" and w.app.details.game_key == "8"
    w.click_sport(2)
    assert w.app.details is None and w.sources(GAME_URL) == [] and w.sources("/api/live-tracker") == []
    w.run_frames()
    assert details(w).hidden


def test_a_prematch_game_shows_its_game_stats_and_opens_no_tracker():
    w = World()
    w.platform.responses["/api/game-stats?gameId=9"] = (200, '{"error":"No stats available"}')
    w.platform.responses["/api/game-stats?gameId=10"] = (200, json.dumps({"stats": {
        "home": {"position": 3, "points": 40, "form": ["W", "D", "L"]}, "away": {"position": 9, "points": 22}}}))
    w.click_sport(1)
    w.click_mode(PREMATCH)
    pre = w.source("/api/prematch-stream")
    pre.emit("games", games_event(1, [list_game(9, live=False), list_game(10, live=False, team1="Leeds")]))
    w.run_frames()
    w.open_row(9)
    w.run_frames()
    assert w.sources("/api/live-tracker") == [] and w.dom.by_id("details-tracker").hidden
    assert "No stats available" in w.dom.by_id("details-prematch").text
    assert "v" in w.dom.by_id("details-head").find(cls="dh-vs").text
    w.open_row(10)
    w.run_frames()
    table = w.dom.by_id("details-prematch").find(cls="prestats")
    assert [td.text for td in table.find_all(cls="form")] == ["W D L", "-"]


def test_feed_strings_reach_the_panel_as_text_never_as_markup():
    evil = '<img src=x onerror=alert(1)>'
    w, _live = live_world(list_game(7, team1=evil, competition=evil))
    w.open_row(7)
    markets = football_markets(7)
    first = next(iter(markets.values()))
    first["name"] = evil
    first["group_name"] = evil
    next(iter(first["event"].values()))["name"] = evil
    w.source(GAME_URL).emit("game", json.dumps({"gameId": "7", "data": full_game(7, markets=markets, team1=evil)}))
    w.run_frames()
    panel = details(w)
    assert all(n.tag != "img" for n in panel.iter())
    assert not panel.find_all(attr="onerror") and not panel.find_all(attr="src")
    assert w.dom.by_id("details-title").text == f"{evil} v Chelsea"
    assert evil in panel.find(cls="mgroup-name").text and evil in panel.find(cls="dh-name").text
    assert all(n.tag != "img" for n in w.dom.by_id("games").iter())


def test_announcements_are_opt_in_polite_and_throttled():
    w, _live = live_world()
    w.open_row(7)
    game = w.source(GAME_URL)
    game.emit("game", game_event(7))
    w.run_frames()
    announcer = w.dom.by_id("sr-announce")
    assert announcer.text == ""  # nothing is read out unless the user asks
    follow = w.dom.by_id("details-follow")
    click(follow, details(w))
    w.run_frames()
    assert follow.attrs["aria-pressed"] == "true"
    assert announcer.text == "Arsenal v Chelsea. score 0:1. Match Result: W1 1.850, Draw 3.400, W2 4.200"
    w.platform.advance(1000)
    game.emit("game", json.dumps({"gameId": "7", "data": full_game(7, markets=football_markets(7, p1=2.1))}))
    w.run_frames()
    assert "1.850" in announcer.text  # within the throttle: not yet
    w.platform.advance(ANNOUNCE_EVERY_MS)
    w.run_frames()
    assert "W1 2.100" in announcer.text
    # opting out while an announcement waits for the throttle: it is never made, nothing lingers
    game.emit("game", json.dumps({"gameId": "7", "data": full_game(7, markets=football_markets(7, p1=2.3))}))
    w.run_frames()
    assert "W1 2.100" in announcer.text
    held = w.app.scope.summary().get("timeout", 0)
    click(follow, details(w))
    assert follow.attrs["aria-pressed"] == "false" and announcer.text == ""
    assert w.app.scope.summary().get("timeout", 0) == held - 1  # the throttle's timer is gone
    w.platform.advance(ANNOUNCE_EVERY_MS)
    w.run_frames()
    assert announcer.text == ""


def test_the_header_says_where_from_the_list_when_the_full_game_has_no_names():
    """The game stream's game carries ids and ``region_alias`` but no competition or region names
    (as the real feed sends it); the header takes them from the list's game."""
    w, _live = live_world()
    w.open_row(7)
    bare = full_game(7)
    del bare["region"], bare["competition"], bare["sport"]
    bare["region_alias"] = "England"
    w.source(GAME_URL).emit("game", json.dumps({"gameId": "7", "data": bare}))
    w.run_frames()
    assert details(w).find(cls="dh-where").text == "Premier League \u00b7 England"
    named = full_game(7, region="Spain", competition="LaLiga")  # the game's own names win
    w.source(GAME_URL).emit("game", json.dumps({"gameId": "7", "data": named}))
    w.run_frames()
    assert details(w).find(cls="dh-where").text == "LaLiga \u00b7 Spain"
