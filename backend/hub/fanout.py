"""SSE fan-out: encode once, write many, never let one client hold up the others.

Each group has one :class:`Channel`. A published event is framed once (``id:``, ``event:``,
``data:``) into bytes and appended to the channel's :class:`ReplayRing`, which is both the resume
buffer (``Last-Event-ID``) and every client's backlog: a client is just a position in it, so there
are no per-client queues and memory is bounded by the ring whatever the clients do. Every ring of
a streaming service (the odds hub, the live tracker) draws on that service's one
:class:`MemoryBudget`; past it, the oldest frames of the whole service go first.

A client's life belongs to the channel (:meth:`Channel.serve`): the opening (preamble, then
exactly the frames a ``Last-Event-ID`` missed, or the group's snapshot), attaching, waiting for the
disconnect, and detaching. Routes only validate the request and hand over the ASGI ``send`` and
``receive``.

Writing happens in :meth:`Channel.flush`, scheduled once per loop iteration however many events
were published: every client that is caught up gets the same joined chunk (one ``bytes`` object,
one write per client per wake-up). Writes are *eager*: under uvicorn the chunk, framed once for
every client, goes straight to the connection's transport (:class:`~backend.http.DirectWriter`)
whenever uvicorn itself would write at once; otherwise, and under any other server, the ASGI
``send`` coroutine is stepped directly, which completes synchronously unless the socket's buffer is
full. A write that would block parks that client only (its position stays, it catches up from the ring when the
write completes); a client whose write stays blocked past ``write_timeout`` -- no sign of life --
is dropped, as is one that falls out of the ring. A write that raises is retried at most
``max_retries`` times (the delays run on the injected clock), then the client is dropped. Every
drop is counted by reason in :class:`FanoutStats`.

Ending a stream from the server side completes the response when the client can take the last
bytes at once; a client that cannot (a full socket buffer) has its connection aborted with a
reset, so neither the socket nor its kernel buffers outlive the decision.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import msgspec

from backend.clock import Clock
from backend.http import DirectWriter, abort_connection, backlogged, direct_writer, parse_event_id
from backend.http import chunk as http_chunk

log = logging.getLogger(__name__)

_ENCODER = msgspec.json.Encoder()

# ":" + one space + 2048 spaces: pushes proxies (and some browsers) to start delivering at once.
PADDING = b":" + b" " * 2049 + b"\n\n"
FRAME_OVERHEAD = 64  # bytes a ring slot costs beyond the frame itself (the bytes object, the deque slot)

Send = Callable[[dict[str, Any]], Coroutine[Any, Any, None]]
Receive = Callable[[], Coroutine[Any, Any, dict[str, Any]]]


def encode_json(value: Any) -> bytes:
    return _ENCODER.encode(value)


def sse_event(event: str | None, data: bytes, event_id: str | None = None) -> bytes:
    """One SSE message, named (``event``) or not (None: a ``message`` event in the browser); ``data``
    must be single-line JSON (msgspec never emits newlines)."""
    head = b"id: " + event_id.encode() + b"\n" if event_id is not None else b""
    if event is not None:
        head += b"event: " + event.encode() + b"\n"
    return head + b"data: " + data + b"\n\n"


def sse_comment(text: str) -> bytes:
    return b": " + text.encode() + b"\n\n"


def sse_id_only(event_id: str) -> bytes:
    """Sets the browser's last event id without dispatching an event (no data field)."""
    return b"id: " + event_id.encode() + b"\n\n"


def sse_retry(ms: int) -> bytes:
    return b"retry: " + str(ms).encode() + b"\n\n"


