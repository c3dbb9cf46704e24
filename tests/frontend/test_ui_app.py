"""App and Page wiring with fake platform and DOM: streams, switching, and one central cleanup
(docs/design.md R1, R2, R7)."""

from __future__ import annotations

import ast
import json
from types import SimpleNamespace

import oddsui.app
from oddsui.app import COUNTS_URL, HIERARCHY_URL, Page, start_page
from oddsui.render import MAX_NEW_ROWS_PER_PASS
from oddsui.store import LIVE, PREMATCH
from ui_fakes import ROOT, FakeDom, FakeEventTarget, FakePlatform, click
from ui_world import HIERARCHY, World, counts, games, odds


def test_start_loads_sports_and_shows_live_counts_from_the_counts_stream():
    w = World()
    assert w.platform.fetches == [HIERARCHY_URL, "/api/health"]  # the sports, and the welcome cards' figures
    counts_source = w.source(COUNTS_URL)
    w.frame()
    assert w.sidebar() == [("1", ""), ("2", ""), ("3", "")]  # sorted by order, counts unknown
    counts_source.emit("live_counts", counts([("Football", 12), ("Basketball", 3)]))
    counts_source.emit("prematch_counts", counts([("Tennis", 40)]))
    w.frame()
    assert w.sidebar() == [("1", "12"), ("3", "3")]
    assert w.dom.by_id("count-live").text == "(15)" and w.dom.by_id("count-prematch").text == "(40)"
    assert len(w.platform.frames) == 0


def test_choosing_a_sport_opens_its_live_stream_and_renders_rows_and_flashes():
    w = World()
    w.source(COUNTS_URL).emit("live_counts", counts([("Football", 2)]))
    w.frame()
    w.click_sport(1)
    live = w.source("/api/live-stream")
    assert live.url == "/api/live-stream?sportId=1"
    live.emit("games", games(1, [10, 11]))
    live.emit("odds", odds(1, 10, 1.85, game_id_as_str=True))
    w.frame()
    assert w.rows() == ["10", "11"]
    assert w.dom.by_id("content-title").text == "Football \u00b7 Live"
    row = w.dom.by_id("games").find_all(cls="game-row")[0]
    assert row.find(cls="odd-btn").find(cls="odd-price").text == "1.850"
    live.emit("odds", odds(1, 10, 1.95))
    w.frame()
    assert "odd-up" in row.find(cls="odd-btn").classes
    w.platform.advance(1100)
    assert "odd-up" not in row.find(cls="odd-btn").classes
    # events of another sport are ignored (docs/api.md G)
    live.emit("games", games(2, [99]))
    w.frame()
    assert w.rows() == ["10", "11"]


def test_switching_sport_closes_the_old_stream_and_listener_counts_stay_flat():
    w = World()
    w.click_sport(1)
    first = w.source("/api/live-stream")
    w.frame()
    baseline = w.platform.total_es_listeners()
    proxies = w.platform.live_proxies()
    for sport in (2, 3, 1, 2, 3):
        w.click_sport(sport)
        w.frame()
        assert w.platform.total_es_listeners() == baseline
        assert w.platform.live_proxies() == proxies
    assert first.closed and first.listener_count() == 0
    # the current sport only: a live sport stream carries the counts, so the counts stream is closed
    assert [s.url for s in w.platform.open_sources()] == ["/api/live-stream?sportId=3"]


def test_mode_switch_reopens_the_stream_in_the_other_mode():
    w = World()
    w.click_sport(2)
    w.click_mode(PREMATCH)
    pre = w.source("/api/prematch-stream")
    assert pre.url == "/api/prematch-stream?sportId=2&sportName=Tennis"
    assert w.app.mode == PREMATCH
    pre.emit("games", games(2, [5], type_=0))
    w.frame()
    assert w.rows() == ["5"]
    w.click_mode(LIVE)
    assert w.rows() == []  # cleared on switch
    assert w.source("/api/live-stream").url == "/api/live-stream?sportId=2"


def test_a_server_error_event_toasts_and_reconnects():
    w = World()
    w.click_sport(1)
    live = w.source("/api/live-stream")
    live.server_error('{"error":"upstream unavailable"}')
    assert live.closed
    toasts = w.dom.by_id("toasts").children
    assert len(toasts) == 1 and "upstream unavailable" in toasts[0].text
    w.platform.advance(2000)
    assert w.source("/api/live-stream") is not live
    live2 = w.source("/api/live-stream")
    live2.server_error('{"error":"again"}')
    # throttled: one toast per stream per 15 s
    assert [("upstream unavailable" in t.text) for t in w.dom.by_id("toasts").children] == [True]


def test_hierarchy_failure_retries_with_backoff():
    w = World(hierarchy_status=500)
    assert w.platform.fetches.count(HIERARCHY_URL) == 1 and len(w.platform.timers) >= 1
    w.platform.responses[HIERARCHY_URL] = (200, json.dumps(HIERARCHY))
    w.platform.advance(30_000)
    assert w.platform.fetches.count(HIERARCHY_URL) == 2
    w.frame()
    assert [s for s, _ in w.sidebar()] == ["1", "2", "3"]


def test_bad_payloads_are_counted_and_reported_once():
    w = World()
    source = w.source(COUNTS_URL)
    source.emit("live_counts", "not json")
    source.emit("live_counts", "{also not json")
    assert w.app.decode_errors == 2
    assert len([e for e in w.platform.errors if "decoding" in e[1]]) == 1


