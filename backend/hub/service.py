"""The odds hub service: one upstream Swarm connection fanned out to SSE groups.

``OddsHub`` is an async context manager (registered as a Litestar lifespan by ``create_app``). It
owns the :class:`~backend.swarm.connection.SwarmConnection` task, the group registry and the
groups, the hierarchy and market-type caches, the memory budget, and a reaper task that tears idle
groups down once their grace period ends. Leaving the context closes every client stream first, so
shutdown with thousands of open streams takes no longer than cancelling a few tasks.

Groups see the hub only as their :class:`~backend.hub.groups.GroupContext` (the methods under
"group context" below). Routes use :meth:`acquire` / :meth:`release` with a typed spec
(``specs.py``); everything else is internal.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any

from backend.clock import Clock, within
from backend.ratelimit import TokenBucket
from backend.settings import Settings
from backend.swarm.connection import OnData, OnFailed, SubscriptionHandle, SwarmConnection
from backend.swarm.messages import CODE_OK
from backend.swarm.session import SwarmError, SwarmRequestError, unwrap

from .caches import CacheStats, HierarchyCache, MarketTypeCache
from .fanout import Channel, FanoutStats, MemoryBudget, Retained, sse_comment, sse_retry
from .groups import CountsGroup, CountsListener, Group
from .registry import GroupRegistry, Lease
from .specs import COUNTS, StreamSpec

log = logging.getLogger(__name__)

CLOSE_TIMEOUT = 2.0  # seconds one group's close may take before it is abandoned


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


@dataclass(frozen=True, slots=True)
class Sport:
    name: str
    alias: str | None


class _CountsHold:
    """A group's hold on the counts group (an internal lease plus a listener)."""

    def __init__(self, hub: OddsHub, lease: Lease, group: CountsGroup, listener: CountsListener) -> None:
        self._hub = hub
        self._lease: Lease | None = lease
        self._group = group
        self._listener = listener
        group.listeners.add(listener)

    def cached(self, live: bool) -> bytes | None:
        return self._group.cached.get(live)

    def release(self) -> None:
        lease, self._lease = self._lease, None
        if lease is not None:
            self._group.listeners.discard(self._listener)
            self._hub.release(lease)


