"""A raw-socket SSE client for the soak and chaos tools: HTTP/1.1 head, chunked body, SSE messages.

No HTTP library: the tools need what libraries hide -- the socket's receive buffer size, a close that
is a TCP reset (``SO_LINGER`` 0), a client that stops reading with data pending -- and a parser that
takes the stream one byte at a time as happily as in one piece (the fault proxy slices it).

* :class:`SseParser` follows the HTML standard's event-stream rules (lines end in LF, CRLF or CR;
  ``id``, ``event``, ``data``, ``retry`` fields; ``:`` comments; a blank line dispatches). Every
  message is kept with its own ``id`` field (None when it had none), so a history shows which
  messages were a snapshot's (no id) and which id-only message said where the client stands.
* :class:`ChunkedDecoder` undoes ``Transfer-Encoding: chunked``.
* :class:`SseConnection` opens one request over a real socket and feeds both.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from dataclasses import dataclass, field


@dataclass(slots=True)
class Message:
    """One dispatched SSE message: its ``id`` field (None if the message had none), its event name
    (``message`` by default, as a browser names it), its data (None if it had no data line, e.g. an
    id-only message), and when its last byte arrived (``time.time()``)."""

    id: str | None
    event: str
    data: str | None
    at: float


@dataclass(slots=True)
class Comment:
    text: str
    at: float


class SseParser:
    """Incremental ``text/event-stream`` parser. ``feed(bytes)`` returns the messages and comments
    completed by those bytes, in order. ``last_event_id`` is the browser's ``lastEventId``: set by
    every dispatched message that carried an ``id`` field (an id-only message included)."""

    def __init__(self) -> None:
        self._buf = b""
        self._cr = False  # the previous chunk ended in CR: a following LF belongs to it
        self._id: str | None = None
        self._event = ""
        self._data: list[str] = []
        self._has_data = False
        self._has_field = False
        self.last_event_id = ""
        self.retry_ms: int | None = None

    def feed(self, data: bytes, now: float | None = None) -> list[Message | Comment]:
        at = time.time() if now is None else now
        if self._cr and data.startswith(b"\n"):
            data = data[1:]
        self._cr = False
        buf = self._buf + data
        out: list[Message | Comment] = []
        start = 0
        n = len(buf)
        while start < n:
            lf = buf.find(b"\n", start)
            cr = buf.find(b"\r", start)
            if lf < 0 and cr < 0:
                break
            if cr < 0 or (0 <= lf < cr):
                end, nxt = lf, lf + 1
            elif cr == n - 1:  # a CR at the end: the line ends here; an LF may follow in the next chunk
                end, nxt = cr, cr + 1
                self._cr = True
            else:
                end = cr
                nxt = cr + 2 if buf[cr + 1:cr + 2] == b"\n" else cr + 1
            self._line(buf[start:end].decode("utf-8", "replace"), at, out)
            start = nxt
        self._buf = buf[start:]
        return out

    def _line(self, line: str, at: float, out: list[Message | Comment]) -> None:
        if line == "":
            if self._has_field:
                if self._id is not None:
                    self.last_event_id = self._id
                out.append(Message(self._id, self._event or "message",
                                   "\n".join(self._data) if self._has_data else None, at))
            self._id, self._event, self._data, self._has_data, self._has_field = None, "", [], False, False
            return
        if line.startswith(":"):
            out.append(Comment(line[1:].lstrip(" "), at))
            return
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "id":
            if "\0" not in value:
                self._id = value
                self._has_field = True
        elif name == "event":
            self._event = value
            self._has_field = True
        elif name == "data":
            self._data.append(value)
            self._has_data = self._has_field = True
        elif name == "retry":
            if value.isdigit():
                self.retry_ms = int(value)


class ChunkedDecoder:
    """``Transfer-Encoding: chunked`` to the body's bytes; ``done`` once the last chunk came."""

    def __init__(self) -> None:
        self._buf = b""
        self._left = 0  # bytes of the current chunk still to come
        self._state = "size"  # size | data | crlf | trailer | done
        self.done = False

    def feed(self, data: bytes) -> bytes:
        buf = self._buf + data
        out = bytearray()
        i = 0
        while i < len(buf) and not self.done:
            if self._state == "size":
                j = buf.find(b"\r\n", i)
                if j < 0:
                    break
                size = int(buf[i:j].split(b";", 1)[0].strip() or b"0", 16)
                i = j + 2
                if size == 0:
                    self._state = "trailer"
                else:
                    self._left, self._state = size, "data"
            elif self._state == "data":
                take = min(self._left, len(buf) - i)
                out += buf[i:i + take]
                i += take
                self._left -= take
                if self._left == 0:
                    self._state = "crlf"
            elif self._state == "crlf":
                if len(buf) - i < 2:
                    break
                i += 2
                self._state = "size"
            else:  # trailer: lines until an empty one
                j = buf.find(b"\r\n", i)
                if j < 0:
                    break
                if j == i:
                    self.done = True
                    self._state = "done"
                i = j + 2
        self._buf = buf[i:]
        return bytes(out)


