"""A cluster process: the edges, the leaderships, and what they share (``create_app`` calls
:func:`start_cluster` when ``REDIS_URL`` is set).

For each service -- the odds hub and, if there is a tracker feed, the live tracker -- a process runs

* the service itself, *dormant* (``OddsHub(dormant=True)``: no upstream until it leads), driven by a
  :class:`~.leader.Leadership`;
* an edge (:class:`~.edge.ClusterHub`) that serves this process's clients. The odds hub's edge,
  :class:`ClusterOddsHub`, also answers the HTTP endpoints that need the feed (hierarchy, results)
  by calling the leader through the store, and speaks for the leader's upstream in health.

:class:`ClusterReporter` tells the cluster about this process every second and keeps what the other
processes said (their clients count against the client limit everywhere).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import msgspec

from backend.clock import Clock
from backend.health.reports import NullReporter, Reporter, TrackerReport, UpstreamReport
from backend.health.ring import SecondBuckets
from backend.health.service import ClusterLedger, HealthService, rss_bytes
from backend.health.snapshot import (
    ClusterFigures,
    CountsStream,
    ProcessFigures,
    SwarmWs,
    TrackerFeedFigures,
    TrackerMetrics,
    Upstream,
)
from backend.hub import specs as hub_specs
from backend.hub.caches import CacheStats, HierarchyCache
from backend.hub.fanout import PADDING, sse_comment
from backend.hub.service import OddsHub
from backend.settings import Settings
from backend.swarm.messages import Frame
from backend.swarm.session import SwarmRequestError, unwrap
from backend.tracker.groups import TrackerGroup, TrackerSpec
from backend.tracker.service import TrackerService

from .edge import ClusterHub, ReplicaGroup, process_id
from .leader import Leadership
from .redis_store import RedisStore
from .specs import SpecCodec
from .store import Store, StoreError

log = logging.getLogger(__name__)

HUB_CODEC = SpecCodec([hub_specs.CountsSpec, hub_specs.LiveSportSpec, hub_specs.PrematchSportSpec,
                       hub_specs.GameSpec, hub_specs.CompetitionSpec])
TRACKER_CODEC = SpecCodec([TrackerSpec])
COUNTS_RESERVE = 2  # the counts group a live group holds is not a wanted group of its own
PROCESS_TTL = 5.0


class LeaderFigures(msgspec.Struct, kw_only=True):
    """What the leader of the odds hub publishes every second for the edges' health."""

    swarm_ws: SwarmWs
    upstream: Upstream
    counts_stream: CountsStream


class TrackerLeaderFigures(msgspec.Struct, kw_only=True):
    """What the leader of the live tracker publishes every second: its upstream (one socket per
    followed game) and its connection figures (the same :class:`TrackerFeedFigures` a tracker
    running alone gives health)."""

    upstream: Upstream
    feed: TrackerFeedFigures = msgspec.field(default_factory=TrackerFeedFigures)