def test_group_headers_toggle_collapse_through_one_delegated_listener():
    w = World()
    w.click_sport(1)
    w.source("/api/live-stream").emit("games", games(1, [1]))
    w.frame()
    head = w.dom.by_id("games").find(cls="competition-head")
    click(head.find(cls="competition-name"), w.dom.by_id("games"))
    assert "collapsed" in w.dom.by_id("games").find(cls="competition").classes
    assert w.dom.by_id("games").listener_count("click") == 1


def test_pagehide_releases_everything_and_pageshow_restores_a_fresh_app():
    w = World()
    w.click_sport(1)
    live = w.source("/api/live-stream")
    live.emit("games", games(1, [1, 2]))
    live.emit("odds", odds(1, 1, 1.5))
    w.frame()
    live.emit("odds", odds(1, 1, 1.6))  # a flash timer and a pending frame
    w.window.dispatch("pagehide", SimpleNamespace(persisted=True))
    assert all(s.closed and s.listener_count() == 0 for s in w.platform.event_sources)
    assert w.platform.timers == {} and w.platform.frames == {}
    for node_id in ("sport-list", "mode-tabs", "sport-search", "games"):
        assert w.dom.by_id(node_id).listener_count() == 0
    assert w.page.scope.live_count() == 2  # only the page's own pagehide/pageshow listeners
    assert w.platform.live_proxies() == 2
    w.window.dispatch("pageshow", SimpleNamespace(persisted=True))
    assert w.page.apps_started == 2 and len(w.platform.open_sources()) == 1
    w.page.close()
    assert w.platform.live_proxies() == 0 and w.window.listener_count() == 0


def test_search_filters_the_sidebar():
    w = World()
    w.frame()
    search = w.dom.by_id("sport-search")
    search.value = "bask"
    search.dispatch("input", SimpleNamespace(target=search))
    w.frame()
    assert [s for s, _ in w.sidebar()] == ["3"]


def test_debug_state_reports_what_is_held():
    w = World()
    w.click_sport(1)
    state = w.app.debug_state()
    assert state["sport_id"] == "1" and state["sport_stream"]["url"] == "/api/live-stream?sportId=1"
    assert state["live_count"] == w.app.scope.live_count() > 0


def test_switching_sports_many_times_does_not_grow_view_state():
    w = World()
    sizes = []
    for round_ in range(6):
        for sport in (1, 2):
            w.click_sport(sport)
            w.source("/api/live-stream").emit("games", games(sport, range(sport * 100, sport * 100 + 20)))
            w.source("/api/live-stream").emit("odds", odds(sport, sport * 100, 1.5 + round_ / 10))
            for _ in range(3):
                w.frame()
        sizes.append((len(w.app.cache), w.app.scope.live_count(), len(w.app.games_view.rows),
                      len(w.app.store.odds), w.platform.live_proxies()))
    assert len(set(sizes[1:])) == 1, sizes


def test_a_long_game_list_is_built_over_several_frames():
    w = World()
    w.click_sport(1)
    w.source("/api/live-stream").emit("games", games(1, range(1000, 1450)))
    frames = 0
    while w.platform.frames:
        w.platform.run_frame()
        frames += 1
    assert len(w.rows()) == 450
    assert frames >= 450 // MAX_NEW_ROWS_PER_PASS  # that many new rows per frame at most


def test_start_page_returns_the_running_page_and_the_module_keeps_nothing():
    worker = {"url": "/worker/worker.abc.mjs", "pyodide": {}, "packages": ["msgspec"], "parse": {}}
    pages = []
    for _ in range(2):
        platform = FakePlatform()
        platform.responses[HIERARCHY_URL] = (200, json.dumps(HIERARCHY))
        window = FakeEventTarget()
        page = start_page(platform, FakeDom(), window, json.dumps({"app": {}, "worker": worker}))
        assert isinstance(page, Page) and page.app is not None and page.apps_started == 1
        assert page.app.parser.config == worker and platform.errors == []
        # pagehide/pageshow (the page), keydown/resize/popstate (the app); the counts stream
        assert window.listener_count() == 5 and len(platform.open_sources()) == 1
        pages.append((page, platform))
    assert pages[0][0] is not pages[1][0] and pages[0][0].app is not pages[1][0].app
    # no module-level registry: the caller (boot.js) is the page's only owner
    assert not [name for name, value in vars(oddsui.app).items() if isinstance(value, (Page, oddsui.app.App))]
    tree = ast.parse((ROOT / "frontend" / "oddsui" / "app.py").read_text())
    assert not [node for node in ast.walk(tree) if isinstance(node, ast.Global)]
    for page, platform in pages:
        page.close()
        assert platform.live_proxies() == 0 and platform.open_sources() == []


def test_start_page_without_a_worker_in_the_manifest_says_so_and_parses_here():
    platform = FakePlatform()
    platform.responses[HIERARCHY_URL] = (200, json.dumps(HIERARCHY))
    page = start_page(platform, FakeDom(), FakeEventTarget(), json.dumps({"app": {}}))
    assert page.app.parser.config is None
    assert [context for _exc, context in platform.errors] == [
        "starting the app (large payloads are parsed on the main thread)"]