class HttpError(Exception):
    """The server answered, but not with a stream (a status other than 200, or a broken head)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body_start: bytes  # what came with the head


@dataclass
class SseConnection:
    """One SSE request over its own socket.

    ``await open()`` sends the request and reads the head (:class:`HttpError` unless it is a 200
    stream); ``await read()`` returns what the next bytes completed (``[]`` at the end of the
    stream, after which ``ended`` is set); ``close(reset=...)`` ends it with a FIN or a TCP reset.
    """

    host: str
    port: int
    path: str
    last_event_id: str | None = None
    rcvbuf: int | None = None  # SO_RCVBUF before connecting: a small one fills fast when not read
    head_timeout: float = 10.0
    parser: SseParser = field(default_factory=SseParser)
    ended: bool = False
    bytes_in: int = 0

    def __post_init__(self) -> None:
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._chunked: ChunkedDecoder | None = None
        self.response: Response | None = None

    async def open(self) -> Response:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            if self.rcvbuf is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
            await asyncio.wait_for(asyncio.get_running_loop().sock_connect(sock, (self.host, self.port)),
                                   self.head_timeout)
            self._reader, self._writer = await asyncio.open_connection(sock=sock, limit=1 << 20)
        except BaseException:
            sock.close()
            raise
        headers = [f"GET {self.path} HTTP/1.1", f"Host: {self.host}:{self.port}", "Accept: text/event-stream",
                   "Cache-Control: no-cache"]
        if self.last_event_id:
            headers.append(f"Last-Event-ID: {self.last_event_id}")
        self._writer.write(("\r\n".join(headers) + "\r\n\r\n").encode())
        head = b""
        deadline = time.monotonic() + self.head_timeout
        while b"\r\n\r\n" not in head:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no response head")
            chunk = await asyncio.wait_for(self._reader.read(65536), left)
            if not chunk:
                raise ConnectionResetError("closed before the response head")
            head += chunk
            if len(head) > 65536:
                raise HttpError(0, "response head too large")
        raw, _, rest = head.partition(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        try:
            status = int(lines[0].split(" ", 2)[1])
        except (IndexError, ValueError):
            raise HttpError(0, f"bad status line {lines[0]!r}") from None
        hdrs = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            hdrs[name.strip().lower()] = value.strip()
        self.response = Response(status, hdrs, rest)
        if status != 200 or not hdrs.get("content-type", "").startswith("text/event-stream"):
            body = rest.decode("utf-8", "replace")[:200]
            raise HttpError(status, f"HTTP {status}: {body}")
        if hdrs.get("transfer-encoding", "").lower() == "chunked":
            self._chunked = ChunkedDecoder()
        return self.response

    def _decode(self, data: bytes) -> list[Message | Comment]:
        self.bytes_in += len(data)
        if self._chunked is not None:
            data = self._chunked.feed(data)
            if self._chunked.done:
                self.ended = True
        return self.parser.feed(data) if data else []

    async def read(self, size: int = 65536) -> list[Message | Comment]:
        """What the next bytes completed; ``[]`` and ``ended`` at the end of the stream. Raises
        ``ConnectionError`` when the connection was reset."""
        assert self._reader is not None and self.response is not None
        if self.response.body_start:
            first, self.response.body_start = self.response.body_start, b""
            items = self._decode(first)
            if items or self.ended:
                return items
        while not self.ended:
            chunk = await self._reader.read(size)
            if not chunk:
                self.ended = True
                return []
            items = self._decode(chunk)
            if items:
                return items
        return []

    def pause_reading(self) -> None:
        """Stop taking bytes off the socket (they stay in its receive buffer, and the server's
        writes back up once it is full)."""
        if self._writer is not None:
            self._writer.transport.pause_reading()

    def close(self, reset: bool = False) -> None:
        """End the connection: a FIN, or with ``reset`` a TCP reset (``SO_LINGER`` 0). Closing with
        unread bytes in the receive buffer is a reset too (the kernel's rule)."""
        writer, self._writer = self._writer, None
        if writer is None:
            return
        if reset:
            sock = writer.transport.get_extra_info("socket")
            if sock is not None:
                try:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                except OSError:
                    pass
            writer.transport.abort()
        else:
            writer.close()
