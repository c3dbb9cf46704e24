"""The odds hub's HTTP API (docs/api.md A1, A3, B1-B5).

SSE streams are raw ASGI apps (``STREAMS``): the request is parsed into a typed spec (``specs.py``)
and the group lease taken before the response starts (so a bad parameter is still a 400 and a limit
a 429), then the group's channel serves the client (``fanout.py``) and the lease is given back in a
``finally``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from litestar import Request, Response, get

from backend.swarm.session import SwarmRequestError

from . import specs
from .base import serve_stream
from .caches import HierarchyError
from .service import OddsHub
from .specs import StreamSpec

log = logging.getLogger(__name__)

# Path -> parser of its query (a typed spec, or the 400 message). The streams bypass Litestar's
# router (see ``backend.app.OddsApp``): an open stream keeps its whole call chain alive, so every
# frame saved is memory saved per idle client.
STREAMS: dict[str, Callable[[dict[str, str]], StreamSpec | str]] = {
    "/api/counts-stream": specs.parse_counts,
    "/api/live-stream": specs.parse_live,
    "/api/prematch-stream": specs.parse_prematch,
    "/api/live-game-stream": specs.parse_game,
    "/api/competition-odds-stream": specs.parse_competition,
}
LIMIT_BEFORE_VALIDATION = frozenset({"/api/competition-odds-stream"})  # docs/api.md B5: the order of checks


# Path -> ASGI-style handler(scope, receive) for backend.app.OddsApp.
STREAM_HANDLERS = {path: partial(serve_stream, service="hub", parse=parse, limit_first=path in LIMIT_BEFORE_VALIDATION)
                   for path, parse in STREAMS.items()}


@get("/api/hierarchy")
async def hierarchy(request: Request[Any, Any, Any]) -> Response[Any]:
    hub: OddsHub = request.app.state.hub
    refresh = request.query_params.get("refresh") == "true"
    try:
        data, flags = await hub.hierarchy.get(refresh=refresh)
    except (HierarchyError, SwarmRequestError) as exc:
        return Response({"error": str(exc)}, status_code=500, headers={"Cache-Control": "no-store"})
    cache = "no-store" if refresh else "public, max-age=60, stale-while-revalidate=300"
    return Response({**data, **flags}, headers={"Cache-Control": cache})


@get("/api/warmup")
async def warmup(request: Request[Any, Any, Any]) -> Response[Any]:
    hub: OddsHub = request.app.state.hub
    try:
        data, _ = await hub.hierarchy.get()
        loaded = hub.hierarchy.sport_count(data) > 0
    except (HierarchyError, SwarmRequestError):
        loaded = False
    return Response({"status": "warmed", "hierarchy_loaded": loaded, "timestamp": int(hub.clock.time() * 1000)},
                    headers={"Cache-Control": "no-store"})


ROUTES = [hierarchy, warmup]
