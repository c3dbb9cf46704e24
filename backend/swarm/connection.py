"""The upstream Swarm connection: the ``websockets`` adapter around :class:`SwarmSession`.

One :class:`SwarmConnection` keeps one socket to the feed for the whole hub. It does I/O and
nothing else; every protocol decision (requests and their deadlines, the session, subscriptions,
deltas, liveness) is the sans-I/O :class:`~.session.SwarmSession`'s. ``run()`` is its supervised
loop: open a socket (bounded by the 30 s connect timeout, which also bounds the session request),
serve until the socket closes or the core calls it unusable, then wait a full-jitter backoff delay
and connect again -- also after a connection that opened and closed at once; the backoff only
resets once a session stayed up for ``stable_after`` seconds. A ticker on the injected clock runs
for the whole of ``run()``, so deadlines expire whether or not a socket is open.

Callers never see the socket:

* ``await request(command, params, timeout)`` returns the reply frame (any code) or raises
  :class:`SwarmRequestError` (timed out, or the connection went away while it was on the wire). A
  request made while no session is live waits for one within its timeout.
* ``subscribe(what, where, on_data, on_failed)`` returns a :class:`SubscriptionHandle` at once. The
  owner's ``on_data(tree, None)`` gets each (re)subscription snapshot -- after every reconnect or
  new session -- and ``on_data(tree, delta)`` the merged tree after every delta. ``on_failed(error)``
  is called if the feed refuses it (the handle is then closed). ``handle.close()`` ends it.

Malformed frames and deltas that do not fit the schema are counted in :class:`ConnectionStats`
(``parse_errors_total``) and skipped; the socket stays up.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
import websockets
from websockets.asyncio.client import ClientConnection, connect

from backend.backoff import Backoff
from backend.clock import Clock, within
from backend.health.ring import SecondBuckets
from backend.lifecycle import ConnState, Lifecycle

from .messages import FRAME_DECODER, Frame
from .session import (
    ConnectionUnusable,
    Event,
    RejectedDelta,
    Reply,
    RequestFailed,
    SessionExpired,
    SessionStarted,
    Subscription,
    SubscriptionData,
    SubscriptionFailed,
    SwarmError,
    SwarmRequestError,
    SwarmSession,
)

log = logging.getLogger(__name__)

OnData = Callable[[dict[str, Any], dict[str, Any] | None], None]
OnFailed = Callable[[SwarmError], None]
TICK = 0.5  # seconds between deadline checks


async def _websocket_connect(url: str) -> ClientConnection:
    # The connect timeout is ours (the session request counts too), hence open_timeout=None. The
    # core's probe notices a stalled feed within seconds; websockets' ping stays as a backstop.
    return await connect(url, open_timeout=None, max_size=None, ping_interval=20, close_timeout=1)


@dataclass
class ConnectionStats:
    """Counters read by health metrics. Buckets are fixed-size, so memory never grows."""

    messages_total: int = 0
    parse_errors_total: int = 0
    updates_total: int = 0  # subscription deltas applied
    connect_attempts_total: int = 0
    connect_failures_total: int = 0
    connections_opened_total: int = 0
    reconnects_total: int = 0
    sessions_total: int = 0
    session_expiries_total: int = 0
    stalls_total: int = 0
    rejected_deltas_total: int = 0
    last_error: str | None = None
    last_message_at: float | None = None  # epoch seconds
    messages_60s: SecondBuckets = field(default_factory=lambda: SecondBuckets(60))
    attempts_5m: SecondBuckets = field(default_factory=lambda: SecondBuckets(300))
    failures_5m: SecondBuckets = field(default_factory=lambda: SecondBuckets(300))
    stalls_5m: SecondBuckets = field(default_factory=lambda: SecondBuckets(300))
    expiries_5m: SecondBuckets = field(default_factory=lambda: SecondBuckets(300))


class SubscriptionHandle:
    """A subscription's owner-facing handle; ``close()`` ends it (idempotent)."""

    __slots__ = ("_conn", "_sub", "on_data", "on_failed")

    def __init__(self, conn: SwarmConnection, on_data: OnData, on_failed: OnFailed | None) -> None:
        self._conn = conn
        self.on_data = on_data
        self.on_failed = on_failed
        self._sub: Subscription | None = None

    @property
    def closed(self) -> bool:
        return self._sub is None or self._sub.closed

    @property
    def active(self) -> bool:
        return self._sub is not None and self._sub.subid is not None

    def close(self) -> None:
        """No more deliveries from now on; the feed is told to unsubscribe."""
        if self._sub is not None:
            self._conn.unsubscribe(self._sub)


