"""One game's live-tracker connection: the ``websockets`` adapter around :class:`TrackerSession`.

``run()`` is the supervised loop of one group's upstream: open the socket (a 30 s connect timeout on
the injected clock), send the subscription, feed every text to the session, and tell the group what
the session says. A lost or stalled socket is not the end (the original's was): after a full-jitter
backoff delay it connects again -- also after a connection that opened and closed at once -- and
the feed's fresh state goes to the clients. It stops for good only when the game ends or the feed
refuses the game. The connection follows the lifecycle table of ``backend/lifecycle.py``; the
backoff resets once a connection stayed up for ``stable_after`` seconds.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import websockets
from websockets.asyncio.client import connect

from backend.backoff import Backoff
from backend.clock import Clock, within
from backend.health.ring import SecondBuckets
from backend.lifecycle import ConnState, Lifecycle

from .session import Ended, Event, Malformed, Refused, Stalled, TrackerSession

log = logging.getLogger(__name__)

TICK = 0.5
ABANDONED = object()  # what the ticker returns when it stopped the reader of a socket that would not close


async def _websocket_connect(url: str) -> Any:
    return await connect(url, open_timeout=None, max_size=1 << 20, ping_interval=20, close_timeout=1)


@dataclass
class TrackerStats:
    """Counters of every tracker connection (shared by all of them, read by health)."""

    connect_attempts_total: int = 0
    connect_failures_total: int = 0
    connections_opened_total: int = 0
    stalls_total: int = 0
    messages_total: int = 0
    parse_errors_total: int = 0
    last_error: str | None = None
    attempts_5m: SecondBuckets = field(default_factory=lambda: SecondBuckets(300))
    failures_5m: SecondBuckets = field(default_factory=lambda: SecondBuckets(300))
    stalls_5m: SecondBuckets = field(default_factory=lambda: SecondBuckets(300))


def feed_url(base: str, partner_id: str, site_ref: str) -> str:
    """The feed's URL with the original's query: ``?partner_id=<id>&site_ref=<site URL>``."""
    joiner = "&" if "?" in base else "?"
    return base + joiner + urlencode({"partner_id": partner_id, "site_ref": site_ref})


class TrackerConnection:
    def __init__(self, url: str, session: TrackerSession, on_events: Callable[[list[Event]], None], *,
                 clock: Clock, stats: TrackerStats, connect_timeout: float = 30.0, backoff_base: float = 0.5,
                 backoff_cap: float = 30.0, stable_after: float = 10.0, rng: random.Random | None = None,
                 on_state: Callable[[ConnState], None] | None = None,
                 connector: Callable[[str], Awaitable[Any]] | None = None) -> None:
        self.url = url
        self.session = session
        self._on_events = on_events
        self._on_state = on_state
        self.clock = clock
        self.stats = stats
        self.connect_timeout = connect_timeout
        self.stable_after = stable_after
        self.backoff = Backoff(backoff_base, backoff_cap, rng)
        self.lifecycle = Lifecycle()
        self._connector = connector or _websocket_connect
        self._finished = False

    @property
    def state(self) -> ConnState:
        return self.lifecycle.state

    @property
    def connected(self) -> bool:
        return self.lifecycle.state is ConnState.LIVE

    def _fire(self, event: str) -> None:
        state = self.lifecycle.fire(event)
        if self._on_state is not None:
            try:
                self._on_state(state)
            except Exception:
                log.exception("tracker %s: state callback failed", self.session.game_id)

    async def run(self) -> None:
        """Follow the game until it ends or the feed refuses it (or until cancelled)."""
        try:
            while not self._finished:
                live_for = await self._connect_and_serve()
                if self._finished:
                    break
                if live_for is not None and live_for >= self.stable_after:
                    self.backoff.reset()
                delay = self.backoff.next_delay()
                log.info("tracker %s: reconnecting in %.2fs (%s)", self.session.game_id, delay, self.stats.last_error)
                await self.clock.sleep(delay)
        finally:
            self._fire("stop")

    async def _connect_and_serve(self) -> float | None:
        self._fire("connect")
        self.stats.connect_attempts_total += 1
        self.stats.attempts_5m.add(self.clock.time())
        ws: Any = None
        opened: list[Any] = []  # the socket as soon as it exists: a cancel can land before within() returns it
        live_since: float | None = None
        abandoned = False
        try:
            try:
                ws = await within(self.clock, self.connect_timeout, self._open(opened))
            except TimeoutError:
                raise ConnectionError(f"tracker connect timeout ({self.connect_timeout:g}s)") from None
            self._fire("opened")
            self.session.connection_made(self.clock.monotonic())
            await ws.send(self.session.subscription(self.clock.time()).decode())
            reader = asyncio.current_task()
            assert reader is not None
            ticker = asyncio.create_task(self._tick(ws, reader), name="tracker-ticker")
            try:
                async for message in ws:
                    self.stats.messages_total += 1
                    events = self.session.receive(message, self.clock.monotonic())
                    if live_since is None and not any(isinstance(e, Malformed) for e in events):
                        live_since = self.clock.monotonic()
                        self.stats.connections_opened_total += 1
                        self._fire("session")
                    self._deliver(events)
                    if self._finished:
                        break
            except asyncio.CancelledError:
                # the ticker gave up on a stalled socket that would not close (R9); any other
                # cancellation -- one requested besides it included -- goes on up
                if not (ticker.done() and not ticker.cancelled() and ticker.result() is ABANDONED
                        and reader.uncancel() == 0):
                    raise
                abandoned = True
            finally:
                ticker.cancel()
                await asyncio.gather(ticker, return_exceptions=True)
            if not self._finished and not abandoned:
                self.stats.last_error = "tracker WebSocket closed"
        except (OSError, ConnectionError, websockets.InvalidHandshake, websockets.InvalidURI,
                websockets.ConnectionClosed) as exc:
            self.stats.last_error = str(exc) or type(exc).__name__
            log.info("tracker %s: connection failed: %s", self.session.game_id, self.stats.last_error)
        except Exception as exc:  # a bug must not end the supervised loop
            self.stats.last_error = f"internal error: {exc!r}"
            log.exception("tracker %s: connection loop error", self.session.game_id)
        finally:
            if live_since is None and not self._finished:
                self.stats.connect_failures_total += 1
                self.stats.failures_5m.add(self.clock.time())
            self.session.connection_lost()
            if ws is None and opened:
                ws = opened[0]
            if ws is not None and not abandoned:  # (an abandoned socket was aborted already)
                try:
                    await ws.close()
                except Exception:
                    log.exception("tracker %s: closing the socket failed; continuing", self.session.game_id)
                    _abort(ws)
            if self.lifecycle.state is ConnState.LIVE:
                self._fire("closed")
            elif self.lifecycle.state in (ConnState.CONNECTING, ConnState.SESSION):
                self._fire("failed")
        return None if live_since is None else self.clock.monotonic() - live_since

    async def _open(self, opened: list[Any]) -> Any:
        ws = await self._connector(self.url)
        opened.append(ws)
        return ws

    async def _tick(self, ws: Any, reader: asyncio.Task[Any]) -> object:
        while True:
            await self.clock.sleep(TICK)
            events = self.session.tick(self.clock.monotonic())
            if events:
                self._deliver(events)
                if any(isinstance(e, Stalled) for e in events):
                    self.stats.stalls_total += 1
                    self.stats.stalls_5m.add(self.clock.time())
                    self.stats.last_error = "tracker feed stalled"
                    try:
                        await ws.close()  # the reader ends; the loop reconnects
                    except Exception:  # the socket would not close: stop reading it all the same
                        log.exception("tracker %s: closing the stalled socket failed; abandoning it",
                                      self.session.game_id)
                        _abort(ws)
                        reader.cancel()
                        return ABANDONED
                    return None

    def _deliver(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, Malformed):
                self.stats.parse_errors_total += 1
                if self.stats.parse_errors_total <= 10 or self.stats.parse_errors_total % 1000 == 0:
                    log.warning("tracker %s: malformed frame skipped (%s)", self.session.game_id, event.reason)
            elif isinstance(event, (Ended, Refused)):
                self._finished = True
        try:
            self._on_events(events)
        except Exception:
            log.exception("tracker %s: event callback failed", self.session.game_id)


def _abort(ws: Any) -> None:
    """Drop a socket that would not close: its transport aborted, so its descriptor is not kept."""
    transport = getattr(ws, "transport", None)
    try:
        if transport is not None:
            transport.abort()
    except Exception:  # already gone
        log.debug("tracker: aborting a socket failed", exc_info=True)
