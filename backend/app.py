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

from backend import apidoc
from backend.clock import SYSTEM_CLOCK, Clock
from backend.health.routes import ROUTES as HEALTH_ROUTES
from backend.health.service import HealthService
from backend.http import CORS_HEADERS_KEY, NO_STORE, RAW_SEND_KEY, CorsMiddleware, json_response, without_body
from backend.hub.results import ROUTES as RESULTS_ROUTES
from backend.hub.routes import ROUTES as HUB_ROUTES
from backend.hub.routes import STREAM_HANDLERS as HUB_STREAMS
from backend.hub.service import OddsHub
from backend.server import open_files_limit
from backend.settings import Settings, client_limits
from backend.tracker.routes import STREAMS as TRACKER_STREAMS
from backend.tracker.service import TrackerService
from backend.web import web_routes

log = logging.getLogger("backend")

# The SSE streams, served outside the router: path -> handler(scope, receive).
STREAMS = {**HUB_STREAMS, **TRACKER_STREAMS}


def _not_found(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    return Response("Not found", status_code=404, media_type="text/plain")


def _method_not_allowed(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    # The original's hub routes answer a non-GET with a JSON 404 (docs/api.md 0).
    return Response({"error": "Not found"}, status_code=404)


class OddsApp(Litestar):
    """Litestar with CORS and the security headers outside everything (404s and OPTIONS on unknown
    paths get them too), and a direct path for the SSE streams: a ``GET`` on a stream path goes
    straight to its ASGI handler, since every frame of an open stream's call chain is memory held
    per client; a ``HEAD`` there gets the GET's status and headers without opening a stream."""

    def __init__(self, *args: Any, cors_allow_origins: tuple[str, ...] = (), clock: Clock = SYSTEM_CLOCK,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._cors = CorsMiddleware(super().__call__, cors_allow_origins)
        self._clock = clock

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        handler = STREAMS.get(scope["path"]) if scope["type"] == "http" else None
        if handler is None:
            if scope["type"] != "http" or not scope["path"].startswith("/api/"):
                await self._cors(scope, receive, send)
                return
            started = self._clock.monotonic()
            try:
                await self._cors(scope, receive, send)
            finally:  # health's responseTime: the JSON API's handling time (streams and files are not timed)
                health = getattr(self.state, "health", None)
                if health is not None:
                    health.record_response(self._clock.monotonic() - started)
            return
        scope["app"] = self
        scope[RAW_SEND_KEY] = send
        scope[CORS_HEADERS_KEY] = cors = self._cors.headers_for(scope)
        if scope["method"] == "GET":
            await handler(scope, receive)
        elif scope["method"] == "HEAD":  # the GET's checks and headers, no stream (base.serve_stream)
            scope[RAW_SEND_KEY] = without_body(send)
            await handler(scope, receive)
        elif scope["method"] == "OPTIONS":
            await self._cors(scope, receive, send)
        else:  # the original's hub routes answer any other method with a JSON 404 (docs/api.md 0)
            await json_response(send, 404, {"error": "Not found"}, [*NO_STORE, *cors])


def _within_open_files(settings: Settings) -> Settings:
    """``settings`` with ``max_clients`` and ``tracker_max_clients`` lowered so that the two services'
    clients together fit in what the open-file limit leaves room for (``client_limits``; each lowering
    logged): a client past its limit then gets 429 + Retry-After instead of the 503 at the
    connection cap, or a failed accept and no answer at all."""
    files = open_files_limit()
    tracker_runs = bool(settings.live_tracker_ws_url) or settings.uses_simulator
    hub, tracker = client_limits(settings.max_clients, settings.tracker_max_clients if tracker_runs else None,
                                 files, settings.fd_reserve)
    lowered = [(what, before, after, other) for what, before, after, other in (
        ("SSE client limit", settings.max_clients, hub, "the live tracker"),
        ("live-tracker client limit", settings.tracker_max_clients, tracker, "the odds hub"))
        if after is not None and after != before]
    for what, before, after, other in lowered:
        shared = f", the rest shared with {other}" if tracker_runs else ""
        log.warning("%s lowered from %d to %d by the open-file limit (RLIMIT_NOFILE %s, %d kept for other files%s); "
                    "raise it with `ulimit -n` to serve more", what, before, after, files, settings.fd_reserve, shared)
    if not lowered:
        return settings
    return replace(settings, max_clients=hub, tracker_max_clients=settings.tracker_max_clients if tracker is None
                   else tracker)


def create_app(settings: Settings | None = None, clock: Clock = SYSTEM_CLOCK) -> Litestar:
    settings = settings or Settings.from_env()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if logging.getLevelName(settings.log_level) != logging.DEBUG:
        logging.getLogger("websockets").setLevel(logging.WARNING)  # one line per socket is noise
    configured, settings = settings, _within_open_files(settings)

    @asynccontextmanager
    async def services(app: Litestar) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            url = settings.swarm_ws_url
            tracker_url = settings.live_tracker_ws_url
            if settings.uses_simulator:
                from backend.simulator import SwarmSimulator

                sim = await stack.enter_async_context(SwarmSimulator(settings.simulator_config(), clock))
                app.state.simulator = sim
                url = sim.url
                tracker_url = tracker_url or sim.tracker_url
                log.info("embedded Swarm simulator at %s (tracker feed %s)", url, sim.tracker_url)
            if settings.redis_url:  # a member of a cluster: backend/cluster/runtime.py
                from backend.cluster.runtime import start_cluster

                if settings.uses_simulator:
                    log.warning("REDIS_URL with the embedded simulator: each process simulates a world of its own "
                                "and the leader's is the feed, so a new leader brings a new world (same games, "
                                "other prices); set SWARM_WS_URL to one feed (python -m backend.cluster does)")

                await start_cluster(stack, app, settings, clock, url, tracker_url, configured)
                yield
                return
            health = app.state.health = await stack.enter_async_context(HealthService(clock))
            app.state.hub = health.hub = await stack.enter_async_context(
                OddsHub(settings, clock, url, reporter=health))
            app.state.tracker = None
            if tracker_url:
                app.state.tracker = health.tracker = await stack.enter_async_context(
                    TrackerService(settings, clock, tracker_url, reporter=health))
            yield

    debug_routes: list[Any] = []
    if settings.debug_introspection:  # off by default: the path does not exist then (backend/debug.py)
        from backend.debug import ROUTES as DEBUG_ROUTES

        debug_routes = DEBUG_ROUTES
        log.warning("DEBUG_INTROSPECTION is on: /api/debug/introspection tells about the process's internals")
    app = OddsApp(
        route_handlers=[*HUB_ROUTES, *RESULTS_ROUTES, *HEALTH_ROUTES, *debug_routes, *apidoc.routes(),
                        *web_routes(settings.static_dir, bench_pages=settings.bench_pages,
                                   page_share=settings.page_share_seconds)],
        lifespan=[services],
        state=State({"settings": settings}),
        exception_handlers={NotFoundException: _not_found, MethodNotAllowedException: _method_not_allowed},
        cors_allow_origins=settings.cors_allow_origins,
        clock=clock,
        openapi_config=None,  # the document is built from typed stubs instead (backend/apidoc.py)
        logging_config=None,  # logging is configured above, once
    )
    return app