class ClusterOddsHub(ClusterHub):
    """The odds hub's edge: streams from replicas; the feed's answers from the leader."""

    figures_type = LeaderFigures
    leader_figures: LeaderFigures | None

    def __init__(self, settings: Settings, store: Store, process: str, clock: Clock,
                 cluster_max_clients: int | None = None, reporter: Reporter | None = None) -> None:
        super().__init__(
            service="hub", store=store, process=process, codec=HUB_CODEC, clock=clock,
            max_clients=settings.max_clients, cluster_max_clients=cluster_max_clients, max_groups={"game": settings.max_game_groups},
            subscription_budget=settings.max_subscriptions - COUNTS_RESERVE, grace=settings.group_grace,
            memory_budget=settings.memory_budget, heartbeat_interval=settings.heartbeat_interval,
            write_timeout=settings.write_timeout, replay_frames=settings.replay_frames,
            replay_bytes=settings.replay_bytes, sse_retry_ms=settings.sse_retry_ms)
        self.settings = settings
        self.cache_stats = CacheStats()
        self.hierarchy = HierarchyCache(self._request_data, clock, settings.hierarchy_ttl, self.cache_stats)
        self.reporter: Reporter = reporter or NullReporter()
        self._reported: tuple[float, int, bool] | None = None  # (when, clients, connected)

    def on_tick(self) -> None:
        """Tell health, as the hub itself does (docs/api.md F1), what this process serves and whether
        the leader's upstream is up (by its figures, which are trusted for 5 s): every second and at
        once on a change. The deltas are left to the process's own hub, which counts its frames."""
        super().on_tick()
        now = self.clock.monotonic()
        clients, connected = self.registry.total_clients, self.odds_connected
        last = self._reported
        if last is not None and now - last[0] < 1.0 and (last[1], last[2]) == (clients, connected):
            return
        self._reported = (now, clients, connected)
        try:
            self.reporter.report(UpstreamReport(clients=clients, upstream_connected=connected, role="edge"))
        except Exception:
            log.exception("cluster hub: reporting to health failed")

    def preamble(self) -> bytes:
        return b"".join([PADDING, self.retry_frame, sse_comment(f"ready {int(self.clock.time() * 1000)}")])

    # -- the feed, through the leader ---------------------------------------------------------------------
    async def _call(self, command: str, params: dict[str, Any], timeout: float) -> Frame:
        request = msgspec.json.encode({"command": command, "params": params, "timeout": timeout})
        try:
            answer = await self.store.call(self.service, request, timeout + 1.0)
        except StoreError as exc:
            raise SwarmRequestError(f"{command} failed: the cluster's store is unavailable ({exc})") from None
        if answer is None:
            raise SwarmRequestError(f"Swarm request {command} timed out (no leader answered)")
        reply = msgspec.json.decode(answer)
        if not reply.get("ok"):
            raise SwarmRequestError(str(reply.get("error") or "failed"), reply.get("code"))
        return Frame(data=reply.get("data"), code=reply.get("code"), msg=reply.get("msg"))

    async def _request_data(self, command: str, params: dict[str, Any], timeout: float) -> Any:
        frame = await self._call(command, params, timeout)
        if frame.code not in (None, 0):
            raise SwarmRequestError(f"{command} failed: {frame.msg or frame.code}", frame.code)
        return unwrap(frame)

    async def request(self, command: str, params: dict[str, Any], timeout: float = 20.0) -> Any:
        return await self._request_data(command, params, timeout)

    # -- health: the leader's figures -------------------------------------------------------------------
    @property
    def odds_connected(self) -> bool:
        return self.leader_figures is not None and self.leader_figures.swarm_ws.connected

    def swarm_ws(self, updates_60s: SecondBuckets | None) -> SwarmWs | None:
        """The leader's upstream (connection, session, subscriptions, updates), with what this
        process serves: its clients and groups, and its fan-out's counters."""
        if self.leader_figures is None:
            return None
        fanout = self.fanout_stats
        leader = self.leader_figures.swarm_ws
        clients_by_kind: dict[str, int] = {}
        for key in self.groups:
            kind = key[0] if isinstance(key, tuple) and key else "?"
            clients_by_kind[kind] = clients_by_kind.get(kind, 0) + self.registry.clients(key)
        by_endpoint = {kind: msgspec.structs.replace(figures, clients=clients_by_kind.get(kind, 0))
                       for kind, figures in leader.by_endpoint.items()}
        return msgspec.structs.replace(
            leader, by_endpoint=by_endpoint, clients=self.registry.total_clients, groups=len(self.groups),
            rejected_total=self.registry.rejected_total, resumed_total=fanout.resumed,
            snapshots_total=fanout.snapshots, writes_total=fanout.writes, parked_writes_total=fanout.parked_writes,
            write_failures_total=fanout.write_failures, aborted_total=fanout.aborted, client_drops=dict(fanout.drops),
            heartbeat_writes=fanout.write_wait_summary())

    def upstream_figures(self, now: float) -> Upstream | None:
        return self.leader_figures.upstream if self.leader_figures is not None else None

    def counts_runs(self, now: float) -> CountsStream:
        if self.leader_figures is None:
            return CountsStream(0, None, {})
        return self.leader_figures.counts_stream


