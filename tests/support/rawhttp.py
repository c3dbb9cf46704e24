"""A deliberately small HTTP/1.1 client on a plain socket, for requests no HTTP library would send.

Blocking; from an async test run it in a thread (``asyncio.to_thread``) so the in-process server's
event loop keeps running. It reads exactly one response: a HEAD, 1xx, 204 and 304 have no body;
an event stream is read only until its opening has come (it never ends); otherwise
``Content-Length``, chunked, or until the server closes.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field


@dataclass
class RawResponse:
    status: int
    reason: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    stream: bool = False  # an event stream: ``body`` is only its beginning

    def header(self, name: str) -> str | None:
        """The last value of header ``name`` (case-insensitive), or None."""
        found = [v for k, v in self.headers if k.lower() == name.lower()]
        return found[-1] if found else None

    def header_names(self) -> list[str]:
        return [k.lower() for k, _ in self.headers]


class NoResponse(Exception):
    """The connection ended (or broke) before a complete status line and head arrived."""


class RawConnection:
    def __init__(self, port: int, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def __enter__(self) -> RawConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes) -> bool:
        """Send ``data``; False if the server had already closed or reset the connection."""
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            return False

    def _more(self) -> bool:
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            return False
        self.buf += chunk
        return bool(chunk)

    def _take(self, n: int) -> bytes:
        while len(self.buf) < n:
            if not self._more():
                raise NoResponse(f"connection ended {n - len(self.buf)} bytes short of a body")
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _line(self) -> bytes:
        while b"\r\n" not in self.buf:
            if not self._more():
                raise NoResponse("connection ended inside a line")
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def read_response(self, method: str = "GET", stream_opening: bytes = b": ready ") -> RawResponse:
        """One response; raises :class:`NoResponse` if the connection ends before its head."""
        while b"\r\n\r\n" not in self.buf:
            if not self._more():
                raise NoResponse(f"no complete response head (got {self.buf[:200]!r})")
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        version, status, reason = (status_line.split(" ", 2) + [""])[:3]
        if not version.startswith("HTTP/"):
            raise NoResponse(f"not a status line: {status_line!r}")
        response = RawResponse(int(status), reason,
                               [(k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in lines)])
        code = response.status
        if method == "HEAD" and (response.header("connection") or "").lower() == "close":
            while self._more():  # nothing should come; if something does (a server's own error page), keep it
                pass
            response.body, self.buf = self.buf, b""
            return response
        if method == "HEAD" or code in (204, 304) or 100 <= code < 200:
            return response
        if (response.header("content-type") or "").startswith("text/event-stream"):
            response.stream = True
            deadline = time.monotonic() + 10
            while stream_opening not in self.buf and time.monotonic() < deadline:
                if not self._more():
                    break
            response.body, self.buf = self.buf, b""
            return response
        length = response.header("content-length")
        if length is not None:
            response.body = self._take(int(length))
        elif (response.header("transfer-encoding") or "").lower() == "chunked":
            parts = []
            while size := int(self._line().split(b";")[0], 16):
                parts.append(self._take(size))
                self._take(2)
            while self._line():  # trailers, then the blank line
                pass
            response.body = b"".join(parts)
        else:
            while self._more():
                pass
            response.body, self.buf = self.buf, b""
        return response

    def closed_by_server(self, within: float) -> bool:
        """Whether the server closes the connection within ``within`` seconds (reading what comes)."""
        deadline = time.monotonic() + within
        while (left := deadline - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                return False
            except ConnectionResetError:
                return True
            if not chunk:
                return True
            self.buf += chunk
        return False


def request(method: str, target: str, headers: list[tuple[str, str]] | None = None, body: bytes = b"",
            host: str = "127.0.0.1") -> bytes:
    """Request bytes; header values are sent as latin-1 (any byte 0-255 can be put there)."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    lines += [f"{k}: {v}" for k, v in headers or []]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
