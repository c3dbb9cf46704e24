"""Health metrics: the third long-lived service (the original's HealthMetrics Durable Object).

``HealthService`` is an async context manager (a Litestar lifespan) and the :class:`Reporter` the
streaming services report to, in process:

* each live-tracker game's :class:`TrackerReport` renews its lease (30 s) in the tracker *ledger*
  and adds its message and parse-error deltas to the totals and a per-second ring. In one process
  the ledger is local (:class:`LocalLedger`: a :class:`LeaseMap` of at most 10,000, least recently
  renewed evicted first, expired ones pruned on every report and read); in a cluster it is the
  store's (:class:`ClusterLedger`: the same rules in Redis, leases with their TTL, so every process
  shows the whole cluster);
* the odds hub's :class:`UpstreamReport` (every second, and at once when its clients or its
  connection change) renews the hub's lease (30 s) in a :class:`LeaseMap` of its own, keyed by the
  report's role (one lease in one process; in a cluster one for the process's own hub and one for its
  edge, which speaks for the leader's upstream), and adds its deltas to totals and per-second rings.
  The odds feed's connection state in the snapshot is what the live leases say: when they have all
  run out the hub stopped reporting, and the snapshot shows it not connected and alerts, rather than
  showing its last figures as if they were current.

Rings are :class:`SecondBuckets`: fixed-size, nothing allocated per update, so memory is the same
after a minute or a year (R4). :meth:`snapshot` builds the one typed :class:`HealthSnapshot` from
the ledger and from each service's own figures (the :class:`OddsFigures` / :class:`TrackerFigures`
it implements); ``/api/health`` and ``/metrics`` are both rendered from it, and the alert rules
(``alerts.py``) are evaluated on it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import resource
from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, Protocol

import msgspec

from backend.clock import Clock, iso_utc

from . import alerts
from .leases import LeaseMap
from .reports import TrackerReport, UpstreamReport
from .ring import SecondBuckets
from .snapshot import (
    Cache,
    ClusterFigures,
    CountsStream,
    Groups,
    HealthSnapshot,
    HubReports,
    Memory,
    ResponseTime,
    Series,
    ServiceMemory,
    SwarmWs,
    TrackerMetrics,
    TrackerRollup,
    Upstream,
)

log = logging.getLogger(__name__)

MAX_LEASES = 10_000
RESPONSE_SAMPLES = 1024
SLOW_REQUEST = 1.0  # seconds
LEASE_BYTES = 240  # a lease's key, tuple and struct, about


class CacheCounts(Protocol):
    hits: int
    misses: int


class OddsFigures(Protocol):
    """What health reads of the odds hub (the hub itself, or a cluster edge speaking for the leader)."""

    cache_stats: CacheCounts

    def swarm_ws(self, updates_60s: SecondBuckets | None) -> SwarmWs | None: ...

    def upstream_figures(self, now: float) -> Upstream | None: ...

    def counts_runs(self, now: float) -> CountsStream: ...

    def memory_figures(self) -> ServiceMemory: ...

    def clients_by_group(self) -> dict[Hashable, int]: ...


class TrackerFigures(Protocol):
    """What health reads of the live tracker (the service itself, or a cluster edge speaking for the leader)."""

    def metrics(self) -> TrackerMetrics: ...

    def upstream_figures(self, now: float) -> Upstream | None: ...

    def memory_figures(self) -> ServiceMemory: ...

    def clients_by_group(self) -> dict[Hashable, int]: ...


class ClusterStatus(Protocol):
    def figures(self) -> ClusterFigures: ...


@dataclass(slots=True)
class _HubLease:
    clients: int
    upstream_connected: bool
    expires: float  # monotonic


class _GameLease(msgspec.Struct, array_like=True):
    game_id: str
    sse_clients: int
    upstream_connected: bool


@dataclass(slots=True)
class LedgerView:
    leases: list[_GameLease]
    lease_count: int
    evicted_total: int
    messages_total: int
    parse_errors_total: int
    messages_60s: int
    series: list[int]
    last_message_at: float | None
    first_seen_at: float | None


class LocalLedger:
    """The tracker's leases and totals in this process."""

    def __init__(self, clock: Clock, max_leases: int = MAX_LEASES) -> None:
        self.clock = clock
        self.leases: LeaseMap[_GameLease] = LeaseMap(max_leases)
        self.messages = SecondBuckets(60)
        self.messages_total = 0
        self.parse_errors_total = 0
        self.first_seen_at: float | None = None
        self.last_message_at: float | None = None

    def report(self, report: TrackerReport) -> None:
        now = self.clock.time()
        if self.first_seen_at is None:
            self.first_seen_at = now
        self.leases.renew(report.game_id, _GameLease(report.game_id, report.sse_clients, report.upstream_connected),
                          self.clock.monotonic(), report.lease_ttl)
        self.messages_total += report.delta_messages
        self.parse_errors_total += report.delta_parse_errors
        if report.delta_messages:
            self.messages.add(now, report.delta_messages)
        if report.last_message_at is not None:
            self.last_message_at = report.last_message_at

    def view(self) -> LedgerView:
        now = self.clock.time()
        leases = [lease for _, lease in self.leases.live(self.clock.monotonic())]
        return LedgerView(leases, len(self.leases), self.leases.evicted_total, self.messages_total,
                          self.parse_errors_total, self.messages.total(now), self.messages.series(now),
                          self.last_message_at, self.first_seen_at)

    def nbytes(self) -> int:
        return len(self.leases) * LEASE_BYTES + self.messages.nbytes


