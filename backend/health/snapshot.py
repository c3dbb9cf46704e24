"""The one typed health snapshot (msgspec Structs): ``/api/health`` is it encoded, ``/metrics`` is
rendered from it, the UI's health modal reads it. Field by field: docs/api.md A2 and F.

The original UI reads ``status``, ``uptime``, ``cache.{hits,misses}``, ``responseTime.{avg,p95,
slowRequests}``, ``counts_stream.{runs_last_60s,last_reason,runs_by_reason}``, ``live_tracker`` (the
rollup) and ``swarm_ws`` (``connected``, ``active_subscriptions``, ``updates_last_60s_total``,
``by_endpoint``, ``by_tag``); everything else is ours. Names keep the original's spelling.
"""

from __future__ import annotations

from typing import Any

import msgspec


class Alert(msgspec.Struct, frozen=True):
    name: str
    severity: str  # "warning" or "critical"
    message: str
    value: float
    threshold: float
    service: str = ""


class SubscriptionFigures(msgspec.Struct):
    active_subscriptions: int = 0
    updates_last_60s: int = 0
    groups: int = 0
    clients: int = 0


class SwarmWs(msgspec.Struct, kw_only=True):
    """The odds hub and its upstream (the original's hub metrics, plus ours)."""

    connected: bool
    session_id: str | None
    ws_url: str
    ws_messages_total: int
    ws_messages_last_60s: int
    ws_parse_errors_total: int
    state: str
    active_subscriptions: int
    updates_last_60s_total: int
    by_endpoint: dict[str, SubscriptionFigures]
    by_tag: dict[str, SubscriptionFigures]
    connect_attempts_total: int
    connect_failures_total: int
    reconnects_total: int
    sessions_total: int
    session_expiries_total: int
    stalls_total: int
    rejected_deltas_total: int
    last_error: str | None
    last_message_at: str | None
    clients: int
    groups: int
    groups_failed_total: int
    rejected_total: int
    resumed_total: int
    snapshots_total: int
    polls_delayed_total: int
    events_published_total: int
    writes_total: int
    parked_writes_total: int
    write_failures_total: int
    aborted_total: int
    client_drops: dict[str, int]
    heartbeat_writes: dict[str, float]


class TrackerRollup(msgspec.Struct, kw_only=True):
    """The live tracker, rolled up from the games' leases (the original's fields first)."""

    active_games: int
    active_sse_clients: int
    upstream_ws_connected_games: int
    ws_messages_total: int
    ws_messages_last_60s: int
    ws_parse_errors_total: int
    last_message_at: str | None
    first_seen_at: str | None
    leases: int
    leases_evicted_total: int
    games_followed: int
    connect_attempts_total: int
    connect_failures_total: int
    stalls_total: int
    rejected_total: int
    groups_failed_total: int
    last_error: str | None


class TrackerFeedFigures(msgspec.Struct, kw_only=True):
    """What the service that runs the tracker's upstream sockets counts of them (in a cluster, the
    tracker's leader publishes these for every process's health)."""

    connect_attempts_total: int = 0
    connect_failures_total: int = 0
    stalls_total: int = 0
    groups_failed_total: int = 0
    last_error: str | None = None


class TrackerMetrics(msgspec.Struct, kw_only=True):
    """The live tracker's own figures, as health reads them into :class:`TrackerRollup` (the rest of
    the rollup comes from the games' leases): its groups here, its 429s here, and its feed's figures."""

    games: int = 0
    rejected_total: int = 0
    feed: TrackerFeedFigures = msgspec.field(default_factory=TrackerFeedFigures)


class HubReports(msgspec.Struct, kw_only=True):
    """The odds hub as it reported itself (docs/api.md F1, F2): its leased reports, summed."""

    reporting: bool  # a report's lease (30 s) is running
    clients: int  # its SSE clients, by its last reports (0 when not reporting)
    upstream_connected: bool  # a Swarm session was live at its last report (false when not reporting)
    messages_total: int  # frames received, summed from the reports since the start
    parse_errors_total: int  # frames and deltas skipped, the same way
    last_report_at: str | None  # ISO 8601 time of the last report, or null before the first
    lease_expires_in: float  # seconds until the newest lease runs out (0 when not reporting)
    leases: int  # live leases: 1 for the hub; in a cluster, one for its own hub and one for its edge


class Cache(msgspec.Struct):
    hits: int
    misses: int
    hit_rate: float


class ResponseTime(msgspec.Struct):
    """Milliseconds for the JSON endpoints (the SSE streams are not timed), over the last requests."""

    avg: float
    p95: float
    slowRequests: int
    count: int


class CountsStream(msgspec.Struct):
    runs_last_60s: int
    last_reason: str | None
    runs_by_reason: dict[str, int]


class ServiceMemory(msgspec.Struct, kw_only=True):
    """Bytes one service retains: replay and cached payloads exactly, clients and leases estimated."""

    budget_bytes: int = 0
    replay_bytes: int = 0
    cache_bytes: int = 0
    clients: int = 0
    client_bytes: int = 0
    other_bytes: int = 0
    replay_frames_trimmed_total: int = 0

    @property
    def total(self) -> int:
        return self.replay_bytes + self.cache_bytes + self.client_bytes + self.other_bytes


class Memory(msgspec.Struct):
    rss_bytes: int
    services: dict[str, ServiceMemory]


class Upstream(msgspec.Struct, kw_only=True):
    """One upstream feed's connection health over the last 5 minutes."""

    connected: int  # connections up now (the odds feed: 0 or 1; the tracker: games connected)
    connect_attempts_5m: int
    connect_failures_5m: int
    failure_rate_5m: float
    stalls_5m: int = 0
    session_expiries_5m: int = 0


class Groups(msgspec.Struct):
    count: int
    max_clients: int


class Series(msgspec.Struct):
    """Messages per second received from each upstream over the last minute, oldest first."""

    odds_feed: list[int]
    tracker_feed: list[int]


class ProcessFigures(msgspec.Struct, kw_only=True):
    """One process of a cluster, as it last reported itself."""

    process: str
    clients: dict[str, int]
    groups: dict[str, int]
    leader: list[str]
    rss_bytes: int = 0
    store_ok: bool = True


class ClusterFigures(msgspec.Struct, kw_only=True):
    """A cluster (REDIS_URL set): this process, every live process, and who leads each service."""

    process: str
    store_ok: bool
    leaders: dict[str, str | None]
    clients_total: int
    processes: list[ProcessFigures]


class HealthSnapshot(msgspec.Struct, kw_only=True):
    status: str
    uptime: float
    live_tracker: TrackerRollup | None
    swarm_ws: SwarmWs | None
    cache: Cache
    responseTime: ResponseTime
    counts_stream: CountsStream
    memory: Memory
    upstream: dict[str, Upstream]
    groups: Groups
    messages_per_second: Series
    alerts: list[Alert]
    cluster: ClusterFigures | None = None  # null when one process serves alone
    hub_reports: HubReports | None = None  # null when no odds hub runs with this health service


def to_json(snapshot: HealthSnapshot) -> bytes:
    return msgspec.json.encode(snapshot)


def as_builtins(snapshot: HealthSnapshot) -> Any:
    return msgspec.to_builtins(snapshot)
