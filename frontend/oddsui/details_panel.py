"""One open details panel: its streams, its live tracker, its listeners and timers, all owned by one
scope that closing the panel closes (docs/design.md R1, R2, R7).

Ownership::

    app
    └── details:<game key>        click and keydown listeners on the panel, the game-stats task,
        │                          the announcement timer
        ├── flashes                the panel's Flasher (every market flash and its one timer)
        ├── stream:game:<id>       /api/live-game-stream?gameId= (EventStream: parse channel,
        │                          connection, reconnect timer)
        └── tracker                (live games) the tracker's EventStream /api/live-tracker?gameId=

Rendering goes through the app's ``FrameBatcher`` under keys ``("details", ...)``; closing the
panel cancels them. The panel's markup is the pure views of ``details`` and ``tracker_view``.

Keyboard: Escape closes the panel (the app routes it: modal first, then drawer, then
panel) and focus goes back where it came from; the market tabs follow the tabs pattern (arrow keys,
Home, End move and select, roving ``tabindex``); accordion heads are buttons. A user can opt in to
announcements for the game the panel shows ("Announce changes"): the score and the main market's
prices, at most one announcement every ``ANNOUNCE_EVERY_MS``, through the page's polite live region.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from .backoff import Backoff
from .details import (
    MarketsView,
    SectionView,
    TabsView,
    header_html,
    live_html,
    prematch_html,
)
from .display import is_live_row, score_text, team_names
from .flash import Flasher
from .frames import FrameBatcher
from .markets import TAB_ALL, MarketGroup, market_groups, tabs_of
from .messages import DecodeError, FullGame, Game, GameStats, decode
from .odds import format_price
from .parsing import Decoded, ParserService
from .ports import DomPort, Platform
from .scope import Handle, Scope
from .streams import EventStream
from .tracker_feed import FeedError, MatchState, apply
from .tracker_view import TrackerView

__all__ = ["ANNOUNCE_EVERY_MS", "GAME_STREAM_URL", "GAME_STATS_URL", "TRACKER_URL", "DetailsPanel"]

GAME_STREAM_URL = "/api/live-game-stream"
TRACKER_URL = "/api/live-tracker"
GAME_STATS_URL = "/api/game-stats"
GAME_BACKOFF_MS = 5000.0  # the original reconnects the game stream after 5 s (docs/api.md G)
TRACKER_BACKOFF_MS = 3000.0
ANNOUNCE_EVERY_MS = 5000.0
TRACKER_STATUS = {"connecting": "connecting\u2026", "open": "", "retrying": "reconnecting\u2026",
                  "idle": "", "closed": ""}


class DetailsPanel:
    """The panel for one game. ``open()`` once; ``close()`` (or closing the parent scope) ends it."""

    def __init__(self, parent: Scope, dom: DomPort, nodes: Mapping[str, Any], *, game_key: str,
                 game: Game, sport_name: str | None, parser: ParserService, batcher: FrameBatcher,
                 utc_offset: Callable[[float], int], report: Callable[[BaseException, str], None],
                 on_close: Callable[[], None], notify: Callable[[str, str], None] | None = None,
                 return_focus: Any = None) -> None:
        self.scope = parent.child(f"details:{game_key}")
        self.platform: Platform = parent.platform
        self.dom = dom
        self.nodes = nodes
        self.game_key = game_key
        self.list_game = game
        self.game: FullGame | None = None
        self.sport_name = sport_name
        self.parser = parser
        self.batcher = batcher
        self.utc_offset = utc_offset
        self._report = report
        self._on_close = on_close
        self._notify = notify
        self.return_focus = return_focus
        self.live = is_live_row(game)
        self.tab = TAB_ALL
        self.groups: list[MarketGroup] = []
        self.stats: GameStats | None = None
        self.stats_loading = not self.live
        self.tracker_state: MatchState | None = None
        self.tracker_error: str | None = None
        self.tracker_ended = False
        self.following = False
        self._announced = ""
        self._announced_at = -1e18
        self._announce_timer: Handle | None = None
        self.decode_errors = 0
        self.games_received = 0
        self.frames_received = 0
        self.flasher = Flasher(self.scope.child("flashes"), dom)
        self.head = SectionView(dom, nodes["details-head"])
        self.live_section = SectionView(dom, nodes["details-live"])
        self.prematch_section = SectionView(dom, nodes["details-prematch"])
        self.tabs = TabsView(dom, nodes["details-tabs"])
        self.markets = MarketsView(dom, nodes["details-markets"], self.flasher)
        self.tracker_view = TrackerView(dom, nodes["details-tracker"])
        self.game_stream: EventStream | None = None
        self.tracker_stream: EventStream | None = None
        # Registered first, so it runs last on close: the panel's DOM goes back to empty and hidden.
        self.scope.defer(self._reset_dom, kind="dom", label="details panel")

    # ---------------------------------------------------------------- lifecycle

    @property
    def closed(self) -> bool:
        return self.scope.closed

    def open(self) -> None:
        scope = self.scope
        panel = self.nodes["details"]
        scope.listen(panel, "click", self._on_click, label="details")
        scope.listen(panel, "keydown", self._on_keydown, label="details")
        game_id = quote(self.game_key, safe="")
        self.game_stream = EventStream(
            scope, f"{GAME_STREAM_URL}?gameId={game_id}",
            {"game": Decoded("game", self._on_game, self._decode_failed)},
            parser=self.parser, name=f"game:{self.game_key}",
            backoff=Backoff(base_ms=GAME_BACKOFF_MS, cap_ms=60000.0, floor_ms=GAME_BACKOFF_MS / 2),
            on_server_error=lambda data: self._server_error("game stream", data),
        )
        self.game_stream.open()
        if self.live:
            self._open_tracker(game_id)
        else:
            scope.task(self._load_stats(game_id), label="game stats")
        self._schedule("show", self._render_show)
        self._schedule("all", self._render_all)

    def close(self) -> None:
        """Close the panel: streams, tracker, listeners, timers and flashes go; focus goes back."""
        if self.scope.closed:
            return
        for key in ("show", "all", "markets", "tracker", "announce"):
            self.batcher.cancel(("details", key))
        self.scope.close()
        try:
            self._on_close()
        finally:
            target = self.return_focus
            if target is not None and self.dom.is_connected(target):
                self.dom.focus(target)

    def update_list_game(self, game: Game) -> None:
        """The games list has a newer copy of this game (score, clock): the header follows it."""
        self.list_game = game
        if self.game is None:
            self._schedule("all", self._render_all)

    def debug_state(self) -> dict[str, Any]:
        return {
            "game_key": self.game_key,
            "live": self.live,
            "tab": self.tab,
            "groups": len(self.groups),
            "items": len(self.markets),
            "games_received": self.games_received,
            "frames_received": self.frames_received,
            "tracker": None if self.tracker_state is None else {
                "sport": self.tracker_state.sport, "seq": self.tracker_state.seq,
                "ball": None if self.tracker_state.ball is None else [self.tracker_state.ball.x,
                                                                      self.tracker_state.ball.y],
                "events": len(self.tracker_state.timeline)},
            "flash_marks": len(self.flasher),
            "live_count": self.scope.live_count(),
            "decode_errors": self.decode_errors,
        }

    # ---------------------------------------------------------------- streams

    def _open_tracker(self, game_id: str) -> None:
        tracker_scope = self.scope.child("tracker")
        self.tracker_stream = EventStream(
            tracker_scope, f"{TRACKER_URL}?gameId={game_id}",
            {"ready": Decoded("gameref", self._on_tracker_ready, self._decode_failed),
             "message": Decoded("tracker", self._on_tracker_frame, self._decode_failed),
             "end": Decoded("gameref", self._on_tracker_end, self._decode_failed)},
            parser=self.parser, name=f"tracker:{self.game_key}",
            backoff=Backoff(base_ms=TRACKER_BACKOFF_MS, cap_ms=30000.0, floor_ms=TRACKER_BACKOFF_MS / 2),
            on_server_error=self._tracker_error,
            on_state=lambda _state: self._schedule("tracker", self._render_tracker),
        )
        self.tracker_stream.open()

    def _decode_failed(self, exc: BaseException) -> None:
        self.decode_errors += 1
        if self.decode_errors == 1:
            self._report(exc, f"decoding a details payload of game {self.game_key}")

    def _server_error(self, source: str, data: str) -> None:
        message = data
        try:
            payload = decode(data, "error") if data else None
            if payload is not None and payload.error:
                message = str(payload.error)
        except DecodeError:
            pass
        if self._notify is not None:
            self._notify(f"{source}: {message or 'stream error'}", source)

    def _on_game(self, payload: Any) -> None:
        if self.scope.closed or str(payload.gameId) != self.game_key or payload.data is None:
            return  # docs/api.md G: only the selected game's events count
        self.game = payload.data
        self.games_received += 1
        self._schedule("all", self._render_all)
        if self.following:
            self._schedule("announce", self._announce)

    def _on_tracker_ready(self, _payload: Any) -> None:
        self.tracker_error = None
        self._schedule("tracker", self._render_tracker)

    def _on_tracker_frame(self, frame: Any) -> None:
        if self.scope.closed:
            return
        self.frames_received += 1
        if isinstance(frame, FeedError):
            self.tracker_error = frame.message
        elif isinstance(frame, MatchState):
            self.tracker_state = frame
            self.tracker_error = None
        elif self.tracker_state is not None and getattr(frame, "game_id", None) == self.tracker_state.game_id:
            self.tracker_state = apply(self.tracker_state, frame)
        self._schedule("tracker", self._render_tracker)

    def _on_tracker_end(self, _payload: Any) -> None:
        self.tracker_ended = True
        self._schedule("tracker", self._render_tracker)

    def _tracker_error(self, data: str) -> None:
        message = data
        try:
            payload = decode(data, "error") if data else None
            if payload is not None and payload.error:
                message = str(payload.error)
        except DecodeError:
            pass
        self.tracker_error = message or "tracker unavailable"
        self._schedule("tracker", self._render_tracker)

    async def _load_stats(self, game_id: str) -> None:
        try:
            status, text = await self.platform.fetch_text(f"{GAME_STATS_URL}?gameId={game_id}")
            self.stats = decode(text, "game_stats") if status == 200 else None
        except Exception as exc:  # network or decode: the section says there are none
            if self.scope.closed:
                return
            self._report(exc, f"loading the statistics of game {self.game_key}")
            self.stats = None
        self.stats_loading = False
        if not self.scope.closed:
            self._schedule("all", self._render_all)

    # ---------------------------------------------------------------- user actions

    def select_tab(self, key: str, focus: bool = False) -> None:
        if key == self.tab or self.scope.closed:
            if focus:
                self._focus_tab(key)
            return
        self.tab = key
        self._schedule("markets", self._render_markets)
        if focus:
            self._focus_tab(key)

    def _focus_tab(self, key: str) -> None:
        # The tabs may be rebuilt in the next frame; render now so the button exists and is current.
        self._render_markets()
        button = self.tabs.button(key)
        if button is not None:
            self.dom.focus(button)

    def toggle_group(self, key: str) -> bool | None:
        return self.markets.toggle(key)

    def set_following(self, on: bool) -> None:
        self.following = on
        self.dom.set_attr(self.nodes["details-follow"], "aria-pressed", "true" if on else "false")
        self.dom.toggle_class(self.nodes["details-follow"], "active", on)
        if on:
            self._announced = ""
            self._announced_at = -1e18
            self._schedule("announce", self._announce)
        else:  # opting out: nothing more is said, and what was said last does not linger
            if self._announce_timer is not None and not self._announce_timer.released:
                self._announce_timer.release()
            self._announce_timer = None
            self.dom.set_text(self.nodes["sr-announce"], "")

    def _on_click(self, event: Any) -> None:
        dom = self.dom
        action = dom.closest_attr(event, "[data-details-action]", "data-details-action")
        if action == "close":
            self.close()
            return
        if action == "follow":
            self.set_following(not self.following)
            return
        tab = dom.closest_attr(event, "[data-tab]", "data-tab")
        if tab is not None and dom.closest_attr(event, "[role]", "role") == "tab":
            self.select_tab(tab)
            return
        group = dom.closest_attr(event, "[data-acc]", "data-acc")
        if group is not None:
            self.toggle_group(group)

    def _on_keydown(self, event: Any) -> None:
        key = self.dom.event_key(event)
        if key not in ("ArrowLeft", "ArrowRight", "Home", "End"):
            return
        current = self.dom.closest_attr(event, "[data-tab]", "data-tab")
        if current is None or self.dom.closest_attr(event, "[role]", "role") != "tab":
            return
        keys = self.tabs.keys()
        if current not in keys:
            return
        index = keys.index(current)
        target = {"ArrowLeft": index - 1, "ArrowRight": index + 1, "Home": 0, "End": len(keys) - 1}[key]
        self.dom.prevent_default(event)
        self.select_tab(keys[target % len(keys)], focus=True)

    # ---------------------------------------------------------------- rendering (in frames)

    def _schedule(self, key: str, job: Callable[[], None]) -> None:
        if not self.scope.closed:
            self.batcher.schedule(("details", key), job)

    def _current_game(self) -> Game | FullGame:
        return self.game if self.game is not None else self.list_game

    def _render_show(self) -> None:
        if self.scope.closed:
            return
        team1, team2 = team_names(self._current_game())  # type: ignore[arg-type]
        self.dom.set_text(self.nodes["details-title"], f"{team1} v {team2}")
        self.dom.set_hidden(self.nodes["details"], False)
        self.dom.set_hidden(self.nodes["details-tracker"], not self.live)
        self.dom.set_hidden(self.nodes["details-prematch"], self.live)
        self.dom.set_hidden(self.nodes["details-follow"], False)
        self.dom.set_attr(self.nodes["details"], "data-game-id", self.game_key)
        if self.game is None:
            self.dom.set_text(self.nodes["details-loading"], "Loading markets\u2026")
            self.dom.set_hidden(self.nodes["details-loading"], False)
        self.dom.focus(self.nodes["details-title"])
        if self.live:
            self._render_tracker()

    def _render_all(self) -> None:
        if self.scope.closed:
            return
        game = self._current_game()
        self.head.render(header_html(game, self.sport_name, self.utc_offset, self.list_game))
        if self.live:
            self.live_section.render(live_html(game, self.sport_name))
        else:
            team1, team2 = team_names(game)  # type: ignore[arg-type]
            self.prematch_section.render(prematch_html(self.stats, team1, team2, self.stats_loading))
        self._render_markets()

    def _render_markets(self) -> None:
        if self.scope.closed:
            return
        game = self.game
        self.dom.set_hidden(self.nodes["details-loading"], game is not None)
        if game is None:
            return
        team1, team2 = team_names(game)  # type: ignore[arg-type]
        self.groups = market_groups(game.market, team1, team2)
        tabs = tabs_of(self.groups)
        if self.tab not in {t.key for t in tabs}:
            self.tab = TAB_ALL
        self.tabs.render(tabs if self.groups else [], self.tab)
        self.markets.render(self.groups, self.tab)
        if not self.groups:
            self.dom.set_text(self.nodes["details-loading"], "No markets open for this game right now.")
            self.dom.set_hidden(self.nodes["details-loading"], False)

    def _render_tracker(self) -> None:
        if self.scope.closed or not self.live:
            return
        stream = self.tracker_stream
        if self.tracker_error:
            connection = f"Tracker unavailable: {self.tracker_error}"
        elif self.tracker_ended:
            connection = "Match over"
        else:
            connection = TRACKER_STATUS.get(stream.state if stream is not None else "idle", "")
        self.tracker_view.render(self.tracker_state, connection)

    # ---------------------------------------------------------------- announcements (opt-in)

    def summary(self) -> str:
        """What an announcement says about the game now: score and the main market's prices."""
        game = self._current_game()
        team1, team2 = team_names(game)  # type: ignore[arg-type]
        parts = [f"{team1} v {team2}"]
        score = score_text(game)  # type: ignore[arg-type]
        if score and self.live:
            parts.append(f"score {score}")
        if self.groups and self.groups[0].items:
            item = self.groups[0].items[0]
            prices = ", ".join(
                f"{c.label} {'suspended' if c.locked else format_price(c.price)}" for c in item.all_cells()[:3])
            parts.append(f"{item.title}: {prices}")
        return ". ".join(parts)

    def _announce(self) -> None:
        if self.scope.closed or not self.following:
            return
        text = self.summary()
        if text == self._announced:
            return
        now = self.platform.now_ms()
        wait = self._announced_at + ANNOUNCE_EVERY_MS - now
        if wait > 0:
            if self._announce_timer is None or self._announce_timer.released:
                self._announce_timer = self.scope.timeout(
                    lambda: self._schedule("announce", self._announce), wait, label="announce")
            return
        self._announced = text
        self._announced_at = now
        self.dom.set_text(self.nodes["sr-announce"], text)

    def _reset_dom(self) -> None:
        dom, nodes = self.dom, self.nodes
        dom.set_hidden(nodes["details"], True)
        dom.set_attr(nodes["details"], "data-game-id", "")
        for view in (self.head, self.live_section, self.prematch_section):
            view.clear()
        self.tabs.clear()
        self.markets.clear()
        self.tracker_view.clear()
        dom.set_text(nodes["details-loading"], "Loading markets\u2026")
        dom.set_hidden(nodes["details-loading"], False)
        dom.set_attr(nodes["details-follow"], "aria-pressed", "false")
        dom.toggle_class(nodes["details-follow"], "active", False)
        if self.following:
            dom.set_text(nodes["sr-announce"], "")
