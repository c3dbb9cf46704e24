"""The floor: the least a process can do to fan one SSE stream out, as the bench's lower bound.

No event loop, no HTTP library, no per-client state beyond the socket: the main thread blocks in
``accept()``, reads each connection's request head (nothing in it is parsed but the method) and
either

* a ``GET`` (a stream client): answers a fixed ``HTTP/1.1 200`` head for ``text/event-stream``
  with chunked framing, as the hub's (uvicorn's) response is, plus the last event (the
  counterpart of the hub's late-joiner snapshot and nchan's ``oldest`` first message), and keeps
  the socket in a list; or
* a ``POST`` (the bench's :class:`~bench.feeder.HttpPublisher`, pipelined on one keep-alive
  connection): a thread reads its requests in order; for each one it frames the body once, as the
  hub frames an event (:func:`sse_frame`: ``id:``, ``event: odds``, ``data:``), wraps it in one
  HTTP chunk and sends those same bytes to every client socket with a blocking ``sendall`` in a
  plain loop, then answers ``204``.

So the floor's CPU per delivered event is the kernel's cost of one ``send()`` into a loopback TCP
socket plus a Python loop iteration: a server that does anything per client (buffering, state,
slow-client handling, heartbeats) costs more. A client whose send fails is dropped; a client that
stops reading blocks every other one (the floor has no protection against slow clients).

``python -m bench.floor --port 8791``
"""

from __future__ import annotations

import argparse
import socket
import threading

EVENT = "odds"
# The event ids have the hub's shape, "<epoch>-<n>", with an epoch as long as the hub's (8 base-36
# digits of milliseconds and ".1"), so that a delivered event is as many bytes as the hub's.
EPOCH = "floor000.1"
HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n")
PUBLISHED = b"HTTP/1.1 204 No Content\r\n\r\n"
MAX_HEAD = 16 * 1024  # a request head longer than this is not one the bench sends
HEAD_TIMEOUT = 5.0  # seconds a new connection has to send its request head
BACKLOG = 2048  # the load generator opens --batch (250) connections at once; as nginx's listen


def event_id(n: int) -> str:
    return f"{EPOCH}-{n}"


def sse_frame(data: bytes, event_id: str, event: str = EVENT) -> bytes:
    """One SSE message laid out as the hub's ``sse_event`` lays it out (backend/hub/fanout.py)."""
    return b"id: " + event_id.encode() + b"\nevent: " + event.encode() + b"\ndata: " + data + b"\n\n"


def chunk(data: bytes) -> bytes:
    """``data`` as one HTTP/1.1 chunk (``Transfer-Encoding: chunked``)."""
    return b"%x\r\n" % len(data) + data + b"\r\n"


class Floor:
    def __init__(self) -> None:
        self.clients: list[socket.socket] = []
        self.last = b""  # the newest event, as one chunk: a new client's first bytes
        self.published = 0
        self.lock = threading.Lock()  # clients and last: the accept thread adds, the publisher sends

    def serve(self, listener: socket.socket) -> None:
        while True:
            conn, _ = listener.accept()
            conn.settimeout(HEAD_TIMEOUT)
            try:
                head, rest = read_head(conn)
            except (OSError, ValueError):
                conn.close()
                continue
            if head.startswith(b"POST "):
                threading.Thread(target=self.publisher, args=(conn, head, rest), daemon=True).start()
            else:
                self.subscribe(conn)

    def subscribe(self, conn: socket.socket) -> None:
        conn.settimeout(None)  # blocking sends from now on
        # The hub (uvicorn/uvloop) and nginx set TCP_NODELAY on their connections; so does the floor.
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.lock:
            try:
                conn.sendall(HEAD + self.last)
            except OSError:
                conn.close()
                return
            self.clients.append(conn)

    def publisher(self, conn: socket.socket, head: bytes, buffered: bytes) -> None:
        """Serve pipelined ``POST``s on ``conn``: each body is one event for every client."""
        conn.settimeout(None)  # the publisher's connection idles while the clients connect
        try:
            while True:
                length = content_length(head)
                while len(buffered) < length:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buffered += data
                body, buffered = buffered[:length], buffered[length:]
                self.publish(body)
                conn.sendall(PUBLISHED)
                head, buffered = read_head(conn, buffered)
        except (OSError, ValueError):
            return
        finally:
            conn.close()

    def publish(self, data: bytes) -> None:
        with self.lock:
            self.published += 1
            frame = chunk(sse_frame(data, event_id(self.published)))
            self.last = frame
            gone = []
            for client in self.clients:
                try:
                    client.sendall(frame)
                except OSError:
                    gone.append(client)
            for client in gone:
                self.clients.remove(client)
                client.close()


def read_head(conn: socket.socket, buffered: bytes = b"") -> tuple[bytes, bytes]:
    """``(request head, bytes read past it)``; raises ConnectionError at EOF."""
    while (end := buffered.find(b"\r\n\r\n")) < 0:
        if len(buffered) > MAX_HEAD:
            raise ValueError("request head too long")
        data = conn.recv(65536)
        if not data:
            raise ConnectionError("closed before a request head")
        buffered += data
    return buffered[:end], buffered[end + 4:]


def content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description="the SSE fan-out floor (bench peer): blocking sends in a loop")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8791)
    args = parser.parse_args()
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((args.host, args.port))
    listener.listen(BACKLOG)
    try:
        Floor().serve(listener)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
