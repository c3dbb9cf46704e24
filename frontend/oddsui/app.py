"""Wiring: the page lifecycle, the app's streams and views, and the user's choices.

Ownership (every box is a Scope; closing one releases everything below it, newest first)::

    page                      pagehide / pageshow listeners on window (live as long as the document)
    └── app                   delegated DOM listeners (sidebar, tabs, search, group toggles),
        │                     hierarchy task and retry timer, toasts
        ├── frames            the one pending requestAnimationFrame of the FrameBatcher
        ├── flashes           the Flasher: every flash mark and the one flash-expiry timer
        ├── parser            ParserService: the pending parse requests, the worker's watchdog
        │   └── worker        the parse Worker and its message/error/messageerror listeners (lazy)
        ├── stream:counts     /api/counts-stream  (EventStream: its ParseChannel, connection scope,
        │                     reconnect timer)
        └── stream:<mode>:<id>  /api/live-stream or /api/prematch-stream for the chosen sport (the same)

Every stream message goes through its stream's own ``ParseChannel`` (docs/design.md R10): more than 100 KB of text
is parsed in the parse worker, less here, and the results are applied in arrival order per stream.
Closing a stream closes its channel, so what an old stream still had queued is dropped with it.

``pagehide`` closes the app scope (docs/design.md R1: one central cleanup); a page restored from the back/forward
cache (``pageshow`` with ``persisted``) starts a fresh app. Switching sport or mode closes the sport
stream's scope before the next one opens, so listeners never pile up.

Only ``main()`` imports the browser adapter; ``App``, ``Page`` and ``start_page()`` run under CPython
with fakes. The module holds no state: the running ``Page`` is owned by whoever started it (boot.js
keeps the one ``main()`` returns on ``window.__oddsui.page``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from .backoff import Backoff
from .flash import Flasher
from .frames import FrameBatcher
from .messages import DecodeError, decode
from .parsing import Decoded, ParserService
from .ports import DomPort, Platform
from .render import GamesView, ModeTabsView, NodeCache, SidebarView, Toaster, sidebar_items
from .scope import Scope
from .store import LIVE, PREMATCH, Store
from .streams import EventStream, StreamState

__all__ = ["App", "Page", "main", "start_page", "worker_config_of"]

HIERARCHY_URL = "/api/hierarchy"
COUNTS_URL = "/api/counts-stream"
SPORT_STREAM_URL = {LIVE: "/api/live-stream", PREMATCH: "/api/prematch-stream"}
# The original UI reconnects counts after 5 s and sport streams after 2 s; we back off from there
# (docs/api.md G).
COUNTS_BACKOFF_MS = 5000.0
SPORT_BACKOFF_MS = 2000.0
ERROR_TOAST_THROTTLE_MS = 15000.0
MODE_TITLES = {LIVE: "Live", PREMATCH: "Prematch"}
CONN_TEXT = {
    StreamState.IDLE: "offline",
    StreamState.CONNECTING: "connecting",
    StreamState.OPEN: "live",
    StreamState.RETRYING: "reconnecting",
    StreamState.CLOSED: "offline",
}


class App:
    """The running UI. ``start()`` once; ``close()`` (or closing its scope) ends everything."""

    def __init__(self, platform: Platform, dom: DomPort, scope: Scope,
                 worker_config: Mapping[str, Any] | None = None) -> None:
        self.platform = platform
        self.dom = dom
        self.scope = scope
        self.store = Store()
        self.mode = LIVE
        self.sport_id: str | None = None
        self.query = ""
        self.games_loaded = False
        self.counts_stream: EventStream | None = None
        self.sport_stream: EventStream | None = None
        self.decode_errors = 0
        self._reported_decode: set[str] = set()
        self._refresh_rows: set[str] = set()
        self._hierarchy_backoff = Backoff(base_ms=2000.0, cap_ms=30000.0, floor_ms=1000.0)
        self.cache = NodeCache(dom)
        self.batcher = FrameBatcher(scope.child("frames"))
        self.flasher = Flasher(scope.child("flashes"), dom)
        self.parser = ParserService(scope.child("parser"), worker_config)
        self.toaster: Toaster | None = None

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> None:
        dom = self.dom
        n = dom.by_id
        self.nodes: dict[str, Any] = {
            name: n(name)
            for name in (
                "sport-list", "sport-empty", "sport-search", "games", "games-empty", "toasts",
                "content-title", "content-sub", "conn-status", "conn-text", "mode-tabs",
                "tab-live", "tab-prematch", "count-live", "count-prematch",
            )
        }
        nodes = self.nodes
        self.sidebar = SidebarView(dom, nodes["sport-list"], nodes["sport-empty"], self.cache)
        self.tabs = ModeTabsView(
            dom, {LIVE: nodes["tab-live"], PREMATCH: nodes["tab-prematch"]},
            {LIVE: nodes["count-live"], PREMATCH: nodes["count-prematch"]}, self.cache,
        )
        self.games_view = GamesView(dom, nodes["games"], nodes["games-empty"], self.cache, self.flasher,
                                    self.platform.utc_offset_minutes)
        self.toaster = Toaster(self.scope, dom, nodes["toasts"])
        # The page starts with these states in index.html; tell the cache so writes stay minimal.
        self.cache.hidden(nodes["sport-empty"], True, force=True)
        self.cache.hidden(nodes["games-empty"], False, force=True)

        # One delegated listener per container (docs/design.md R7), all owned by the app scope.
        self.scope.listen(nodes["sport-list"], "click", self._on_sidebar_click, label="sidebar")
        self.scope.listen(nodes["mode-tabs"], "click", self._on_tabs_click, label="tabs")
        self.scope.listen(nodes["sport-search"], "input", self._on_search, label="search")
        self.scope.listen(nodes["games"], "click", self._on_games_click, label="games")

        self.scope.task(self._load_hierarchy(), label="hierarchy")
        self.counts_stream = EventStream(
            self.scope,
            COUNTS_URL,
            {"live_counts": self._counts_handler(LIVE), "prematch_counts": self._counts_handler(PREMATCH)},
            parser=self.parser,
            name="counts",
            backoff=Backoff(base_ms=COUNTS_BACKOFF_MS, cap_ms=60000.0, floor_ms=COUNTS_BACKOFF_MS / 2),
            on_server_error=lambda data: self._on_server_error("counts", data),
            on_state=lambda state: self._schedule("conn", self._render_conn),
        )
        self.counts_stream.open()
        self._schedule_chrome()

    def close(self) -> None:
        self.scope.close()

    def debug_state(self) -> dict[str, Any]:
        """What the app holds right now (used by the e2e tests through Pyodide)."""
        return {
            "live_count": self.scope.live_count(),
            "summary": self.scope.summary(),
            "mode": self.mode,
            "sport_id": self.sport_id,
            "games": len(self.store.games),
            "rows": len(self.games_view.rows) if hasattr(self, "games_view") else 0,
            "flash_marks": len(self.flasher),
            "pending_jobs": len(self.batcher),
            "decode_errors": self.decode_errors,
            "parser": self.parser.debug_state(),
            "sport_stream": None if self.sport_stream is None else {
                "url": self.sport_stream.url, "state": self.sport_stream.state,
                "connects": self.sport_stream.stats.connects, "messages": self.sport_stream.stats.messages,
            },
        }

    # ---------------------------------------------------------------- user actions

    def select_sport(self, sport_id: str) -> None:
        if sport_id == self.sport_id or self.scope.closed:
            return
        self.sport_id = sport_id
        self._open_sport_stream()
        self._schedule_chrome()

    def select_mode(self, mode: str) -> None:
        if mode not in (LIVE, PREMATCH) or mode == self.mode or self.scope.closed:
            return
        self.mode = mode
        if mode == PREMATCH:
            self.parser.prestart()  # prematch lists are the big payloads: boot the worker now
        self._open_sport_stream()
        self._schedule_chrome()

    def _on_sidebar_click(self, event: Any) -> None:
        sport_id = self.dom.closest_attr(event, "[data-sport-id]", "data-sport-id")
        if sport_id:
            self.select_sport(sport_id)

    def _on_tabs_click(self, event: Any) -> None:
        mode = self.dom.closest_attr(event, "[data-mode]", "data-mode")
        if mode:
            self.select_mode(mode)

    def _on_search(self, event: Any) -> None:
        self.query = self.dom.event_value(event)
        self._schedule("sidebar", self._render_sidebar)

    def _on_games_click(self, event: Any) -> None:
        key = self.dom.closest_attr(event, "[data-toggle-group]", "data-toggle-group")
        if key:
            self.games_view.set_collapsed(key, key not in self.games_view.collapsed)

    # ---------------------------------------------------------------- streams

    def _open_sport_stream(self) -> None:
        if self.sport_stream is not None:
            self.sport_stream.close()  # its channel too: what it still had queued is dropped
            self.sport_stream = None
        self.batcher.cancel("games")
        self._refresh_rows.clear()
        self.store.clear_games()
        self.games_view.clear()
        self.games_loaded = False
        if self.sport_id is None:
            return
        mode, sport_id = self.mode, self.sport_id
        url = f"{SPORT_STREAM_URL[mode]}?sportId={quote(sport_id, safe='')}"
        sport = self.store.sports_by_id.get(sport_id)
        if mode == PREMATCH and sport is not None:
            url += f"&sportName={quote(sport.name, safe='')}"
        handlers = {
            "games": Decoded("games", lambda payload: self._on_games(mode, sport_id, payload),
                             self._decode_failed("games")),
            "odds": Decoded("odds", lambda payload: self._on_odds(mode, sport_id, payload),
                            self._decode_failed("odds")),
        }
        if mode == LIVE:
            handlers["counts"] = self._counts_handler(LIVE)
            handlers["prematch_counts"] = self._counts_handler(PREMATCH)
        self.sport_stream = EventStream(
            self.scope,
            url,
            handlers,
            parser=self.parser,
            name=f"{mode}:{sport_id}",
            backoff=Backoff(base_ms=SPORT_BACKOFF_MS, cap_ms=30000.0, floor_ms=SPORT_BACKOFF_MS / 2),
            on_server_error=lambda data: self._on_server_error(f"{mode} stream", data),
            on_state=lambda state: self._schedule("conn", self._render_conn),
        )
        self.sport_stream.open()

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
        change = self.store.set_games(payload)
        self.games_loaded = True
        self._refresh_rows.update(change.added)
        self._refresh_rows.update(change.updated)
        self._schedule("games", self._render_games)
        self._schedule("header", self._render_header)

    def _on_odds(self, mode: str, sport_id: str, payload: Any) -> None:
        if not self._current(mode, sport_id, payload.sportId):
            return
        for key in self.store.apply_odds(payload):
            self._schedule(("odds", key), self._odds_job(key))

    def _odds_job(self, key: str) -> Callable[[], None]:
        return lambda: self.games_view.update_odds(self.store, key)

    def _on_server_error(self, source: str, data: str) -> None:
        message = data
        payload = self._decode(data, "error", f"{source} error") if data else None
        if payload is not None and payload.error:
            message = str(payload.error)
        if self.toaster is not None:
            self.toaster.show(f"{source}: {message or 'stream error'}", "error", topic=source,
                              throttle_ms=ERROR_TOAST_THROTTLE_MS)

    # ---------------------------------------------------------------- hierarchy

    async def _load_hierarchy(self) -> None:
        try:
            status, text = await self.platform.fetch_text(HIERARCHY_URL)
            if status != 200:
                raise RuntimeError(f"HTTP {status}")
            body = decode(text, "hierarchy")
            self.store.set_hierarchy(body)
        except Exception as exc:  # network, HTTP, decode, or an empty hierarchy: retry with backoff
            if self.scope.closed:
                return
            delay = self._hierarchy_backoff.next_delay(self.platform.random())
            if self.toaster is not None:
                self.toaster.show(f"Could not load sports ({exc}); retrying", "error", topic="hierarchy",
                                  throttle_ms=ERROR_TOAST_THROTTLE_MS)
            self.scope.timeout(self._retry_hierarchy, delay, label="hierarchy retry")
            return
        self._hierarchy_backoff.reset()
        self._schedule_chrome()
        if self.sport_id is not None and self.mode == PREMATCH and self.sport_stream is not None:
            # A prematch stream opened before the names were known lacks sportName; reopen with it.
            self._open_sport_stream()

    def _retry_hierarchy(self) -> None:
        if not self.scope.closed:
            self.scope.task(self._load_hierarchy(), label="hierarchy")

    # ---------------------------------------------------------------- rendering (always in a frame)

    def _schedule(self, key: Any, job: Callable[[], None]) -> None:
        self.batcher.schedule(key, job)

    def _schedule_chrome(self) -> None:
        for key, job in (("sidebar", self._render_sidebar), ("tabs", self._render_tabs),
                         ("header", self._render_header), ("conn", self._render_conn)):
            self._schedule(key, job)

    def _render_sidebar(self) -> None:
        self.sidebar.render(sidebar_items(self.store, self.mode, self.sport_id, self.query))

    def _render_tabs(self) -> None:
        self.tabs.render(self.store, self.mode)

    def _render_games(self) -> None:
        refresh, self._refresh_rows = self._refresh_rows, set()
        if not self.games_view.render(self.store, self._sport_name(), refresh):
            self._schedule("games", self._render_games)  # more rows to build: next frame
        self._render_header()

    def _sport_name(self) -> str | None:
        sport = self.store.sports_by_id.get(self.sport_id or "")
        return sport.name if sport is not None else self.store.games_sport_name

    def _render_header(self) -> None:
        c = self.cache
        mode_title = MODE_TITLES[self.mode]
        if self.sport_id is None:
            c.text(self.nodes["content-title"], "Choose a sport")
            c.text(self.nodes["content-sub"], "")
            c.text(self.nodes["games-empty"], "Pick a sport on the left to see its games.")
            c.hidden(self.nodes["games-empty"], False)
            return
        name = self._sport_name() or f"Sport {self.sport_id}"
        c.text(self.nodes["content-title"], f"{name} \u00b7 {mode_title}")
        count = len(self.store.games)
        c.text(self.nodes["content-sub"], f"{count} game{'s' if count != 1 else ''}" if self.games_loaded else "")
        if not self.games_loaded:
            c.text(self.nodes["games-empty"], "Loading games\u2026")
        else:
            c.text(self.nodes["games-empty"], f"No {mode_title.lower()} games for {name} right now.")
        c.hidden(self.nodes["games-empty"], self.games_loaded and count > 0)

    def _render_conn(self) -> None:
        stream = self.sport_stream or self.counts_stream
        state = stream.state if stream is not None else StreamState.IDLE
        self.cache.attr(self.nodes["conn-status"], "data-state", state)
        self.cache.text(self.nodes["conn-text"], CONN_TEXT.get(state, state))


class Page:
    """The document's lifetime: starts the app, closes it on pagehide, restarts it on a bfcache restore."""

    def __init__(self, platform: Platform, dom: DomPort, window: Any,
                 app_factory: Callable[[Platform, DomPort, Scope], App] | None = None,
                 worker_config: Mapping[str, Any] | None = None) -> None:
        self.platform = platform
        self.dom = dom
        self.window = window
        self.scope = Scope(platform, name="page")
        self.app: App | None = None
        self.apps_started = 0
        self.worker_config = worker_config
        self._factory = app_factory or self._default_app

    def _default_app(self, platform: Platform, dom: DomPort, scope: Scope) -> App:
        return App(platform, dom, scope, worker_config=self.worker_config)

    def start(self) -> None:
        self.scope.listen(self.window, "pagehide", self._on_pagehide, label="page")
        self.scope.listen(self.window, "pageshow", self._on_pageshow, label="page")
        self._start_app()

    def _start_app(self) -> None:
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


def start_page(platform: Platform, dom: DomPort, window: Any, manifest_json: str = "") -> Page:
    """Start the UI on a document and return its ``Page``. The caller owns the page: it is the only
    handle on the running app (``page.app``) and ``page.close()`` ends it. Nothing else keeps it."""
    config = worker_config_of(manifest_json)
    if config is None:
        platform.report_error(LookupError("manifest.json has no parse worker; rebuild the assets"),
                              "starting the app (large payloads are parsed on the main thread)")
    page = Page(platform, dom, window, worker_config=config)
    page.start()
    return page


def main(manifest_json: str = "") -> Page:
    """Entry point called by boot.js once the packages are installed, with manifest.json's text.

    Returns the running ``Page``; boot.js keeps it as ``window.__oddsui.page`` (the console and the
    e2e tests reach the app through it) for the document's lifetime.
    """
    from .browser import BrowserDom, BrowserPlatform, window

    return start_page(BrowserPlatform(), BrowserDom(), window, manifest_json)
