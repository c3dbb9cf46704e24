"""The uvicorn protocol subclass: it costs an idle connection (an SSE client) next to nothing, and
its deadlines (the request head's, a refused connection's linger) run on the injected clock.

(Over real sockets, with the system clock: tests/integration/test_connection_limits.py.)"""

from __future__ import annotations

import asyncio
import sys

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from backend.clock import FakeClock
from backend.server import LINGER_SECONDS, guarded_protocol


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


class FakeTransport:
    """What the protocol writes and whether it closed (or shut its write side)."""

    def __init__(self) -> None:
        self.written = bytearray()
        self.closed = False
        self.eof = False

    def get_extra_info(self, name: str, default=None):
        return default

    def write(self, data: bytes) -> None:
        self.written += data

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self.eof = True

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True


def connection(clock: FakeClock, head_timeout: float = 10.0) -> tuple[HttpToolsProtocol, FakeTransport]:
    config = uvicorn.Config(_noop_app)
    config.load()
    protocol = guarded_protocol(32 * 1024, head_timeout, clock=clock)(
        config=config, server_state=ServerState(), app_state={}, _loop=asyncio.get_running_loop())
    transport = FakeTransport()
    protocol.connection_made(transport)
    return protocol, transport


async def test_a_silent_connection_is_closed_at_the_head_deadline_of_the_clock():
    clock = FakeClock()
    _protocol, transport = connection(clock, head_timeout=10.0)
    clock.advance(9.9)
    assert not transport.closed
    clock.advance(0.1)
    assert transport.closed and transport.written == b""  # nothing came: nothing to answer


async def test_half_a_head_at_the_deadline_is_a_408_and_the_socket_lingers_on_the_clock():
    clock = FakeClock()
    protocol, transport = connection(clock, head_timeout=10.0)
    clock.advance(4.0)
    protocol.data_received(b"GET /api/health HTTP/1.1\r\nHost: x\r\n")  # and then nothing more
    clock.advance(5.9)
    assert transport.written == b""
    clock.advance(0.1)  # 10 s after the connection was accepted, not after the first byte
    assert transport.written.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert transport.written.endswith(b'{"error":"request head not received within 10 s"}')
    assert transport.eof and not transport.closed  # its input is still read (and dropped) for a while
    clock.advance(LINGER_SECONDS - 0.1)
    assert not transport.closed
    clock.advance(0.1)
    assert transport.closed
