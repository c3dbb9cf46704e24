"""Wiring: the page lifecycle, the app's streams and views, and the user's choices.

Ownership (every box is a Scope; closing one releases everything below it, newest first)::

    page                      pagehide / pageshow listeners on window (live as long as the document)
    └── app                   delegated DOM listeners (sidebar, tabs, search, games, top bar, bottom
        │                     nav, drawer overlay, the scroller's scroll, window resize and keydown),
        │                     hierarchy and refresh tasks, retry and warmup timers, the health poll
        │                     for the welcome cards (every 10 min), toasts
        ├── frames            the one pending requestAnimationFrame of the FrameBatcher
        ├── flashes           the Flasher of the games list
        ├── parser            ParserService: the pending parse requests, the worker's watchdog
        │   └── worker        the parse Worker and its message/error/messageerror listeners (lazy)
        ├── stream:counts     /api/counts-stream (not while a live sport stream carries the counts)
        ├── stream:<mode>:<id>  /api/live-stream or /api/prematch-stream for the chosen sport
        ├── competitions      the competition odds streams of expanded competitions (at most 2)
        ├── details:<game>    the open details panel (details_panel: its game stream, tracker, flasher,
        │                     listeners); closed with the panel
        ├── health            the open health modal (health.HealthModal: its listeners and poll)
        └── results           results mode while it is shown (results.ResultsMode: its fetches)

Every stream message goes through its stream's own ``ParseChannel`` (docs/design.md R10): more than
100 KB of text is parsed in the parse worker, less here, and the results are applied in arrival
order per stream. Closing a stream closes its channel, so what an old stream still had queued is
dropped with it. Every DOM write a stream, timer or fetch causes happens in a ``FrameBatcher`` job;
a write answering the user's own click or key (an accordion, closing a panel) happens in that event,
because focus has to move then.

Connections: a browser keeps at most six HTTP/1.1 connections per origin, so the app never holds
more than five streams (one is left for requests): the counts stream is closed while a live sport
stream is open (that stream re-sends the counts), and at most two competition streams are open.

``pagehide`` closes the app scope (docs/design.md R1: one central cleanup); a page restored from the
back/forward cache (``pageshow`` with ``persisted``) starts a fresh app. Switching sport or mode
closes the old streams' scopes before new ones open, so listeners never pile up.

Keyboard: Escape closes the topmost of the health modal, the drawer and the details
panel, and focus returns where it came from; arrow keys move within the sports list and the mode
tabs; everything else is a button.

Only ``main()`` imports the browser adapter; ``App``, ``Page`` and ``start_page()`` run under CPython
with fakes. The module holds no state: the running ``Page`` is owned by whoever started it (boot.js
keeps the one ``main()`` returns on ``window.__oddsui.page``).
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .backoff import Backoff
from .competitions import CompetitionStreams
from .display import start_text
from .firstview import AdoptError, AdoptingDom, FirstView
from .flash import Flasher
from .frames import FrameBatcher
from .health import HEALTH_URL, HealthModal, welcome_html
from .messages import DecodeError, HealthPayload, decode
from .parsing import Decoded, ParserService
from .ports import DomPort, Platform
from .prime import prime_steps
from .render import (
    MAX_NEW_ROWS_PER_PASS,
    GamesView,
    ModeTabsView,
    NodeCache,
    SidebarItem,
    SidebarView,
    Toaster,
    page_url,
    parse_page_url,
    sidebar_items,
)
from .scope import Handle, Scope
from .store import LIVE, PREMATCH, Store
from .streams import EventStream, StreamState

if TYPE_CHECKING:  # imported when first used (LATER_VIEWS): the first view does not need them
    from .details_panel import DetailsPanel
    from .results import ResultsMode

__all__ = ["RESULTS", "App", "Page", "main", "start_page", "worker_config_of"]

RESULTS = "results"
HIERARCHY_URL = "/api/hierarchy"
REFRESH_URL = "/api/hierarchy?refresh=true"
SCRAPE_URL = "/api/fetch-all-sports"
WARMUP_URL = "/api/warmup"
COUNTS_URL = "/api/counts-stream"
SPORT_STREAM_URL = {LIVE: "/api/live-stream", PREMATCH: "/api/prematch-stream"}
# The original UI reconnects counts after 5 s and sport streams after 2 s; we back off from there
# (docs/api.md G).
COUNTS_BACKOFF_MS = 5000.0
SPORT_BACKOFF_MS = 2000.0
ERROR_TOAST_THROTTLE_MS = 15000.0
WARMUP_DELAY_MS = 1000.0
WORKER_PRESTART_MS = 1500.0
# The views the first screen never shows (the details panel, with its markets and tracker, and results
# mode) are imported when first used, or this long after start, whichever comes first: the boot does
# not wait for them (about a fifth of the app's import), and a first click on a game does not either.
LATER_VIEWS = ("oddsui.details_panel", "oddsui.results")
LATER_VIEWS_IMPORT_MS = 1000.0
WARMUP_TRIES = 3
# Priming (oddsui.prime): the list's code paths run once on made-up games shortly after start, one
# step per timer, so the first real list does not pay for their first run with a long task.
PRIME_AFTER_MS = 250.0
PRIME_STEP_MS = 30.0
WELCOME_HEALTH_EVERY_MS = 10 * 60 * 1000.0  # the original polls health at start and every 10 min
MODE_TITLES = {LIVE: "Live", PREMATCH: "Prematch", RESULTS: "Results"}
MODES_ALL = (PREMATCH, LIVE, RESULTS)
CONN_TEXT = {
    StreamState.IDLE: "offline",
    StreamState.CONNECTING: "connecting",
    StreamState.OPEN: "live",
    StreamState.RETRYING: "reconnecting",
    StreamState.CLOSED: "offline",
}
PAGE_NODES = (
    "sport-list", "sport-empty", "sport-search", "games", "games-empty", "toasts", "content-title",
    "content-sub", "content-updated", "conn-status", "conn-text", "mode-tabs", "tab-live", "tab-prematch",
    "tab-results", "count-live", "count-prematch", "menu-btn", "refresh-btn", "scrape-btn", "health-btn",
    "drawer-overlay",
    "sidebar", "content", "mode-panel", "results-dates", "welcome", "results", "loading", "loading-text",
    "details", "details-title", "details-follow", "details-close", "details-body", "details-head",
    "details-tracker", "details-live", "details-prematch", "details-tabs", "details-markets", "details-loading",
    "bottom-nav", "nav-sports", "nav-live", "nav-refresh", "health-modal", "health-backdrop", "health-dialog",
    "health-title", "health-updated", "health-close", "health-body", "sr-announce", "topbar", "layout",
)


def import_later_views() -> None:
    for name in LATER_VIEWS:
        importlib.import_module(name)


class App:
    """The running UI. ``start()`` once; ``close()`` (or closing its scope) ends everything."""

    def __init__(self, platform: Platform, dom: DomPort, scope: Scope,
                 worker_config: Mapping[str, Any] | None = None, window: Any = None) -> None:
        self.platform = platform
        self.dom = dom
        self.scope = scope
        self.window = window
        self.store = Store()
        self.mode = LIVE
        self.sport_id: str | None = None
        self._following_url = False  # showing the address bar's page (popstate): push nothing
        self.query = ""
        self.games_loaded = False
        self.counts_stream: EventStream | None = None
        self.sport_stream: EventStream | None = None
        self.competitions: CompetitionStreams | None = None
        self.details: DetailsPanel | None = None
        self.health_modal: HealthModal | None = None
        self.results: ResultsMode | None = None
        self.health: HealthPayload | None = None
        self.drawer_open = False
        self._drawer_trigger: Any = None
        self.decode_errors = 0
        self.updated_ms: float | None = None
        self.warmups = 0
        self._warmup_timer: Handle | None = None
        self._refreshing = False
        self._scraping = False
        self._reported_decode: set[str] = set()
        self._refresh_rows: set[str] = set()
        self._hierarchy_backoff = Backoff(base_ms=2000.0, cap_ms=30000.0, floor_ms=1000.0)
        self.cache = NodeCache(dom)
        self.batcher = FrameBatcher(scope.child("frames"))
        self.flasher = Flasher(scope.child("flashes"), dom)
        self.parser = ParserService(scope.child("parser"), worker_config)
        self._primer: Iterator[None] | None = None  # the steps of priming still to run (``_prime_step``)
        self._prime_scope: Scope | None = None
        self.primed = False  # every step of priming ran (False too when a real list came first)
        self.fetches = self.parser.channel(scope, "fetches")  # the hierarchy's bodies, parsed in order
        self.toaster: Toaster | None = None
        self._utc_offset_override: int | None = None  # while adopting a page rendered in another zone
        # The slowest run of each step so far, in ms (debug_state; the e2e report prints them).
        self.timings: dict[str, float] = {}
        # new rows per games or window pass (None while the first view renders: see render_first_view)
        self._rows_per_pass: int | None = MAX_NEW_ROWS_PER_PASS

    def _utc_offset(self, epoch_s: float) -> int:
        if self._utc_offset_override is not None:
            return self._utc_offset_override
        return self.platform.utc_offset_minutes(epoch_s)

    def render_first_view(self, view: FirstView) -> None:
        """Render ``view`` (the state of a first paint: mode, sport, hierarchy, each stream's
        snapshot) to the page, to completion, the same way on the server and in the browser.

        The server runs it on an ``htmldom.TreeDom`` and sends the result; the browser runs it on an
        ``AdoptingDom`` over that page, where it writes nothing and every node it would create is
        the page's own. Both must make the same calls in the same order, so nothing in it depends on
        the clock or the layout: no time budget, no viewport (every row of an expanded competition is
        built; the browser's first window pass afterwards drops the rows off screen), the wall time
        and UTC offset the server used. And no limit on the rows of a pass: a window pass builds
        every row it lacks at once.
        """
        self.mode = view.mode if view.mode in MODES_ALL else LIVE
        self.sport_id = view.sport_id
        self._utc_offset_override = view.utc_offset
        if bytes(view.hierarchy) not in (b"", b"null"):
            try:
                self.store.set_hierarchy(decode(view.hierarchy, "hierarchy"))
            except (DecodeError, ValueError) as exc:
                self.platform.report_error(exc, "first view: the hierarchy")
        for stream in view.streams:
            handlers = self._stream_handlers(stream.name)
            for event, data in stream.events:
                handler = handlers.get(event)
                if handler is None:
                    continue
                try:
                    payload = decode(data, handler.kind)
                except DecodeError as exc:
                    handler.on_error(exc)
                    continue
                handler.apply(payload)
        if self.updated_ms is not None:
            self.updated_ms = view.wall_ms
        view_now, view_scroller = self.games_view.now, self.games_view.scroller
        self.games_view.now, self.games_view.scroller = None, None
        self._rows_per_pass = None  # every row in one pass: no frame to spread them over
        try:
            listed = self.mode != RESULTS and self.sport_id is not None
            if listed:
                self._schedule("games", self._render_games)
            self._schedule_chrome()
            view_ = self.games_view
            def drain() -> None:
                for _ in range(10_000):  # bounded: a job that always reschedules would be a bug
                    if not len(self.batcher):
                        return
                    self.batcher.flush()

            for _ in range(10_000):
                drain()
                if not listed:
                    break
                # A games pass builds a dozen heads at most: pass again until one builds nothing.
                built = (view_.rows_built, len(view_.regions), len(view_.competitions))
                self._schedule("games", self._render_games)
                drain()
                if (view_.rows_built, len(view_.regions), len(view_.competitions)) == built:
                    break
        finally:
            self.games_view.now, self.games_view.scroller = view_now, view_scroller
            self._rows_per_pass = MAX_NEW_ROWS_PER_PASS

    def _stream_handlers(self, name: str) -> dict[str, Decoded]:
        """The handlers of a first view's stream: ``counts`` or ``sport`` (of the current mode)."""
        if name == "counts":
            return {"live_counts": self._counts_handler(LIVE), "prematch_counts": self._counts_handler(PREMATCH)}
        if name == "sport" and self.sport_id is not None and self.mode in (LIVE, PREMATCH):
            return self._sport_handlers(self.mode, self.sport_id)
        return {}

    def _timed(self, name: str, started: float) -> None:
        spent = self.platform.now_ms() - started
        if spent > self.timings.get(name, -1.0):
            self.timings[name] = round(spent, 2)

    # ---------------------------------------------------------------- lifecycle

    def start(self, first_view: FirstView | None = None) -> None:
        """Build the views and start everything. With ``first_view`` (the state a server-rendered page
        carries, docs/ui.md 9) the views adopt the page's nodes instead of building them
        (``render_first_view``), the hierarchy is not fetched again, and each stream resumes from the
        id the page was rendered at. Raises ``AdoptError`` (before anything is started) if the page
        is not what that state renders to."""
        self._build_views()
        if first_view is not None:
            self.render_first_view(first_view)
            adopt_done = getattr(self.dom, "adopt_done", None)
            if adopt_done is not None:
                adopt_done()
        self._start_wiring(first_view)

    def _build_views(self) -> None:
        dom = self.dom
        self.nodes: dict[str, Any] = {name: dom.by_id(name) for name in PAGE_NODES}
        nodes = self.nodes
        self.sidebar = SidebarView(dom, nodes["sport-list"], nodes["sport-empty"], self.cache)
        self.tabs = ModeTabsView(
            dom, {PREMATCH: nodes["tab-prematch"], LIVE: nodes["tab-live"], RESULTS: nodes["tab-results"]},
            {LIVE: nodes["count-live"], PREMATCH: nodes["count-prematch"]}, self.cache, nodes["mode-panel"],
        )
        self.games_view = GamesView(dom, nodes["games"], nodes["games-empty"], self.cache, self.flasher,
                                    self._utc_offset, scroller=nodes["content"],
                                    now=self.platform.now_ms)
        self.toaster = Toaster(self.scope, dom, nodes["toasts"])
        # The page starts with these states in index.html; tell the cache so writes stay minimal.
        for name, hidden in (("sport-empty", True), ("games-empty", False), ("loading", True), ("welcome", False),
                             ("drawer-overlay", True), ("games", False)):
            self.cache.hidden(nodes[name], hidden, force=True)

    def _start_wiring(self, first_view: FirstView | None) -> None:
        nodes = self.nodes
        # One delegated listener per container (docs/design.md R7), all owned by the app scope.
        listen = self.scope.listen
        listen(nodes["sport-list"], "click", self._on_sidebar_click, label="sidebar")
        listen(nodes["sport-list"], "keydown", self._on_sidebar_key, label="sidebar")
        listen(nodes["mode-tabs"], "click", self._on_tabs_click, label="tabs")
        listen(nodes["mode-tabs"], "keydown", self._on_tabs_key, label="tabs")
        listen(nodes["sport-search"], "input", self._on_search, label="search")
        listen(nodes["games"], "click", self._on_games_click, label="games")
        listen(nodes["content"], "scroll", self._on_scroll, label="games window")
        for name in ("refresh-btn", "scrape-btn", "health-btn", "menu-btn"):
            listen(nodes[name], "click", self._on_action_click, label=name)
        listen(nodes["bottom-nav"], "click", self._on_action_click, label="bottom nav")
        listen(nodes["drawer-overlay"], "click", lambda _e: self.set_drawer(False), label="drawer overlay")
        if self.window is not None:
            listen(self.window, "keydown", self._on_window_key, label="escape")
            listen(self.window, "resize", self._on_resize, label="games window")
            listen(self.window, "popstate", self._on_popstate, label="history")

        self.competitions = CompetitionStreams(
            self.scope, self.parser, on_odds=self._on_odds, on_error=self._decode_failed("competition odds"),
            on_change=lambda key, on: self._schedule(("stream-mark", key),
                                                     lambda: self.games_view.set_streaming(key, on)),
            on_server_error=lambda data: self._on_server_error("competition stream", data, throttle=False),
        )
        if first_view is None or not self.store.sports:
            self.scope.task(self._load_hierarchy(), label="hierarchy")
        self.scope.task(self._load_welcome_health(), label="welcome health")
        self.scope.interval(lambda: self.scope.task(self._load_welcome_health(), label="welcome health"),
                            WELCOME_HEALTH_EVERY_MS, label="welcome health")
        if first_view is None:
            self._sync_counts_stream()
            # Started without the server's page (a back/forward-cache restore, a page that could not
            # be adopted): show the page the address names.
            if self.window is not None:
                self.show_url(self.platform.location_path())
        else:
            resume = {stream.name: stream.last_event_id for stream in first_view.streams}
            if self.mode == RESULTS:
                self._open_results()
            elif self.sport_id is not None:
                self._open_sport_stream(keep=True, resume_id=resume.get("sport"))
            self._sync_counts_stream(resume_id=resume.get("counts"))
            if self._utc_offset_override is not None:
                # Rendered in the server's idea of local time: from now on the browser's own. Rows
                # and the header are re-applied, writing only what differs.
                self._utc_offset_override = None
                self._refresh_rows.update(self.store.games)
                self._schedule("games", self._render_games)
            self._schedule("window", self._render_window)  # the real viewport: rows below it go
        self._schedule_chrome()
        # The parse worker boots its own Pyodide (about 3 s of CPU): start it while the page is idle,
        # so the first big list does not wait for it, nor compete with it for the CPU.
        self.scope.timeout(self.parser.prestart, WORKER_PRESTART_MS, label="parse worker prestart")
        self.scope.timeout(import_later_views, LATER_VIEWS_IMPORT_MS, label="later views import")
        self._prime_scope = self.scope.child("prime")
        self._primer = prime_steps(self.dom, self._prime_scope, self._utc_offset, self.platform.now_ms)
        self.scope.timeout(self._prime_step, PRIME_AFTER_MS, label="prime")

    def _prime_step(self) -> None:
        """Run one step of priming, and schedule the next; stop once a real list has been built
        (its paths have run) or the app is closing. A failure is reported and ends priming."""
        primer = self._primer
        if primer is None or self.scope.closed:
            return
        if self.games_view.rows_built:
            self._stop_priming()
            return
        try:
            next(primer)
        except StopIteration:
            self.primed = True
            self._stop_priming()
            return
        except Exception as exc:
            self._stop_priming()
            self.platform.report_error(exc, "priming the game list")
            return
        self.scope.timeout(self._prime_step, PRIME_STEP_MS, label="prime")

    def _stop_priming(self) -> None:
        primer, self._primer = self._primer, None
        if primer is not None:
            primer.close()
        if self._prime_scope is not None:
            self._prime_scope.close()
            self._prime_scope = None

    def close(self) -> None:
        self.scope.close()

    def debug_state(self) -> dict[str, Any]:
        """What the app holds right now (used by the e2e tests through Pyodide)."""
        return {
            "live_count": self.scope.live_count(),
            "primed": self.primed,
            "summary": self.scope.summary(),
            "mode": self.mode,
            "sport_id": self.sport_id,
            "games": len(self.store.games),
            "rows": len(self.games_view.rows) if hasattr(self, "games_view") else 0,
            "rows_built": self.games_view.rows_built if hasattr(self, "games_view") else 0,
            "row_height": self.games_view.row_height if hasattr(self, "games_view") else 0,
            "flash_marks": len(self.flasher),
            "pending_jobs": len(self.batcher),
            "decode_errors": self.decode_errors,
            "parser": self.parser.debug_state(),
            "counts_stream": self.counts_stream is not None,
            "sport_stream": None if self.sport_stream is None else {
                "url": self.sport_stream.url, "state": self.sport_stream.state,
                "connects": self.sport_stream.stats.connects, "messages": self.sport_stream.stats.messages,
            },
            "competitions": [] if self.competitions is None else self.competitions.keys(),
            "details": None if self.details is None else self.details.debug_state(),
            "health_open": self.health_modal is not None,
            "results": None if self.results is None else {
                "sport_id": self.results.sport_id, "range": self.results.range, "games": self.results.count()},
            "drawer_open": self.drawer_open,
            "warmups": self.warmups,
            "timings": dict(self.timings),
            "prices_moved": self.store.prices_moved,
        }

    # ---------------------------------------------------------------- user actions

    def select_sport(self, sport_id: str | None) -> None:
        if self.scope.closed:
            return
        self.set_drawer(False)
        if sport_id == self.sport_id:
            return
        self.sport_id = sport_id
        if self.mode == RESULTS:
            if self.results is not None:
                self.results.select_sport(sport_id)
        else:
            self._open_sport_stream()
        self._schedule_chrome()
        self._push_url()

    def select_mode(self, mode: str) -> None:
        if mode not in MODES_ALL or mode == self.mode or self.scope.closed:
            return
        self._select_mode(mode)
        self._push_url()

    def show_url(self, path: str) -> bool:
        """Show the page ``path`` names (``render.parse_page_url``) without adding a history entry:
        what Back and Forward land on. False for a path that names no page (nothing changes)."""
        view = parse_page_url(path)
        if view is None or self.scope.closed:
            return False
        mode, sport_id = view
        self._following_url = True
        try:
            if mode != self.mode:
                self.sport_id = sport_id  # one stream for the new mode and sport, not two
                self._select_mode(mode)
            else:
                self.select_sport(sport_id)
        finally:
            self._following_url = False
        return True

    def _push_url(self) -> None:
        """The address bar follows what the user chose, so a reload (the server's render of that
        URL) or a shared link shows the same page."""
        if self._following_url or self.window is None:
            return
        url = page_url(self.mode, self.sport_id)
        if parse_page_url(self.platform.location_path()) != parse_page_url(url):
            self.platform.push_url(url)

    def _on_popstate(self, _event: Any) -> None:
        self.show_url(self.platform.location_path())

    def _select_mode(self, mode: str) -> None:
        self.mode = mode
        if mode == PREMATCH:
            self.parser.prestart()  # prematch lists are the big payloads: boot the worker now
        if mode == RESULTS:
            self._close_sport_stream()
            self._open_results()
        else:
            self._close_results()
            self._open_sport_stream()
        self._sync_counts_stream()
        self._schedule_chrome()

    def open_details(self, game_key: str, return_focus: Any = None) -> DetailsPanel | None:
        """Open the details panel of a listed game (closing the one open, if another)."""
        if self.scope.closed or game_key not in self.store.games:
            return None
        if self.details is not None:
            if self.details.game_key == game_key:
                self.dom.focus(self.nodes["details-title"])
                return self.details
            self.details.return_focus = None  # focus moves to the new panel, not back
            self.details.close()
        from .details_panel import DetailsPanel

        panel = DetailsPanel(
            self.scope, self.dom, self.nodes, game_key=game_key, game=self.store.games[game_key],
            sport_name=self._sport_name(), parser=self.parser, batcher=self.batcher,
            utc_offset=self.platform.utc_offset_minutes, report=self.platform.report_error,
            on_close=lambda: self._details_closed(game_key),
            notify=lambda text, topic: self._toast(text, "error", topic),
            return_focus=return_focus,
        )
        self.details = panel
        panel.open()
        self._schedule("selected", self._render_selected)
        return panel

    def close_details(self) -> None:
        if self.details is not None:
            self.details.close()

    def _details_closed(self, game_key: str) -> None:
        panel = self.details
        if panel is not None and panel.game_key == game_key:
            self.details = None
            target = panel.return_focus
            if target is not None and not self.dom.is_connected(target):
                # the row left the window meanwhile: its new node (if rendered), else the list
                row = self.games_view.row_node(game_key)
                panel.return_focus = row if row is not None else self.nodes["mode-panel"]
        self._schedule("selected", self._render_selected)

    def open_health(self, return_focus: Any = None) -> HealthModal | None:
        if self.scope.closed:
            return None
        if self.health_modal is not None:
            return self.health_modal
        nodes = self.nodes
        modal = HealthModal(
            self.scope, self.dom, nodes,
            background=[nodes["topbar"], nodes["layout"], nodes["bottom-nav"]],
            on_close=self._health_closed, utc_offset=self.platform.utc_offset_minutes,
            return_focus=return_focus, on_health=self._set_health,
        )
        self.health_modal = modal
        modal.open()
        return modal

    def close_health(self) -> None:
        if self.health_modal is not None:
            self.health_modal.close()

    def _health_closed(self) -> None:
        self.health_modal = None

    def set_drawer(self, open_: bool) -> None:
        """The sports drawer (phone width; on a wide screen the sidebar is always shown)."""
        if open_ == self.drawer_open or self.scope.closed:
            return
        self.drawer_open = open_
        if open_:
            self._drawer_trigger = self.dom.active_element()
        self._schedule("drawer", self._render_drawer)

    def refresh_data(self) -> None:
        """Refresh Data: reload the hierarchy from the feed (and the results, in results mode)."""
        if self._refreshing or self.scope.closed:
            return
        self._refreshing = True
        self.scope.task(self._refresh(), label="refresh")

    def _on_sidebar_click(self, event: Any) -> None:
        sport_id = self.dom.closest_attr(event, "[data-sport-id]", "data-sport-id")
        if sport_id and not self.dom.opens_elsewhere(event):
            self.dom.prevent_default(event)  # a link to the sport's page: the app shows it in place
            self.select_sport(sport_id)

    def _on_sidebar_key(self, event: Any) -> None:
        key = self.dom.event_key(event)
        current = self.dom.closest_attr(event, "[data-sport-id]", "data-sport-id")
        if key in ("ArrowDown", "ArrowUp", "Home", "End"):
            self.dom.prevent_default(event)
            self.sidebar.move_focus(current, key)
        elif key in ("Enter", " ") and current:
            self.dom.prevent_default(event)
            self.select_sport(current)

    def _on_tabs_click(self, event: Any) -> None:
        mode = self.dom.closest_attr(event, "[data-mode]", "data-mode")
        if mode and not self.dom.opens_elsewhere(event):
            self.dom.prevent_default(event)  # a link to the mode's page: the app shows it in place
            self.select_mode(mode)

    def _on_tabs_key(self, event: Any) -> None:
        key = self.dom.event_key(event)
        current = self.dom.closest_attr(event, "[data-mode]", "data-mode")
        target = self.tabs.neighbour(current, key) if current else None
        if target is None:
            return
        self.dom.prevent_default(event)
        self.select_mode(target)  # automatic activation: the tab that gets focus is selected
        self._render_tabs()
        self.dom.focus(self.nodes[f"tab-{target}"])

    def _on_search(self, event: Any) -> None:
        self.query = self.dom.event_value(event)
        self._schedule("sidebar", self._render_sidebar)

    def _on_games_click(self, event: Any) -> None:
        key = self.dom.closest_attr(event, "[data-toggle-group]", "data-toggle-group")
        if key:
            self.toggle_group(key)
            return
        game = self.dom.closest_attr(event, "[data-game-id]", "data-game-id")
        if game:
            self.open_details(game, return_focus=self.dom.active_element())

    def toggle_group(self, key: str) -> None:
        """Collapse or expand a region or competition; expanding a competition opens its odds
        stream, collapsing it closes it (docs/api.md B5)."""
        view = self.games_view
        collapse = key not in view.collapsed
        view.set_collapsed(key, collapse)
        comp = view.competitions.get(key)
        if comp is not None and self.competitions is not None and self.sport_id is not None \
                and self.mode in (LIVE, PREMATCH):
            if collapse:
                self.competitions.close(key)
            elif comp.competition_id:
                self.competitions.open(key, comp.competition_id, self.sport_id, self.mode)
        self._schedule("window", self._render_window)

    def _on_scroll(self, _event: Any) -> None:
        self._schedule("window", self._render_window)

    def _on_resize(self, _event: Any) -> None:
        self.games_view.remeasure()  # rows may be laid out on one line or two now
        self._schedule("window", self._render_window)

    def _on_action_click(self, event: Any) -> None:
        action = self.dom.closest_attr(event, "[data-action]", "data-action")
        if action == "refresh":
            self.refresh_data()
        elif action == "scrape":
            self.bulk_scrape()
        elif action == "health":
            self.open_health(return_focus=self.nodes["health-btn"])
        elif action == "drawer":
            self.set_drawer(not self.drawer_open)
        elif action == "live":
            self.set_drawer(False)
            self.select_mode(LIVE)

    def _on_window_key(self, event: Any) -> None:
        if self.dom.event_key(event) != "Escape":
            return
        if self.health_modal is not None:
            self.dom.prevent_default(event)
            self.health_modal.close()
        elif self.drawer_open:
            self.dom.prevent_default(event)
            self.set_drawer(False)
        elif self.details is not None:
            self.dom.prevent_default(event)
            self.details.close()

    # ---------------------------------------------------------------- streams

    def _close_sport_stream(self) -> None:
        if self.details is not None:
            self.details.close()
        if self.competitions is not None:
            self.competitions.close_all()
        if self.sport_stream is not None:
            self.sport_stream.close()  # its channel too: what it still had queued is dropped
            self.sport_stream = None
        self.batcher.cancel("games")
        self._refresh_rows.clear()
        self.store.clear_games()
        self.games_view.clear()
        self.games_loaded = False
        self.updated_ms = None

    def _open_sport_stream(self, keep: bool = False, resume_id: str | None = None) -> None:
        """Open the stream of the chosen sport (closing the old one and its list, unless ``keep``:
        the list on the page is the one this stream resumes from ``resume_id``)."""
        if not keep:
            self._close_sport_stream()
        if self.sport_id is None or self.mode not in (LIVE, PREMATCH):
            self._sync_counts_stream()
            return
        mode, sport_id = self.mode, self.sport_id
        url = f"{SPORT_STREAM_URL[mode]}?sportId={quote(sport_id, safe='')}"
        sport = self.store.sports_by_id.get(sport_id)
        if mode == PREMATCH and sport is not None:
            url += f"&sportName={quote(sport.name, safe='')}"
        self.sport_stream = EventStream(
            self.scope,
            url,
            self._sport_handlers(mode, sport_id),
            parser=self.parser,
            name=f"{mode}:{sport_id}",
            backoff=Backoff(base_ms=SPORT_BACKOFF_MS, cap_ms=30000.0, floor_ms=SPORT_BACKOFF_MS / 2),
            on_server_error=lambda data: self._on_server_error(f"{mode} stream", data),
            on_state=self._sport_state,
            resume_id=resume_id,
        )
        self.sport_stream.open()
        self._sync_counts_stream()

    def _sport_handlers(self, mode: str, sport_id: str) -> dict[str, Decoded]:
        handlers = {
            "games": Decoded("games", lambda payload: self._on_games(mode, sport_id, payload),
                             self._decode_failed("games")),
            "odds": Decoded("odds", lambda payload: self._on_odds(mode, sport_id, payload),
                            self._decode_failed("odds")),
        }
        if mode == LIVE:
            handlers["counts"] = self._counts_handler(LIVE)
            handlers["prematch_counts"] = self._counts_handler(PREMATCH)
        return handlers

    def _sync_counts_stream(self, resume_id: str | None = None) -> None:
        """The counts stream is open unless a live sport stream carries the counts."""
        needed = not (self.mode == LIVE and self.sport_stream is not None)
        if needed and self.counts_stream is None and not self.scope.closed:
            self.counts_stream = EventStream(
                self.scope,
                COUNTS_URL,
                {"live_counts": self._counts_handler(LIVE), "prematch_counts": self._counts_handler(PREMATCH)},
                parser=self.parser,
                name="counts",
                backoff=Backoff(base_ms=COUNTS_BACKOFF_MS, cap_ms=60000.0, floor_ms=COUNTS_BACKOFF_MS / 2),
                on_server_error=lambda data: self._on_server_error("counts", data),
                on_state=lambda state: self._schedule("conn", self._render_conn),
                resume_id=resume_id,
            )
            self.counts_stream.open()
        elif not needed and self.counts_stream is not None:
            self.counts_stream.close()
            self.counts_stream = None
        self._schedule("conn", self._render_conn)

    def _sport_state(self, state: str) -> None:
        self._schedule("conn", self._render_conn)
        if state == StreamState.RETRYING:
            self._schedule_warmup()

    def _schedule_warmup(self) -> None:
        """``/api/warmup`` 1 s after a sport stream's error, at most 3 tries (docs/api.md G)."""
        if self.warmups >= WARMUP_TRIES or self.scope.closed:
            return
        if self._warmup_timer is not None and not self._warmup_timer.released:
            return
        self._warmup_timer = self.scope.timeout(
            lambda: self.scope.task(self._warmup(), label="warmup"), WARMUP_DELAY_MS, label="warmup")

    async def _warmup(self) -> None:
        self.warmups += 1
        try:
            await self.platform.fetch_text(WARMUP_URL)
        except Exception:  # best effort: the stream's own reconnect goes on regardless
            pass

    def _decode(self, data: str, kind: str, source: str) -> Any:
        try:
            return decode(data, kind)
        except DecodeError as exc:
            self._decode_failed(source)(exc)
            return None

    def _decode_failed(self, source: str) -> Callable[[BaseException], None]:
        def on_error(exc: BaseException) -> None:
            self.decode_errors += 1
            if source not in self._reported_decode:  # logged once per source; counted always
                self._reported_decode.add(source)
                self.platform.report_error(exc, f"decoding {source}")

        return on_error

    def _counts_handler(self, mode: str) -> Decoded:
        return Decoded("counts", lambda payload: self._on_counts(mode, payload), self._decode_failed(f"{mode} counts"))

    def _current(self, mode: str, sport_id: str, payload_sport: Any) -> bool:
        # docs/api.md G: events count only in their mode and when String(payload.sportId) matches.
        return mode == self.mode and sport_id == self.sport_id and str(payload_sport) == sport_id

    def _on_counts(self, mode: str, payload: Any) -> None:
        if self.store.apply_counts(mode, payload):
            self._schedule("sidebar", self._render_sidebar)
            self._schedule("tabs", self._render_tabs)

    def _on_games(self, mode: str, sport_id: str, payload: Any) -> None:
        if not self._current(mode, sport_id, payload.sportId):
            return
        started = self.platform.now_ms()
        change = self.store.set_games(payload)
        self._timed("set_games", started)
        self.games_loaded = True
        self.warmups = 0
        self.updated_ms = self.platform.wall_ms()
        self._refresh_rows.update(change.added)
        self._refresh_rows.update(change.updated)
        self._schedule("games", self._render_games)
        self._schedule("header", self._render_header)
        details = self.details
        if details is not None:
            game = self.store.games.get(details.game_key)
            if game is not None and details.game_key in change.updated:
                details.update_list_game(game)

    def _on_odds(self, mode: str, sport_id: str, payload: Any) -> None:
        if not self._current(mode, sport_id, payload.sportId):
            return
        changed = self.store.apply_odds(payload)
        if changed:
            self.updated_ms = self.platform.wall_ms()
            self._schedule("header", self._render_header)
        for key in changed:
            self._schedule(("odds", key), self._odds_job(key))

    def _odds_job(self, key: str) -> Callable[[], None]:
        return lambda: self.games_view.update_odds(self.store, key)

    def _on_server_error(self, source: str, data: str, throttle: bool = True) -> None:
        message = data
        payload = self._decode(data, "error", f"{source} error") if data else None
        if payload is not None and payload.error:
            message = str(payload.error)
        self._toast(f"{source}: {message or 'stream error'}", "error", source if throttle else None)

    def _toast(self, text: str, kind: str = "info", topic: str | None = None) -> None:
        if self.toaster is not None:
            self.toaster.show(text, kind, topic=topic, throttle_ms=ERROR_TOAST_THROTTLE_MS if topic else 0.0)

    # ---------------------------------------------------------------- results

    def _open_results(self) -> None:
        if self.results is not None:
            return
        from .results import ResultsMode

        self.results = ResultsMode(
            self.scope, self.dom, self.nodes, parser=self.parser, schedule=self._schedule,
            utc_offset=self.platform.utc_offset_minutes,
            on_sports=lambda: self._schedule("sidebar", self._render_sidebar),
            on_error=lambda text: self._toast(text, "error", "results"),
            on_loading=lambda busy, text: self._schedule("header", self._render_header),
        )
        self.results.start(self.sport_id)

    def _close_results(self) -> None:
        results, self.results = self.results, None
        if results is not None:
            results.close()

    # ---------------------------------------------------------------- hierarchy and health

    # Fetched bodies go through the parser like stream messages (docs/design.md R10): over 100 KB
    # (a real feed's hierarchy can be) they are parsed in the worker, and applied in arrival order.

    async def _fetch_decoded(self, url: str, kind: str, on_ok: Callable[[Any], None],
                             on_fail: Callable[[BaseException], None]) -> None:
        """GET ``url`` and decode its body as ``kind`` through the parser: ``on_ok(payload)``, or
        ``on_fail`` for the network, a status other than 200 (``HTTP <status>``) or a bad body."""
        try:
            status, body = await self.platform.fetch_payload(url)
        except Exception as exc:  # the network
            on_fail(exc)
            return
        if status != 200:
            on_fail(RuntimeError(f"HTTP {status}"))
            return
        self.fetches.receive(kind, body, on_ok, on_fail)

    async def _load_hierarchy(self) -> None:
        await self._fetch_decoded(HIERARCHY_URL, "hierarchy", self._hierarchy_loaded, self._hierarchy_failed)

    def _hierarchy_loaded(self, body: Any) -> None:
        try:
            self.store.set_hierarchy(body)
        except ValueError as exc:  # no sport in it
            self._hierarchy_failed(exc)
            return
        self._hierarchy_backoff.reset()
        self._schedule_chrome()
        if self.sport_id is not None and self.mode == PREMATCH and self.sport_stream is not None:
            # A prematch stream opened before the names were known lacks sportName; reopen with it.
            self._open_sport_stream()

    def _hierarchy_failed(self, exc: BaseException) -> None:
        """Network, HTTP, decode, or an empty hierarchy: retry with backoff."""
        if self.scope.closed:
            return
        delay = self._hierarchy_backoff.next_delay(self.platform.random())
        self._toast(f"Could not load sports ({exc}); retrying", "error", "hierarchy")
        self.scope.timeout(self._retry_hierarchy, delay, label="hierarchy retry")

    def _retry_hierarchy(self) -> None:
        if not self.scope.closed:
            self.scope.task(self._load_hierarchy(), label="hierarchy")

    async def _refresh(self) -> None:
        try:
            status, body = await self.platform.fetch_payload(REFRESH_URL)
        except Exception as exc:
            self._refresh_failed(exc)
            return
        if status != 200:
            self.fetches.receive(
                "error", body,
                lambda payload: self._refresh_failed(RuntimeError(str(payload.error) if payload.error
                                                                  else f"HTTP {status}")),
                lambda _exc: self._refresh_failed(RuntimeError(f"HTTP {status}")))
            return
        self.fetches.receive("hierarchy", body, self._refreshed, self._refresh_failed)

    def _refreshed(self, body: Any) -> None:
        self._refreshing = False
        try:
            self.store.set_hierarchy(body)
        except ValueError as exc:
            self._refresh_failed(exc)
            return
        if self.scope.closed:
            return
        self._toast("Fetched fresh data", "ok")
        if self.results is not None:
            self.results.refresh()
        self._schedule_chrome()

    def _refresh_failed(self, exc: BaseException) -> None:
        self._refreshing = False
        if not self.scope.closed:
            self._toast(f"Refresh failed: {exc}", "error")

    def bulk_scrape(self) -> None:
        """Bulk Scrape: ask the backend to fetch every sport (``/api/fetch-all-sports``), then say
        how it went in a toast, as the original does (docs/api.md B)."""
        if self._scraping or self.scope.closed:
            return
        self._scraping = True
        self.scope.task(self._fetch_decoded(SCRAPE_URL, "scrape", lambda result: self._scrape_done(result, None),
                                            lambda exc: self._scrape_done(None, exc)), label="bulk scrape")

    def _scrape_done(self, result: Any, exc: BaseException | None) -> None:
        self._scraping = False
        if self.scope.closed:
            return
        if result is None:
            self._toast(f"Bulk scrape failed: {exc}", "error")
            return
        errors = result.errors if isinstance(result.errors, list) else []
        count = result.count if isinstance(result.count, int) and not isinstance(result.count, bool) else 0
        self._toast(f"Scraped {count} sports. {len(errors)} errors.", "info" if errors else "ok")

    async def _load_welcome_health(self) -> None:
        try:
            status, text = await self.platform.fetch_text(HEALTH_URL)
            if status == 200:
                self._set_health(decode(text, "health"))
        except Exception:  # the welcome cards then show "-"
            pass

    def _set_health(self, health: HealthPayload) -> None:
        self.health = health
        self._schedule("welcome", self._render_welcome)

    # ---------------------------------------------------------------- rendering (always in a frame)

    def _schedule(self, key: Any, job: Callable[[], None]) -> None:
        # The window job measures the layout: first in its frame, before other jobs' writes.
        self.batcher.schedule(key, job, first=key == "window")

    def _schedule_chrome(self) -> None:
        for key, job in (("sidebar", self._render_sidebar), ("tabs", self._render_tabs),
                         ("header", self._render_header), ("conn", self._render_conn),
                         ("welcome", self._render_welcome)):
            self._schedule(key, job)

    def _sidebar_items(self) -> list[SidebarItem]:
        if self.mode == RESULTS:
            if self.results is None:
                return []
            order_of = {s.id: s.order for s in self.store.sports}
            id_of_name = {s.name.lower(): s.id for s in self.store.sports}
            needle = self.query.strip().lower()
            return [SidebarItem(s.id, s.name, "", None, s.id == self.sport_id, page_url(RESULTS, s.id))
                    for s in self.results.sports(order_of, id_of_name)
                    if not needle or needle in s.name.lower() or s.id == self.sport_id]
        return sidebar_items(self.store, self.mode, self.sport_id, self.query)

    def _render_sidebar(self) -> None:
        self.sidebar.render(self._sidebar_items())

    def _render_tabs(self) -> None:
        self.tabs.render(self.store, self.mode, self.sport_id)

    def _render_games(self) -> None:
        started = self.platform.now_ms()
        refresh, self._refresh_rows = self._refresh_rows, set()
        if not self.games_view.render(self.store, self._sport_name(), refresh, self._rows_per_pass):
            self._schedule("window", self._render_window)  # more rows to build: next frame
        self._render_header()
        self._timed("render_games", started)

    def _render_window(self) -> None:
        if self.mode == RESULTS:
            return
        started = self.platform.now_ms()
        if not self.games_view.render_window(self.store, set(), self._rows_per_pass):
            self._schedule("window", self._render_window)
        self._timed("render_window", started)

    def _render_selected(self) -> None:
        key = self.details.game_key if self.details is not None else None
        self.games_view.set_selected(self.store, key)
        # The panel takes width from the list (or gives it back): rows may change height.
        self.games_view.remeasure()
        self._schedule("window", self._render_window)

    def _sport_name(self) -> str | None:
        sport = self.store.sports_by_id.get(self.sport_id or "")
        return sport.name if sport is not None else self.store.games_sport_name

    def _clock_text(self, wall_ms: float) -> str:
        seconds = wall_ms / 1000
        offset = self._utc_offset(seconds)
        _day, hour = start_text(seconds, offset)
        return f"{hour}:{int(seconds + offset * 60) % 60:02d}"

    def _render_header(self) -> None:
        c, nodes = self.cache, self.nodes
        mode_title = MODE_TITLES[self.mode]
        results = self.mode == RESULTS
        c.hidden(nodes["games"], results)
        if self.sport_id is None:
            c.text(nodes["content-title"], "Choose a sport" if not results else "Results")
            c.text(nodes["content-sub"], "")
            c.text(nodes["content-updated"], "")
            c.text(nodes["games-empty"], "Pick a sport to see its games." if not results
                   else "Pick a sport to see its results.")
            c.hidden(nodes["games-empty"], False)
            c.hidden(nodes["welcome"], False)
            c.hidden(nodes["loading"], True)
            c.attr(nodes["mode-panel"], "aria-busy", "false")
            return
        c.hidden(nodes["welcome"], True)
        name = self._sport_name() or f"Sport {self.sport_id}"
        c.text(nodes["content-title"], f"{name} \u00b7 {mode_title}")
        if results:
            res = self.results
            count = res.count() if res is not None else None
            label = res.range_label() if res is not None else ""
            c.text(nodes["content-sub"], f"{count} game{'s' if count != 1 else ''} \u00b7 {label}"
                   if count is not None else label)
            c.text(nodes["content-updated"], "")
            c.hidden(nodes["games-empty"], True)
            busy = res is not None and res.loading
            c.text(nodes["loading-text"], "Loading results\u2026")
            c.hidden(nodes["loading"], not busy)
            c.attr(nodes["mode-panel"], "aria-busy", "true" if busy else "false")
            return
        count = len(self.store.games)
        c.text(nodes["content-sub"], f"{count} game{'s' if count != 1 else ''}" if self.games_loaded else "")
        c.text(nodes["content-updated"], f"Updated {self._clock_text(self.updated_ms)}"
               if self.updated_ms is not None else "")
        if not self.games_loaded:
            c.text(nodes["games-empty"], "")
        else:
            c.text(nodes["games-empty"], f"No {mode_title.lower()} games for {name} right now.")
        c.hidden(nodes["games-empty"], not self.games_loaded or count > 0)
        c.text(nodes["loading-text"], "Loading games\u2026")
        c.hidden(nodes["loading"], self.games_loaded)
        c.attr(nodes["mode-panel"], "aria-busy", "false" if self.games_loaded else "true")

    def _render_conn(self) -> None:
        stream = self.sport_stream or self.counts_stream
        state = stream.state if stream is not None else StreamState.IDLE
        self.cache.attr(self.nodes["conn-status"], "data-state", state)
        self.cache.text(self.nodes["conn-text"], CONN_TEXT.get(state, state))

    def _render_welcome(self) -> None:
        nodes = self.nodes
        html = welcome_html(len(self.store.sports) if self.store.sports else None,
                            (self.health.cache or {}).get("hits") if self.health is not None else None,
                            (self.health.responseTime or {}).get("avg") if self.health is not None else None)
        if getattr(self, "_welcome_html", None) != html:
            self.dom.set_text(nodes["welcome"], "")
            for node in self.dom.fragment(html):
                self.dom.append(nodes["welcome"], node)
            self._welcome_html = html

    def _render_drawer(self) -> None:
        nodes, open_ = self.nodes, self.drawer_open
        self.cache.cls(nodes["sidebar"], "open", open_)
        self.cache.hidden(nodes["drawer-overlay"], not open_)
        for name in ("menu-btn", "nav-sports"):
            self.cache.attr(nodes[name], "aria-expanded", "true" if open_ else "false")
        if open_:
            self.dom.focus(nodes["sport-search"])
        else:
            target, self._drawer_trigger = self._drawer_trigger, None
            if target is not None and self.dom.is_connected(target) and self.dom.contains(nodes["sidebar"], self.dom.active_element()):
                self.dom.focus(target)


class Page:
    """The document's lifetime: starts the app, closes it on pagehide, restarts it on a bfcache restore."""

    def __init__(self, platform: Platform, dom: DomPort, window: Any,
                 app_factory: Callable[[Platform, DomPort, Scope], App] | None = None,
                 worker_config: Mapping[str, Any] | None = None, first_view: FirstView | None = None) -> None:
        self.platform = platform
        self.dom = dom
        self.window = window
        self.scope = Scope(platform, name="page")
        self.app: App | None = None
        self.apps_started = 0
        self.worker_config = worker_config
        self.first_view = first_view  # adopted by the first app only (a bfcache restore starts fresh)
        self.adopted: bool | None = None  # whether the first app adopted the server-rendered page
        self._factory = app_factory or self._default_app

    def _default_app(self, platform: Platform, dom: DomPort, scope: Scope) -> App:
        return App(platform, dom, scope, worker_config=self.worker_config, window=self.window)

    def start(self) -> None:
        self.scope.listen(self.window, "pagehide", self._on_pagehide, label="page")
        self.scope.listen(self.window, "pageshow", self._on_pageshow, label="page")
        self._start_app()

    def _start_app(self) -> None:
        view, self.first_view = self.first_view, None
        if view is not None:
            adopting = AdoptingDom(self.dom, view.creations)
            app = self._factory(self.platform, adopting, self.scope.child("app"))
            self.app = app
            self.apps_started += 1
            try:
                app.start(view)
                self.adopted = True
                return
            except AdoptError as exc:
                # The page is not what its state renders to (e.g. another build's markup): say so,
                # clear what the server rendered, and start as if there had been no first view.
                self.platform.report_error(exc, "adopting the server-rendered page")
                app.close()
                self.adopted = False
                for name in ("sport-list", "games"):
                    self.dom.set_text(self.dom.by_id(name), "")
        app = self._factory(self.platform, self.dom, self.scope.child("app"))
        self.app = app
        self.apps_started += 1
        app.start()

    def _on_pagehide(self, _event: Any) -> None:
        app, self.app = self.app, None
        if app is not None:
            app.close()

    def _on_pageshow(self, event: Any) -> None:
        if getattr(event, "persisted", False) and self.app is None:
            self._start_app()

    def close(self) -> None:
        self._on_pagehide(None)
        self.scope.close()


def worker_config_of(manifest_json: str) -> Mapping[str, Any] | None:
    """The parse worker's section of manifest.json (None if the build has no worker)."""
    if not manifest_json:
        return None
    section = json.loads(manifest_json).get("worker")
    return section if isinstance(section, dict) and section.get("url") else None


def start_page(platform: Platform, dom: DomPort, window: Any, manifest_json: str = "",
               first_view_json: str = "") -> Page:
    """Start the UI on a document and return its ``Page``. The caller owns the page: it is the only
    handle on the running app (``page.app``) and ``page.close()`` ends it. Nothing else keeps it.
    ``first_view_json`` is the state a server-rendered page carries (``#first-view``): the app
    adopts that page and resumes its streams from it."""
    config = worker_config_of(manifest_json)
    if config is None:
        platform.report_error(LookupError("manifest.json has no parse worker; rebuild the assets"),
                              "starting the app (large payloads are parsed on the main thread)")
    view = None
    if first_view_json:
        try:
            view = FirstView.from_json(first_view_json)
        except ValueError as exc:
            platform.report_error(exc, "reading the first view's state (starting without it)")
    page = Page(platform, dom, window, worker_config=config, first_view=view)
    page.start()
    return page


def main(manifest_json: str = "", first_view_json: str = "") -> Page:
    """Entry point called by boot.js once the packages are installed, with manifest.json's text.

    Returns the running ``Page``; boot.js keeps it as ``window.__oddsui.page`` (the console and the
    e2e tests reach the app through it) for the document's lifetime.
    """
    from .browser import BrowserDom, BrowserPlatform, window

    return start_page(BrowserPlatform(), BrowserDom(), window, manifest_json, first_view_json)