class OddsHub:
    def __init__(self, settings: Settings, clock: Clock, swarm_url: str, rng: random.Random | None = None,
                 connector: Callable[[str], Awaitable[Any]] | None = None) -> None:
        self.settings = settings
        self.clock = clock
        self.rng = rng or random.Random()
        self.conn = SwarmConnection(
            swarm_url, clock=clock, site_id=settings.swarm_site_id,
            connect_timeout=settings.swarm_connect_timeout, request_timeout=settings.swarm_request_timeout,
            backoff_base=settings.swarm_backoff_base, backoff_cap=settings.swarm_backoff_cap,
            max_subscriptions=settings.max_subscriptions, idle_probe=settings.swarm_idle_probe,
            probe_timeout=settings.swarm_probe_timeout, rng=self.rng, connector=connector)
        self.registry = GroupRegistry(grace=settings.group_grace, max_clients=settings.max_clients,
                                      max_groups={"game": settings.max_game_groups},
                                      subscription_budget=settings.max_subscriptions)
        self.groups: dict[Hashable, Group] = {}
        self.budget = MemoryBudget(settings.memory_budget)
        self.cache_stats = CacheStats()
        self.hierarchy = HierarchyCache(self._request_data, clock, settings.hierarchy_ttl, self.cache_stats)
        self.market_types_cache = MarketTypeCache(self._request_data, clock, settings.market_types_ttl,
                                                  self.cache_stats)
        self._tasks: list[asyncio.Task[Any]] = []
        self._closing: set[asyncio.Task[None]] = set()
        self.started_at = clock.monotonic()
        self.epoch = _base36(int(clock.time() * 1000))  # a restarted server never reuses event ids
        self._channel_counter = 0
        self.fanout_stats = FanoutStats()
        self.groups_failed = 0
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
            self._close_later(group)
        if self._closing:
            await asyncio.wait(list(self._closing))

    async def _reap_forever(self) -> None:
        """Every half second: tear down expired groups, drop stuck clients, send due heartbeats."""
        next_heartbeat = self.clock.monotonic() + self.settings.heartbeat_interval
        while True:
            await self.clock.sleep(0.5)
            try:
                self.reap()
                for group in list(self.groups.values()):
                    group.channel.check_stuck()
                if self.clock.monotonic() >= next_heartbeat:
                    next_heartbeat = self.clock.monotonic() + self.settings.heartbeat_interval
                    self.heartbeat()
            except Exception:  # the reaper must outlive any bug in what it calls
                log.exception("hub reaper round failed")

    def heartbeat(self) -> None:
        """``: ping <ms>`` to every client of every group (one encoded frame for all)."""
        frame = sse_comment(f"ping {int(self.clock.time() * 1000)}")
        for group in list(self.groups.values()):
            group.channel.heartbeat(frame)

    def reap(self) -> list[Hashable]:
        """Start closing every group whose grace period has ended; returns their keys."""
        expired = self.registry.tick(self.clock.monotonic())
        for key in expired:
            group = self.groups.pop(key, None)
            if group is not None:
                self._close_later(group)
        return expired

    def _close_later(self, group: Group) -> None:
        """Close ``group`` in a task of its own, bounded in time: one slow close never holds up others."""
        task = asyncio.ensure_future(self._close(group))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _close(self, group: Group) -> None:
        try:
            await within(self.clock, CLOSE_TIMEOUT, group.close())
        except TimeoutError:
            log.error("closing group %r took over %gs; abandoned", group.key, CLOSE_TIMEOUT)
        except Exception:
            log.exception("closing group %r failed; it is gone from the registry anyway", group.key)

    async def idle(self) -> None:
        """Wait until every group close started so far has finished (for tests and shutdown)."""
        while self._closing:
            await asyncio.wait(list(self._closing))

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

    # -- group context --------------------------------------------------------------------------------
    def subscribe(self, what: dict[str, Any], where: dict[str, Any], on_data: OnData,
                  on_failed: OnFailed) -> SubscriptionHandle:
        return self.conn.subscribe(what, where, on_data, on_failed)

    async def poll(self, what: dict[str, Any], where: dict[str, Any], timeout: float = 15.0) -> dict[str, Any]:
        """A polling ``get``, paced by the hub-wide token bucket so pollers cannot flood the feed."""
        wait = self.poll_bucket.reserve(self.clock.monotonic())
        if wait > 0:
            await self.clock.sleep(wait)
        return await self.get(what, where, timeout)

    async def sport_info(self, sport_id: str) -> Sport | None:
        """A sport's name and alias from the hierarchy (None if it is unknown or unavailable)."""
        try:
            await self.hierarchy.get()
        except Exception as exc:
            log.warning("sport %s: hierarchy unavailable: %s", sport_id, exc)
        sport = self.hierarchy.sport(sport_id)
        if sport is None:
            return None
        name, alias = sport.get("name"), sport.get("alias")
        return Sport(str(name) if name else sport_id, str(alias) if alias else None)

    async def market_types(self, sport_alias: str | None) -> list[str]:
        return await self.market_types_cache.get(sport_alias)

    def hold_counts(self, listener: CountsListener) -> _CountsHold:
        """A live sport group keeps the counts subscriptions up and hears their changes."""
        lease, group = self._ensure(COUNTS, internal=True)
        assert isinstance(group, CountsGroup)
        return _CountsHold(self, lease, group, listener)

    def new_channel(self, name: str) -> Channel:
        self._channel_counter += 1
        return Channel(name, f"{self.epoch}.{_base36(self._channel_counter)}", clock=self.clock,
                       stats=self.fanout_stats, budget=self.budget, write_timeout=self.settings.write_timeout,
                       ring_frames=self.settings.replay_frames, ring_bytes=self.settings.replay_bytes)

    def retained(self) -> Retained:
        return Retained(self.budget)

    def group_failed(self, group: Group, message: str) -> None:
        """A group gave up: free its key now (the next client gets a new group) and close it."""
        self.groups_failed += 1
        if self.groups.get(group.key) is group:
            del self.groups[group.key]
            self.registry.retire(group.key)
        self._close_later(group)

    # -- groups for routes --------------------------------------------------------------------------
    def acquire(self, spec: StreamSpec) -> tuple[Lease, Group]:
        """Take a client lease on the group ``spec`` names, creating the group if needed.

        Raises :class:`~backend.hub.registry.LimitExceeded`. The caller must :meth:`release` the lease.
        """
        return self._ensure(spec)

    def release(self, lease: Lease) -> None:
        """Give a lease back; the last one starts the group's grace period."""
        self.registry.release(lease, self.clock.monotonic())

    def _ensure(self, spec: StreamSpec, internal: bool = False) -> tuple[Lease, Group]:
        key = spec.key
        lease, created = self.registry.acquire(key, self.clock.monotonic(), internal=internal,
                                               cost=spec.subscriptions)
        group = self.groups.get(key)
        if group is not None and not created:
            return lease, group
        try:
            group = spec.build(self)
            self.groups[key] = group
            group.start()
        except SwarmError as exc:  # e.g. the subscription cap: the group fails, its client hears why
            assert group is not None
            group.fail(str(exc))
        except BaseException:
            self.groups.pop(key, None)
            self.registry.release(lease, self.clock.monotonic())
            self.registry.retire(key)
            if group is not None:
                self._close_later(group)
            raise
        return lease, group

    # -- metrics ---------------------------------------------------------------------------------------
    def metrics(self) -> dict[str, Any]:
        """``swarm_ws`` of /api/health: the original's fields plus ours (docs/api.md A2)."""
        stats = self.conn.stats
        fanout = self.fanout_stats
        now = self.clock.time()
        by_kind: dict[str, dict[str, int]] = {}
        for key, group in self.groups.items():
            entry = by_kind.setdefault(group.kind, {"groups": 0, "clients": 0, "active_subscriptions": 0})
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
            "sessions_total": stats.sessions_total,
            "session_expiries_total": stats.session_expiries_total,
            "stalls_total": stats.stalls_total,
            "rejected_deltas_total": stats.rejected_deltas_total,
            "last_error": stats.last_error,
            "last_message_at": stats.last_message_at,
            "active_subscriptions": self.conn.active_subscriptions,
            "clients": self.registry.total_clients,
            "groups": len(self.groups),
            "groups_failed_total": self.groups_failed,
            "rejected_total": self.registry.rejected_total,
            "resumed_total": fanout.resumed,
            "snapshots_total": fanout.snapshots,
            "polls_delayed_total": self.poll_bucket.delayed,
            "events_published_total": fanout.events_published,
            "writes_total": fanout.writes,
            "parked_writes_total": fanout.parked_writes,
            "write_failures_total": fanout.write_failures,
            "aborted_total": fanout.aborted,
            "client_drops": dict(fanout.drops),
            "heartbeat_writes": fanout.write_wait_summary(),
            "by_endpoint": by_kind,
        }
