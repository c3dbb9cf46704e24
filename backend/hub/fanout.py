"""SSE fan-out: encode once, write many, never let one client hold up another.

A :class:`Channel` is one group's broadcast point. ``publish()`` serializes an event to SSE bytes
exactly once, with an ``id:`` of ``<epoch>-<seq>``, and appends it to the channel's
:class:`ReplayRing`. The ring is both the resume buffer (``Last-Event-ID``) and every client's
backlog: a client is just a position in it, so there are no per-client queues and memory is
bounded by the ring whatever the clients do.

Writing happens in :meth:`Channel.flush`, scheduled once per loop iteration however many events
were published: every client that is caught up gets the same joined chunk (one ``bytes`` object,
one write per client per wake-up). Writes are *eager*: the ASGI ``send`` coroutine is stepped
directly and, with uvicorn, completes synchronously unless the socket's buffer is full. A write
that would block parks that client only (its position stays, it catches up from the ring when the
write completes); a client whose write stays blocked past ``write_timeout`` -- no sign of life --
is dropped, as is one that falls out of the ring. A write that raises is retried at most
``max_retries`` times, then the client is dropped. Every drop is counted by reason in
:class:`FanoutStats`.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import msgspec

from backend.http import decimal_int

log = logging.getLogger(__name__)

_ENCODER = msgspec.json.Encoder()

# ":" + one space + 2048 spaces: pushes proxies (and some browsers) to start delivering at once.
PADDING = b":" + b" " * 2049 + b"\n\n"

Send = Callable[[dict[str, Any]], Coroutine[Any, Any, None]]


def encode_json(value: Any) -> bytes:
    return _ENCODER.encode(value)


def sse_event(event: str, data: bytes, event_id: str | None = None) -> bytes:
    """One named SSE message; ``data`` must be single-line JSON (msgspec never emits newlines)."""
    head = b"id: " + event_id.encode() + b"\nevent: " if event_id is not None else b"event: "
    return head + event.encode() + b"\ndata: " + data + b"\n\n"


def sse_comment(text: str) -> bytes:
    return b": " + text.encode() + b"\n\n"


def sse_id_only(event_id: str) -> bytes:
    """Sets the browser's last event id without dispatching an event (no data field)."""
    return b"id: " + event_id.encode() + b"\n\n"


def sse_retry(ms: int) -> bytes:
    return b"retry: " + str(ms).encode() + b"\n\n"


class ReplayRing:
    """The last frames of a channel, by sequence number, bounded by count and by bytes."""

    def __init__(self, max_frames: int, max_bytes: int) -> None:
        self.max_frames = max_frames
        self.max_bytes = max_bytes
        self._frames: deque[bytes] = deque()
        self._bytes = 0
        self.seq = 0  # sequence number of the newest frame (0: none yet)

    @property
    def first_seq(self) -> int:
        return self.seq - len(self._frames) + 1

    def append(self, frame: bytes) -> int:
        self.seq += 1
        self._frames.append(frame)
        self._bytes += len(frame)
        while len(self._frames) > 1 and (len(self._frames) > self.max_frames or self._bytes > self.max_bytes):
            self._bytes -= len(self._frames.popleft())
        return self.seq

    def covers(self, pos: int) -> bool:
        """Whether every frame after ``pos`` is still here."""
        return self.first_seq - 1 <= pos <= self.seq

    def after(self, pos: int) -> bytes | None:
        """The frames after ``pos`` joined, ``b""`` if none, None if the ring no longer covers it."""
        if not self.covers(pos):
            return None
        if pos == self.seq:
            return b""
        start = pos - self.first_seq + 1
        if start == len(self._frames) - 1:
            return self._frames[-1]
        return b"".join(islice(self._frames, start, None))

    def __len__(self) -> int:
        return len(self._frames)

    @property
    def nbytes(self) -> int:
        return self._bytes


@dataclass
class FanoutStats:
    """Hub-wide delivery counters (shared by every channel)."""

    writes: int = 0
    events_published: int = 0
    parked_writes: int = 0
    write_failures: int = 0
    drops: dict[str, int] = field(default_factory=dict)
    write_wait_samples: deque[float] = field(default_factory=lambda: deque(maxlen=512))

    def drop(self, reason: str) -> None:
        self.drops[reason] = self.drops.get(reason, 0) + 1

    def write_wait_summary(self) -> dict[str, float]:
        """How long parked writes (heartbeats included) took to complete, in ms."""
        samples = sorted(self.write_wait_samples)
        if not samples:
            return {"count": 0, "avg_ms": 0.0, "p95_ms": 0.0, "max_ms": 0.0}
        return {"count": len(samples), "avg_ms": round(1000 * sum(samples) / len(samples), 3),
                "p95_ms": round(1000 * samples[min(len(samples) - 1, int(len(samples) * 0.95))], 3),
                "max_ms": round(1000 * samples[-1], 3)}


