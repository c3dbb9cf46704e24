"""The odds hub's HTTP API (WIRE.md A1, A3, B1-B4).

SSE streams are raw ASGI handlers: the client is registered before the response starts (so a
limit can still answer 429) and released in a ``finally`` that runs whatever happens after that --
a disconnect, a failed write, shutdown. A disconnect is noticed by a watcher on ``receive()``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Hashable
from typing import Any

from litestar import Request, Response, get
from litestar.handlers import asgi
from litestar.types import Receive, Scope, Send

from backend.http import json_response, query_params
from backend.swarm.session import SwarmRequestError

from .caches import HierarchyError
from .fanout import SseClient, sse_comment
from .groups import LimitExceeded
from .service import OddsHub

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


async def _serve_stream(scope: Scope, receive: Receive, send: Send, kind: str, ident: str = "") -> None:
    hub = hub_of(scope)
    try:
        key, client, initial = hub.join(kind, ident)
    except LimitExceeded as exc:
        await json_response(send, 429, {"error": str(exc)},
                            [(b"retry-after", str(exc.retry_after).encode()), (b"cache-control", b"no-store")])
        return
    await stream_client(hub, key, client, initial, receive, send)


async def stream_client(hub: OddsHub, key: Hashable, client: SseClient, initial: bytes,
                        receive: Receive, send: Send) -> None:
    """Write ``client``'s frames until it leaves; always releases it."""
    watcher: asyncio.Task[None] | None = None
    try:
        watcher = asyncio.create_task(_watch_disconnect(receive, client))
        await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
        await send({"type": "http.response.body", "body": initial, "more_body": True})
        heartbeat = hub.settings.heartbeat_interval
        while not client.closed:
            await client.wait(heartbeat)
            if client.pending:
                chunk = client.take()
            elif client.closed:
                break
            else:
                chunk = sse_comment(f"ping {int(hub.clock.time() * 1000)}")
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        if client.close_reason in ("shutdown", "group closed"):
            await send({"type": "http.response.body", "body": b"", "more_body": False})
    except OSError as exc:  # the peer went away mid-write
        log.debug("stream %r write failed: %s", key, exc)
    finally:
        if watcher is not None:
            watcher.cancel()
        hub.leave(key, client)


async def _watch_disconnect(receive: Receive, client: SseClient) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            client.close("disconnected")
            return


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


ROUTES = [counts_stream, live_stream, prematch_stream, live_game_stream, hierarchy, warmup]
