"""Health metrics: the third long-lived service (the original's HealthMetrics Durable Object).

``HealthService`` is an async context manager (a Litestar lifespan) and the :class:`Reporter` the
streaming services report to, in process:

* each live-tracker game's :class:`TrackerReport` renews its lease (30 s) in a :class:`LeaseMap`
  (at most 10,000, least recently renewed evicted first, expired ones pruned on every report and
  read) and adds its message and parse-error deltas to the totals and to a per-second ring;
* the odds hub's :class:`UpstreamReport` (every second) adds its deltas to per-second rings.

Rings are :class:`SecondBuckets`: fixed-size, nothing allocated per update, so memory is the same
after a minute or a year (docs/design.md R4). :meth:`snapshot` builds the one typed :class:`HealthSnapshot` from
the reports and from the services' own figures; ``/api/health`` and ``/metrics`` are both rendered
from it, and the alert rules (``alerts.py``) are evaluated on it.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from typing import Any

from backend.clock import Clock, iso_utc

from . import alerts
from .leases import LeaseMap
from .reports import TrackerReport, UpstreamReport
from .ring import SecondBuckets
from .snapshot import (
    Cache,
    CountsStream,
    Groups,
    HealthSnapshot,
    Memory,
    ResponseTime,
    Series,
    ServiceMemory,
    SwarmWs,
    TrackerRollup,
    Upstream,
)

log = logging.getLogger(__name__)

MAX_LEASES = 10_000
RESPONSE_SAMPLES = 1024
SLOW_REQUEST = 1.0  # seconds
LEASE_BYTES = 240  # a lease's key, tuple and struct, about
CLIENT_BYTES = 9_500  # an idle SSE client (measured by bench.fanout: 9-10 KiB)


@dataclass(slots=True)
class _GameLease:
    sse_clients: int
    upstream_connected: bool


class HealthService:
    def __init__(self, clock: Clock, *, hub: Any = None, tracker: Any = None, max_leases: int = MAX_LEASES) -> None:
        self.clock = clock
        self.hub = hub
        self.tracker = tracker
        self.started_at = clock.monotonic()
        self.leases: LeaseMap[_GameLease] = LeaseMap(max_leases)
        self.tracker_messages = SecondBuckets(60)
        self.tracker_messages_total = 0
        self.tracker_parse_errors_total = 0
        self.tracker_first_seen_at: float | None = None
        self.tracker_last_message_at: float | None = None
        self.odds_messages = SecondBuckets(60)
        self.odds_updates = SecondBuckets(60)
        self.reports_total = 0
        self._responses: deque[float] = deque(maxlen=RESPONSE_SAMPLES)
        self._slow = 0

    async def __aenter__(self) -> HealthService:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    # -- reports ------------------------------------------------------------------------------------
    def report(self, report: TrackerReport | UpstreamReport) -> None:
        now = self.clock.time()
        self.reports_total += 1
        if isinstance(report, TrackerReport):
            if self.tracker_first_seen_at is None:
                self.tracker_first_seen_at = now
            self.leases.renew(report.game_id, _GameLease(report.sse_clients, report.upstream_connected),
                              self.clock.monotonic(), report.lease_ttl)
            self.tracker_messages_total += report.delta_messages
            self.tracker_parse_errors_total += report.delta_parse_errors
            if report.delta_messages:
                self.tracker_messages.add(now, report.delta_messages)
            if report.last_message_at is not None:
                self.tracker_last_message_at = report.last_message_at
        else:
            if report.delta_messages:
                self.odds_messages.add(now, report.delta_messages)
            if report.delta_updates:
                self.odds_updates.add(now, report.delta_updates)

    def record_response(self, seconds: float) -> None:
        """One JSON request's handling time (the app's timing wrapper calls it)."""
        self._responses.append(seconds)
        if seconds >= SLOW_REQUEST:
            self._slow += 1

    # -- the snapshot -------------------------------------------------------------------------------
    def tracker_rollup(self) -> TrackerRollup:
        games = list(self.leases.live(self.clock.monotonic()))
        now = self.clock.time()
        metrics = self.tracker.metrics() if self.tracker is not None else {}
        return TrackerRollup(
            active_games=sum(1 for _, g in games if g.sse_clients > 0),
            active_sse_clients=sum(g.sse_clients for _, g in games),
            upstream_ws_connected_games=sum(1 for _, g in games if g.upstream_connected),
            ws_messages_total=self.tracker_messages_total,
            ws_messages_last_60s=self.tracker_messages.total(now),
            ws_parse_errors_total=self.tracker_parse_errors_total,
            last_message_at=_iso(self.tracker_last_message_at),
            first_seen_at=_iso(self.tracker_first_seen_at),
            leases=len(self.leases), leases_evicted_total=self.leases.evicted_total,
            games_followed=metrics.get("games", 0),
            connect_attempts_total=metrics.get("connect_attempts_total", 0),
            connect_failures_total=metrics.get("connect_failures_total", 0),
            stalls_total=metrics.get("stalls_total", 0), rejected_total=metrics.get("rejected_total", 0),
            groups_failed_total=metrics.get("groups_failed_total", 0), last_error=metrics.get("last_error"))

    def response_time(self) -> ResponseTime:
        samples = sorted(self._responses)
        if not samples:
            return ResponseTime(avg=0.0, p95=0.0, slowRequests=self._slow, count=0)
        p95 = samples[min(len(samples) - 1, int(len(samples) * 0.95))]
        return ResponseTime(avg=round(1000 * sum(samples) / len(samples), 3), p95=round(1000 * p95, 3),
                            slowRequests=self._slow, count=len(samples))

    def snapshot(self) -> HealthSnapshot:
        """Everything /api/health and /metrics show, from one consistent reading."""
        now = self.clock.time()
        hub, tracker = self.hub, self.tracker
        swarm: SwarmWs | None = None
        try:
            swarm = hub.health_metrics(self.odds_updates) if hub is not None else None
        except Exception:  # the contract: null when the service could not answer
            log.exception("health: the odds hub's metrics failed")
        rollup: TrackerRollup | None = None
        try:
            rollup = self.tracker_rollup() if tracker is not None else None
        except Exception:
            log.exception("health: the live tracker's metrics failed")
        upstream: dict[str, Upstream] = {}
        if hub is not None:
            stats = hub.conn.stats
            attempts, failures = stats.attempts_5m.total(now), stats.failures_5m.total(now)
            upstream["odds_feed"] = Upstream(
                connected=1 if hub.conn.connected else 0, connect_attempts_5m=attempts, connect_failures_5m=failures,
                failure_rate_5m=round(alerts.failure_rate(attempts, failures), 4),
                stalls_5m=stats.stalls_5m.total(now), session_expiries_5m=stats.expiries_5m.total(now))
        if tracker is not None:
            tstats = tracker.stats
            attempts, failures = tstats.attempts_5m.total(now), tstats.failures_5m.total(now)
            upstream["tracker_feed"] = Upstream(
                connected=rollup.upstream_ws_connected_games if rollup is not None else 0,
                connect_attempts_5m=attempts, connect_failures_5m=failures,
                failure_rate_5m=round(alerts.failure_rate(attempts, failures), 4))
        memory = Memory(rss_bytes=rss_bytes(), services=self._memory())
        group_clients: dict[str, int] = {}
        for name, service in (("hub", hub), ("tracker", tracker)):
            if service is not None:
                for key, clients in service.clients_by_group().items():
                    group_clients[f"{name}:{_key(key)}"] = clients
        stats = hub.cache_stats if hub is not None else None
        lookups = (stats.hits + stats.misses) if stats is not None else 0
        counts = hub.counts_runs(now) if hub is not None else CountsStream(0, None, {})
        return HealthSnapshot(
            status="ok",
            uptime=round(self.clock.monotonic() - self.started_at, 3),
            live_tracker=rollup,
            swarm_ws=swarm,
            cache=Cache(hits=stats.hits if stats else 0, misses=stats.misses if stats else 0,
                        hit_rate=round(stats.hits / lookups, 4) if stats and lookups else 0.0),
            responseTime=self.response_time(),
            counts_stream=counts,
            memory=memory,
            upstream=upstream,
            groups=Groups(count=len(group_clients), max_clients=max(group_clients.values(), default=0)),
            messages_per_second=Series(odds_feed=self.odds_messages.series(now),
                                       tracker_feed=self.tracker_messages.series(now)),
            alerts=alerts.evaluate(odds_connected=hub.conn.connected if hub is not None else True,
                                   upstreams=upstream, group_clients=group_clients, memory=memory.services),
        )

    def _memory(self) -> dict[str, ServiceMemory]:
        out: dict[str, ServiceMemory] = {}
        for name, service in (("odds_hub", self.hub), ("live_tracker", self.tracker)):
            if service is None:
                continue
            budget = service.budget
            clients = service.registry.total_clients
            out[name] = ServiceMemory(budget_bytes=budget.limit, replay_bytes=budget.ring_bytes,
                                      cache_bytes=budget.cache_bytes, clients=clients,
                                      client_bytes=clients * CLIENT_BYTES,
                                      replay_frames_trimmed_total=budget.trimmed_frames)
        out["health"] = ServiceMemory(other_bytes=len(self.leases) * LEASE_BYTES + self._ring_bytes())
        return out

    def _ring_bytes(self) -> int:
        rings = (self.tracker_messages, self.odds_messages, self.odds_updates)
        return sum(r.nbytes for r in rings) + 8 * RESPONSE_SAMPLES


def _iso(epoch: float | None) -> str | None:
    return iso_utc(epoch) if epoch is not None else None


def _key(key: Any) -> str:
    return ":".join(str(part) for part in key) if isinstance(key, tuple) else str(key)


def rss_bytes() -> int:
    """Resident set size of this process (Linux /proc; falls back to the peak from getrusage)."""
    import os
    import resource

    try:
        with open(f"/proc/{os.getpid()}/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
