"""``/api/health`` (docs/api.md A2) and ``/metrics`` (Prometheus text, docs/api.md A9).

Both are views of one snapshot taken from the running services; alert rules live in ``alerts.py``.
"""

from __future__ import annotations

import os
import resource
from typing import Any

from litestar import Request, Response, get

from . import alerts
from .prometheus import Exposition


def rss_bytes() -> int:
    """Resident set size of this process (Linux /proc; falls back to the peak from getrusage)."""
    try:
        with open(f"/proc/{os.getpid()}/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def snapshot(hub: Any) -> dict[str, Any]:
    try:
        swarm = hub.metrics()
    except Exception:  # the contract: null when the internal call failed
        swarm = None
    stats = hub.cache_stats
    conn = hub.conn.stats
    now = hub.clock.time()
    attempts, failures = conn.attempts_5m.total(now), conn.failures_5m.total(now)
    stalls, expiries = conn.stalls_5m.total(now), conn.expiries_5m.total(now)
    group_clients = {_key(k): hub.registry.clients(k) for k in hub.groups}
    budget = hub.budget
    active = alerts.evaluate(connected=hub.conn.connected, attempts_5m=attempts, failures_5m=failures,
                             group_clients=group_clients, stalls_5m=stalls, expiries_5m=expiries,
                             retained_bytes=budget.used, budget_bytes=budget.limit)
    lookups = stats.hits + stats.misses
    return {
        "status": "ok",
        "live_tracker": None,  # the live tracker service does not exist yet
        "swarm_ws": swarm,
        "uptime": round(hub.clock.monotonic() - hub.started_at, 3),
        "cache": {"hits": stats.hits, "misses": stats.misses,
                  "hit_rate": round(stats.hits / lookups, 4) if lookups else 0.0},
        "memory": {"rss_bytes": rss_bytes(), "budget_bytes": budget.limit, "retained_bytes": budget.used,
                   "replay_bytes": budget.ring_bytes, "cache_bytes": budget.cache_bytes,
                   "replay_frames_trimmed_total": budget.trimmed_frames},
        "upstream": {"connect_attempts_5m": attempts, "connect_failures_5m": failures,
                     "failure_rate_5m": round(alerts.failure_rate(attempts, failures), 4),
                     "stalls_5m": stalls, "session_expiries_5m": expiries,
                     "connections": 1 if hub.conn.connected else 0},
        "groups": {"count": len(group_clients), "max_clients": max(group_clients.values(), default=0)},
        "alerts": [a.to_json() for a in active],
    }


def _key(key: Any) -> str:
    return ":".join(str(part) for part in key) if isinstance(key, tuple) else str(key)


@get("/api/health")
async def health(request: Request[Any, Any, Any]) -> Response[Any]:
    return Response(snapshot(request.app.state.hub), headers={"Cache-Control": "no-store"})


@get("/metrics", media_type="text/plain; version=0.0.4")  # Litestar adds "; charset=utf-8"
async def metrics(request: Request[Any, Any, Any]) -> Response[str]:
    hub = request.app.state.hub
    snap = snapshot(hub)
    swarm = snap["swarm_ws"] or {}
    out = Exposition()
    out.metric("odds_up", "gauge", "1 while the service answers", 1)
    out.metric("odds_uptime_seconds", "gauge", "Seconds since the hub started", snap["uptime"])
    out.metric("odds_process_resident_memory_bytes", "gauge", "Resident memory of the backend process",
               snap["memory"]["rss_bytes"])
    out.metric("odds_swarm_connected", "gauge", "1 while a Swarm session is live", bool(swarm.get("connected")))
    out.metric("odds_swarm_messages_total", "counter", "Frames received from the Swarm feed",
               swarm.get("ws_messages_total", 0))
    out.metric("odds_swarm_parse_errors_total", "counter", "Malformed Swarm frames skipped",
               swarm.get("ws_parse_errors_total", 0))
    out.metric("odds_swarm_connect_attempts_total", "counter", "Upstream connection attempts",
               swarm.get("connect_attempts_total", 0))
    out.metric("odds_swarm_connect_failures_total", "counter", "Upstream connection attempts that failed",
               swarm.get("connect_failures_total", 0))
    out.metric("odds_swarm_failure_rate_5m", "gauge", "Failed share of upstream connection attempts, 5 minutes",
               snap["upstream"]["failure_rate_5m"])
    out.metric("odds_swarm_subscriptions", "gauge", "Active upstream subscriptions",
               swarm.get("active_subscriptions", 0))
    out.metric("odds_swarm_session_expiries_total", "counter", "Times the feed forgot the session (renewed)",
               swarm.get("session_expiries_total", 0))
    out.metric("odds_swarm_stalls_total", "counter", "Times the feed went quiet and the connection was replaced",
               swarm.get("stalls_total", 0))
    out.metric("odds_swarm_rejected_deltas_total", "counter", "Deltas rejected for not fitting the schema",
               swarm.get("rejected_deltas_total", 0))
    memory = snap["memory"]
    out.metric("odds_memory_budget_bytes", "gauge", "Bytes the hub may retain (replay plus cached payloads)",
               memory["budget_bytes"])
    out.metric("odds_memory_retained_bytes", "gauge", "Bytes the hub retains, by kind",
               [({"kind": "replay"}, memory["replay_bytes"]), ({"kind": "cache"}, memory["cache_bytes"])])
    out.metric("odds_replay_frames_trimmed_total", "counter", "Replay frames trimmed to stay within the budget",
               memory["replay_frames_trimmed_total"])
    out.metric("odds_sse_clients", "gauge", "Connected SSE clients", swarm.get("clients", 0))
    by_kind = swarm.get("by_endpoint", {})
    out.metric("odds_groups", "gauge", "Stream groups by kind",
               [({"kind": k}, v["groups"]) for k, v in sorted(by_kind.items())])
    out.metric("odds_group_clients", "gauge", "SSE clients by group kind",
               [({"kind": k}, v["clients"]) for k, v in sorted(by_kind.items())])
    out.metric("odds_group_clients_max", "gauge", "Clients of the largest group", snap["groups"]["max_clients"])
    out.metric("odds_sse_events_published_total", "counter", "Events published (each encoded once)",
               swarm.get("events_published_total", 0))
    out.metric("odds_sse_writes_total", "counter", "Chunks written to clients", swarm.get("writes_total", 0))
    out.metric("odds_sse_client_drops_total", "counter", "Clients the server dropped, by reason",
               [({"reason": r}, n) for r, n in sorted((swarm.get("client_drops") or {}).items())])
    out.metric("odds_sse_rejected_total", "counter", "Clients refused with 429", swarm.get("rejected_total", 0))
    out.metric("odds_cache_hits_total", "counter", "Hierarchy and market-type cache hits", snap["cache"]["hits"])
    out.metric("odds_cache_misses_total", "counter", "Hierarchy and market-type cache misses",
               snap["cache"]["misses"])
    out.metric("odds_alerts", "gauge", "Alerts currently firing, by name",
               [({"alert": a["name"], "severity": a["severity"]}, 1) for a in snap["alerts"]])
    return Response(out.render(), headers={"Cache-Control": "no-store"})


ROUTES = [health, metrics]
