"""``/api/health`` (docs/api.md A2: every field the original UI reads, and ours) and ``/metrics``
(Prometheus text): both are renderings of one :class:`~.snapshot.HealthSnapshot` taken from the
health service (``service.py``).
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get

from .prometheus import CONTENT_TYPE, registry_for, render
from .service import HealthService
from .snapshot import to_json


def _health(request: Request[Any, Any, Any]) -> HealthService:
    return request.app.state.health


@get("/api/health", sync_to_thread=False)
def health(request: Request[Any, Any, Any]) -> Response[bytes]:
    return Response(to_json(_health(request).snapshot()), media_type="application/json",
                    headers={"Cache-Control": "no-store"})


@get("/metrics", sync_to_thread=False)
def metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
    state = request.app.state
    registry = getattr(state, "metrics_registry", None)
    if registry is None:
        registry = state.metrics_registry = registry_for(_health(request).snapshot)
    return Response(render(registry), media_type=CONTENT_TYPE, headers={"Cache-Control": "no-store"})


ROUTES = [health, metrics]
