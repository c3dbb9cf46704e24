"""The odds hub service: one upstream Swarm connection fanned out to SSE groups.

``OddsHub`` is an async context manager (registered as a Litestar lifespan by ``create_app``). It
is a :class:`~.base.GroupHub` (groups, registry, reaper, channels, memory budget: shared with the
live tracker) that also owns the :class:`~backend.swarm.connection.SwarmConnection` task and the
hierarchy and market-type caches. Leaving the context closes every client stream first, so
shutdown with thousands of open streams takes no longer than cancelling a few tasks.

Groups see the hub only as their :class:`~backend.hub.groups.GroupContext` (the base's host and the
methods under "group context" below). Routes use :meth:`acquire` / :meth:`release` with a typed spec
(``specs.py``); everything else is internal.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from backend.clock import Clock, iso_utc
from backend.health import alerts
from backend.health.reports import NullReporter, Reporter, UpstreamReport
from backend.health.ring import SecondBuckets
from backend.health.snapshot import CountsStream, SubscriptionFigures, SwarmWs, Upstream
from backend.lifecycle import ConnState
from backend.ratelimit import TokenBucket
from backend.settings import Settings
from backend.swarm.connection import ConnectionStats, OnData, OnFailed, SubscriptionHandle, SwarmConnection
from backend.swarm.messages import CODE_OK
from backend.swarm.session import SwarmRequestError, unwrap

from .base import GroupHub
from .caches import CacheStats, HierarchyCache, MarketTypeCache
from .fanout import PADDING, sse_comment
from .groups import CountsGroup, CountsListener, Group
from .registry import Lease
from .specs import COUNTS

log = logging.getLogger(__name__)

REPORT_LEASE = 30.0  # seconds health trusts a report of the hub's (docs/api.md F2)


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


class OddsHub(GroupHub):
    def __init__(self, settings: Settings, clock: Clock, swarm_url: str, rng: random.Random | None = None,
                 connector: Callable[[str], Awaitable[Any]] | None = None, reporter: Reporter | None = None,
                 dormant: bool = False) -> None:
        super().__init__(
            name="hub", clock=clock, rng=rng, grace=settings.group_grace, max_clients=settings.max_clients,
            max_groups={"game": settings.max_game_groups}, subscription_budget=settings.max_subscriptions,
            memory_budget=settings.memory_budget, heartbeat_interval=settings.heartbeat_interval,
            write_timeout=settings.write_timeout, replay_frames=settings.replay_frames,
            replay_bytes=settings.replay_bytes, sse_retry_ms=settings.sse_retry_ms)
        self.settings = settings
        self._swarm_url = swarm_url
        self._connector = connector
        self.conn = self._new_connection()
        self.cache_stats = CacheStats()
        self.hierarchy = HierarchyCache(self._request_data, clock, settings.hierarchy_ttl, self.cache_stats)
        self.market_types_cache = MarketTypeCache(self._request_data, clock, settings.market_types_ttl,
                                                  self.cache_stats)
        self._connection: asyncio.Task[None] | None = None
        self.dormant = dormant  # a cluster process: the upstream runs only while it leads
        self.poll_bucket = TokenBucket(settings.poll_rate, settings.poll_burst, clock.monotonic())
        self.reporter: Reporter = reporter or NullReporter()
        self._reported_at = -1e9
        self._reported_standing: tuple[int, bool] | None = None
        self._reported_totals = (0, 0, 0)
        self._updates_by_kind: dict[str, SecondBuckets] = {}
        self._updates_by_tag: dict[str, SecondBuckets] = {}
        self._counts_runs = SecondBuckets(60)
        self._counts_by_reason: dict[str, int] = {}
        self._counts_last_reason: str | None = None

    def _new_connection(self, stats: ConnectionStats | None = None) -> SwarmConnection:
        s = self.settings
        return SwarmConnection(
            self._swarm_url, clock=self.clock, site_id=s.swarm_site_id, connect_timeout=s.swarm_connect_timeout,
            request_timeout=s.swarm_request_timeout, backoff_base=s.swarm_backoff_base,
            backoff_cap=s.swarm_backoff_cap, max_subscriptions=s.max_subscriptions, idle_probe=s.swarm_idle_probe,
            probe_timeout=s.swarm_probe_timeout, rng=self.rng, connector=self._connector, stats=stats)

    # -- lifecycle ------------------------------------------------------------------------------------
    async def __aenter__(self) -> OddsHub:
        if not self.dormant:
            self.start_upstream()
        self.start_reaper()
        self.on_tick()  # the first report (and its lease) at once, not half a second later
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close_streams("shutdown")
        await self.stop_upstream()
        await self.shutdown_groups()

    def start_upstream(self) -> None:
        """Run the Swarm connection (a stopped one is replaced; its counters carry on)."""
        if self._connection is not None:
            return
        if self.conn.state is ConnState.STOPPED:
            self.conn = self._new_connection(self.conn.stats)
        self._connection = asyncio.create_task(self.conn.run(), name="swarm-connection")

    async def stop_upstream(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.cancel()
            try:
                await connection
            except asyncio.CancelledError:
                pass
            except Exception:
                log.exception("the Swarm connection failed while stopping")

    def preamble(self) -> bytes:
        """The hub's streams open with the original's padding comment and ``ready``, after ``retry:``."""
        return b"".join([PADDING, self.retry_frame, sse_comment(f"ready {int(self.clock.time() * 1000)}")])

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
        lease, group = self.ensure(COUNTS, internal=True)
        assert isinstance(group, CountsGroup)
        return _CountsHold(self, lease, group, listener)

    def count_update(self, kind: str, tag: str) -> None:
        now = self.clock.time()
        for table, key in ((self._updates_by_kind, kind), (self._updates_by_tag, tag)):
            buckets = table.get(key)
            if buckets is None:
                buckets = table[key] = SecondBuckets(60)  # one per kind or tag: a fixed, small set
            buckets.add(now)

    def count_counts_run(self, reason: str) -> None:
        self._counts_runs.add(self.clock.time())
        self._counts_by_reason[reason] = self._counts_by_reason.get(reason, 0) + 1
        self._counts_last_reason = reason

    # -- reporting and metrics ----------------------------------------------------------------------------
    def on_tick(self) -> None:
        """Tell health what the upstream did and how the hub stands (docs/api.md F1): every second, and
        at once (on the reaper's next half-second tick) when its clients or its connection changed."""
        now = self.clock.monotonic()
        standing = (self.registry.total_clients, self.conn.connected)
        if now - self._reported_at < 1.0 and standing == self._reported_standing:
            return
        self._reported_at = now
        self._reported_standing = standing
        stats = self.conn.stats
        totals = (stats.messages_total, stats.parse_errors_total, stats.updates_total)
        last, self._reported_totals = self._reported_totals, totals
        try:
            self.reporter.report(UpstreamReport(
                lease_ttl=REPORT_LEASE, delta_messages=totals[0] - last[0], delta_parse_errors=totals[1] - last[1],
                delta_updates=totals[2] - last[2], clients=standing[0], upstream_connected=standing[1]))
        except Exception:
            log.exception("hub: reporting to health failed")

    def counts_runs(self, now: float) -> CountsStream:
        return CountsStream(runs_last_60s=self._counts_runs.total(now), last_reason=self._counts_last_reason,
                            runs_by_reason=dict(self._counts_by_reason))

    @property
    def odds_connected(self) -> bool:
        return self.conn.connected

    def upstream_figures(self, now: float) -> Upstream:
        stats = self.conn.stats
        attempts, failures = stats.attempts_5m.total(now), stats.failures_5m.total(now)
        return Upstream(connected=1 if self.conn.connected else 0, connect_attempts_5m=attempts,
                        connect_failures_5m=failures, failure_rate_5m=round(alerts.failure_rate(attempts, failures), 4),
                        stalls_5m=stats.stalls_5m.total(now), session_expiries_5m=stats.expiries_5m.total(now))

    def swarm_ws(self, updates_60s: SecondBuckets | None = None) -> SwarmWs:
        return self.health_metrics(updates_60s)

    def health_metrics(self, updates_60s: SecondBuckets | None = None) -> SwarmWs:
        """``swarm_ws`` of /api/health: the original's fields plus ours (docs/api.md A2)."""
        stats = self.conn.stats
        fanout = self.fanout_stats
        now = self.clock.time()
        by_kind: dict[str, SubscriptionFigures] = {}
        by_tag: dict[str, SubscriptionFigures] = {}
        for key, group in self.groups.items():
            clients = self.registry.clients(key)
            entry = by_kind.setdefault(group.kind, SubscriptionFigures())
            entry.groups += 1
            entry.clients += clients
            if isinstance(group, Group):
                entry.active_subscriptions += group.subscription_count
                tags: set[str] = set()
                for handle, tag in group.sub_tags.items():
                    if not handle.closed:
                        by_tag.setdefault(tag, SubscriptionFigures()).active_subscriptions += 1
                        tags.add(tag)
                for tag in tags:  # the groups holding a subscription of that purpose, and their clients
                    by_tag[tag].groups += 1
                    by_tag[tag].clients += clients
        for table, out in ((self._updates_by_kind, by_kind), (self._updates_by_tag, by_tag)):
            for name, buckets in table.items():
                figures = out.get(name)
                updates = buckets.total(now)
                if figures is None and updates:
                    figures = out[name] = SubscriptionFigures()
                if figures is not None:
                    figures.updates_last_60s = updates
        updates_total = updates_60s.total(now) if updates_60s is not None else \
            sum(b.total(now) for b in self._updates_by_kind.values())
        return SwarmWs(
            connected=self.conn.connected, session_id=self.conn.session_id, ws_url=self.conn.url,
            ws_messages_total=stats.messages_total, ws_messages_last_60s=stats.messages_60s.total(now),
            ws_parse_errors_total=stats.parse_errors_total, state=self.conn.state.value,
            active_subscriptions=self.conn.active_subscriptions, updates_last_60s_total=updates_total,
            by_endpoint=by_kind, by_tag=by_tag,
            connect_attempts_total=stats.connect_attempts_total, connect_failures_total=stats.connect_failures_total,
            reconnects_total=stats.reconnects_total, sessions_total=stats.sessions_total,
            session_expiries_total=stats.session_expiries_total, stalls_total=stats.stalls_total,
            rejected_deltas_total=stats.rejected_deltas_total, last_error=stats.last_error,
            last_message_at=iso_utc(stats.last_message_at) if stats.last_message_at is not None else None,
            clients=self.registry.total_clients, groups=len(self.groups), groups_failed_total=self.groups_failed,
            rejected_total=self.registry.rejected_total, resumed_total=fanout.resumed,
            snapshots_total=fanout.snapshots, polls_delayed_total=self.poll_bucket.delayed,
            events_published_total=fanout.events_published, writes_total=fanout.writes,
            parked_writes_total=fanout.parked_writes, write_failures_total=fanout.write_failures,
            aborted_total=fanout.aborted, client_drops=dict(fanout.drops),
            heartbeat_writes=fanout.write_wait_summary())

    def metrics(self) -> dict[str, Any]:
        """``health_metrics()`` as plain JSON-ready data."""
        return msgspec.to_builtins(self.health_metrics())
