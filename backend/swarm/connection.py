"""The upstream Swarm connection: the ``websockets`` adapter around :class:`SwarmSession`.

One :class:`SwarmConnection` keeps one socket to the feed for the whole hub. ``run()`` is its
supervised loop: connect (30 s timeout covering the handshake and the session request), serve
until the socket closes, then wait a full-jitter backoff delay and connect again -- also after a
connection that opened and closed at once; the backoff only resets once a session stayed up for
``stable_after`` seconds.

Callers never see the socket:

* ``await request(command, params)`` waits (bounded by its timeout) for a live session, sends, and
  returns the reply frame or raises :class:`SwarmRequestError`.
* ``await subscribe(what, where, on_data)`` returns a :class:`Subscription` handle that stays
  registered until ``await handle.close()``. After every reconnect each registered handle is
  subscribed again and ``on_data(tree, None)`` receives the fresh snapshot; every delta gives
  ``on_data(tree, delta)`` with the whole merged tree.

Malformed frames are counted in :class:`ConnectionStats` and skipped; the socket stays up.
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

from .lifecycle import ConnState, Lifecycle
from .messages import CODE_OK, FRAME_DECODER, Frame
from .session import (
    Event,
    Reply,
    RequestFailed,
    SubscriptionData,
    SwarmError,
    SwarmRequestError,
    SwarmSession,
)

log = logging.getLogger(__name__)

OnData = Callable[[dict[str, Any], dict[str, Any] | None], None]


async def _websocket_connect(url: str) -> ClientConnection:
    # The connect timeout is ours (it also covers the session request), hence open_timeout=None.
    return await connect(url, open_timeout=None, max_size=None, ping_interval=20, close_timeout=1)


@dataclass
class ConnectionStats:
    """Counters read by health metrics. Buckets are fixed-size, so memory never grows."""

    messages_total: int = 0
    parse_errors_total: int = 0
    connect_attempts_total: int = 0
    connect_failures_total: int = 0
    connections_opened_total: int = 0
    reconnects_total: int = 0
    last_error: str | None = None
    messages_60s: SecondBuckets = field(default_factory=lambda: SecondBuckets(60))
    attempts_5m: SecondBuckets = field(default_factory=lambda: SecondBuckets(300))
    failures_5m: SecondBuckets = field(default_factory=lambda: SecondBuckets(300))


class Subscription:
    """A registered subscription. The connection re-establishes it after every reconnect."""

    def __init__(self, conn: SwarmConnection, what: dict[str, Any], where: dict[str, Any], on_data: OnData):
        self._conn = conn
        self.what = what
        self.where = where
        self.on_data = on_data
        self.subid: str | None = None
        self.closed = False

    async def close(self) -> None:
        """Stop deliveries now and unsubscribe upstream; safe to call more than once."""
        await self._conn._close_subscription(self)


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
        rng: random.Random | None = None,
        connector: Callable[[str], Awaitable[Any]] | None = None,
    ) -> None:
        self.url = url
        self.clock = clock
        self._connector = connector or _websocket_connect
        self.site_id = site_id
        self.connect_timeout = connect_timeout
        self.request_timeout = request_timeout
        self.stable_after = stable_after
        self.backoff = Backoff(backoff_base, backoff_cap, rng)
        self.lifecycle = Lifecycle()
        self.stats = ConnectionStats()
        self.session_id: str | None = None
        self._session: SwarmSession | None = None
        self._ws: ClientConnection | None = None
        self._live = asyncio.Event()
        self._waiters: dict[str, asyncio.Future[Frame]] = {}
        self._subscriptions: set[Subscription] = set()
        self._by_subid: dict[str, Subscription] = {}

    # -- public state ------------------------------------------------------------------------
    @property
    def state(self) -> ConnState:
        return self.lifecycle.state

    @property
    def connected(self) -> bool:
        return self._ws is not None and self.session_id is not None and self._live.is_set()

    @property
    def active_subscriptions(self) -> int:
        return len(self._by_subid)


    # -- requests ------------------------------------------------------------------------------
    async def request(self, command: str, params: dict[str, Any], timeout: float | None = None) -> Frame:
        """Send ``command`` once a session is live; return the reply frame (any code)."""
        budget = self.request_timeout if timeout is None else timeout
        deadline = self.clock.monotonic() + budget
        try:
            await asyncio.wait_for(self._live.wait(), budget)
        except TimeoutError:
            raise SwarmRequestError(f"Swarm request {command} timed out") from None
        return await self._send_request(command, params, max(0.0, deadline - self.clock.monotonic()))

    async def _send_request(self, command: str, params: dict[str, Any], timeout: float) -> Frame:
        session, ws = self._session, self._ws
        if session is None or ws is None:
            raise SwarmRequestError("Swarm WebSocket closed")
        try:
            rid = session.request(command, params, self.clock.monotonic(), timeout)
        except SwarmError as exc:
            raise SwarmRequestError(str(exc)) from exc
        fut: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self._waiters[rid] = fut
        try:
            await self._flush(session, ws)
            async with asyncio.timeout(timeout + 0.5):  # the session's own deadline fires first
                return await fut
        except TimeoutError:
            raise SwarmRequestError(f"Swarm request {command} timed out") from None
        finally:
            self._waiters.pop(rid, None)

    async def _flush(self, session: SwarmSession, ws: ClientConnection) -> None:
        for data in session.data_to_send():
            try:
                await ws.send(data, text=True)
            except websockets.ConnectionClosed as exc:
                raise SwarmRequestError("Swarm WebSocket closed") from exc

    # -- subscriptions -------------------------------------------------------------------------
    async def subscribe(self, what: dict[str, Any], where: dict[str, Any], on_data: OnData) -> Subscription:
        """Register a subscription; if a session is live, subscribe now and deliver the snapshot.

        Raises :class:`SwarmRequestError` if the feed rejects it (the handle is then not kept).
        While the feed is down the handle is kept and subscribed as soon as a session is live.
        """
        sub = Subscription(self, what, where, on_data)
        self._subscriptions.add(sub)
        if self.connected:
            try:
                await self._establish(sub)
            except SwarmRequestError as exc:
                if exc.code is not None:  # the feed said no: not a transport problem
                    self._subscriptions.discard(sub)
                    raise
                log.info("subscribe deferred until reconnect: %s", exc)
        return sub

    async def _establish(self, sub: Subscription) -> None:
        params = {"source": "betting", "what": sub.what, "where": sub.where, "subscribe": True}
        frame = await self._send_request("get", params, self.request_timeout)
        if frame.code not in (None, CODE_OK):
            raise SwarmRequestError(f"get subscribe failed: {frame.msg or frame.code}", frame.code)
        data = frame.data if isinstance(frame.data, dict) else {}
        subid = data.get("subid", None)
        if subid is None:
            raise SwarmRequestError("subscribe did not return subid", frame.code)
        subid = str(subid)
        session = self._session
        if sub.closed or session is None:  # closed while we waited: undo upstream
            if session is not None and self._ws is not None:
                session.send_unacknowledged("unsubscribe", {"subid": subid})
                await self._flush_quietly()
            return
        snapshot = session.add_subscription(subid, data.get("data"))
        sub.subid = subid
        self._by_subid[subid] = sub
        self._deliver(sub, snapshot.data, None)

    async def _close_subscription(self, sub: Subscription) -> None:
        if sub.closed:
            return
        sub.closed = True
        self._subscriptions.discard(sub)
        subid, sub.subid = sub.subid, None
        if subid is None:
            return
        self._by_subid.pop(subid, None)
        session = self._session
        if session is not None and session.remove_subscription(subid):
            session.send_unacknowledged("unsubscribe", {"subid": subid})
            await self._flush_quietly()

    async def _flush_quietly(self) -> None:
        if self._session is None or self._ws is None:
            return
        try:
            await self._flush(self._session, self._ws)
        except SwarmRequestError as exc:
            log.debug("flush after unsubscribe failed: %s", exc)

    def _deliver(self, sub: Subscription, data: dict[str, Any], delta: dict[str, Any] | None) -> None:
        try:
            sub.on_data(data, delta)
        except Exception:
            log.exception("subscription callback failed (subid=%s)", sub.subid)

    # -- the supervised loop ---------------------------------------------------------------------
    async def run(self) -> None:
        """Keep a session up until cancelled."""
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
            self.lifecycle.fire("stop")

    async def _connect_and_serve(self) -> float | None:
        """One connection's life. Returns how long it was live, or None if it never was."""
        self.lifecycle.fire("connect")
        now = self.clock.time()
        self.stats.connect_attempts_total += 1
        self.stats.attempts_5m.add(now)
        session = SwarmSession()
        ws: ClientConnection | None = None
        live_since: float | None = None
        reader: asyncio.Task[None] | None = None
        opened: list[Any] = []

        async def open_session() -> str:
            nonlocal ws, reader
            ws = await self._connector(self.url)
            opened.append(ws)
            self._ws, self._session = ws, session
            self.lifecycle.fire("opened")
            reader = asyncio.create_task(self._read(ws, session), name="swarm-reader")
            return await self._request_session(session, ws)

        try:
            try:
                sid = await within(self.clock, self.connect_timeout, open_session())
            except TimeoutError:
                raise SwarmRequestError(f"Swarm WebSocket connect timeout ({self.connect_timeout:g}s)") from None
            finally:
                ws = opened[0] if opened else None  # a socket opened just as the timeout hit is closed too
            self.session_id = sid
            self.lifecycle.fire("session")
            live_since = self.clock.monotonic()
            self.stats.connections_opened_total += 1
            self._live.set()
            log.info("swarm: session %s on %s", sid, self.url)
            await self._resubscribe_all()
            await reader
            self.stats.last_error = "Swarm WebSocket closed"
        except (OSError, SwarmError, websockets.InvalidHandshake, websockets.InvalidURI,
                websockets.ConnectionClosed) as exc:
            self.stats.last_error = str(exc) or type(exc).__name__
            if live_since is None:
                self.stats.connect_failures_total += 1
                self.stats.failures_5m.add(self.clock.time())
            log.warning("swarm: connection failed: %s", self.stats.last_error)
        except Exception as exc:  # a bug must not end the supervised loop: log it and reconnect
            self.stats.last_error = f"internal error: {exc!r}"
            log.exception("swarm: connection loop error")
        finally:
            await self._teardown(session, ws, reader)
            if self.lifecycle.state is ConnState.LIVE:
                self.lifecycle.fire("closed")
            elif self.lifecycle.state in (ConnState.CONNECTING, ConnState.SESSION):
                self.lifecycle.fire("failed")
        return None if live_since is None else self.clock.monotonic() - live_since

    async def _request_session(self, session: SwarmSession, ws: ClientConnection) -> str:
        params = {"site_id": self.site_id, "language": "eng"}
        frame = await self._send_request("request_session", params, self.connect_timeout)
        data = frame.data if isinstance(frame.data, dict) else {}
        sid = data.get("sid")
        if frame.code not in (None, CODE_OK) or not isinstance(sid, str):
            raise SwarmRequestError("Failed to get Swarm session id", frame.code)
        return sid

    async def _resubscribe_all(self) -> None:
        for sub in list(self._subscriptions):
            if sub.closed or sub.subid is not None:
                continue
            try:
                await self._establish(sub)
            except SwarmRequestError as exc:
                log.warning("swarm: re-subscribe failed: %s", exc)
                if exc.code is None:  # transport gone: the next connection tries again
                    return

    async def _read(self, ws: ClientConnection, session: SwarmSession) -> None:
        ticker = asyncio.create_task(self._tick(session), name="swarm-ticker")
        try:
            async for message in ws:
                now = self.clock.time()
                self.stats.messages_total += 1
                self.stats.messages_60s.add(now)
                try:
                    frame = FRAME_DECODER.decode(message)
                except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                    self.stats.parse_errors_total += 1
                    if self.stats.parse_errors_total <= 10 or self.stats.parse_errors_total % 1000 == 0:
                        log.warning("swarm: malformed frame skipped (%d so far): %s",
                                    self.stats.parse_errors_total, exc)
                    continue
                self._dispatch(session.receive(frame, self.clock.monotonic()))
        except websockets.ConnectionClosed:
            pass
        finally:
            ticker.cancel()

    async def _tick(self, session: SwarmSession) -> None:
        while True:
            await self.clock.sleep(0.5)
            self._dispatch(session.tick(self.clock.monotonic()))

    def _dispatch(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, SubscriptionData):
                sub = self._by_subid.get(event.subid)
                if sub is not None and not sub.closed:
                    self._deliver(sub, event.data, event.delta)
            else:
                fut = self._waiters.get(event.rid)
                if fut is None or fut.done():
                    continue
                if isinstance(event, Reply):
                    fut.set_result(event.frame)
                elif isinstance(event, RequestFailed):
                    fut.set_exception(event.error)

    async def _teardown(self, session: SwarmSession, ws: ClientConnection | None,
                        reader: asyncio.Task[None] | None) -> None:
        """Release everything this connection held; every step runs even if one fails."""
        self._live.clear()
        self.session_id = None
        try:
            self._dispatch(session.close("Swarm WebSocket closed"))
        finally:
            for sub in self._subscriptions:
                sub.subid = None
            self._by_subid.clear()
            self._ws = self._session = None
            if reader is not None and not reader.done():
                reader.cancel()
                try:
                    await reader
                except (asyncio.CancelledError, Exception):
                    pass
            if ws is not None:
                try:
                    await ws.close()
                except Exception:
                    log.exception("swarm: closing the socket failed; continuing cleanup")