class ClusterLedger:
    """The tracker's leases and totals in the cluster's store, as every process reports them.

    Reports are buffered and written every ``FLUSH_EVERY`` seconds; the view is the store's, read every
    ``READ_EVERY`` seconds (``snapshot()`` never waits for Redis). A lease is per game *and* process --
    the leader's says whether the upstream is connected, each edge's how many clients it serves -- and
    the rollup adds them up per game.
    """

    FLUSH_EVERY = 0.25
    READ_EVERY = 1.0

    def __init__(self, store: Any, process: str, clock: Clock, max_leases: int = MAX_LEASES) -> None:
        self.store = store
        self.process = process
        self.clock = clock
        self.max_leases = max_leases
        self._pending: list[Any] = []
        self._view = LedgerView([], 0, 0, 0, 0, 0, [0] * 60, None, None)
        self._task: asyncio.Task[None] | None = None
        self.store_ok = True

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="health-cluster-ledger")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def report(self, report: TrackerReport) -> None:
        from backend.cluster.store import HealthItem

        value = msgspec.json.encode(_GameLease(report.game_id, report.sse_clients, report.upstream_connected))
        self._pending.append(HealthItem(f"{report.game_id}|{self.process}|{report.role}", value, report.lease_ttl,
                                        report.delta_messages, report.delta_parse_errors, report.last_message_at))
        if len(self._pending) > 10 * self.max_leases:  # the store is away: keep the newest only
            del self._pending[: len(self._pending) - self.max_leases]

    async def _run(self) -> None:
        from backend.cluster.store import StoreError

        read_at = -1e9
        while True:
            await self.clock.sleep(self.FLUSH_EVERY)
            items: list[Any] = []
            try:
                touched = False
                if self._pending:
                    items, self._pending = self._pending, []
                    await self.store.health_report(items, self.max_leases)
                    touched = True
                if self.clock.monotonic() - read_at >= self.READ_EVERY:
                    read_at = self.clock.monotonic()
                    await self._read()
                    touched = True
                if touched:  # (only a call that reached the store says it is back)
                    if not self.store_ok:
                        log.info("health: the cluster's store answers again")
                    self.store_ok = True
            except StoreError as exc:
                if self.store_ok:
                    log.warning("health: the cluster's store is unreachable (%s)", exc)
                self.store_ok = False
                self._pending[:0] = items  # sent again when it is back (the newest kept, as above)

    async def _read(self) -> None:
        rollup = await self.store.health_rollup()
        leases = [msgspec.json.decode(value, type=_GameLease) for value in rollup.leases]
        now = int(self.clock.time())
        series = [rollup.messages_by_second.get(s, 0) for s in range(now - 59, now + 1)]
        self._view = LedgerView(leases, len(leases), rollup.evicted_total, rollup.messages_total,
                                rollup.parse_errors_total, sum(series), series, rollup.last_message_at,
                                rollup.first_seen_at)

    def view(self) -> LedgerView:
        return self._view

    def nbytes(self) -> int:
        return len(self._pending) * LEASE_BYTES


