"""The live tracker service: one upstream connection per followed game, fanned out to SSE clients.

``TrackerService`` is an async context manager (a Litestar lifespan, like the odds hub) and a
:class:`~backend.hub.base.GroupHub`: the same registry (leases, grace period, limits), channels,
replay, memory budget, heartbeats and dead-client rules as the hub, with its own limits. Each
group (``groups.py``) owns a :class:`~.connection.TrackerConnection` that the service builds for
it. Every half second the groups report to health; a game the feed refused is remembered for
``REFUSAL_TTL`` seconds, so clients retrying it do not open a new upstream socket each time.
"""

from __future__ import annotations

import logging
import random
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from backend.clock import Clock
from backend.health.alerts import failure_rate
from backend.health.reports import NullReporter, Reporter, TrackerReport
from backend.health.snapshot import TrackerFeedFigures, TrackerMetrics, Upstream
from backend.hub.base import GroupHub
from backend.settings import Settings

from .connection import TrackerConnection, TrackerStats, feed_url
from .groups import TrackerGroup

log = logging.getLogger(__name__)

REFUSAL_TTL = 30.0
MAX_REFUSALS = 10_000


class TrackerService(GroupHub):
    def __init__(self, settings: Settings, clock: Clock, feed: str, reporter: Reporter | None = None,
                 rng: random.Random | None = None, connector: Callable[[str], Awaitable[Any]] | None = None) -> None:
        super().__init__(
            name="tracker", clock=clock, rng=rng, grace=settings.group_grace,
            max_clients=settings.tracker_max_clients, max_groups={"tracker": settings.tracker_max_games},
            subscription_budget=None, memory_budget=settings.tracker_memory_budget,
            heartbeat_interval=settings.heartbeat_interval, write_timeout=settings.write_timeout,
            replay_frames=settings.replay_frames, replay_bytes=settings.replay_bytes,
            sse_retry_ms=settings.sse_retry_ms)
        self.settings = settings
        self.feed = feed
        self.url = feed_url(feed, settings.tracker_partner_id, settings.tracker_site_ref)
        self.reporter: Reporter = reporter or NullReporter()
        self.stats = TrackerStats()
        self.idle_timeout = settings.tracker_idle_timeout
        self._connector = connector
        self._refusals: OrderedDict[str, tuple[float, str]] = OrderedDict()

    async def __aenter__(self) -> TrackerService:
        self.start_reaper()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.shutdown_groups()

    # -- tracker context --------------------------------------------------------------------------------
    def connection_for(self, group: TrackerGroup) -> TrackerConnection:
        s = self.settings
        return TrackerConnection(self.url, group.session, group.on_events, clock=self.clock, stats=self.stats,
                                 connect_timeout=s.tracker_connect_timeout, backoff_base=s.swarm_backoff_base,
                                 backoff_cap=s.swarm_backoff_cap, rng=self.rng,
                                 on_state=group.on_connection_state, connector=self._connector)

    def refused(self, game_id: str) -> str | None:
        entry = self._refusals.get(game_id)
        if entry is None:
            return None
        until, message = entry
        if self.clock.monotonic() >= until:
            del self._refusals[game_id]
            return None
        return message

    def remember_refusal(self, game_id: str, message: str) -> None:
        self._refusals[game_id] = (self.clock.monotonic() + REFUSAL_TTL, message)
        self._refusals.move_to_end(game_id)
        while len(self._refusals) > MAX_REFUSALS:
            self._refusals.popitem(last=False)

    def report(self, report: TrackerReport) -> None:
        try:
            self.reporter.report(report)
        except Exception:
            log.exception("tracker: reporting to health failed")

    # -- periodic work ---------------------------------------------------------------------------------
    def on_tick(self) -> None:
        now = self.clock.monotonic()
        for key, group in list(self.groups.items()):
            if isinstance(group, TrackerGroup):
                group.report(now, self.registry.clients(key))

    def upstream_figures(self, now: float) -> Upstream:
        attempts, failures = self.stats.attempts_5m.total(now), self.stats.failures_5m.total(now)
        connected = sum(1 for g in self.groups.values() if isinstance(g, TrackerGroup) and g.upstream_connected)
        return Upstream(connected=connected, connect_attempts_5m=attempts, connect_failures_5m=failures,
                        failure_rate_5m=round(failure_rate(attempts, failures), 4),
                        stalls_5m=self.stats.stalls_5m.total(now))

    def metrics(self) -> TrackerMetrics:
        """The tracker's own figures (the per-game rollup is health's, from the reports)."""
        return TrackerMetrics(games=len(self.groups), rejected_total=self.registry.rejected_total,
                              feed=self.feed_figures())

    def feed_figures(self) -> TrackerFeedFigures:
        """What this service counts of its upstream sockets (a cluster's leader publishes these)."""
        stats = self.stats
        return TrackerFeedFigures(connect_attempts_total=stats.connect_attempts_total,
                                  connect_failures_total=stats.connect_failures_total,
                                  stalls_total=stats.stalls_total, groups_failed_total=self.groups_failed,
                                  last_error=stats.last_error)
