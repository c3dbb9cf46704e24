"""``/metrics``: the health snapshot in the Prometheus text format, through ``prometheus_client``.

:class:`SnapshotCollector` is a custom collector: every scrape takes one :class:`HealthSnapshot`
and turns its typed fields into metric families, so ``/metrics`` and ``/api/health`` never
disagree and no figure is read back by a string key. The registry is the app's own (never the
process-global default), so two apps in one process do not share metrics.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from .snapshot import HealthSnapshot

# Litestar appends the charset to text/ media types itself.
CONTENT_TYPE = CONTENT_TYPE_LATEST.replace("; charset=utf-8", "")


def _gauge(name: str, doc: str, value: float | None = None, labels: list[str] | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value, labels=labels)


class SnapshotCollector:
    def __init__(self, snapshot: Callable[[], HealthSnapshot]) -> None:
        self._snapshot = snapshot

    def describe(self) -> list[Metric]:
        return []  # the families depend on the snapshot; prometheus_client then calls collect()

    def collect(self) -> Iterator[Metric]:
        snap = self._snapshot()
        yield _gauge("odds_up", "1 while the service answers", 1)
        yield _gauge("odds_uptime_seconds", "Seconds since the health service started", snap.uptime)
        yield _gauge("odds_process_resident_memory_bytes", "Resident memory of the backend process",
                     snap.memory.rss_bytes)
        memory = _gauge("odds_service_memory_bytes", "Bytes each service retains, by kind", labels=["service", "kind"])
        budget = _gauge("odds_service_memory_budget_bytes", "Each service's memory budget", labels=["service"])
        trimmed = CounterMetricFamily("odds_replay_frames_trimmed", "Replay frames trimmed to stay within the budget",
                                      labels=["service"])
        for service, mem in sorted(snap.memory.services.items()):
            for kind, value in (("replay", mem.replay_bytes), ("cache", mem.cache_bytes),
                                ("clients", mem.client_bytes), ("other", mem.other_bytes)):
                memory.add_metric([service, kind], value)
            budget.add_metric([service], mem.budget_bytes)
            trimmed.add_metric([service], mem.replay_frames_trimmed_total)
        yield memory
        yield budget
        yield trimmed

        up = _gauge("odds_upstream_connected", "Upstream connections up (the tracker: games connected)",
                    labels=["upstream"])
        attempts = _gauge("odds_upstream_connect_attempts_5m", "Connection attempts in the last 5 minutes",
                          labels=["upstream"])
        failures = _gauge("odds_upstream_connect_failures_5m", "Failed connection attempts in the last 5 minutes",
                          labels=["upstream"])
        rate = _gauge("odds_upstream_failure_rate_5m", "Failed share of connection attempts, 5 minutes",
                      labels=["upstream"])
        for name, figures in sorted(snap.upstream.items()):
            up.add_metric([name], figures.connected)
            attempts.add_metric([name], figures.connect_attempts_5m)
            failures.add_metric([name], figures.connect_failures_5m)
            rate.add_metric([name], figures.failure_rate_5m)
        yield from (up, attempts, failures, rate)

        reports = snap.hub_reports
        if reports is not None:
            yield _gauge("odds_hub_reporting", "1 while the odds hub's report lease (30 s) runs", int(reports.reporting))
        swarm = snap.swarm_ws
        if swarm is not None:
            yield _gauge("odds_swarm_connected", "1 while a Swarm session is live", int(swarm.connected))
            for name, doc, value in (
                ("odds_swarm_messages", "Frames received from the Swarm feed", swarm.ws_messages_total),
                ("odds_swarm_parse_errors", "Malformed Swarm frames skipped", swarm.ws_parse_errors_total),
                ("odds_swarm_connect_attempts", "Upstream connection attempts", swarm.connect_attempts_total),
                ("odds_swarm_connect_failures", "Upstream connection attempts that failed",
                 swarm.connect_failures_total),
                ("odds_swarm_session_expiries", "Times the feed forgot the session (renewed)",
                 swarm.session_expiries_total),
                ("odds_swarm_stalls", "Times the feed went quiet and the connection was replaced", swarm.stalls_total),
                ("odds_swarm_rejected_deltas", "Deltas rejected for not fitting the schema",
                 swarm.rejected_deltas_total),
                ("odds_sse_events_published", "Events published (each encoded once)", swarm.events_published_total),
                ("odds_sse_writes", "Chunks written to clients", swarm.writes_total),
                ("odds_sse_rejected", "Clients refused with 429", swarm.rejected_total),
                ("odds_sse_resumed", "Streams resumed from a Last-Event-ID", swarm.resumed_total),
            ):
                yield CounterMetricFamily(name, doc, value=value)
            yield _gauge("odds_swarm_subscriptions", "Active upstream subscriptions", swarm.active_subscriptions)
            yield _gauge("odds_swarm_updates_last_60s", "Subscription updates in the last minute",
                         swarm.updates_last_60s_total)
            yield _gauge("odds_sse_clients", "Connected SSE clients of the odds hub", swarm.clients)
            groups = _gauge("odds_groups", "Stream groups by kind", labels=["kind"])
            clients = _gauge("odds_group_clients", "SSE clients by group kind", labels=["kind"])
            for kind, figures in sorted(swarm.by_endpoint.items()):
                groups.add_metric([kind], figures.groups)
                clients.add_metric([kind], figures.clients)
            yield groups
            yield clients
            drops = CounterMetricFamily("odds_sse_client_drops", "Clients the server dropped, by reason",
                                        labels=["reason"])
            for reason, n in sorted(swarm.client_drops.items()):
                drops.add_metric([reason], n)
            yield drops

        tracker = snap.live_tracker
        if tracker is not None:
            yield _gauge("odds_tracker_active_games", "Tracked games with clients", tracker.active_games)
            yield _gauge("odds_tracker_sse_clients", "Live-tracker SSE clients", tracker.active_sse_clients)
            yield _gauge("odds_tracker_upstream_connected_games", "Tracked games with a live upstream",
                         tracker.upstream_ws_connected_games)
            yield CounterMetricFamily("odds_tracker_messages", "Frames received from the tracker feed",
                                      value=tracker.ws_messages_total)
            yield CounterMetricFamily("odds_tracker_parse_errors", "Malformed tracker frames skipped",
                                      value=tracker.ws_parse_errors_total)
            yield _gauge("odds_tracker_messages_last_60s", "Tracker frames in the last minute",
                         tracker.ws_messages_last_60s)
            yield _gauge("odds_tracker_leases", "Health leases held for tracked games", tracker.leases)

        yield _gauge("odds_group_clients_max", "Clients of the largest group", snap.groups.max_clients)
        yield CounterMetricFamily("odds_cache_hits", "Hierarchy and market-type cache hits", value=snap.cache.hits)
        yield CounterMetricFamily("odds_cache_misses", "Hierarchy and market-type cache misses",
                                  value=snap.cache.misses)
        yield _gauge("odds_response_time_avg_ms", "Mean handling time of the JSON endpoints", snap.responseTime.avg)
        yield _gauge("odds_response_time_p95_ms", "95th percentile handling time of the JSON endpoints",
                     snap.responseTime.p95)
        alerts = _gauge("odds_alerts", "Alerts firing, by name", labels=["alert", "severity", "service"])
        for alert in snap.alerts:
            alerts.add_metric([alert.name, alert.severity, alert.service], 1)
        yield alerts
        if snap.cluster is not None:
            yield from _cluster(snap)


def _cluster(snap: HealthSnapshot) -> Iterator[Metric]:
    """The cluster as this process sees it (REDIS_URL set): every live process, who leads."""
    cluster = snap.cluster
    assert cluster is not None
    yield _gauge("odds_cluster_store_up", "1 while this process reaches the cluster's store (Redis)",
                 int(cluster.store_ok))
    yield _gauge("odds_cluster_processes", "Live processes of the cluster", len(cluster.processes))
    yield _gauge("odds_cluster_clients", "SSE clients across the cluster", cluster.clients_total)
    clients = _gauge("odds_cluster_process_clients", "SSE clients of each process, by service",
                     labels=["process", "service"])
    groups = _gauge("odds_cluster_process_groups", "Stream groups each process serves, by service",
                    labels=["process", "service"])
    rss = _gauge("odds_cluster_process_resident_memory_bytes", "Resident memory of each process",
                 labels=["process"])
    for p in cluster.processes:
        for service, n in sorted(p.clients.items()):
            clients.add_metric([p.process, service], n)
        for service, n in sorted(p.groups.items()):
            groups.add_metric([p.process, service], n)
        rss.add_metric([p.process], p.rss_bytes)
    yield clients
    yield groups
    yield rss
    leader = _gauge("odds_cluster_leader", "1 for the process holding each service's upstream lease",
                    labels=["service", "process"])
    mine = _gauge("odds_cluster_is_leader", "1 if this process holds the service's upstream lease",
                  labels=["service"])
    for service, holder in sorted(cluster.leaders.items()):
        if holder:
            leader.add_metric([service, holder], 1)
        mine.add_metric([service], int(holder == cluster.process))
    yield leader
    yield mine


def registry_for(snapshot: Callable[[], HealthSnapshot]) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snapshot))  # type: ignore[arg-type]
    return registry


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