class ClusterTrackerHub(ClusterHub):
    """The live tracker's edge: it also tells health how many clients each game has here."""

    figures_type = TrackerLeaderFigures
    leader_figures: TrackerLeaderFigures | None

    def __init__(self, settings: Settings, store: Store, process: str, clock: Clock, reporter: Reporter,
                 cluster_max_clients: int | None = None) -> None:
        super().__init__(
            service="tracker", store=store, process=process, codec=TRACKER_CODEC, clock=clock,
            max_clients=settings.tracker_max_clients, cluster_max_clients=cluster_max_clients, max_groups={"tracker": settings.tracker_max_games},
            subscription_budget=None, grace=settings.group_grace, memory_budget=settings.tracker_memory_budget,
            heartbeat_interval=settings.heartbeat_interval, write_timeout=settings.write_timeout,
            replay_frames=settings.replay_frames, replay_bytes=settings.replay_bytes,
            sse_retry_ms=settings.sse_retry_ms)
        self.reporter = reporter
        self._reported: dict[str, tuple[int, float]] = {}

    def on_tick(self) -> None:
        super().on_tick()
        now = self.clock.monotonic()
        for key, group in list(self.groups.items()):
            if not isinstance(group, ReplicaGroup):
                continue
            clients = self.registry.clients(key)
            game = str(key[1])
            last = self._reported.get(game)
            if last is None or last[0] != clients or now - last[1] >= 5.0:
                self._reported[game] = (clients, now)
                self.reporter.report(TrackerReport(game_id=game, sse_clients=clients, role="edge"))

    def metrics(self) -> TrackerMetrics:
        """This process's games and 429s, with the leader's connection figures (health's rollup);
        zeros for those until a leader has published."""
        leader = self.leader_figures
        return TrackerMetrics(games=len(self.groups), rejected_total=self.registry.rejected_total,
                              feed=leader.feed if leader is not None else TrackerFeedFigures())

    def upstream_figures(self, now: float) -> Upstream | None:
        return self.leader_figures.upstream if self.leader_figures is not None else None


class ClusterReporter:
    """This process, told to the cluster every second; the other processes, as they told it."""

    def __init__(self, store: Store, process: str, clock: Clock) -> None:
        self.store = store
        self.process = process
        self.clock = clock
        self.edges: dict[str, ClusterHub] = {}
        self.leaderships: dict[str, Leadership] = {}
        self.others: dict[str, ProcessFigures] = {}
        self.store_ok = True
        self.leaders: dict[str, str | None] = {}

    def mine(self) -> ProcessFigures:
        return ProcessFigures(process=self.process,
                              clients={n: e.registry.total_clients for n, e in self.edges.items()},
                              groups={n: len(e.groups) for n, e in self.edges.items()},
                              leader=sorted(n for n, lead in self.leaderships.items() if lead.keeper.holding),
                              rss_bytes=rss_bytes(), store_ok=self.store_ok)

    async def run(self) -> None:
        while True:
            try:
                await self.store.report_process(self.process, msgspec.json.encode(self.mine()), PROCESS_TTL)
                reported = await self.store.processes()
                self.others = {p: msgspec.json.decode(info, type=ProcessFigures) for p, info in reported.items()
                               if p != self.process}
                for name in self.leaderships:
                    holder = await self.store.lease_holder(name)
                    self.leaders[name] = holder[1] if holder else None
                for name, edge in self.edges.items():
                    edge.other_clients = sum(p.clients.get(name, 0) for p in self.others.values())
                self.store_ok = True
            except StoreError as exc:
                if self.store_ok:
                    log.warning("cluster: the store is unreachable (%s); serving what we have", exc)
                self.store_ok = False
            except Exception:
                log.exception("cluster: reporting this process failed")
            await self.clock.sleep(1.0)

    def figures(self) -> ClusterFigures:
        processes = [self.mine(), *self.others.values()]
        store_ok = self.store_ok and all(edge.store_ok for edge in self.edges.values())
        return ClusterFigures(process=self.process, store_ok=store_ok, leaders=dict(self.leaders),
                              clients_total=sum(sum(p.clients.values()) for p in processes),
                              processes=sorted(processes, key=lambda p: p.process))


