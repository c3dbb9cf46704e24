"""``/api/health`` (WIRE.md A2): the hub's upstream metrics plus the fields the original UI reads."""

from __future__ import annotations

import os
import resource
from typing import Any

from litestar import Request, Response, get


def rss_bytes() -> int:
    """Resident set size of this process (Linux /proc; falls back to the peak from getrusage)."""
    try:
        with open(f"/proc/{os.getpid()}/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@get("/api/health")
async def health(request: Request[Any, Any, Any]) -> Response[Any]:
    hub = request.app.state.hub
    try:
        swarm = hub.metrics()
    except Exception:  # the contract: null when the internal call failed
        swarm = None
    stats = hub.cache_stats
    body = {
        "status": "ok",
        "live_tracker": None,  # the live tracker service does not exist yet
        "swarm_ws": swarm,
        "uptime": round(hub.clock.monotonic() - hub.started_at, 3),
        "cache": {"hits": stats.hits, "misses": stats.misses},
        "memory": {"rss_bytes": rss_bytes()},
    }
    return Response(body, headers={"Cache-Control": "no-store"})


ROUTES = [health]