class MemoryBudget:
    """One byte budget for everything the hub retains: replay rings and cached payloads.

    Rings and :class:`Retained` slots charge it. When the total passes ``limit``, the oldest replay
    frames of the whole hub are trimmed (a ring whose frames are older goes first) down to
    ``low_water`` of the limit, so trimming runs rarely and in bulk. Cached payloads are never
    trimmed -- late joiners need them -- so if they alone pass the limit, :attr:`over` says so.
    """

    def __init__(self, limit: int, low_water: float = 0.9) -> None:
        self.limit = limit
        self.low_water = low_water
        self.ring_bytes = 0
        self.cache_bytes = 0
        self.trimmed_frames = 0
        self._rings: dict[ReplayRing, None] = {}
        self._trimming = False

    @property
    def used(self) -> int:
        return self.ring_bytes + self.cache_bytes

    @property
    def over(self) -> bool:
        return self.used > self.limit

    def add_ring(self, ring: ReplayRing) -> None:
        self._rings[ring] = None

    def remove_ring(self, ring: ReplayRing) -> None:
        if ring in self._rings:
            del self._rings[ring]
            ring.clear()  # gives its bytes back

    def charged(self) -> None:
        """Called after every charge: trim if the budget is exceeded."""
        if self.used > self.limit and not self._trimming:
            self._trim(int(self.limit * self.low_water))

    def _trim(self, target: int) -> None:
        self._trimming = True
        try:
            heap = [(ring.oldest_second, i, ring) for i, ring in enumerate(self._rings) if len(ring) > 0]
            heapq.heapify(heap)
            while heap and self.used > target:
                _, i, ring = heapq.heappop(heap)
                self.trimmed_frames += ring.trim_oldest_second()
                if len(ring) > 0:
                    heapq.heappush(heap, (ring.oldest_second, i, ring))
        finally:
            self._trimming = False


class Retained:
    """A cached payload's share of the budget: ``set(data)`` replaces it, ``release()`` frees it."""

    __slots__ = ("_budget", "_bytes")

    def __init__(self, budget: MemoryBudget | None) -> None:
        self._budget = budget
        self._bytes = 0

    def set(self, nbytes: int) -> None:
        if self._budget is not None:
            self._budget.cache_bytes += nbytes - self._bytes
            self._bytes = nbytes
            self._budget.charged()

    def release(self) -> None:
        self.set(0)