def hub_calls(hub: OddsHub) -> Callable[[bytes], Awaitable[bytes]]:
    """The leader's answer to an edge's feed request: the Swarm reply as it came."""

    async def handle(request: bytes) -> bytes:
        call = msgspec.json.decode(request)
        try:
            frame = await hub.conn.request(call["command"], call.get("params") or {}, float(call.get("timeout", 20.0)))
        except SwarmRequestError as exc:
            return msgspec.json.encode({"ok": False, "error": str(exc), "code": exc.code})
        return msgspec.json.encode({"ok": True, "data": frame.data, "code": frame.code, "msg": frame.msg})

    return handle


def tracker_figures(tracker: TrackerService) -> Callable[[], bytes]:
    def figures() -> bytes:
        return msgspec.json.encode(TrackerLeaderFigures(upstream=tracker.upstream_figures(tracker.clock.time()),
                                                        feed=tracker.feed_figures()))

    return figures


def hub_figures(hub: OddsHub) -> Callable[[], bytes]:
    def figures() -> bytes:
        now = hub.clock.time()
        return msgspec.json.encode(LeaderFigures(swarm_ws=hub.health_metrics(), upstream=hub.upstream_figures(now),
                                                 counts_stream=hub.counts_runs(now)))

    return figures


async def start_cluster(stack: AsyncExitStack, app: Any, settings: Settings, clock: Clock, swarm_url: str,
                        tracker_url: str, configured: Settings | None = None) -> None:
    """Run this process as a member of the cluster at ``settings.redis_url`` (see the module docstring).
    ``settings`` are this process's, its client limits lowered to its open-file limit; ``configured``
    (the settings as given) holds the cluster-wide client limits."""
    configured = configured or settings
    store = RedisStore(settings.redis_url, clock=clock)
    stack.push_async_callback(store.close)
    process = process_id()
    reporter = ClusterReporter(store, process, clock)
    health = app.state.health = await stack.enter_async_context(HealthService(
        clock, ledger=ClusterLedger(store, process, clock), cluster=reporter))
    tasks: list[asyncio.Task[None]] = []

    async def stop_tasks() -> None:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    hub = await stack.enter_async_context(OddsHub(settings, clock, swarm_url, reporter=health, dormant=True))
    edge = app.state.hub = health.hub = await stack.enter_async_context(
        ClusterOddsHub(settings, store, process, clock, cluster_max_clients=configured.max_clients, reporter=health))
    reporter.edges["hub"] = edge
    lead = reporter.leaderships["hub"] = Leadership(
        store, "hub", hub, HUB_CODEC, clock, process, maxlen=settings.replay_frames,
        start_upstream=hub.start_upstream, stop_upstream=hub.stop_upstream, handle_call=hub_calls(hub),
        metrics=hub_figures(hub))
    tasks.append(asyncio.create_task(lead.run(), name="cluster-lead-hub"))
    app.state.tracker = None
    if tracker_url:
        tracker = await stack.enter_async_context(TrackerService(settings, clock, tracker_url, reporter=health))
        tracker_edge = app.state.tracker = health.tracker = await stack.enter_async_context(
            ClusterTrackerHub(settings, store, process, clock, health,
                              cluster_max_clients=configured.tracker_max_clients))
        reporter.edges["tracker"] = tracker_edge
        tlead = reporter.leaderships["tracker"] = Leadership(
            store, "tracker", tracker, TRACKER_CODEC, clock, process, maxlen=settings.replay_frames,
            metrics=tracker_figures(tracker))
        tasks.append(asyncio.create_task(tlead.run(), name="cluster-lead-tracker"))
    tasks.append(asyncio.create_task(reporter.run(), name="cluster-reporter"))
    stack.push_async_callback(stop_tasks)
    app.state.cluster = reporter
    log.info("cluster member %s on %s", process, settings.redis_url)


__all__ = ["ClusterOddsHub", "ClusterReporter", "ClusterTrackerHub", "LeaderFigures", "TrackerGroup",
           "start_cluster"]
