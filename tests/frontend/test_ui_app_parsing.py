"""The app's streams through the parser service (docs/design.md R10): big lists via the worker, order
kept, cleanup on pagehide."""

from __future__ import annotations

import json
from types import SimpleNamespace

from oddsui.app import COUNTS_URL, HIERARCHY_URL, Page, worker_config_of
from oddsui.parsing import WORKER_THRESHOLD_BYTES, WorkerState
from oddsui.store import PREMATCH
from test_ui_app import HIERARCHY, counts, games, odds
from test_ui_parsing import CONFIG
from ui_fakes import FakeDom, FakeEventTarget, FakePlatform, click

BIG_LIST = games(1, range(1000, 1800), type_=0)
assert len(BIG_LIST.encode()) > WORKER_THRESHOLD_BYTES


class World:
    def __init__(self, worker_config=CONFIG):
        self.platform = FakePlatform()
        self.platform.responses[HIERARCHY_URL] = (200, json.dumps(HIERARCHY))
        self.dom = FakeDom()
        self.window = FakeEventTarget()
        self.page = Page(self.platform, self.dom, self.window, worker_config=worker_config)
        self.page.start()
        self.app = self.page.app

    def frames(self, limit=200):
        for _ in range(limit):
            if not self.platform.run_frame():
                return

    def source(self, prefix):
        found = [s for s in self.platform.event_sources if s.url.startswith(prefix) and not s.closed]
        assert len(found) == 1, [s.url for s in self.platform.event_sources]
        return found[0]

    def click_sport(self, sport_id):
        self.frames()
        node = [n for n in self.dom.by_id("sport-list").children if n.attrs["data-sport-id"] == str(sport_id)][0]
        click(node.find(cls="sport-name"), self.dom.by_id("sport-list"))

    def click_mode(self, mode):
        click(self.dom.by_id(f"tab-{mode}"), self.dom.by_id("mode-tabs"))

    def rows(self):
        return [n.attrs["data-game-id"] for n in self.dom.by_id("games").find_all(cls="game-row")]

    def price(self, game_id):
        row = [n for n in self.dom.by_id("games").find_all(cls="game-row") if n.attrs["data-game-id"] == str(game_id)][0]
        return row.find(cls="odd-btn").find(cls="odd-price").text

    @property
    def worker(self):
        assert len(self.platform.workers) == 1
        return self.platform.workers[0]


def test_choosing_prematch_boots_the_worker_and_a_big_list_is_parsed_there():
    w = World()
    assert w.platform.workers == []  # live mode only: no worker yet
    w.click_mode(PREMATCH)
    assert w.worker.inits and w.app.parser.state == WorkerState.STARTING
    w.click_sport(1)
    stream = w.source("/api/prematch-stream")
    reads = w.platform.text_reads  # the (small) hierarchy was read here
    stream.emit("games", BIG_LIST)
    assert list(w.worker.requests) == [1] and w.platform.text_reads == reads
    w.worker.ready()
    w.worker.answer()
    w.frames()
    assert len(w.rows()) == 800
    state = w.app.debug_state()["parser"]
    assert state["worker_parsed"] == 1 and state["pending"] == 0 and w.app.decode_errors == 0


def test_odds_that_arrive_while_their_list_is_in_the_worker_are_applied_after_it():
    w = World()
    w.click_mode(PREMATCH)
    w.click_sport(1)
    stream = w.source("/api/prematch-stream")
    stream.emit("games", BIG_LIST)
    stream.emit("odds", odds(1, 1000, 1.85))
    stream.emit("odds", odds(1, 1000, 2.05))
    w.frames()
    assert w.rows() == [] and w.app.store.odds == {}  # nothing applied before the list
    w.worker.ready()
    w.worker.answer()
    w.frames()
    assert w.price(1000) == "2.050"


def test_a_list_still_in_the_worker_when_the_sport_changes_is_dropped():
    w = World()
    w.click_mode(PREMATCH)
    w.click_sport(1)
    w.source("/api/prematch-stream").emit("games", BIG_LIST)
    old = w.app.sport_stream
    w.click_sport(2)
    assert old.closed and old.channel.closed and len(old.channel) == 0  # the stream took its channel along
    assert w.app.sport_stream.channel is not old.channel and w.app.parser.pending == 0
    w.source("/api/prematch-stream").emit("games", games(2, [7], type_=0))
    w.frames()
    assert w.rows() == ["7"]
    w.worker.ready()
    w.worker.answer()
    w.frames()
    assert w.rows() == ["7"] and w.app.parser.stats.stale_replies == 1


