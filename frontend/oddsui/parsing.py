"""Parsing stream payloads: large ones in the parse worker, small ones here, applied in order (docs/design.md R10).

``ParserService`` owns the parse worker (``worker/worker.mjs``) through its scope: the Worker, its
``message``/``error``/``messageerror`` listeners, the stall watchdog and the map of pending requests.
Closing the scope (pagehide closes the app's scope) removes the listeners, terminates the worker and
clears the map. ``ParseChannel`` is the per-stream queue; ``ParserService.channel(owner, name)``
makes one owned by ``owner`` (each ``streams.EventStream`` given a parser makes its own, held by the
stream's scope). ``Decoded`` says what a stream does with one event name's messages.

Routing. A message whose text is more than ``WORKER_THRESHOLD_BYTES`` (100 * 1024) bytes of UTF-8 is
parsed in the worker; a smaller one is decoded here at once (``messages.decode``). The size is
measured without turning the text into a Python string: a big text goes from the EventSource event
straight to the worker (``Platform.post_event_text``), because converting a JS string to Python costs
about as much as decoding it (1.0 ms for our 259 KB prematch ``games``, 33-60 ms for 10 MB,
measured in this repo's Chromium). The worker answers msgpack bytes that ``messages.decode_packed``
turns into the same typed payloads (worker/parse.py explains the choice, with the numbers).

Ordering (decided: strict arrival order per stream). Each stream's messages are applied in the order
they arrived, whatever order their parses finish in: a small ``odds`` delta that arrives while the
``games`` snapshot before it is still in the worker waits for that snapshot, so a delta is never
applied to the list it was not meant for, and an older snapshot never overwrites a newer one. The
price is head-of-line blocking: while a big payload is in the worker (15-40 ms round trip for the
259 KB list; the worker's boot takes 1.4-1.6 s here, 3-3.5 s cold), the later messages of *that*
stream wait in its queue. Other streams are
independent. A payload that fails to decode is counted and reported by the caller's ``on_error`` and
skipped in its turn; it never blocks the queue.

The worker starts lazily, on the first payload that needs it (or on ``prestart()``, which the app
calls when prematch mode is chosen, where the big payloads are). Requests sent while it boots wait
inside the worker, in order. The worker fails loudly: a ``fatal`` message, an ``error`` or
``messageerror`` event, or no progress for ``stall_ms`` while requests are pending marks it broken,
reports the error once, terminates it, and re-parses every pending payload here, in order; from then
on every payload is parsed here. A worker reply with ``fault == "internal"`` (a bug in parse.py) is
also reported and that payload is re-parsed here; ``fault == "unsupported"`` (an integer msgpack
cannot carry) is re-parsed here without a report.

The worker's state follows ``WORKER_TABLE`` (a ``machine.Table``; an illegal move raises)::

    idle --start--> starting --ready--> ready
    starting / ready --broke--> broken       (reported once; every payload is parsed here from then on)
    any --close--> closed                    (final: the service's scope closed)
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .machine import Machine, Table
from .messages import DecodeError, decode, decode_packed
from .ports import Platform, WorkerReply
from .scope import Handle, Scope

__all__ = [
    "WORKER_TABLE",
    "Decoded",
    "WORKER_THRESHOLD_BYTES",
    "ParseChannel",
    "ParseJob",
    "ParserService",
    "WorkerReply",
    "WorkerState",
    "needs_worker",
]

WORKER_THRESHOLD_BYTES = 100 * 1024
# No answer (nor the ready message) for this long while requests are pending: the worker is broken.
# Generous: the worker's boot took 1.4-3.5 s here, a 10 MB parse 0.13-0.3 s.
DEFAULT_STALL_MS = 30_000.0


def needs_worker(units: int, utf8_size: Callable[[], int], limit: int = WORKER_THRESHOLD_BYTES) -> bool:
    """Whether a text of ``units`` UTF-16 code units is more than ``limit`` bytes of UTF-8.

    Every UTF-16 unit encodes to 1-3 UTF-8 bytes (a surrogate pair, 2 units, to 4), so only a text of
    between limit/3 and limit units needs ``utf8_size()``, the exact count, which costs a pass over it.
    """
    if units > limit:
        return True
    if units * 3 <= limit:
        return False
    return utf8_size() > limit


class WorkerState:
    IDLE = "idle"
    STARTING = "starting"
    READY = "ready"
    BROKEN = "broken"
    CLOSED = "closed"


_W = WorkerState
WORKER_TABLE = Table(
    name="parse worker",
    initial=_W.IDLE,
    final=_W.CLOSED,
    rows={
        (_W.IDLE, "start"): _W.STARTING,
        (_W.STARTING, "ready"): _W.READY,
        (_W.STARTING, "broke"): _W.BROKEN,
        (_W.READY, "broke"): _W.BROKEN,
    },
)


PENDING, DONE, FAILED, DROPPED = "pending", "done", "failed", "dropped"


@dataclass(frozen=True)
class Decoded:
    """What to do with the messages of one event name: decode each as ``kind`` (``messages.decode``),
    then ``apply(payload)`` in arrival order; a message that does not decode goes to ``on_error``."""

    kind: str
    apply: Callable[[Any], None]
    on_error: Callable[[BaseException], None]


@dataclass(eq=False)
class ParseJob:
    """One message of one stream, from its arrival until it is applied (or dropped)."""

    kind: str
    apply: Callable[[Any], None]
    on_error: Callable[[BaseException], None]
    event: Any = None  # the EventSource event, kept only while its text may still be needed
    channel: ParseChannel | None = None
    seq: int = -1
    state: str = PENDING
    value: Any = None
    error: BaseException | None = None
    request_id: int | None = None
    posted_ms: float = 0.0
    units: int = 0  # length of the text in UTF-16 code units


@dataclass
class ParserStats:
    sync_parsed: int = 0
    worker_parsed: int = 0
    worker_failed_payloads: int = 0  # the worker said the JSON is bad
    fallback_parsed: int = 0  # parsed here because the worker broke or had an internal error
    stale_replies: int = 0  # answers for requests of closed channels
    applied: int = 0
    boot_ms: float | None = None
    # Per payload kind, the latest timing on each path (ms on performance.now()), for the e2e report.
    last_main: dict[str, dict[str, float]] = field(default_factory=dict)
    last_worker: dict[str, dict[str, float]] = field(default_factory=dict)
    max_queue: int = 0


class ParseChannel:
    """The messages of one stream, applied strictly in arrival order.

    ``receive(kind, event, apply, on_error)`` takes one raw event (the EventStream that owns the
    channel calls it). ``close()`` drops everything still queued; answers that arrive later are
    ignored.
    """

    def __init__(self, service: ParserService, name: str) -> None:
        self.service = service
        self.name = name
        self._queue: deque[ParseJob] = deque()
        self._seq = itertools.count()
        self._draining = False
        self.closed = False
        self.handle: Handle | None = None

    def __len__(self) -> int:
        return len(self._queue)

    def receive(self, kind: str, event: Any, apply: Callable[[Any], None],
                on_error: Callable[[BaseException], None]) -> None:
        """A message arrived: parse it (here or in the worker) and apply what is ready, in order."""
        if self.closed:
            return
        job = ParseJob(kind=kind, apply=apply, on_error=on_error, event=event, channel=self)
        self.enqueue(job)
        self.service.parse(job)
        self.drain()

    def enqueue(self, job: ParseJob) -> ParseJob:
        job.channel = self
        job.seq = next(self._seq)
        self._queue.append(job)
        stats = self.service.stats
        stats.max_queue = max(stats.max_queue, len(self._queue))
        return job

    def drain(self) -> None:
        """Apply the settled jobs at the head of the queue; stop at the first one still pending."""
        if self._draining:
            return  # an apply that leads back here: the outer loop goes on
        self._draining = True
        try:
            while self._queue and not self.closed and self._queue[0].state != PENDING:
                job = self._queue.popleft()
                job.event = None
                self._apply(job)
        finally:
            self._draining = False

    def _apply(self, job: ParseJob) -> None:
        platform = self.service.platform
        try:
            if job.state == DONE:
                self.service.stats.applied += 1
                job.apply(job.value)
            elif job.state == FAILED and job.error is not None:
                job.on_error(job.error)
        except Exception as exc:  # one bad handler must not stop the stream
            platform.report_error(exc, f"parse channel {self.name}: applying {job.kind}")
        finally:
            job.value = None

    def close(self) -> None:
        """Drop every queued job (their pending worker requests are forgotten). Idempotent."""
        if self.closed:
            return
        self.closed = True
        queue, self._queue = self._queue, deque()
        for job in queue:
            job.state = DROPPED
            job.event = None
            job.value = None
            self.service._forget(job)
        handle, self.handle = self.handle, None
        if handle is not None:
            handle.release()


class ParserService:
    """Routes payloads to the worker or the main thread; owns the worker. See the module docstring.

    ``config`` is manifest.json's ``worker`` section (``url`` of the module, and what the worker's
    init message needs); without one, every payload is parsed here.
    """

    def __init__(self, scope: Scope, config: Mapping[str, Any] | None, *,
                 threshold: int = WORKER_THRESHOLD_BYTES, stall_ms: float = DEFAULT_STALL_MS) -> None:
        self.scope = scope
        self.platform: Platform = scope.platform
        self.config = dict(config) if config else None
        self.threshold = threshold
        self.stall_ms = stall_ms
        self.stats = ParserStats()
        self._machine = Machine(WORKER_TABLE)
        self.broken_reason: str | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, ParseJob] = {}
        self._worker: Any = None
        self._worker_scope: Scope | None = None
        self._watchdog: Handle | None = None
        # Registered first, so released last: listeners come off and the worker ends before this.
        scope.defer(self._on_scope_closed, kind="pending", label="parse requests")

    # ---------------------------------------------------------------- public

    def channel(self, owner: Scope, name: str) -> ParseChannel:
        """A queue for one stream, closed when ``owner`` closes (or by ``ParseChannel.close()``)."""
        channel = ParseChannel(self, name)
        channel.handle = owner.defer(channel.close, kind="parse-channel", label=name)
        return channel

    @property
    def state(self) -> str:
        """The worker's state (``WorkerState``), as ``WORKER_TABLE`` moves it."""
        return self._machine.state

    @property
    def pending(self) -> int:
        return len(self._pending)

    def prestart(self) -> None:
        """Start the worker now if it will be needed soon (it boots in the background)."""
        if self.state == WorkerState.IDLE and self.config is not None and not self.scope.closed:
            self._start_worker()

    def parse(self, job: ParseJob) -> None:
        """Parse ``job``'s event text: settle it now, or post it to the worker and settle it later."""
        event = job.event
        platform = self.platform
        job.units = platform.text_units(event)
        big = needs_worker(job.units, lambda: platform.text_utf8_size(event), self.threshold)
        if big and self._worker_usable():
            if self.state == WorkerState.IDLE:
                self._start_worker()
            if self._worker_usable():
                self._post(job)
                return
        self._parse_here(job, fallback=big and self.config is not None)

    def debug_state(self) -> dict[str, Any]:
        s = self.stats
        return {
            "state": self.state,
            "broken_reason": self.broken_reason,
            "pending": len(self._pending),
            "threshold": self.threshold,
            "sync_parsed": s.sync_parsed,
            "worker_parsed": s.worker_parsed,
            "worker_failed_payloads": s.worker_failed_payloads,
            "fallback_parsed": s.fallback_parsed,
            "stale_replies": s.stale_replies,
            "applied": s.applied,
            "boot_ms": s.boot_ms,
            "last_main": {kind: dict(v) for kind, v in s.last_main.items()},
            "last_worker": {kind: dict(v) for kind, v in s.last_worker.items()},
            "max_queue": s.max_queue,
        }

    # ---------------------------------------------------------------- parsing here

    def _parse_here(self, job: ParseJob, fallback: bool = False) -> None:
        started = self.platform.now_ms()
        try:
            text = self.platform.event_text(job.event)
            job.value = decode(text, job.kind)
            job.state = DONE
        except DecodeError as exc:
            job.error = exc
            job.state = FAILED
        else:
            self.stats.last_main[job.kind] = {"chars": len(text), "parse_ms": self.platform.now_ms() - started,
                                              "at": started}
        if fallback:
            self.stats.fallback_parsed += 1
        else:
            self.stats.sync_parsed += 1

    # ---------------------------------------------------------------- the worker

    def _worker_usable(self) -> bool:
        return self.config is not None and self.state in (WorkerState.IDLE, WorkerState.STARTING,
                                                          WorkerState.READY) and not self.scope.closed

    def _start_worker(self) -> None:
        assert self.config is not None
        worker_scope = self.scope.child("worker")
        self._worker_scope = worker_scope
        self._machine.fire("start")
        try:
            worker = self.platform.open_worker(str(self.config["url"]))
            worker_scope.defer(worker.terminate, kind="worker", label="parse worker")
            worker_scope.listen(worker, "message", self._on_message, label="parse worker")
            worker_scope.listen(worker, "error", self._on_error_event, label="parse worker")
            worker_scope.listen(worker, "messageerror", self._on_error_event, label="parse worker")
            self._worker = worker
            init = {key: value for key, value in self.config.items() if key != "url"}
            self.platform.post_to_worker(worker, {"type": "init", "config": init})
        except Exception as exc:
            self._break(f"cannot start the parse worker: {exc!r}")

    def _post(self, job: ParseJob) -> None:
        request_id = next(self._ids)
        job.request_id = request_id
        job.posted_ms = self.platform.now_ms()
        self._pending[request_id] = job
        try:
            self.platform.post_event_text(self._worker, request_id, job.event)
        except Exception as exc:
            self._break(f"cannot post to the parse worker: {exc!r}")  # re-parses job here
            return
        self._arm_watchdog()

    def _on_message(self, event: Any) -> None:
        if self.state not in (WorkerState.STARTING, WorkerState.READY):
            return
        reply = self.platform.read_worker_message(event)
        if reply.type == "ready":
            if self.state != WorkerState.STARTING:
                self._break("the parse worker said ready twice")
                return
            self._machine.fire("ready")
            self.stats.boot_ms = reply.boot_ms
            self._arm_watchdog()
            return
        if reply.type == "fatal":
            self._break(f"the parse worker failed: {reply.error}")
            return
        if reply.type is not None or reply.id is None:
            self._break(f"unexpected message from the parse worker: {reply!r}")
            return
        job = self._pending.pop(reply.id, None)
        self._arm_watchdog()  # progress: the clock starts again for what is still pending
        if job is None or job.channel is None or job.channel.closed:
            self.stats.stale_replies += 1
            return
        if reply.data is not None:
            started = self.platform.now_ms()
            try:
                job.value = decode_packed(reply.data, job.kind)
                job.state = DONE
            except DecodeError as exc:
                job.error = exc
                job.state = FAILED
            done = self.platform.now_ms()
            self.stats.worker_parsed += 1
            self.stats.last_worker[job.kind] = {
                "chars": job.units,
                "packed_bytes": len(reply.data),
                "round_trip_ms": done - job.posted_ms,
                "worker_ms": float(reply.ms or 0.0),
                "decode_here_ms": done - started,
                "posted_at": job.posted_ms,
                "answered_at": started,
            }
        elif reply.fault == "payload":
            job.error = DecodeError(f"{job.kind} payload: {reply.error}")
            job.state = FAILED
            self.stats.worker_failed_payloads += 1
        elif reply.fault == "unsupported":
            self._parse_here(job, fallback=True)  # valid JSON msgpack cannot carry: not an error
        else:
            self.platform.report_error(RuntimeError(f"parse worker: {reply.error}"),
                                       f"parsing a {job.kind} payload in the worker; parsing it here")
            self._parse_here(job, fallback=True)
        job.event = None
        job.channel.drain()

    def _on_error_event(self, event: Any) -> None:
        if self.state in (WorkerState.STARTING, WorkerState.READY):
            message = getattr(event, "message", None) or getattr(event, "type", None) or "error"
            self._break(f"the parse worker raised: {message}")

    def _arm_watchdog(self) -> None:
        if self._watchdog is not None:
            self._watchdog.release()
            self._watchdog = None
        if self._pending and self.state in (WorkerState.STARTING, WorkerState.READY) and not self.scope.closed:
            self._watchdog = self.scope.timeout(self._on_stall, self.stall_ms, label="parse worker watchdog")

    def _on_stall(self) -> None:
        self._watchdog = None
        if self._pending:
            self._break(f"the parse worker did not answer for {self.stall_ms / 1000:.0f} s "
                        f"({len(self._pending)} pending, state {self.state})")

    def _break(self, reason: str) -> None:
        """The worker cannot be used: report once, end it, parse what it held here, in order."""
        if self.state in (WorkerState.BROKEN, WorkerState.CLOSED):
            return
        self._machine.fire("broke")
        self.broken_reason = reason
        self.platform.report_error(RuntimeError(reason), "parse worker (large payloads are parsed on the main thread now)")
        worker, self._worker = self._worker, None
        if worker is not None:
            try:
                worker.terminate()
            except Exception as exc:
                self.platform.report_error(exc, "terminating the parse worker")
        # The listeners may be running right now (a fatal message): remove them after this task.
        worker_scope, self._worker_scope = self._worker_scope, None
        if worker_scope is not None and not self.scope.closed:
            self.scope.timeout(worker_scope.close, 0, label="parse worker teardown")
        if self._watchdog is not None:
            self._watchdog.release()
            self._watchdog = None
        pending, self._pending = self._pending, {}
        channels = []
        for request_id in sorted(pending):
            job = pending[request_id]
            if job.channel is None or job.channel.closed or job.state != PENDING:
                continue
            self._parse_here(job, fallback=True)
            if job.channel not in channels:
                channels.append(job.channel)
        for channel in channels:
            channel.drain()

    def _forget(self, job: ParseJob) -> None:
        if job.request_id is not None:
            self._pending.pop(job.request_id, None)
        if not self._pending and self._watchdog is not None:
            self._watchdog.release()
            self._watchdog = None

    def _on_scope_closed(self) -> None:
        self._machine.fire("close")
        self._pending.clear()
        self._worker = None
        self._worker_scope = None
        self._watchdog = None
