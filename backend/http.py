"""HTTP plumbing shared by every route: CORS, JSON errors, and raw ASGI helpers for SSE.

* :class:`CorsMiddleware` adds the CORS headers of docs/api.md 0 to every response -- errors and
  SSE included -- and answers every ``OPTIONS`` with 204.
* ``json_response`` / ``text_response`` send a complete response through a raw ASGI ``send``.
* ``query_params`` decodes a raw query string (first value wins, like ``URLSearchParams.get``).
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

import msgspec

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_ENCODER = msgspec.json.Encoder()

NO_STORE = [(b"cache-control", b"no-store")]

CORS_HEADERS_KEY = "oddsbrowser.cors_headers"
RAW_SEND_KEY = "oddsbrowser.raw_send"


def query_params(scope: Scope) -> dict[str, str]:
    params: dict[str, str] = {}
    for key, value in parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True):
        params.setdefault(key, value)
    return params


async def json_response(send: Send, status: int, body: Any, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    payload = _ENCODER.encode(body)
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
        *(headers if headers is not None else NO_STORE)]})
    await send({"type": "http.response.body", "body": payload})


class CorsMiddleware:
    """docs/api.md 0: echo an allowed Origin (with ``Vary: Origin``), else ``*``; OPTIONS is 204."""

    def __init__(self, app: ASGIApp, allow_origins: tuple[str, ...] = ()) -> None:
        self.app = app
        self.allow_origins = frozenset(o.encode() for o in allow_origins)

    def headers_for(self, scope: Scope) -> list[tuple[bytes, bytes]]:
        origin = next((v for k, v in scope.get("headers", ()) if k == b"origin"), None)
        if origin is not None and origin in self.allow_origins:
            headers = [(b"access-control-allow-origin", origin), (b"vary", b"Origin")]
        else:
            headers = [(b"access-control-allow-origin", b"*")]
        headers += [(b"access-control-allow-methods", b"GET,POST,OPTIONS"),
                    (b"access-control-allow-headers", b"Content-Type"),
                    (b"access-control-max-age", b"86400")]
        return headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cors = self.headers_for(scope)
        # Streaming handlers add the headers themselves and write through the unwrapped send,
        # which saves a coroutine hop on every chunk.
        scope[CORS_HEADERS_KEY] = cors
        scope[RAW_SEND_KEY] = send
        if scope["method"] == "OPTIONS":
            await send({"type": "http.response.start", "status": 204, "headers": cors})
            await send({"type": "http.response.body", "body": b""})
            return

        await self.app(scope, receive, with_headers(send, cors))


def with_headers(send: Send, extra: list[tuple[bytes, bytes]]) -> Send:
    """``send`` that adds ``extra`` headers (unless already present) to the response start."""

    async def send_with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            names = {k.lower() for k, _ in message.get("headers", ())}
            message["headers"] = [*message.get("headers", ()), *(h for h in extra if h[0] not in names)]
        await send(message)

    return send_with_headers


MAX_ID_DIGITS = 15  # every id we accept is below 2**53 (a JavaScript-safe integer)


def positive_int(text: str | None) -> int | None:
    """``text`` as an id: 1 to 15 ASCII digits, not zero; anything else is None.

    ``str.isdigit`` would accept superscripts and other scripts' digits, and ``int`` would then
    fail or read them as a different number, so only ``0-9`` count.
    """
    if text is None or not 0 < len(text) <= MAX_ID_DIGITS or not text.isascii() or not text.isdigit():
        return None
    value = int(text)
    return value if value > 0 else None


def parse_event_id(text: str | None) -> tuple[str, int] | None:
    """A ``Last-Event-ID`` of ours (``<epoch>-<seq>``) as ``(epoch, seq)``; None for anything else."""
    if not text or len(text) > 128:
        return None
    epoch, sep, seq = text.strip().rpartition("-")
    if not sep or not epoch or not seq or len(seq) > MAX_ID_DIGITS or not seq.isascii() or not seq.isdigit():
        return None
    return epoch, int(seq)


def abort_connection(send: Send) -> bool:
    """Abort the connection behind an ASGI ``send`` with a TCP reset; False if it cannot be reached.

    ASGI has no abort, but uvicorn's ``send`` is a method of its request cycle, which holds the
    asyncio transport (both the httptools and the h11 implementations). ``SO_LINGER`` 0 makes the
    close a reset: the kernel drops whatever is still queued for a client that stopped reading,
    instead of keeping the socket and its buffers while it waits to deliver them. The server then
    sees the connection as lost, so the handler's ``receive()`` reports a disconnect.
    """
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None or not hasattr(transport, "abort"):
        return False
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    transport.abort()
    return True
