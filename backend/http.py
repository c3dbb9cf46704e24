"""HTTP plumbing shared by every route: CORS, security headers, HEAD, JSON errors, and raw ASGI
helpers for SSE.

* :class:`CorsMiddleware` adds the CORS headers of docs/api.md 0 and ``SECURITY_HEADERS`` to every
  response (``cors_headers``, which the HTTP protocol's own answers use too: ``backend/server.py``)
  -- errors and SSE included -- plus ``PAGE_CSP`` outside the API, answers every
  ``OPTIONS`` with 204, and answers ``HEAD`` wherever ``GET`` is answered (the same status and
  headers, no body).
* ``without_body`` turns a ``send`` into one that sends a response's start and no body (HEAD).
* ``json_response`` / ``text_response`` send a complete response through a raw ASGI ``send``.
* ``query_params`` decodes a raw query string (first value wins, like ``URLSearchParams.get``).
* ``decimal_int`` / ``positive_int`` read a numeric parameter: ASCII digits only, at most
  ``MAX_DIGITS`` of them, anything else is None (never an exception).
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
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

SECURITY_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]
"""On every response: no content sniffing (a JSON or text body is never run as a script or page),
and no Referer sent from our pages (they only ever fetch their own origin)."""

PAGE_CSP = (
    b"default-src 'none'; "
    b"script-src 'self' 'wasm-unsafe-eval'; "  # boot.js, Pyodide's modules; compiling its wasm
    b"worker-src 'self'; "  # the parse worker (a module worker from /worker/)
    b"connect-src 'self'; "  # the API, the SSE streams, Pyodide's files and wheels
    b"style-src 'self'; "
    b"style-src-attr 'unsafe-inline'; "  # rows carry style="background:#..." (team colours), set as markup
    b"img-src 'self' data:; "  # the data: favicon
    b"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
"""The Content-Security-Policy of everything outside the API (the page, its scripts, the worker's
script, which a worker's policy comes from): only this origin, and wasm compilation for Pyodide."""

API_PREFIXES = ("/api/", "/metrics")

CORS_HEADERS_KEY = "oddsbrowser.cors_headers"
RAW_SEND_KEY = "oddsbrowser.raw_send"


MAX_DIGITS = 15
"""Longest numeric parameter we read: 15 digits stay below 2**53 (exact as a JavaScript number) and
far below ``int()``'s 4,300-digit limit."""


def decimal_int(text: str | None) -> int | None:
    """The integer ``text`` spells in 1 to ``MAX_DIGITS`` ASCII digits (``0`` to ``9`` only), else None.

    No sign, no whitespace, no ``_``, no superscripts or other scripts' digits (``str.isdigit`` and
    ``int`` accept those; a client must not be able to name one thing two ways).
    """
    if text is None or not 0 < len(text) <= MAX_DIGITS or not text.isascii() or not text.isdigit():
        return None
    return int(text)


def positive_int(text: str | None) -> int | None:
    """``decimal_int(text)`` if it is above 0, else None: what an id parameter must be."""
    value = decimal_int(text)
    return value if value else None


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


def cors_headers(request_headers: Iterable[tuple[bytes, bytes]], allow_origins: frozenset[bytes]
                 ) -> list[tuple[bytes, bytes]]:
    """The CORS and security headers of every response (docs/api.md 0) to a request with these
    (lower-case) headers: its ``Origin`` echoed if allowed (with ``Vary: Origin``), else ``*``."""
    origin = next((v for k, v in request_headers if k == b"origin"), None)
    if origin is not None and origin in allow_origins:
        headers = [(b"access-control-allow-origin", origin), (b"vary", b"Origin")]
    else:
        headers = [(b"access-control-allow-origin", b"*")]
    headers += [(b"access-control-allow-methods", b"GET,POST,OPTIONS"),
                (b"access-control-allow-headers", b"Content-Type"),
                (b"access-control-max-age", b"86400"),
                *SECURITY_HEADERS]
    return headers


class CorsMiddleware:
    """docs/api.md 0: echo an allowed Origin (with ``Vary: Origin``), else ``*``; OPTIONS is 204."""

    def __init__(self, app: ASGIApp, allow_origins: tuple[str, ...] = ()) -> None:
        self.app = app
        self.allow_origins = frozenset(o.encode() for o in allow_origins)

    def headers_for(self, scope: Scope) -> list[tuple[bytes, bytes]]:
        return cors_headers(scope.get("headers", ()), self.allow_origins)

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
        if not scope["path"].startswith(API_PREFIXES):
            cors = [*cors, (b"content-security-policy", PAGE_CSP)]
        if scope["method"] == "HEAD":
            # The app answers it as a GET; the server's own scope still says HEAD, so it sends no
            # body either (a copy, not an update).
            scope = {**scope, "method": "GET"}
            send = without_body(send)
        await self.app(scope, receive, with_headers(send, cors))


def with_headers(send: Send, extra: list[tuple[bytes, bytes]]) -> Send:
    """``send`` that adds ``extra`` headers (unless already present) to the response start."""

    async def send_with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            names = {k.lower() for k, _ in message.get("headers", ())}
            message["headers"] = [*message.get("headers", ()), *(h for h in extra if h[0] not in names)]
        await send(message)

    return send_with_headers


def parse_event_id(text: str | None) -> tuple[str, int] | None:
    """A ``Last-Event-ID`` of ours (``<epoch>-<seq>``) as ``(epoch, seq)``; None for anything else."""
    if not text or len(text) > 128:
        return None
    epoch, sep, seq = text.strip().rpartition("-")
    pos = decimal_int(seq) if sep and epoch else None
    return (epoch, pos) if pos is not None else None


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


def accepted_encodings(header: str | None) -> list[str]:
    """The encodings of ``Accept-Encoding`` we have (``br``, ``gzip``), the client's preference
    first (by q-value; ``br`` before ``gzip`` on a tie). ``q=0`` refuses one; ``*`` stands for those
    not named."""
    found: dict[str, float] = {}
    star: float | None = None
    for part in (header or "").split(","):
        name, _, params = part.strip().partition(";")
        name = name.strip().lower()
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if name == "*":
            star = q if star is None else star
        elif name in ("br", "gzip") and name not in found:
            found[name] = q
    for known in ("br", "gzip"):  # "*" stands for the ones not named (an explicit name wins)
        if known not in found and star is not None:
            found[known] = star
    ranked = sorted((enc for enc, q in found.items() if q > 0), key=lambda enc: (-found[enc], enc != "br"))
    return ranked


def backlogged(send: Send) -> bool:
    """Whether the connection behind an ASGI ``send`` holds bytes its transport has not yet handed
    to the kernel (the client is not keeping up); False where that cannot be seen."""
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    try:
        return bool(transport.get_write_buffer_size()) if transport is not None else False
    except (AttributeError, RuntimeError):
        return False


class DirectWriter:
    """Body writes of one streaming response straight to uvicorn's transport, skipping the ASGI
    ``send`` coroutine: the fan-out's per-client cost per event is then one ``transport.write``.

    Only for a response uvicorn's httptools protocol is sending with chunked encoding (what every
    SSE stream is): :func:`direct_writer` returns None otherwise, and for any other server. A write
    goes direct only while uvicorn itself would write at once (:meth:`write_now`: not paused by
    flow control, not disconnected); otherwise the caller uses ``send``, which waits for the drain as
    always, so back-pressure and the stuck-client rules are unchanged. The framing is the same as
    uvicorn's (``<hex length>\\r\\n<body>\\r\\n``, see :func:`chunk`).
    """

    __slots__ = ("_cycle", "_flow", "_write")

    def __init__(self, cycle: Any) -> None:
        self._cycle = cycle
        self._flow = cycle.flow
        self._write: Callable[[bytes], None] = cycle.transport.write

    def write_now(self, framed: bytes) -> bool:
        """Write one framed chunk if uvicorn would write it at once (True); False: use ``send``."""
        if self._flow.write_paused or self._cycle.disconnected:
            return False
        self._write(framed)
        return True


def chunk(body: bytes) -> bytes:
    """``body`` framed as one HTTP/1.1 chunk, as uvicorn frames it."""
    return b"%x\r\n%b\r\n" % (len(body), body)


def direct_writer(send: Send) -> DirectWriter | None:
    """A :class:`DirectWriter` for the response behind ``send`` (after its start was sent), or None."""
    cycle = getattr(send, "__self__", None)
    if (type(cycle).__module__ != "uvicorn.protocols.http.httptools_impl" or cycle.chunked_encoding is not True
            or not cycle.response_started or cycle.response_complete or cycle.scope.get("method") == "HEAD"):
        return None
    return DirectWriter(cycle)


def without_body(send: Send) -> Send:
    """``send`` for a HEAD: the response start as given, then an empty, final body; the app's
    further body messages are dropped."""
    done = False

    async def send_head(message: Message) -> None:
        nonlocal done
        if message["type"] == "http.response.body":
            if done:
                return
            done = True
            message = {"type": "http.response.body", "body": b"", "more_body": False}
        await send(message)

    return send_head
