"""The uvicorn protocol subclass costs an idle connection (an SSE client) next to nothing."""

from __future__ import annotations

import asyncio
import sys

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from backend.server import guarded_protocol


async def _noop_app(scope, receive, send) -> None:  # pragma: no cover - never called
    pass


async def test_the_guarded_protocol_keeps_uvicorn_s_per_connection_footprint():
    config = uvicorn.Config(_noop_app)
    config.load()
    state = ServerState()
    plain = HttpToolsProtocol(config=config, server_state=state, app_state={}, _loop=asyncio.get_running_loop())
    guarded = guarded_protocol(32 * 1024, 10.0)(config=config, server_state=state, app_state={},
                                                 _loop=asyncio.get_running_loop())
    for protocol in (plain, guarded):
        protocol.url = b""  # set per request by on_message_begin
    # Past 30 attributes an instance dict no longer shares its keys: 1.3 KiB more per connection.
    assert sys.getsizeof(guarded.__dict__) == sys.getsizeof(plain.__dict__)
    assert sys.getsizeof(guarded) - sys.getsizeof(plain) <= 3 * 8  # its own state: three slots
