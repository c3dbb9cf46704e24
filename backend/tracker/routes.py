"""The live tracker's HTTP API: ``GET /api/live-tracker?gameId=`` (SSE; docs/api.md A8 and E).

Like the odds hub's streams it bypasses Litestar's router (``backend.app.OddsApp``) and goes through
the one shared path, ``backend.hub.base.serve_stream``: 400 JSON for a missing or invalid ``gameId``,
429 with ``Retry-After`` at a limit, then the game's channel. The stream opens with ``retry:`` only
(the original sent no padding or ``ready`` comment on this stream; ``ready`` is an event here).
"""

from __future__ import annotations

from litestar.types import Receive, Scope

from backend.http import CORS_HEADERS_KEY, NO_STORE, RAW_SEND_KEY, json_response
from backend.hub.base import serve_stream

from .groups import parse_tracker
from .service import TrackerService

NOT_CONFIGURED = "the live tracker is not configured (set LIVE_TRACKER_WS_URL)"


async def serve_tracker_stream(scope: Scope, receive: Receive) -> None:
    tracker: TrackerService | None = getattr(scope["app"].state, "tracker", None)
    if tracker is None:
        await json_response(scope[RAW_SEND_KEY], 503, {"error": NOT_CONFIGURED},
                            [*NO_STORE, *scope.get(CORS_HEADERS_KEY, [])])
        return
    await serve_stream(tracker, scope, receive, parse_tracker, lambda: tracker.retry_frame)


STREAMS = {"/api/live-tracker": serve_tracker_stream}
