"""The odds hub service: one upstream Swarm connection fanned out to SSE groups.

``OddsHub`` is an async context manager (registered as a Litestar lifespan by ``create_app``). It
owns the :class:`~backend.swarm.connection.SwarmConnection` task, the group registry and the
groups, the hierarchy and market-type caches, and a reaper task that tears idle groups down once
their grace period ends. Leaving the context closes every client stream first, so shutdown with
thousands of open streams takes no longer than cancelling a few tasks.

Routes use :meth:`acquire` / :meth:`release` (see ``routes.py``); everything else is internal.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from backend.clock import Clock
from backend.ratelimit import TokenBucket
from backend.settings import Settings
from backend.swarm.connection import SwarmConnection
from backend.swarm.messages import CODE_OK
from backend.swarm.session import SwarmRequestError, unwrap

from .caches import CacheStats, HierarchyCache, MarketTypeCache
from .fanout import Channel, FanoutStats, sse_comment, sse_retry
from .groups import GroupRegistry
from .streams import CompetitionGroup, CountsGroup, GameGroup, Group, LiveSport, PrematchSport

log = logging.getLogger(__name__)

COUNTS_KEY = ("counts",)


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


@dataclass
class HubStats:
    fanout: FanoutStats = field(default_factory=FanoutStats)
    resumed: int = 0


class OddsHub:
    def __init__(self, settings: Settings, clock: Clock, swarm_url: str) -> None:
        self.settings = settings
        self.clock = clock
        self.conn = SwarmConnection(
            swarm_url, clock=clock, site_id=settings.swarm_site_id,
            connect_timeout=settings.swarm_connect_timeout, request_timeout=settings.swarm_request_timeout,
            backoff_base=settings.swarm_backoff_base, backoff_cap=settings.swarm_backoff_cap)
        self.registry = GroupRegistry(grace=settings.group_grace, max_clients=settings.max_clients,
                                      max_groups={"game": settings.max_game_groups})
        self.groups: dict[Hashable, Group] = {}
        self.cache_stats = CacheStats()
        self.hierarchy = HierarchyCache(self._request_data, clock, settings.hierarchy_ttl, self.cache_stats)
        self.market_types = MarketTypeCache(self._request_data, clock, settings.market_types_ttl, self.cache_stats)
        self._tasks: list[asyncio.Task[Any]] = []
        self.started_at = clock.monotonic()
        self.epoch = _base36(int(clock.time() * 1000))  # a restarted server never reuses event ids
        self._channel_counter = 0
        self.stats = HubStats()
        self.retry_frame = sse_retry(settings.sse_retry_ms)
        self.poll_bucket = TokenBucket(settings.poll_rate, settings.poll_burst, clock.monotonic())

    # -- lifecycle ------------------------------------------------------------------------------------
    async def __aenter__(self) -> OddsHub:
        self._tasks = [asyncio.create_task(self.conn.run(), name="swarm-connection"),
                       asyncio.create_task(self._reap_forever(), name="hub-reaper")]
        return self

    def close_streams(self, reason: str = "shutdown") -> None:
        """End every open SSE stream now (their cleanup runs in their own tasks)."""
        for group in self.groups.values():
            group.channel.close_all(reason)

    async def __aexit__(self, *exc: object) -> None:
        self.close_streams("shutdown")
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass
            except Exception:
                log.exception("hub task %s failed during shutdown", task.get_name())
        self.registry.drain()
        groups, self.groups = list(self.groups.values()), {}
        for group in groups:
            try:
                await asyncio.wait_for(group.close(), 2.0)
            except Exception:
                log.exception("closing group %r failed", group.key)

    async def _reap_forever(self) -> None:
        """Every half second: tear down expired groups, drop stuck clients, send due heartbeats."""
        next_heartbeat = self.clock.monotonic() + self.settings.heartbeat_interval
        while True:
            await self.clock.sleep(0.5)
            await self.reap()
            for group in list(self.groups.values()):
                group.channel.check_stuck()
            if self.clock.monotonic() >= next_heartbeat:
                next_heartbeat = self.clock.monotonic() + self.settings.heartbeat_interval
                self.heartbeat()

    def heartbeat(self) -> None:
        """``: ping <ms>`` to every client of every group (one encoded frame for all)."""
        frame = sse_comment(f"ping {int(self.clock.time() * 1000)}")
        for group in list(self.groups.values()):
            group.channel.heartbeat(frame)

    async def reap(self) -> None:
        """Close every group whose grace period has ended."""
        for key in self.registry.tick(self.clock.monotonic()):
            group = self.groups.pop(key, None)
            if group is None:
                continue
            try:
                await group.close()
            except Exception:
                log.exception("closing group %r failed; it is gone from the registry anyway", key)

    # -- upstream helpers ---------------------------------------------------------------------------
    async def _request_data(self, command: str, params: dict[str, Any], timeout: float) -> Any:
        frame = await self.conn.request(command, params, timeout)
        if frame.code not in (None, CODE_OK):
            raise SwarmRequestError(f"{command} failed: {frame.msg or frame.code}", frame.code)
        return unwrap(frame)

    async def request(self, command: str, params: dict[str, Any], timeout: float = 20.0) -> Any:
        """A Swarm command's unwrapped data; raises SwarmRequestError on a non-zero code."""
        return await self._request_data(command, params, timeout)

    async def get(self, what: dict[str, Any], where: dict[str, Any], timeout: float = 15.0) -> dict[str, Any]:
        data = await self._request_data("get", {"source": "betting", "what": what, "where": where}, timeout)
        return data if isinstance(data, dict) else {}

    async def poll(self, what: dict[str, Any], where: dict[str, Any], timeout: float = 15.0) -> dict[str, Any]:
        """A polling ``get``, paced by the hub-wide token bucket so pollers cannot flood the feed."""
        wait = self.poll_bucket.reserve(self.clock.monotonic())
        if wait > 0:
            await self.clock.sleep(wait)
        return await self.get(what, where, timeout)

    # -- groups ---------------------------------------------------------------------------------------
    def _ensure(self, key: Hashable, factory: Callable[[], Group], internal: bool = False) -> Group:
        """Acquire a reference on ``key`` (may raise LimitExceeded) and return its running group."""
        created = self.registry.acquire(key, self.clock.monotonic(), internal=internal)
        group = self.groups.get(key)
        if group is None or created:
            try:
                group = factory()
                self.groups[key] = group
                group.start()
            except BaseException:
                self.groups.pop(key, None)
                self.registry.release(key, self.clock.monotonic(), internal=internal)
                raise
        return group

    def _release(self, key: Hashable, internal: bool = False) -> None:
        try:
            self.registry.release(key, self.clock.monotonic(), internal=internal)
        except KeyError:
            log.debug("release of %r after shutdown", key)

    @property
    def counts_group(self) -> CountsGroup | None:
        group = self.groups.get(COUNTS_KEY)
        return group if isinstance(group, CountsGroup) else None

    def hold_counts(self, listener: Callable[[bool, bytes], None]) -> None:
        """A live sport group keeps the counts subscriptions up and hears their changes."""
        group = self._ensure(COUNTS_KEY, lambda: CountsGroup(self, COUNTS_KEY), internal=True)
        assert isinstance(group, CountsGroup)
        group.listeners.add(listener)

    def release_counts(self, listener: Callable[[bool, bytes], None]) -> None:
        group = self.counts_group
        if group is not None:
            group.listeners.discard(listener)
        self._release(COUNTS_KEY, internal=True)

    def acquire(self, kind: str, ident: str = "", **options: Any) -> tuple[Hashable, Group]:
        """Take a client reference on the group for ``kind``/``ident``, creating it if needed.

        Raises :class:`~backend.hub.groups.LimitExceeded`. The caller must :meth:`release` the key.
        """
        key: Hashable = COUNTS_KEY if kind == "counts" else (kind, ident)
        factories: dict[str, Callable[[], Group]] = {
            "counts": lambda: CountsGroup(self, key),
            "live": lambda: LiveSport(self, key, ident, options.get("sport_name")),
            "prematch": lambda: PrematchSport(self, key, ident, options.get("sport_name")),
            "game": lambda: GameGroup(self, key, ident),
            "competition": lambda: CompetitionGroup(self, key, options["competition_id"], options["sport_id"],
                                                    options["mode"] == "live", options.get("sport_name")),
        }
        return key, self._ensure(key, factories[kind])

    def release(self, key: Hashable) -> None:
        """Drop a client reference; the last one starts the group's grace period."""
        self._release(key)

    def new_channel(self, name: str) -> Channel:
        self._channel_counter += 1
        return Channel(name, f"{self.epoch}.{_base36(self._channel_counter)}", clock_monotonic=self.clock.monotonic,
                       stats=self.stats.fanout, write_timeout=self.settings.write_timeout,
                       ring_frames=self.settings.replay_frames, ring_bytes=self.settings.replay_bytes)

    # -- metrics ---------------------------------------------------------------------------------------
    def metrics(self) -> dict[str, Any]:
        """WIRE A2 ``swarm_ws``, plus the extra fields the original UI reads."""
        stats = self.conn.stats
        fanout = self.stats.fanout
        now = self.clock.time()
        by_kind: dict[str, dict[str, int]] = {}
        for key, group in self.groups.items():
            kind = group.kind
            entry = by_kind.setdefault(kind, {"groups": 0, "clients": 0, "active_subscriptions": 0})
            entry["groups"] += 1
            entry["clients"] += self.registry.clients(key)
            entry["active_subscriptions"] += group.subscription_count
        return {
            "connected": self.conn.connected,
            "session_id": self.conn.session_id,
            "ws_url": self.conn.url,
            "ws_messages_total": stats.messages_total,
            "ws_messages_last_60s": stats.messages_60s.total(now),
            "ws_parse_errors_total": stats.parse_errors_total,
            "state": self.conn.state.value,
            "connect_attempts_total": stats.connect_attempts_total,
            "connect_failures_total": stats.connect_failures_total,
            "reconnects_total": stats.reconnects_total,
            "last_error": stats.last_error,
            "active_subscriptions": self.conn.active_subscriptions,
            "clients": self.registry.total_clients,
            "groups": len(self.groups),
            "rejected_total": self.registry.rejected_total,
            "resumed_total": self.stats.resumed,
            "polls_delayed_total": self.poll_bucket.delayed,
            "events_published_total": fanout.events_published,
            "writes_total": fanout.writes,
            "parked_writes_total": fanout.parked_writes,
            "write_failures_total": fanout.write_failures,
            "client_drops": dict(fanout.drops),
            "heartbeat_writes": fanout.write_wait_summary(),
            "by_endpoint": by_kind,
        }
