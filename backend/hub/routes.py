"""The odds hub's HTTP API (WIRE.md A1, A3, B1-B4).

SSE streams are raw ASGI handlers: the group reference is taken before the response starts (so a
limit can still answer 429) and released in a ``finally`` that runs whatever happens after that --
a disconnect, a dropped client, shutdown. After the first write the handler only waits on
``receive()`` for the disconnect; the channel does all writing (see ``fanout.py``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from litestar import Request, Response, get
from litestar.handlers import asgi
from litestar.types import Receive, Scope, Send

from backend.http import CORS_HEADERS_KEY, RAW_SEND_KEY, json_response, query_params
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


def hub_of(scope: Scope) -> OddsHub:
    return scope["app"].state.hub


def _positive_int(value: str | None) -> bool:
    return value is not None and value.isdigit() and 0 < int(value) < 2**53


async def _serve_stream(scope: Scope, receive: Receive, send: Send, kind: str, ident: str = "",
                        **options: Any) -> None:
    hub = hub_of(scope)
    try:
        key, group = hub.acquire(kind, ident, **options)
    except LimitExceeded as exc:
        await json_response(send, 429, {"error": str(exc)},
                            [(b"retry-after", str(exc.retry_after).encode()), (b"cache-control", b"no-store")])
        return
    try:
        await stream_client(hub, group, scope, receive)
    finally:
        hub.release(key)


def _last_event_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"last-event-id":
            return value.decode("latin-1")
    return None


async def stream_client(hub: OddsHub, group: Group, scope: Scope, receive: Receive) -> None:
    """Serve one SSE client of ``group`` until it or the server ends the stream.

    The client first gets the preamble and either exactly the events it missed (a ``Last-Event-ID``
    the replay ring still covers) or the group's snapshot; from then on the channel writes to it.
    """
    send: Send = scope[RAW_SEND_KEY]
    channel = group.channel
    client: Client | None = None
    try:
        pos = channel.resume_position(_last_event_id(scope))
        if pos is not None:
            body = channel.ring.after(pos) or b""
            hub.stats.resumed += 1
        else:
            body = b"".join([*group.late_joiner_frames(), sse_id_only(channel.event_id())])
        pos = channel.seq  # everything up to here is in ``body``; the channel sends the rest
        preamble = b"".join([PADDING, hub.retry_frame, sse_comment(f"ready {int(hub.clock.time() * 1000)}")])
        await send({"type": "http.response.start", "status": 200,
                    "headers": [*SSE_HEADERS, *scope.get(CORS_HEADERS_KEY, ())]})
        await send({"type": "http.response.body", "body": preamble + body, "more_body": True})
        client = Client(send, pos)
        client.task = asyncio.current_task()
        channel.attach(client)
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
    except asyncio.CancelledError:
        if client is None or client.close_reason is None:
            raise
        # The channel gave up on a stuck client: returning without completing the response makes
        # the server close the connection.
        log.info("stream %r: aborted (%s)", group.key, client.close_reason)
    finally:
        if client is not None:
            channel.detach(client)
            client.closed = True


async def _bad_request(send: Send, message: str) -> None:
    await json_response(send, 400, {"error": message})


@asgi("/api/counts-stream", copy_scope=False)
async def counts_stream(scope: Scope, receive: Receive, send: Send) -> None:
    await _serve_stream(scope, receive, send, "counts")


async def _sport_stream(scope: Scope, receive: Receive, send: Send, kind: str) -> None:
    sport_id = query_params(scope).get("sportId")
    if not sport_id:
        await _bad_request(send, "sportId is required")
    elif not _positive_int(sport_id):
        await _bad_request(send, "sportId must be a positive integer")
    else:
        await _serve_stream(scope, receive, send, kind, sport_id)


@asgi("/api/live-stream", copy_scope=False)
async def live_stream(scope: Scope, receive: Receive, send: Send) -> None:
    await _sport_stream(scope, receive, send, "live")


@asgi("/api/prematch-stream", copy_scope=False)
async def prematch_stream(scope: Scope, receive: Receive, send: Send) -> None:
    await _sport_stream(scope, receive, send, "prematch")


@asgi("/api/live-game-stream", copy_scope=False)
async def live_game_stream(scope: Scope, receive: Receive, send: Send) -> None:
    game_id = query_params(scope).get("gameId")
    if not game_id:
        await _bad_request(send, "gameId is required")
    elif not _positive_int(game_id):
        await _bad_request(send, "gameId must be a positive integer")
    else:
        await _serve_stream(scope, receive, send, "game", game_id)


@asgi("/api/competition-odds-stream", copy_scope=False)
async def competition_odds_stream(scope: Scope, receive: Receive, send: Send) -> None:
    hub = hub_of(scope)
    if hub.registry.total_clients >= hub.registry.max_clients:  # WIRE B5 checks the limit first
        await json_response(send, 429, {"error": "Too many concurrent clients"},
                            [(b"retry-after", b"5"), (b"cache-control", b"no-store")])
        return
    params = query_params(scope)
    competition_id, sport_id, mode = params.get("competitionId"), params.get("sportId"), params.get("mode")
    if not competition_id:
        await _bad_request(send, "competitionId is required")
    elif not sport_id:
        await _bad_request(send, "sportId is required")
    elif mode not in ("live", "prematch"):
        await _bad_request(send, "mode must be live or prematch")
    elif not _positive_int(competition_id):
        await _bad_request(send, "competitionId must be a positive integer")
    elif not _positive_int(sport_id):
        await _bad_request(send, "sportId must be a positive integer")
    else:
        await _serve_stream(scope, receive, send, "competition", f"{mode}:{competition_id}",
                            competition_id=competition_id, sport_id=sport_id, mode=mode,
                            sport_name=params.get("sportName") or None)


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


ROUTES = [counts_stream, live_stream, prematch_stream, live_game_stream, competition_odds_stream, hierarchy, warmup]