def test_small_messages_never_start_the_worker():
    w = World()
    w.source(COUNTS_URL).emit("live_counts", counts([("Football", 2)]))
    w.click_sport(1)
    w.source("/api/live-stream").emit("games", games(1, [10, 11]))
    w.frames()
    assert w.rows() == ["10", "11"] and w.platform.workers == []


def test_bad_payloads_are_still_counted_and_reported_once_per_source():
    w = World()
    w.click_mode(PREMATCH)
    w.click_sport(1)
    stream = w.source("/api/prematch-stream")
    stream.emit("games", "{broken" + " " * WORKER_THRESHOLD_BYTES)
    stream.emit("games", "{broken too")
    w.worker.ready()
    w.worker.answer()
    assert w.app.decode_errors == 2
    assert len([e for e in w.platform.errors if "decoding games" in e[1]]) == 1


def test_pagehide_ends_the_worker_its_listeners_and_pending_requests():
    w = World()
    w.click_mode(PREMATCH)
    w.click_sport(1)
    w.source("/api/prematch-stream").emit("games", BIG_LIST)
    worker = w.worker
    assert worker.listener_count() == 3 and w.app.parser.pending == 1
    w.window.dispatch("pagehide", SimpleNamespace(persisted=True))
    assert worker.terminated == 1 and worker.listener_count() == 0
    assert w.platform.timers == {} and w.platform.frames == {}
    assert w.page.scope.live_count() == 2 and w.platform.live_proxies() == 2
    assert w.platform.errors == []
    # a back/forward-cache restore gets a fresh app on the page the address names (prematch, where
    # the clicks left it: docs/ui.md 9), which boots a worker of its own at once
    assert w.platform.path == "/prematch/1"
    w.window.dispatch("pageshow", SimpleNamespace(persisted=True))
    assert (w.page.app.mode, w.page.app.sport_id) == (PREMATCH, "1")
    assert len(w.platform.workers) == 2 and w.platform.workers[1] is not worker
    assert w.page.app.parser.state != WorkerState.BROKEN


def test_a_broken_worker_leaves_the_app_working():
    w = World()
    w.click_mode(PREMATCH)
    w.click_sport(1)
    stream = w.source("/api/prematch-stream")
    stream.emit("games", BIG_LIST)
    stream.emit("odds", odds(1, 1000, 1.5))
    w.worker.fatal("boot failed: cannot import /pyodide/pyodide.mjs")
    w.frames()
    assert len(w.rows()) == 800 and w.price(1000) == "1.500"
    assert [e for e in w.platform.errors if "parse worker" in e[1]]


def test_the_manifest_section_is_the_worker_config():
    manifest = {"app": {}, "worker": CONFIG}
    assert worker_config_of(json.dumps(manifest)) == CONFIG
    assert worker_config_of(json.dumps({"app": {}})) is None
    assert worker_config_of("") is None


def test_a_fetched_body_over_100_kb_a_week_of_results_is_parsed_in_the_worker_too():
    w = World()
    comps = {"success": True, "data": [{"Id": 1, "Name": "Football", "Regions": []}]}
    w.platform.hold_prefixes = ["/api/results/"]
    w.frames()
    click(w.dom.by_id("tab-results"), w.dom.by_id("mode-tabs"))
    (competitions,) = [d for d in w.platform.held if d.url.startswith("/api/results/competitions")]
    competitions.resolve((200, json.dumps(comps)))
    w.click_sport(1)
    week = {"success": True, "sportId": 1, "games": [
        {"game_id": 5000 + i, "team1_name": f"Home {i}", "team2_name": f"Away {i}", "date": 1796000000 + i,
         "region_name": "England", "competition_name": f"League {i % 9}", "scores": "1:0 (1:0, 0:0)"}
        for i in range(900)]}
    text = json.dumps(week)
    assert len(text.encode()) > WORKER_THRESHOLD_BYTES
    reads = w.platform.text_reads
    (held,) = [d for d in w.platform.held if d.url.startswith("/api/results/games/1")]
    held.resolve((200, text))
    assert list(w.worker.requests) and w.platform.text_reads == reads  # posted, never read into Python
    w.worker.ready()
    w.worker.answer()
    w.frames()
    assert len(w.dom.by_id("results").find_all(cls="result-row")) == 900
    assert w.app.debug_state()["parser"]["worker_parsed"] == 1
