"""``create_app()``: wiring only -- settings, services, routes, lifespans.

Run it with ``python -m backend`` (prints the URL, shuts down promptly with streams open) or
``litestar --app backend.app:create_app run``. With no ``SWARM_WS_URL`` the embedded simulator is
started first and the hub connects to it over a real WebSocket, exactly as to a real feed.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import replace
from typing import Any

from litestar import Litestar, Request, Response
from litestar.datastructures import State
from litestar.exceptions import MethodNotAllowedException, NotFoundException

from backend.clock import SYSTEM_CLOCK, Clock
from backend.health.routes import ROUTES as HEALTH_ROUTES
from backend.http import (
    CORS_HEADERS_KEY,
    NO_STORE,
    RAW_SEND_KEY,
    CorsMiddleware,
    json_response,
    query_params,
    without_body,
)
from backend.hub.groups import LimitExceeded
from backend.hub.results import ROUTES as RESULTS_ROUTES
from backend.hub.routes import LIMIT_BEFORE_VALIDATION, SSE_HEADERS, STREAMS, serve_stream
from backend.hub.routes import ROUTES as HUB_ROUTES
from backend.hub.service import OddsHub
from backend.server import open_files_limit
from backend.settings import Settings, client_limit
from backend.web import web_routes

log = logging.getLogger("backend")


def _not_found(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    return Response("Not found", status_code=404, media_type="text/plain")


def _method_not_allowed(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    # The original's hub routes answer a non-GET with a JSON 404 (WIRE.md 0).
    return Response({"error": "Not found"}, status_code=404)


class OddsApp(Litestar):
    """Litestar with CORS and the security headers outside everything (404s and OPTIONS on unknown
    paths get them too), and a direct path for the SSE streams: a ``GET`` on a stream path goes
    straight to its ASGI handler, since every frame of an open stream's call chain is memory held
    per client; a ``HEAD`` there gets the GET's status and headers without opening a stream."""

    def __init__(self, *args: Any, cors_allow_origins: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._cors = CorsMiddleware(super().__call__, cors_allow_origins)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        parse = STREAMS.get(scope["path"]) if scope["type"] == "http" else None
        if parse is None:
            await self._cors(scope, receive, send)
            return
        scope["app"] = self
        scope[RAW_SEND_KEY] = send
        scope[CORS_HEADERS_KEY] = cors = self._cors.headers_for(scope)
        if scope["method"] == "GET":
            await serve_stream(scope, receive, parse)
        elif scope["method"] == "HEAD":
            await _head_of_stream(scope, parse, without_body(send), cors)
        elif scope["method"] == "OPTIONS":
            await self._cors(scope, receive, send)
        else:  # the original's hub routes answer any other method with a JSON 404 (WIRE.md 0)
            await json_response(send, 404, {"error": "Not found"}, [*NO_STORE, *cors])


async def _head_of_stream(scope: Any, parse: Any, send: Any, cors: list[tuple[bytes, bytes]]) -> None:
    """HEAD on a stream path: the status and headers a GET would start with -- the 429 of a full hub,
    the 400 of a bad query, else the SSE headers -- without joining a group or opening a stream."""
    hub: OddsHub = scope["app"].state.hub
    try:
        if scope["path"] in LIMIT_BEFORE_VALIDATION:  # the GET's order of checks (WIRE B5)
            hub.registry.check_client_limit()
        spec = parse(query_params(scope))
        if isinstance(spec, str):
            await json_response(send, 400, {"error": spec}, [*NO_STORE, *cors])
            return
        hub.registry.check_client_limit()
    except LimitExceeded as exc:
        await json_response(send, 429, {"error": str(exc)},
                            [(b"retry-after", str(exc.retry_after).encode()), *NO_STORE, *cors])
        return
    await send({"type": "http.response.start", "status": 200, "headers": [*SSE_HEADERS, *cors]})
    await send({"type": "http.response.body", "body": b""})


def _within_open_files(settings: Settings) -> Settings:
    """``settings`` with ``max_clients`` lowered to what the open-file limit leaves room for (logged):
    a client past it then gets 429 + Retry-After instead of a failed accept and no answer at all."""
    files = open_files_limit()
    limit = client_limit(settings.max_clients, files, settings.fd_reserve)
    if limit == settings.max_clients:
        return settings
    log.warning("SSE client limit lowered from %d to %d by the open-file limit (RLIMIT_NOFILE %s, %d kept "
                "for other files); raise it with `ulimit -n` to serve more", settings.max_clients, limit, files,
                settings.fd_reserve)
    return replace(settings, max_clients=limit)


def create_app(settings: Settings | None = None, clock: Clock = SYSTEM_CLOCK) -> Litestar:
    settings = settings or Settings.from_env()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if logging.getLevelName(settings.log_level) != logging.DEBUG:
        logging.getLogger("websockets").setLevel(logging.WARNING)  # one line per socket is noise
    settings = _within_open_files(settings)

    @asynccontextmanager
    async def services(app: Litestar) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            url = settings.swarm_ws_url
            if settings.uses_simulator:
                from backend.simulator import SimulatorConfig, SwarmSimulator

                sim = await stack.enter_async_context(SwarmSimulator(SimulatorConfig(
                    host=settings.sim_host, port=settings.sim_port, seed=settings.sim_seed,
                    live_games=settings.sim_live_games, prematch_games=settings.sim_prematch_games,
                    price_changes_per_second=settings.sim_price_changes_per_second), clock))
                app.state.simulator = sim
                url = sim.url
                log.info("embedded Swarm simulator at %s", url)
            app.state.hub = await stack.enter_async_context(OddsHub(settings, clock, url))
            yield

    app = OddsApp(
        route_handlers=[*HUB_ROUTES, *RESULTS_ROUTES, *HEALTH_ROUTES, *web_routes(settings.static_dir)],
        lifespan=[services],
        state=State({"settings": settings}),
        exception_handlers={NotFoundException: _not_found, MethodNotAllowedException: _method_not_allowed},
        cors_allow_origins=settings.cors_allow_origins,
        openapi_config=None,
        logging_config=None,  # logging is configured above, once
    )
    return app
