"""The live tracker's HTTP API: ``GET /api/live-tracker?gameId=`` (SSE; docs/api.md A8 and E).

Like the odds hub's streams it bypasses Litestar's router (``backend.app.OddsApp``) and goes through
the one shared path, ``backend.hub.base.serve_stream``: 400 JSON for a missing or invalid ``gameId``,
429 with ``Retry-After`` at a limit, then the game's channel. The stream opens with ``retry:`` only
(the original sent no padding or ``ready`` comment on this stream; ``ready`` is an event here). With
no tracker feed configured the service is absent and the stream answers 503.
"""

from __future__ import annotations

from functools import partial

from backend.hub.base import serve_stream

from .groups import parse_tracker

STREAMS = {"/api/live-tracker": partial(serve_stream, service="tracker", parse=parse_tracker)}