class SwarmConnection:
    def __init__(
        self,
        url: str,
        *,
        clock: Clock,
        site_id: int | str = 1,
        connect_timeout: float = 30.0,
        request_timeout: float = 60.0,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        stable_after: float = 10.0,
        max_subscriptions: int = 1000,
        idle_probe: float = 3.0,
        probe_timeout: float = 3.0,
        rng: random.Random | None = None,
        connector: Callable[[str], Awaitable[Any]] | None = None,
        stats: ConnectionStats | None = None,
    ) -> None:
        self.url = url
        self.clock = clock
        self._connector = connector or _websocket_connect
        self.connect_timeout = connect_timeout
        self.request_timeout = request_timeout
        self.stable_after = stable_after
        self.backoff = Backoff(backoff_base, backoff_cap, rng)
        self.lifecycle = Lifecycle()
        self.stats = stats if stats is not None else ConnectionStats()
        self.core = SwarmSession(site_id=site_id, max_subscriptions=max_subscriptions,
                                 request_timeout=request_timeout, idle_probe=idle_probe, probe_timeout=probe_timeout)
        self._ws: ClientConnection | None = None
        self._wake_writer = asyncio.Event()
        self._waiters: dict[str, asyncio.Future[Frame]] = {}
        self._outcome: asyncio.Future[str] | None = None  # of the current connection: why it must end
        self._session_up: asyncio.Future[str] | None = None  # of the current connection: its first session
        self._running = False

    # -- public state ------------------------------------------------------------------------
    @property
    def state(self) -> ConnState:
        return self.lifecycle.state

    @property
    def connected(self) -> bool:
        return self._ws is not None and self.core.live

    @property
    def session_id(self) -> str | None:
        return self.core.session_id

    @property
    def active_subscriptions(self) -> int:
        return self.core.active_subscriptions

    # -- requests ------------------------------------------------------------------------------
    async def request(self, command: str, params: dict[str, Any], timeout: float | None = None) -> Frame:
        """Send ``command`` once a session is live; return the reply frame (any code)."""
        if not self._running:
            raise SwarmRequestError("Swarm connection is not running")
        try:
            key = self.core.request(command, params, self.clock.monotonic(),
                                    self.request_timeout if timeout is None else timeout)
        except SwarmError as exc:
            raise SwarmRequestError(str(exc)) from exc
        fut: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self._waiters[key] = fut
        self._kick()
        try:
            return await fut
        finally:
            self._waiters.pop(key, None)
            if not fut.done():
                self.core.cancel(key)

    # -- subscriptions -------------------------------------------------------------------------
    def subscribe(self, what: dict[str, Any], where: dict[str, Any], on_data: OnData,
                  on_failed: OnFailed | None = None) -> SubscriptionHandle:
        """Open a subscription (see the module docstring). Raises SubscriptionLimitError at the cap."""
        handle = SubscriptionHandle(self, on_data, on_failed)
        handle._sub = self.core.subscribe(what, where, handle, self.clock.monotonic())
        self._kick()
        return handle

    def unsubscribe(self, sub: Subscription) -> None:
        self.core.unsubscribe(sub, self.clock.monotonic())
        self._kick()

    # -- the supervised loop ---------------------------------------------------------------------
    async def run(self) -> None:
        """Keep a session up until cancelled."""
        self._running = True
        ticker = asyncio.create_task(self._tick_forever(), name="swarm-ticker")
        try:
            while True:
                live_for = await self._connect_and_serve()
                if live_for is not None and live_for >= self.stable_after:
                    self.backoff.reset()
                delay = self.backoff.next_delay()
                log.info("swarm: reconnecting in %.2fs (%s)", delay, self.stats.last_error)
                await self.clock.sleep(delay)
                self.stats.reconnects_total += 1
        finally:
            self._running = False
            ticker.cancel()
            try:
                await ticker
            except asyncio.CancelledError:
                pass
            for key, fut in list(self._waiters.items()):
                if not fut.done():
                    fut.set_exception(SwarmRequestError("Swarm connection stopped"))
                self.core.cancel(key)
            self.lifecycle.fire("stop")

    async def _connect_and_serve(self) -> float | None:
        """One connection's life. Returns how long its session was live, or None if it never was."""
        self.lifecycle.fire("connect")
        self.stats.connect_attempts_total += 1
        self.stats.attempts_5m.add(self.clock.time())
        started = self.clock.monotonic()
        ws: ClientConnection | None = None
        tasks: list[asyncio.Task[None]] = []
        outcome: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        session_up = asyncio.get_running_loop().create_future()
        live_since: float | None = None
        try:
            try:
                ws = await within(self.clock, self.connect_timeout, self._connector(self.url))
            except TimeoutError:
                raise SwarmRequestError(f"Swarm WebSocket connect timeout ({self.connect_timeout:g}s)") from None
            self._ws, self._outcome, self._session_up = ws, outcome, session_up
            self.lifecycle.fire("opened")
            remaining = max(0.001, self.connect_timeout - (self.clock.monotonic() - started))
            self.core.connection_made(self.clock.monotonic(), remaining)
            tasks = [asyncio.create_task(self._read(ws), name="swarm-reader"),
                     asyncio.create_task(self._write(ws), name="swarm-writer")]
            self._kick()
            await asyncio.wait({outcome, session_up}, return_when=asyncio.FIRST_COMPLETED)
            if not session_up.done():
                raise SwarmRequestError(outcome.result())
            self.lifecycle.fire("session")
            live_since = self.clock.monotonic()
            self.stats.connections_opened_total += 1
            log.info("swarm: session %s on %s", self.core.session_id, self.url)
            self.stats.last_error = await outcome
            log.warning("swarm: connection ended: %s", self.stats.last_error)
        except (OSError, SwarmError, websockets.InvalidHandshake, websockets.InvalidURI,
                websockets.ConnectionClosed) as exc:
            self.stats.last_error = str(exc) or type(exc).__name__
            log.warning("swarm: connection failed: %s", self.stats.last_error)
        except Exception as exc:  # a bug must not end the supervised loop: log it and reconnect
            self.stats.last_error = f"internal error: {exc!r}"
            log.exception("swarm: connection loop error")
        finally:
            if live_since is None:
                self.stats.connect_failures_total += 1
                self.stats.failures_5m.add(self.clock.time())
            await self._teardown(ws, tasks, self.stats.last_error or "Swarm WebSocket closed")
            if self.lifecycle.state is ConnState.LIVE:
                self.lifecycle.fire("closed")
            elif self.lifecycle.state in (ConnState.CONNECTING, ConnState.SESSION):
                self.lifecycle.fire("failed")
        return None if live_since is None else self.clock.monotonic() - live_since

    async def _read(self, ws: ClientConnection) -> None:
        reason = "Swarm WebSocket closed"
        try:
            async for message in ws:
                self.handle_message(message)
        except websockets.ConnectionClosed:
            pass
        except Exception as exc:  # a bug in a consumer must not leave a dead reader behind
            log.exception("swarm: reader failed")
            reason = f"internal error: {exc!r}"
        self._end(reason)

    def handle_message(self, message: str | bytes) -> None:
        """One frame from the feed: decode it (a malformed one is counted and skipped) and act on it."""
        now = self.clock.time()
        self.stats.messages_total += 1
        self.stats.messages_60s.add(now)
        self.stats.last_message_at = now
        try:
            frame = FRAME_DECODER.decode(message)
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
            self._count_parse_error(f"malformed frame skipped: {str(exc)[:200]}")
            return
        self._dispatch(self.core.receive(frame, self.clock.monotonic()))
        if self.core.has_output:  # a reply can make the core send (a new session, a resend)
            self._kick()

    async def _write(self, ws: ClientConnection) -> None:
        try:
            while True:
                await self._wake_writer.wait()
                self._wake_writer.clear()
                for data in self.core.data_to_send():
                    await ws.send(data, text=True)
        except websockets.ConnectionClosed:
            self._end("Swarm WebSocket closed")

    async def _tick_forever(self) -> None:
        while True:
            await self.clock.sleep(TICK)
            try:
                self._dispatch(self.core.tick(self.clock.monotonic()))
                if self.core.has_output:
                    self._kick()
            except Exception:
                log.exception("swarm: tick failed")

    def _kick(self) -> None:
        if self._ws is not None:
            self._wake_writer.set()

    def _end(self, reason: str) -> None:
        if self._outcome is not None and not self._outcome.done():
            self._outcome.set_result(reason)

    def _count_parse_error(self, message: str) -> None:
        self.stats.parse_errors_total += 1
        if self.stats.parse_errors_total <= 10 or self.stats.parse_errors_total % 1000 == 0:
            log.warning("swarm: %s (%d so far)", message, self.stats.parse_errors_total)

    def _dispatch(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, SubscriptionData):
                handle = event.sub.owner
                if event.delta is not None:
                    self.stats.updates_total += 1
                if not event.sub.closed:
                    self._call(handle.on_data, event.data, event.delta)
            elif isinstance(event, Reply):
                fut = self._waiters.get(event.rid)
                if fut is not None and not fut.done():
                    fut.set_result(event.frame)
            elif isinstance(event, RequestFailed):
                fut = self._waiters.get(event.rid)
                if fut is not None and not fut.done():
                    fut.set_exception(event.error)
            elif isinstance(event, SubscriptionFailed):
                handle = event.sub.owner
                if handle.on_failed is not None:
                    self._call(handle.on_failed, event.error)
                else:
                    log.warning("swarm: subscription refused: %s", event.error)
            elif isinstance(event, SessionStarted):
                self.stats.sessions_total += 1
                if self._session_up is not None and not self._session_up.done():
                    self._session_up.set_result(event.session_id)
            elif isinstance(event, SessionExpired):
                self.stats.session_expiries_total += 1
                self.stats.expiries_5m.add(self.clock.time())
                log.warning("swarm: session expired; requesting a new one and resubscribing")
            elif isinstance(event, RejectedDelta):
                self.stats.rejected_deltas_total += 1
                self._count_parse_error(f"delta for subid {event.subid} rejected ({event.reason}); resubscribing")
            elif isinstance(event, ConnectionUnusable):
                if event.stalled:
                    self.stats.stalls_total += 1
                    self.stats.stalls_5m.add(self.clock.time())
                self._end(event.reason)

    def _call(self, fn: Callable[..., None], *args: Any) -> None:
        try:
            fn(*args)
        except Exception:
            log.exception("swarm: subscription callback failed")

    async def _teardown(self, ws: ClientConnection | None, tasks: list[asyncio.Task[None]], reason: str) -> None:
        """Release everything this connection held; every step runs even if one fails."""
        try:
            self._dispatch(self.core.connection_lost(reason))
        finally:
            self._ws = None
            self._outcome = None
            self._session_up = None
            for task in tasks:
                task.cancel()
            for task in tasks:
                try:
                    await task
                except (asyncio.CancelledError, Exception):
                    pass
            if ws is not None:
                try:
                    await ws.close()
                except Exception:
                    log.exception("swarm: closing the socket failed; continuing cleanup")
