"""How uvicorn serves the app: the connection limits uvicorn leaves open, and the one Config builder.

uvicorn's httptools protocol (its default with ``uvicorn[standard]``) puts no bound on a request
head's size and no deadline on reading it: a client can send a 64 MB header or trickle one byte a
minute (slowloris), and a connection that never sends anything stays open for good. Its keep-alive
timer only runs *between* requests. :class:`GuardedHttpToolsProtocol` adds the two missing limits
(and answers the connection cap's 503 itself, below) and changes nothing else -- responses, and so
every SSE write, go through uvicorn's own code:

* **head size**: more than ``max_head_bytes`` of request line plus headers is answered ``431``
  (JSON ``{"error": ...}``, ``Connection: close``). Bytes are counted as they arrive, so a head that
  never ends is cut off after at most one read beyond the limit; a complete head is measured
  exactly.
* **head deadline**: a connection must deliver a complete head within ``head_timeout`` seconds of
  being accepted, and each later request within ``head_timeout`` of its first byte (the idle time
  between requests is uvicorn's ``timeout_keep_alive``). Late: ``408`` if part of a head came,
  otherwise the connection is just closed.

Both deadlines -- the head's, and how long a refused connection lingers (:meth:`_reject`) -- run on
the injected :class:`~backend.clock.Clock` (``guarded_protocol(clock=...)``), so a test drives them
on a ``FakeClock``; uvicorn's own keep-alive timer stays on the event loop's clock.

The protocol's own answers -- those two, and the ``503`` at uvicorn's connection cap, which it
answers in uvicorn's place (uvicorn's has a plain-text body and none of our headers) -- carry the
headers of every app response: the CORS headers for ``cors_allow_origins`` and the security
headers (``backend.http.cors_headers``), with a JSON ``{"error": ...}`` body.

:func:`uvicorn_config` builds the Config that ``python -m backend`` and the tests' real servers
run with, so both have exactly these limits. It also caps concurrent connections below the
process's open-file limit (then 503) so an accept never fails for want of a file descriptor; the
SSE client limits below that are set in :func:`backend.app.create_app`.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from typing import Any

import msgspec
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from backend.clock import SYSTEM_CLOCK, Clock, Timer
from backend.http import cors_headers
from backend.settings import Settings

log = logging.getLogger(__name__)

_READING_BODY = -1  # the head is complete; the request's body and response are under way
_REJECTED = -2  # answered by the protocol itself (431/408); the transport is closing

# File descriptors left for what is not an HTTP connection (listeners, the upstream socket, the
# embedded simulator's sockets, files being served, logs) when capping uvicorn's connections.
CONNECTION_FD_HEADROOM = 32

LINGER_SECONDS = 2.0  # how long a rejected connection's input is still read (and dropped)
LINGER_BYTES = 1024 * 1024  # ... and how much of it

_REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large", 503: b"Service Unavailable"}


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a bound on the request head's size and a deadline for it.

    Configure a subclass with :func:`guarded_protocol`; the class attributes are its limits.
    """

    # Slots, not instance attributes: uvicorn's protocol already has 28, and past 30 an instance
    # dict stops sharing its keys -- 1.3 KiB more for every connection, idle SSE clients included.
    __slots__ = ("_discarded", "_head_bytes", "_head_timer")

    max_head_bytes = 32 * 1024
    head_timeout = 10.0
    cors_allow_origins: frozenset[bytes] = frozenset()
    clock: Clock = SYSTEM_CLOCK

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes = 0  # bytes of the current head received so far, or _READING_BODY / _REJECTED
        self._head_timer: Timer | None = None
        self._discarded = 0  # bytes read and dropped after the protocol answered a request itself

    # -- the connection ---------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:  # type: ignore[override]
        super().connection_made(transport)  # type: ignore[arg-type]
        self._arm_head_timer()  # a connection that never sends a request is closed too

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._head_bytes == _REJECTED:  # lingering after a 431/408: read and drop, up to a point
            self._discarded += len(data)
            if self._discarded > LINGER_BYTES:
                self.transport.close()
            return
        if self._head_bytes >= 0:
            if self._head_timer is None:  # the first byte of the next request on a kept-alive connection
                self._arm_head_timer()
            self._head_bytes += len(data)
        super().data_received(data)
        if self._head_bytes > self.max_head_bytes and not self.transport.is_closing():
            self._reject(431, f"request head exceeds {self.max_head_bytes} bytes")

    # -- parser callbacks -------------------------------------------------------------------------
    def on_headers_complete(self) -> None:
        if self._head_bytes == _REJECTED:
            return
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size > self.max_head_bytes:
            self._reject(431, f"request head exceeds {self.max_head_bytes} bytes")
            return
        if self._over_connection_cap():
            # uvicorn would answer its own 503 (plain text, none of our headers): answer it here instead.
            self.logger.warning("Exceeded concurrency limit.")
            self._reject(503, "too many connections; try again shortly", linger=False)
            return
        self._cancel_head_timer()
        self._head_bytes = _READING_BODY
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if self._head_bytes != _REJECTED:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._head_bytes == _REJECTED:
            return
        self._head_bytes = 0  # whatever comes next is the next request's head
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        # The parser may find the request malformed after the head was already refused (an invalid
        # Transfer-Encoding is only judged once the head is complete): it had its one answer.
        if self._head_bytes != _REJECTED:
            super().send_400_response(msg)

    # -- limits -----------------------------------------------------------------------------------
    def _arm_head_timer(self) -> None:
        self._head_timer = self.clock.call_later(self.head_timeout, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or self._head_bytes < 0:
            return
        responding = self.cycle is not None and not self.cycle.response_complete
        if self._head_bytes > 0 and not responding:
            self._reject(408, f"request head not received within {self.head_timeout:g} s")
        else:  # nothing sent at all, or a next request started while a response is still under way
            self._head_bytes = _REJECTED
            self.transport.close()

    def _over_connection_cap(self) -> bool:
        """uvicorn's test for its 503 (``limit_concurrency``), when no response is under way on this
        connection (a pipelined request then gets uvicorn's own 503, after the response before it)."""
        limit = self.limit_concurrency
        return (limit is not None and (len(self.connections) >= limit or len(self.tasks) >= limit)
                and (self.cycle is None or self.cycle.response_complete))

    def _reject(self, status: int, message: str, linger: bool = True) -> None:
        """Answer ``status`` with a JSON error and close: the request never reaches the app.

        The answer carries the headers every app response has (CORS and security headers). The
        close lingers (as nginx's ``lingering_close``): closing a socket with unread input makes
        the kernel send a reset, which can destroy the answer before the client reads it. So the
        write side is shut after the answer, input is dropped, and the socket closes when the
        client does, after ``LINGER_SECONDS``, or after ``LINGER_BYTES`` more input. Without
        ``linger`` (a complete head, at the connection cap, where descriptors are short) it closes
        once the answer is written.
        """
        self._cancel_head_timer()
        self._head_bytes = _REJECTED
        body = msgspec.json.encode({"error": message})
        head = [b"HTTP/1.1 %d %s\r\n" % (status, _REASONS[status])]
        headers = [*self.server_state.default_headers, (b"content-type", b"application/json"),
                   (b"content-length", b"%d" % len(body)), *cors_headers(self.headers or (), self.cors_allow_origins),
                   (b"connection", b"close")]
        head += [name + b": " + value + b"\r\n" for name, value in headers]
        head.append(b"\r\n")
        transport = self.transport
        transport.write(b"".join(head) + body)
        if linger and transport.can_write_eof():
            transport.write_eof()
            self.clock.call_later(LINGER_SECONDS, transport.close)
        else:
            transport.close()


def guarded_protocol(max_head_bytes: int, head_timeout: float, cors_allow_origins: tuple[str, ...] = (),
                     clock: Clock = SYSTEM_CLOCK) -> type[GuardedHttpToolsProtocol]:
    """A :class:`GuardedHttpToolsProtocol` with these limits (and the app's CORS origins, for its own
    answers; ``clock`` for its deadlines), to pass as ``uvicorn.Config(http=...)``."""
    return type("GuardedHttpToolsProtocol", (GuardedHttpToolsProtocol,),
                {"__slots__": (), "max_head_bytes": max_head_bytes, "head_timeout": head_timeout,
                 "cors_allow_origins": frozenset(o.encode() for o in cors_allow_origins), "clock": clock})


def open_files_limit() -> int | None:
    """The process's soft RLIMIT_NOFILE, or None when it is unlimited."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft == resource.RLIM_INFINITY else soft


def uvicorn_config(app: Any, settings: Settings, clock: Clock = SYSTEM_CLOCK, **overrides: Any) -> uvicorn.Config:
    """The uvicorn Config for ``app`` under ``settings`` (``clock`` runs the request-head deadlines);
    ``overrides`` win (tests: port 0, ...)."""
    files = open_files_limit()
    options: dict[str, Any] = dict(
        host=settings.host, port=settings.port, log_level=settings.log_level.lower(), lifespan="on",
        timeout_graceful_shutdown=3, proxy_headers=settings.proxy_headers,
        http=guarded_protocol(settings.max_request_head_bytes, settings.request_head_timeout,
                              settings.cors_allow_origins, clock),
        timeout_keep_alive=settings.keep_alive_timeout,
        ws="none",  # the app serves no WebSocket; an Upgrade request is answered as plain HTTP
        limit_concurrency=max(1, files - CONNECTION_FD_HEADROOM) if files is not None else None,
    )
    options.update(overrides)
    return uvicorn.Config(app, **options)