class ReplayRing:
    """The last frames of a channel, by sequence number, bounded by count, by bytes and by the budget.

    Frames published in the same second share one entry of a small run list, so the budget can find
    the hub's oldest frames without a timestamp per frame.
    """

    def __init__(self, max_frames: int, max_bytes: int, budget: MemoryBudget | None = None,
                 now: Callable[[], float] = lambda: 0.0) -> None:
        self.max_frames = max_frames
        self.max_bytes = max_bytes
        self._frames: deque[bytes] = deque()
        self._runs: deque[list[int]] = deque()  # [second, frames published in it], oldest first
        self._bytes = 0
        self._now = now
        self.seq = 0  # sequence number of the newest frame (0: none yet)
        self.budget = budget
        if budget is not None:
            budget.add_ring(self)

    @property
    def first_seq(self) -> int:
        return self.seq - len(self._frames) + 1

    @property
    def oldest_second(self) -> int:
        return self._runs[0][0] if self._runs else 0

    def append(self, frame: bytes) -> int:
        self.seq += 1
        self._frames.append(frame)
        second = int(self._now())
        if self._runs and self._runs[-1][0] == second:
            self._runs[-1][1] += 1
        else:
            self._runs.append([second, 1])
        self._charge(len(frame) + FRAME_OVERHEAD)
        while len(self._frames) > 1 and (len(self._frames) > self.max_frames or self._bytes > self.max_bytes):
            self._pop_oldest()
        if self.budget is not None:
            self.budget.charged()
        return self.seq

    def _charge(self, n: int) -> None:
        self._bytes += n
        if self.budget is not None:
            self.budget.ring_bytes += n

    def _pop_oldest(self) -> None:
        frame = self._frames.popleft()
        self._charge(-(len(frame) + FRAME_OVERHEAD))
        run = self._runs[0]
        run[1] -= 1
        if run[1] == 0:
            self._runs.popleft()

    def reset(self, seq: int) -> None:
        """Forget every frame and continue numbering after ``seq`` (a replica following a stream)."""
        self.clear()
        self.seq = seq

    def trim_oldest_second(self) -> int:
        """Drop every frame of the oldest second held (for the budget); returns how many."""
        if not self._runs:
            return 0
        n = self._runs[0][1]
        for _ in range(n):
            self._pop_oldest()
        return n

    def clear(self) -> None:
        while self._frames:
            self._pop_oldest()

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
    resumed: int = 0
    snapshots: int = 0
    aborted: int = 0
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
    """One SSE connection: where it is in the ring, and its write state. Owned by its channel."""

    __slots__ = ("send", "direct", "pos", "closed", "close_reason", "failures", "parked", "parked_since", "_coro",
                 "_target", "task")

    def __init__(self, send: Send, pos: int) -> None:
        self.send = send
        self.direct: DirectWriter | None = None  # writes straight to the server's transport, when it allows
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

    def __init__(self, name: str, epoch: str, *, clock: Clock, stats: FanoutStats,
                 budget: MemoryBudget | None = None, ring_frames: int = 2048, ring_bytes: int = 8 * 1024 * 1024,
                 write_timeout: float = 15.0, max_retries: int = 3, retry_delay: float = 0.05,
                 slice_size: int = 1000) -> None:
        self.name = name
        self.epoch = epoch
        self.clock = clock
        self.ring = ReplayRing(ring_frames, ring_bytes, budget, clock.monotonic)
        self.clients: dict[Client, None] = {}  # insertion-ordered set
        self.parked: set[Client] = set()
        self.stats = stats
        self.now = clock.monotonic
        self.write_timeout = write_timeout
        self.max_retries = max_retries
        self.retry_delay = retry_delay
        self.slice_size = slice_size
        self._flush_scheduled = False
        self.closed = False

    def bind(self, snapshot: Callable[[], list[bytes]]) -> None:
        """A local channel gets its snapshot from the serving path; nothing to keep."""

    # -- ids ------------------------------------------------------------------------------------
    @property
    def seq(self) -> int:
        return self.ring.seq

    def event_id(self, seq: int | None = None) -> str:
        return f"{self.epoch}-{self.ring.seq if seq is None else seq}"

    def resume_position(self, last_event_id: str | None) -> int | None:
        """The ring position to resume ``last_event_id`` from, or None when a snapshot is needed.

        Anything that is not an id of this channel's epoch the ring still covers -- another epoch,
        garbage, a number out of range -- needs the snapshot; it is never an error.
        """
        parsed = parse_event_id(last_event_id)
        if parsed is None or parsed[0] != self.epoch:
            return None
        pos = parsed[1]
        return pos if self.ring.covers(pos) else None

    # -- serving one client ----------------------------------------------------------------------
    async def serve(self, send: Send, receive: Receive, headers: list[tuple[bytes, bytes]], preamble: bytes,
                    last_event_id: str | None, snapshot: Callable[[], list[bytes]]) -> None:
        """Serve one client from the response start to its end; returns once it is gone.

        The client first gets ``preamble`` and either exactly the frames after ``last_event_id``
        (when the ring still covers it) or ``snapshot()`` followed by an id-only message; from then
        on it gets every frame published, until it disconnects or the server ends its stream.
        """
        client, body = self._opening(send, preamble, last_event_id, snapshot)
        # The frame of this coroutine lives as long as the connection: keep nothing in it that the
        # stream no longer needs (the opening alone is kilobytes per client).
        del preamble, last_event_id, snapshot
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        del headers
        if self.closed:  # a failed group: its snapshot says why, and the stream ends there
            await send({"type": "http.response.body", "body": body, "more_body": False})
            return
        await send({"type": "http.response.body", "body": body, "more_body": True})
        del body
        client.direct = direct_writer(send)
        try:
            self.attach(client)
            while (await receive())["type"] != "http.disconnect":
                pass
        except asyncio.CancelledError:
            if client.close_reason is None:
                raise
            # Only when the connection could not be aborted (a server without a transport to abort):
            # returning without completing the response makes the server close it.
            log.info("channel %s: client ended without abort (%s)", self.name, client.close_reason)
        finally:
            self.detach(client)
            client.closed = True

    def _opening(self, send: Send, preamble: bytes, last_event_id: str | None,
                 snapshot: Callable[[], list[bytes]]) -> tuple[Client, bytes]:
        """The new client (positioned at the head) and its opening bytes, read at one instant:
        nothing is awaited in between, so nothing is missed or sent twice."""
        pos = self.resume_position(last_event_id)
        tail = self.ring.after(pos) if pos is not None else None
        if tail is not None:
            self.stats.resumed += 1
        else:
            self.stats.snapshots += 1
            tail = b"".join([*snapshot(), sse_id_only(self.event_id())])
        client = Client(send, self.ring.seq)
        client.task = asyncio.current_task()
        return client, preamble + tail

    # -- publishing -----------------------------------------------------------------------------
    def publish(self, event: str, payload: Any) -> bytes:
        return self.publish_raw(event, encode_json(payload))

    def publish_raw(self, event: str | None, data: bytes) -> bytes:
        """Append one event (encoded once; ``event`` None: unnamed) and schedule a flush; returns the frame."""
        frame = sse_event(event, data, f"{self.epoch}-{self.ring.seq + 1}")
        self.ring.append(frame)
        self.stats.events_published += 1
        if not self._flush_scheduled and self.clients:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush_start)
        return frame

    def publish_body(self, body: bytes) -> bytes:
        """Append a frame whose id this channel adds (``body`` is ``event:``/``data:`` lines: a frame
        encoded once for the whole cluster); schedule a flush; returns the frame."""
        frame = b"id: " + f"{self.epoch}-{self.ring.seq + 1}".encode() + b"\n" + body
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
        shared = shared_framed = b""
        end = min(len(targets), start + self.slice_size)
        for i in range(start, end):
            client = targets[i]
            if client.closed or client.parked or client.pos >= head:
                continue
            if client.pos == shared_pos:
                self._write(client, shared, head, shared_framed)
                continue
            found = self.ring.after(client.pos)
            if found is None:
                self.drop(client, "lagging")
                continue
            if shared_pos == -1:  # the chunk most clients get: framed once for all of them
                shared_pos, shared, shared_framed = client.pos, found, http_chunk(found)
                self._write(client, shared, head, shared_framed)
            else:
                self._write(client, found, head)
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
        framed = http_chunk(frame)
        for client in list(self.clients):
            if not client.closed and not client.parked:
                self._write(client, frame, client.pos, framed)

    def _write(self, client: Client, chunk: bytes, target: int, framed: bytes | None = None) -> None:
        """Send ``chunk`` (``framed``: the same as an HTTP chunk, if at hand); ``target`` is the ring
        position the client is at once it is written."""
        self.stats.writes += 1
        direct = client.direct
        if direct is not None:  # the server would write it at once: do so directly
            try:
                written = direct.write_now(framed if framed is not None else http_chunk(chunk))
            except Exception as exc:
                self._failed(client, exc)
                return
            if written:
                client.pos = target
                client.failures = 0
                return
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
        self.clock.call_later(delay, lambda: self._retry(client))

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
        """End ``client``'s stream from the server side.

        A client that can take its pending frames and the end of the response at once gets them
        (its ``receive()`` then reports the disconnect); any other connection -- one whose write is
        waiting, or whose transport still holds bytes it could not send -- is aborted with a reset,
        which frees the socket and its buffers now (a graceful close would wait for a client that
        may never read them again: the socket would outlive the stream, and hold up a shutdown).
        """
        if client.closed:
            return
        client.closed = True
        client.close_reason = reason
        was_parked = client.parked
        self.detach(client)
        if not was_parked and reason not in ("stuck", "write_failed") and not backlogged(client.send):
            tail = self.ring.after(client.pos) or b""
            if _finish_now(client.send, tail):
                return
        if abort_connection(client.send):
            self.stats.aborted += 1
            return
        if client.task is not None and not client.task.done():
            client.task.cancel()  # no transport to abort: the serving coroutine ends itself

    def close_all(self, reason: str) -> None:
        """End every client's stream (each gets what was published so far) and accept no more."""
        self.closed = True
        for client in list(self.clients):
            self.end(client, reason)

    def release(self) -> None:
        """The group is gone: close every stream and give the ring's bytes back to the budget."""
        self.close_all("group closed")
        if self.ring.budget is not None:
            self.ring.budget.remove_ring(self.ring)


def _finish_now(send: Send, tail: bytes) -> bool:
    """Send ``tail`` as the response's last chunk if that completes without blocking."""
    coro = send({"type": "http.response.body", "body": tail, "more_body": False})
    try:
        coro.send(None)
    except StopIteration:
        return True
    except Exception:
        pass
    coro.close()
    return False
