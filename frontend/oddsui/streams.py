"""EventSource streams with owned listeners, their own parse channel and a backed-off reconnect
(docs/design.md R1, R2).

An ``EventStream`` owns one child scope, and in it everything the stream holds: its
``parsing.ParseChannel`` (when it was given a parser: the queue of its messages not applied yet),
its reconnect timer, and its connection. Closing the stream, or any scope above it, releases all of
it; nobody else has to close the channel. The delays come from ``backoff.Backoff``.

Each connection attempt gets its own grandchild scope
holding the EventSource (closed last), one listener per named event, and the ``open`` and ``error``
listeners. Nothing is ever added to an EventSource except through that connection scope, and a new
connection is only made after the previous connection scope was closed, so listeners can never be
duplicated, whatever the order of errors, reconnects, and closes.

A dropped connection that the browser is re-opening by itself (``readyState`` CONNECTING) is left
to the browser: it reconnects the same EventSource with ``Last-Event-ID``, so our server resumes the
stream exactly (docs/api.md H), and the listeners stay as they are. When the browser gives up (``readyState``
CLOSED: an HTTP error such as 429, or a wrong content type) or the server sends ``event: error``, the
EventSource is closed at once and one reconnect timer is scheduled on the stream's scope with
full-jitter exponential backoff. The EventSource hides the HTTP status of a give-up, so then the
stream first fetches the URL's response head (``Platform.probe``, a task in the stream's scope): a
429's (or 503's) ``Retry-After`` is the least wait (docs/api.md B, "Limits"). The failed connection's scope is released when that timer
fires, outside the listener that reported the error (a proxy is never destroyed while it runs). At
most one reconnect timer exists at any time. The backoff resets after the first message of a
connection. The parse channel belongs to the stream, not to a connection: messages keep their
arrival order across reconnects.

The stream's state follows ``STREAM_TABLE`` (a ``machine.Table``; an illegal move raises)::

    idle --connect--> connecting --opened--> open            (``open`` event, or any message)
    connecting / open / retrying --dropped--> retrying       (the browser re-opens it itself)
    connecting / open / retrying --failed--> retrying        (closed by us; one reconnect timer)
    retrying --connect--> connecting                         (the reconnect timer fired)
    retrying --opened--> open                                (the browser's own reconnect worked)
    open --opened--> open                                    (another message)
    any --close--> closed                                    (final)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from .backoff import Backoff
from .machine import Machine, Table
from .parsing import Decoded, ParseChannel, ParserService
from .ports import Platform
from .scope import Handle, Scope

__all__ = ["STREAM_TABLE", "EventStream", "StreamState"]


READY_CONNECTING, READY_OPEN, READY_CLOSED = 0, 1, 2  # EventSource.readyState


class StreamState:
    IDLE = "idle"
    CONNECTING = "connecting"
    OPEN = "open"
    RETRYING = "retrying"
    CLOSED = "closed"


_S = StreamState
STREAM_TABLE = Table(
    name="event stream",
    initial=_S.IDLE,
    final=_S.CLOSED,
    rows={
        (_S.IDLE, "connect"): _S.CONNECTING,
        (_S.RETRYING, "connect"): _S.CONNECTING,
        (_S.CONNECTING, "opened"): _S.OPEN,
        (_S.RETRYING, "opened"): _S.OPEN,
        (_S.OPEN, "opened"): _S.OPEN,
        (_S.CONNECTING, "dropped"): _S.RETRYING,
        (_S.OPEN, "dropped"): _S.RETRYING,
        (_S.RETRYING, "dropped"): _S.RETRYING,
        (_S.CONNECTING, "failed"): _S.RETRYING,
        (_S.OPEN, "failed"): _S.RETRYING,
        (_S.RETRYING, "failed"): _S.RETRYING,
    },
)


@dataclass
class StreamStats:
    connects: int = 0
    errors: int = 0
    server_errors: int = 0
    native_retries: int = 0
    messages: int = 0
    handler_errors: int = 0
    last_status: int | None = None  # the probe's answer after the browser gave up
    retry_after_honoured: int = 0
    last_wait_ms: float | None = None
    by_event: dict[str, int] = field(default_factory=dict)


class EventStream:
    """One logical SSE stream: reconnecting EventSource, owned listeners, its own parse channel.

    ``handlers`` maps event names to what handles them. Without ``parser``: callables taking the
    event's ``data`` text. With ``parser``: ``parsing.Decoded(kind, apply, on_error)`` specs; the
    stream then makes its own ``ParseChannel`` (``self.channel``, held by the stream's scope), hands
    it each event itself (its text is read through the platform, so a large one goes to the parse
    worker without becoming a Python string) and the channel calls ``apply(payload)`` in arrival
    order. ``on_server_error`` receives the data of a server-sent ``error`` event (before the
    reconnect). ``on_state`` is told every state change. Call ``open()`` once; ``close()`` (or
    closing the parent scope) ends it, channel included.
    """

    def __init__(
        self,
        parent: Scope,
        url: str,
        handlers: Mapping[str, Callable[[str], None]] | Mapping[str, Decoded],
        *,
        parser: ParserService | None = None,
        name: str = "stream",
        backoff: Backoff | None = None,
        on_server_error: Callable[[str], None] | None = None,
        on_state: Callable[[str], None] | None = None,
        resume_id: str | None = None,
    ) -> None:
        if "error" in handlers or "open" in handlers:
            raise ValueError("'error' and 'open' are handled by EventStream itself; use on_server_error")
        decoded = [isinstance(handler, Decoded) for handler in handlers.values()]
        if parser is not None and not all(decoded):
            raise TypeError("with a parser, every handler is a parsing.Decoded")
        if parser is None and any(decoded):
            raise TypeError("parsing.Decoded handlers need a parser")
        self.url = url
        # The id a server-rendered page was rendered at (docs/ui.md 9): the first connection resumes
        # from it (``lastEventId`` in the query, docs/api.md 0), so it gets exactly the events since.
        # Later connections are the browser's own resumes (Last-Event-ID) or, after a give-up, new
        # ones with a fresh snapshot, as for any stream.
        self.resume_id = resume_id
        self.name = name
        self.platform: Platform = parent.platform
        self.scope = parent.child(f"stream:{name}")
        self.scope.defer(self._mark_closed, kind="state", label="closed")
        # Held by the stream's scope (after the state handle, so released before it): closing the
        # stream drops what its channel still has queued and forgets its worker requests.
        self.channel: ParseChannel | None = None if parser is None else parser.channel(self.scope, name)
        self.backoff = backoff if backoff is not None else Backoff()
        self.stats = StreamStats()
        self._handlers = dict(handlers)
        self._on_server_error = on_server_error
        self._on_state = on_state
        self._machine = Machine(STREAM_TABLE, self._state_changed)
        self._conn: Scope | None = None
        self._source: Any = None
        self._retry: Handle | None = None
        self._got_message = False

    @property
    def state(self) -> str:
        return self._machine.state

    @property
    def closed(self) -> bool:
        return self._machine.final

    def open(self) -> None:
        """Start connecting (no-op if already connecting, open, waiting to retry, or closed)."""
        if self._machine.state != StreamState.IDLE:
            return
        self._connect()

    def close(self) -> None:
        """Close the EventSource, remove every listener, cancel any pending reconnect. Idempotent."""
        self.scope.close()

    # ---------------------------------------------------------------- internals

    def _state_changed(self, _old: str, new: str, _event: str) -> None:
        if self._on_state is not None:
            try:
                self._on_state(new)
            except Exception as exc:
                self.platform.report_error(exc, f"stream {self.name} state callback")

    def _mark_closed(self) -> None:
        self._conn = None
        self._source = None
        self._retry = None
        self._machine.fire("close")

    def _connect(self) -> None:
        if self.closed or self.scope.closed:
            return
        self._release_connection()
        conn = self.scope.child("connection")
        url = self.url
        if self.resume_id:
            url += ("&" if "?" in url else "?") + "lastEventId=" + quote(self.resume_id, safe="")
            self.resume_id = None
        source = self.platform.open_event_source(url)
        # Registered first so it is released last: listeners come off, then the source closes.
        conn.defer(source.close, kind="eventsource", label=self.url)
        for event_name, handler in self._handlers.items():
            conn.listen(source, event_name, self._message_listener(event_name, handler), label=self.name)
        conn.listen(source, "open", self._on_open, label=self.name)
        conn.listen(source, "error", self._on_error, label=self.name)
        self._conn = conn
        self._source = source
        self._got_message = False
        self.stats.connects += 1
        self._machine.fire("connect")

    def _release_connection(self) -> None:
        conn, self._conn, self._source = self._conn, None, None
        if conn is not None:
            conn.close()

    def _message_listener(self, event_name: str, handler: Callable[[str], None] | Decoded) -> Callable[[Any], None]:
        channel = self.channel

        def on_message(event: Any) -> None:
            if self._source is None:
                return  # a late event from a connection already given up
            if not self._got_message:
                self._got_message = True
                self.backoff.reset()
            self._machine.fire("opened")
            self.stats.messages += 1
            self.stats.by_event[event_name] = self.stats.by_event.get(event_name, 0) + 1
            try:
                if isinstance(handler, Decoded):
                    assert channel is not None
                    channel.receive(handler.kind, event, handler.apply, handler.on_error)
                else:
                    data = getattr(event, "data", None)
                    handler("" if data is None else str(data))
            except Exception as exc:
                self.stats.handler_errors += 1
                self.platform.report_error(exc, f"stream {self.name}: handling {event_name!r}")

        return on_message

    def _on_open(self, _event: Any) -> None:
        if self._source is not None:
            self._machine.fire("opened")

    def _on_error(self, event: Any) -> None:
        source = self._source
        if source is None:
            return
        self.stats.errors += 1
        data = getattr(event, "data", None)
        if isinstance(data, str):
            # A server-sent "event: error" (a MessageEvent with data): the server says this stream
            # failed, so give up this connection (docs/api.md G: the UI treats it as a disconnect).
            self.stats.server_errors += 1
            if self._on_server_error is not None:
                try:
                    self._on_server_error(data)
                except Exception as exc:
                    self.platform.report_error(exc, f"stream {self.name}: server error callback")
        elif getattr(source, "readyState", READY_CLOSED) != READY_CLOSED:
            # A dropped connection the browser is already re-opening on the same EventSource, with
            # Last-Event-ID, so the server resumes exactly where we were (docs/api.md H). Same listeners.
            self.stats.native_retries += 1
            self._machine.fire("dropped")
            return
        # The browser gave up (HTTP error, wrong type) or the server reported an error: close it now
        # (stops any native retry); its listeners are removed when the reconnect timer fires.
        self._source = None
        try:
            source.close()
        finally:
            self._schedule_reconnect(probe=not isinstance(data, str))

    def _schedule_reconnect(self, probe: bool = False) -> None:
        """One reconnect after a full-jitter delay. After the browser gave up (``probe``), which hides
        the HTTP status, the URL's response head is fetched first: a 429's (or 503's) ``Retry-After``
        then sets the least wait (docs/api.md B: the limits answer with it)."""
        if self.closed or self.scope.closed:
            return
        if self._retry is not None and not self._retry.released:
            return  # one pending reconnect at most
        delay = self.backoff.next_delay(self.platform.random())
        if probe:
            handle = self.scope.task(self._probe_then_wait(delay), label=f"probe {self.name}")
            if self._retry is None or self._retry.released:  # the probe is still running
                self._retry = handle
        else:
            self._retry = self.scope.timeout(self._reconnect, delay, label=f"reconnect {self.name}")
        self._machine.fire("failed")

    async def _probe_then_wait(self, delay: float) -> None:
        wait = delay
        try:
            status, retry_after = await self.platform.probe(self.url)
        except Exception:  # unreachable: the backoff alone decides
            status, retry_after = 0, None
        self.stats.last_status = status
        if retry_after is not None and status in (429, 503):
            wait = max(delay, retry_after * 1000.0)
            self.stats.retry_after_honoured += 1
        if self.closed or self.scope.closed:
            return
        self.stats.last_wait_ms = wait
        self._retry = self.scope.timeout(self._reconnect, wait, label=f"reconnect {self.name}")

    def _reconnect(self) -> None:
        self._retry = None
        self._connect()