class Client:
    """One SSE connection: where it is in the ring, and its write state."""

    __slots__ = ("send", "pos", "closed", "close_reason", "failures", "parked", "parked_since", "_coro",
                 "_target", "task")

    def __init__(self, send: Send, pos: int) -> None:
        self.send = send
        self.pos = pos
        self.closed = False
        self.close_reason: str | None = None
        self.failures = 0
        self.parked = False
        self.parked_since = 0.0
        self._coro: Coroutine[Any, Any, None] | None = None
        self._target = pos
        self.task: asyncio.Task[Any] | None = None


class Channel:
    """The clients of one group, the frames they share, and the writing of them."""

    def __init__(self, name: str, epoch: str, *, clock_monotonic: Callable[[], float], stats: FanoutStats,
                 ring_frames: int = 2048, ring_bytes: int = 8 * 1024 * 1024, write_timeout: float = 15.0,
                 max_retries: int = 3, retry_delay: float = 0.05, slice_size: int = 1000) -> None:
        self.name = name
        self.epoch = epoch
        self.ring = ReplayRing(ring_frames, ring_bytes)
        self.clients: dict[Client, None] = {}  # insertion-ordered set
        self.parked: set[Client] = set()
        self.stats = stats
        self.now = clock_monotonic
        self.write_timeout = write_timeout
        self.max_retries = max_retries
        self.retry_delay = retry_delay
        self.slice_size = slice_size
        self._flush_scheduled = False
        self.closed = False

    # -- ids ------------------------------------------------------------------------------------
    @property
    def seq(self) -> int:
        return self.ring.seq

    def event_id(self, seq: int | None = None) -> str:
        return f"{self.epoch}-{self.ring.seq if seq is None else seq}"

    def resume_position(self, last_event_id: str | None) -> int | None:
        """The ring position to resume ``last_event_id`` from, or None when a snapshot is needed."""
        if not last_event_id:
            return None
        epoch, _, seq = last_event_id.strip().rpartition("-")
        pos = decimal_int(seq) if epoch == self.epoch else None  # anything malformed: a snapshot
        return pos if pos is not None and self.ring.covers(pos) else None

    # -- publishing -----------------------------------------------------------------------------
    def publish(self, event: str, payload: Any) -> bytes:
        return self.publish_raw(event, encode_json(payload))

    def publish_raw(self, event: str, data: bytes) -> bytes:
        """Append one event (encoded once) and schedule a flush; returns the frame."""
        frame = sse_event(event, data, f"{self.epoch}-{self.ring.seq + 1}")
        self.ring.append(frame)
        self.stats.events_published += 1
        if not self._flush_scheduled and self.clients:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush_start)
        return frame

    # -- clients --------------------------------------------------------------------------------
    def attach(self, client: Client) -> None:
        """Start delivering to ``client`` from its position (it catches up from the ring)."""
        if self.closed:
            self.end(client, "channel closed")
            return
        self.clients[client] = None
        if client.pos != self.ring.seq:
            self._catch_up(client)

    def detach(self, client: Client) -> None:
        self.clients.pop(client, None)
        self.parked.discard(client)
        coro, client._coro = client._coro, None
        if coro is not None:
            coro.close()

    # -- writing --------------------------------------------------------------------------------
    def _flush_start(self) -> None:
        self._flush_scheduled = False
        if self.clients:
            self._flush_slice(list(self.clients), 0)

    def _flush_slice(self, targets: list[Client], start: int) -> None:
        """Write to ``targets[start:start + slice_size]``, then yield to the loop for the rest.

        The head is read per slice: events published while earlier slices ran reach the later
        ones in this flush, and each client's position is exactly what it was sent.
        """
        head = self.ring.seq
        shared_pos = -1
        shared = b""
        end = min(len(targets), start + self.slice_size)
        for i in range(start, end):
            client = targets[i]
            if client.closed or client.parked or client.pos >= head:
                continue
            if client.pos == shared_pos:
                chunk = shared
            else:
                found = self.ring.after(client.pos)
                if found is None:
                    self.drop(client, "lagging")
                    continue
                chunk = found
                if shared_pos == -1:
                    shared_pos, shared = client.pos, chunk
            self._write(client, chunk, head)
        if end < len(targets):
            asyncio.get_running_loop().call_soon(self._flush_slice, targets, end)

    def _catch_up(self, client: Client) -> None:
        if client.closed or client.parked or client.pos >= self.ring.seq:
            return
        chunk = self.ring.after(client.pos)
        if chunk is None:
            self.drop(client, "lagging")
        else:
            self._write(client, chunk, self.ring.seq)

    def heartbeat(self, frame: bytes) -> None:
        """Write ``frame`` (a comment) to every client not already waiting on a write."""
        for client in list(self.clients):
            if not client.closed and not client.parked:
                self._write(client, frame, client.pos)

    def _write(self, client: Client, chunk: bytes, target: int) -> None:
        self.stats.writes += 1
        coro = client.send({"type": "http.response.body", "body": chunk, "more_body": True})
        try:
            waiting = coro.send(None)
        except StopIteration:
            self._written(client, target)
            return
        except Exception as exc:
            coro.close()
            self._failed(client, exc)
            return
        client.parked = True
        client.parked_since = self.now()
        client._coro = coro
        client._target = target
        self.parked.add(client)
        self.stats.parked_writes += 1
        self._wait(client, waiting)

    def _wait(self, client: Client, waiting: Any) -> None:
        if waiting is None:  # a bare yield (asyncio.sleep(0)): step again on the next iteration
            asyncio.get_running_loop().call_soon(self._resume, client)
        else:
            waiting.add_done_callback(lambda _f: self._resume(client))

    def _resume(self, client: Client) -> None:
        coro = client._coro
        if coro is None or client.closed:
            return
        try:
            waiting = coro.send(None)
        except StopIteration:
            client._coro = None
            client.parked = False
            self.parked.discard(client)
            self.stats.write_wait_samples.append(self.now() - client.parked_since)
            self._written(client, client._target)
            self._catch_up(client)
            return
        except Exception as exc:
            client._coro = None
            client.parked = False
            self.parked.discard(client)
            self._failed(client, exc)
            return
        self._wait(client, waiting)

    def _written(self, client: Client, target: int) -> None:
        client.pos = target
        client.failures = 0

    def _failed(self, client: Client, exc: BaseException) -> None:
        self.stats.write_failures += 1
        client.failures += 1
        if client.failures > self.max_retries:
            log.info("channel %s: dropping client after %d failed writes: %r", self.name, client.failures, exc)
            self.drop(client, "write_failed")
            return
        delay = self.retry_delay * 2 ** (client.failures - 1)
        asyncio.get_running_loop().call_later(delay, self._retry, client)

    def _retry(self, client: Client) -> None:
        if client.closed or client.parked:
            return
        if client.pos < self.ring.seq:
            self._catch_up(client)
        else:  # the failed write was a heartbeat: try one again
            self._write(client, sse_comment("ping"), client.pos)

    def check_stuck(self) -> int:
        """Drop every client whose write has been blocked past the write timeout; returns how many."""
        now = self.now()
        stuck = [c for c in self.parked if now - c.parked_since >= self.write_timeout]
        for client in stuck:
            self.drop(client, "stuck")
        return len(stuck)

    # -- ending -----------------------------------------------------------------------------------
    def drop(self, client: Client, reason: str) -> None:
        """Remove a client the server gave up on, count it, and end its stream."""
        if client.closed:
            return
        self.stats.drop(reason)
        self.end(client, reason)

    def end(self, client: Client, reason: str) -> None:
        """End ``client``'s stream from the server side: complete the response, or abort it."""
        if client.closed:
            return
        client.closed = True
        client.close_reason = reason
        was_parked = client.parked
        self.detach(client)
        if not was_parked and _finish_now(client.send):
            return  # response complete: the handler's receive() now reports a disconnect
        if client.task is not None and not client.task.done():
            client.task.cancel()  # the handler sees its close_reason and aborts the connection

    def close_all(self, reason: str) -> None:
        self.closed = True
        for client in list(self.clients):
            self.end(client, reason)


def _finish_now(send: Send) -> bool:
    """Send the final empty body chunk if that completes without blocking."""
    coro = send({"type": "http.response.body", "body": b"", "more_body": False})
    try:
        coro.send(None)
    except StopIteration:
        return True
    except Exception:
        pass
    coro.close()
    return False