class HealthService:
    def __init__(self, clock: Clock, *, hub: OddsFigures | None = None, tracker: TrackerFigures | None = None,
                 max_leases: int = MAX_LEASES, ledger: LocalLedger | ClusterLedger | None = None,
                 cluster: ClusterStatus | None = None) -> None:
        self.clock = clock
        self.hub = hub
        self.tracker = tracker
        self.cluster = cluster
        self.started_at = clock.monotonic()
        self.ledger = ledger if ledger is not None else LocalLedger(clock, max_leases)
        self.odds_messages = SecondBuckets(60)
        self.odds_updates = SecondBuckets(60)
        self.hub_leases: LeaseMap[_HubLease] = LeaseMap(max_leases)  # by role: "service", "edge"
        self.odds_messages_total = 0
        self.odds_parse_errors_total = 0
        self.hub_reported_at: float | None = None
        self.reports_total = 0
        self._responses: deque[float] = deque(maxlen=RESPONSE_SAMPLES)
        self._slow = 0

    @property
    def leases(self) -> LeaseMap[_GameLease]:
        """This process's lease map (one-process mode)."""
        assert isinstance(self.ledger, LocalLedger)
        return self.ledger.leases

    async def __aenter__(self) -> HealthService:
        if isinstance(self.ledger, ClusterLedger):
            self.ledger.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if isinstance(self.ledger, ClusterLedger):
            await self.ledger.stop()

    # -- reports ------------------------------------------------------------------------------------
    def report(self, report: TrackerReport | UpstreamReport) -> None:
        self.reports_total += 1
        if isinstance(report, TrackerReport):
            self.ledger.report(report)
            return
        now = self.clock.time()
        expires = self.clock.monotonic() + report.lease_ttl
        self.hub_leases.renew(report.role, _HubLease(report.clients, report.upstream_connected, expires),
                              self.clock.monotonic(), report.lease_ttl)
        self.hub_reported_at = now
        self.odds_messages_total += report.delta_messages
        self.odds_parse_errors_total += report.delta_parse_errors
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
        view = self.ledger.view()
        games: dict[str, list[int]] = {}  # game -> [clients, connected]
        for lease in view.leases:
            entry = games.setdefault(lease.game_id, [0, 0])
            entry[0] += lease.sse_clients
            entry[1] |= int(lease.upstream_connected)
        metrics = self.tracker.metrics() if self.tracker is not None else TrackerMetrics()
        feed = metrics.feed
        return TrackerRollup(
            active_games=sum(1 for c, _ in games.values() if c > 0),
            active_sse_clients=sum(c for c, _ in games.values()),
            upstream_ws_connected_games=sum(up for _, up in games.values()),
            ws_messages_total=view.messages_total, ws_messages_last_60s=view.messages_60s,
            ws_parse_errors_total=view.parse_errors_total, last_message_at=_iso(view.last_message_at),
            first_seen_at=_iso(view.first_seen_at), leases=view.lease_count, leases_evicted_total=view.evicted_total,
            games_followed=metrics.games, rejected_total=metrics.rejected_total,
            connect_attempts_total=feed.connect_attempts_total, connect_failures_total=feed.connect_failures_total,
            stalls_total=feed.stalls_total, groups_failed_total=feed.groups_failed_total, last_error=feed.last_error)

    def hub_reports(self) -> HubReports:
        """The odds hub by its live leases: nothing it reported counts once its lease has run out."""
        mono = self.clock.monotonic()
        live = [lease for _, lease in self.hub_leases.live(mono)]
        return HubReports(
            reporting=bool(live), clients=sum(lease.clients for lease in live),
            upstream_connected=any(lease.upstream_connected for lease in live),
            messages_total=self.odds_messages_total, parse_errors_total=self.odds_parse_errors_total,
            last_report_at=_iso(self.hub_reported_at),
            lease_expires_in=round(max((lease.expires - mono for lease in live), default=0.0), 3), leases=len(live))

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
        reports = self.hub_reports() if hub is not None else None
        swarm: SwarmWs | None = None
        try:
            swarm = hub.swarm_ws(self.odds_updates) if hub is not None else None
        except Exception:  # the contract: null when the service could not answer
            log.exception("health: the odds hub's metrics failed")
        if swarm is not None and reports is not None and swarm.connected != reports.upstream_connected:
            swarm = msgspec.structs.replace(swarm, connected=reports.upstream_connected)  # as upstream.odds_feed
        rollup: TrackerRollup | None = None
        try:
            rollup = self.tracker_rollup() if tracker is not None else None
        except Exception:
            log.exception("health: the live tracker's metrics failed")
        upstream: dict[str, Upstream] = {}
        for name, service in (("odds_feed", hub), ("tracker_feed", tracker)):
            figures = service.upstream_figures(now) if service is not None else None
            if figures is not None:
                upstream[name] = figures
        if "odds_feed" in upstream and reports is not None:
            upstream["odds_feed"] = msgspec.structs.replace(upstream["odds_feed"],
                                                             connected=int(reports.upstream_connected))
        if "tracker_feed" in upstream and rollup is not None:
            upstream["tracker_feed"] = msgspec.structs.replace(upstream["tracker_feed"],
                                                                connected=rollup.upstream_ws_connected_games)
        services: dict[str, ServiceMemory] = {}
        for name, service in (("odds_hub", hub), ("live_tracker", tracker)):
            if service is not None:
                services[name] = service.memory_figures()
        services["health"] = ServiceMemory(other_bytes=self.ledger.nbytes() + self._ring_bytes()
                                           + len(self.hub_leases) * LEASE_BYTES)
        group_clients: dict[str, int] = {}
        for name, service in (("hub", hub), ("tracker", tracker)):
            if service is not None:
                for key, clients in service.clients_by_group().items():
                    group_clients[f"{name}:{_key(key)}"] = clients
        stats = hub.cache_stats if hub is not None else None
        lookups = (stats.hits + stats.misses) if stats is not None else 0
        counts = hub.counts_runs(now) if hub is not None else CountsStream(0, None, {})
        tracker_series = self.ledger.view().series
        cluster = self.cluster.figures() if self.cluster is not None else None
        return HealthSnapshot(
            status="ok",
            uptime=round(self.clock.monotonic() - self.started_at, 3),
            live_tracker=rollup,
            swarm_ws=swarm,
            cache=Cache(hits=stats.hits if stats else 0, misses=stats.misses if stats else 0,
                        hit_rate=round(stats.hits / lookups, 4) if stats and lookups else 0.0),
            responseTime=self.response_time(),
            counts_stream=counts,
            memory=Memory(rss_bytes=rss_bytes(), services=services),
            upstream=upstream,
            groups=Groups(count=len(group_clients), max_clients=max(group_clients.values(), default=0)),
            messages_per_second=Series(odds_feed=self.odds_messages.series(now), tracker_feed=tracker_series),
            alerts=alerts.evaluate(odds_connected=reports.upstream_connected if reports is not None else True,
                                   upstreams=upstream, group_clients=group_clients, memory=services,
                                   store_ok=cluster.store_ok if cluster is not None else True,
                                   not_reporting=() if reports is None or reports.reporting else ("odds_hub",)),
            cluster=cluster,
            hub_reports=reports,
        )

    def _ring_bytes(self) -> int:
        return self.odds_messages.nbytes + self.odds_updates.nbytes + 8 * RESPONSE_SAMPLES


def _iso(epoch: float | None) -> str | None:
    return iso_utc(epoch) if epoch is not None else None


def _key(key: Any) -> str:
    return ":".join(str(part) for part in key) if isinstance(key, tuple) else str(key)


def rss_bytes() -> int:
    """Resident set size of this process (Linux /proc; falls back to the peak from getrusage)."""
    try:
        with open(f"/proc/{os.getpid()}/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
