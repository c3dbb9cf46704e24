"""The odds hub's HTTP API (WIRE.md A1, A3, B1-B4).

SSE streams are raw ASGI apps (``STREAMS``): the group reference is taken before the response starts (so a
limit can still answer 429) and released in a ``finally`` that runs whatever happens after that --
a disconnect, a dropped client, shutdown. After the first write the handler only waits on
``receive()`` for the disconnect; the channel does all writing (see ``fanout.py``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from litestar import Request, Response, get
from litestar.types import Receive, Scope, Send

from backend.http import CORS_HEADERS_KEY, NO_STORE, RAW_SEND_KEY, json_response, positive_int, query_params
from backend.swarm.session import SwarmRequestError

from .caches import HierarchyError
from .fanout import PADDING, Client, sse_comment, sse_id_only
from .groups import LimitExceeded
from .service import OddsHub
from .streams import Group

log = logging.getLogger(__name__)

SSE_HEADERS = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache, no-transform"),
    (b"connection", b"keep-alive"),
    (b"x-accel-buffering", b"no"),
]


def _positive_int(value: str | None) -> bool:
    return positive_int(value) is not None


def _last_event_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"last-event-id":
            return value.decode("latin-1")
    return None


def _opening(hub: OddsHub, group: Group, scope: Scope) -> bytes:
    """Preamble, then exactly the missed frames (a ``Last-Event-ID`` the ring covers) or the snapshot."""
    channel = group.channel
    pos = channel.resume_position(_last_event_id(scope))
    if pos is not None:
        hub.stats.resumed += 1
        tail = [channel.ring.after(pos) or b""]
    else:
        tail = [*group.late_joiner_frames(), sse_id_only(channel.event_id())]
    return b"".join([PADDING, hub.retry_frame, sse_comment(f"ready {int(hub.clock.time() * 1000)}"), *tail])


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """A validated stream request: which group, and the options its first client creates it with."""

    kind: str
    ident: str = ""
    options: dict[str, Any] = field(default_factory=dict)


def _sport(kind: str, params: dict[str, str]) -> StreamSpec | str:
    sport_id = params.get("sportId")
    if not sport_id:
        return "sportId is required"
    if not _positive_int(sport_id):
        return "sportId must be a positive integer"
    return StreamSpec(kind, sport_id, {"sport_name": params.get("sportName") or None})


def _game(params: dict[str, str]) -> StreamSpec | str:
    game_id = params.get("gameId")
    if not game_id:
        return "gameId is required"
    if not _positive_int(game_id):
        return "gameId must be a positive integer"
    return StreamSpec("game", game_id)


def _competition(params: dict[str, str]) -> StreamSpec | str:
    competition_id, sport_id, mode = params.get("competitionId"), params.get("sportId"), params.get("mode")
    if not competition_id:
        return "competitionId is required"
    if not sport_id:
        return "sportId is required"
    if mode not in ("live", "prematch"):
        return "mode must be live or prematch"
    if not _positive_int(competition_id):
        return "competitionId must be a positive integer"
    if not _positive_int(sport_id):
        return "sportId must be a positive integer"
    options = {"competition_id": competition_id, "sport_id": sport_id, "mode": mode,
               "sport_name": params.get("sportName") or None}
    return StreamSpec("competition", f"{mode}:{competition_id}", options)


# Path -> parser of its query (a StreamSpec, or the 400 message). The streams bypass Litestar's
# router (see ``backend.app.OddsApp``): an open stream keeps its whole call chain alive, so every
# frame saved is memory saved per idle client.
STREAMS: dict[str, Callable[[dict[str, str]], StreamSpec | str]] = {
    "/api/counts-stream": lambda params: StreamSpec("counts"),
    "/api/live-stream": lambda params: _sport("live", params),
    "/api/prematch-stream": lambda params: _sport("prematch", params),
    "/api/live-game-stream": _game,
    "/api/competition-odds-stream": _competition,
}
LIMIT_BEFORE_VALIDATION = frozenset({"/api/competition-odds-stream"})  # WIRE B5's order of checks


async def serve_stream(scope: Scope, receive: Receive, parse: Callable[[dict[str, str]], StreamSpec | str]) -> None:
    """Serve one SSE request from start to end (errors as JSON 400/429 before the stream opens).

    The client first gets the preamble and either exactly the events it missed (a ``Last-Event-ID``
    the replay ring still covers) or the group's snapshot; from then on the channel writes to it.
    """
    hub: OddsHub = scope["app"].state.hub
    send: Send = scope[RAW_SEND_KEY]
    cors = scope.get(CORS_HEADERS_KEY, [])
    try:
        if scope["path"] in LIMIT_BEFORE_VALIDATION:
            hub.registry.check_client_limit()
        spec = parse(query_params(scope))
        if isinstance(spec, str):
            await json_response(send, 400, {"error": spec}, [*NO_STORE, *cors])
            return
        key, group = hub.acquire(spec.kind, spec.ident, **spec.options)
    except LimitExceeded as exc:
        await json_response(send, 429, {"error": str(exc)},
                            [(b"retry-after", str(exc.retry_after).encode()), *NO_STORE, *cors])
        return
    channel = group.channel
    client: Client | None = None
    try:
        pos = channel.seq  # the opening covers everything up to here; the channel sends the rest
        await send({"type": "http.response.start", "status": 200, "headers": [*SSE_HEADERS, *cors]})
        # No local keeps the opening bytes: this frame lives as long as the connection.
        await send({"type": "http.response.body", "body": _opening(hub, group, scope), "more_body": True})
        client = Client(send, pos)
        client.task = asyncio.current_task()
        channel.attach(client)
        while (await receive())["type"] != "http.disconnect":
            pass
    except asyncio.CancelledError:
        if client is None or client.close_reason is None:
            raise
        # The channel gave up on a stuck client: returning without completing the response makes
        # the server close the connection.
        log.info("stream %r: aborted (%s)", group.key, client.close_reason)
    finally:
        try:
            if client is not None:
                channel.detach(client)
                client.closed = True
        finally:
            hub.release(key)


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
