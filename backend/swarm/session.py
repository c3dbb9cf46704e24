"""Sans-I/O core of the hub's upstream: requests, deadlines, subscriptions and the Swarm session.

One :class:`SwarmSession` lives as long as the hub and spans every connection and every Swarm
session on them. It is the single owner of

* **requests**: each has a deadline; a request made while no session is live waits (its deadline
  running) and is sent when one is; :meth:`tick` fails the expired ones;
* **subscriptions**: handles that outlive connections. While a session is live each open handle is
  subscribed; after a reconnect or an expired session it is subscribed again and its owner gets
  the fresh snapshot. Deltas are checked against the schema (``schema.py``) and merged here;
* **the session**: ``request_session`` on every new connection, and again whenever the feed says
  the session is gone (``CODE_SESSION_LOST``), after which every request in flight is sent again
  and every subscription re-established;
* **liveness**: when the feed has been quiet for ``idle_probe`` seconds while we expect traffic
  (subscriptions or requests outstanding), or a request has waited that long for its reply with no
  later request answered (the feed may still push: only our direction is dead), a small probe
  request goes out; no answer within ``probe_timeout`` means the connection is stalled.

The adapter (``connection.py``) owns the socket and the clock. It calls :meth:`connection_made`
when a socket opens, sends what :meth:`data_to_send` returns, feeds every decoded frame to
:meth:`receive`, calls :meth:`tick` twice a second and :meth:`connection_lost` when the socket
goes. Every input returns a list of events for it to act on:

=============================  ========================================================================
event                          adapter's job
=============================  ========================================================================
:class:`Reply`                 resolve the waiter of ``rid`` with the frame
:class:`RequestFailed`         fail the waiter of ``rid`` (timed out, or cut off by a lost connection)
:class:`SubscriptionData`      call the handle's owner with the merged tree (``delta`` None: snapshot)
:class:`SubscriptionFailed`    tell the handle's owner the feed refused it (the handle is closed)
:class:`SessionStarted`        the session is live (count it, reset the backoff after a while)
:class:`SessionExpired`        counted; the core is already asking for a new session
:class:`RejectedDelta`         counted as a parse error; the core is already resubscribing
:class:`ConnectionUnusable`    close the socket and reconnect (no session, or the feed stalled)
=============================  ========================================================================

Errors (docs/design.md principle 8): :class:`SwarmError` is the root; :class:`RequestLimitError` and
:class:`SubscriptionLimitError` are local limits; :class:`SwarmRequestError` carries the remote code.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from .merge import merge
from .messages import CODE_OK, CODE_SESSION_LOST, REQUEST_ENCODER, Frame, Request
from .schema import tree_error

MAX_PENDING_REQUESTS = 100
MAX_SUBSCRIPTIONS = 1000
UNSUBSCRIBE_TIMEOUT = 15.0
PROBE = {"source": "betting", "what": {"sport": ["id"]}, "where": {"sport": {"id": 0}}}


class SwarmError(Exception):
    """Root of every error raised by the Swarm client."""


class RequestLimitError(SwarmError):
    """Too many requests are waiting for a reply (local limit)."""


class SubscriptionLimitError(SwarmError):
    """Too many subscriptions are open (local limit)."""


class SwarmRequestError(SwarmError):
    """The feed answered with a non-zero code, timed out, or the connection went away."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class SubState(str, Enum):
    WAITING = "waiting"  # no live session, or between sessions: subscribed when one is live
    REQUESTED = "requested"  # the subscribe request is in flight
    ACTIVE = "active"  # has a subid; deltas arrive
    CLOSED = "closed"  # closed by its owner or refused by the feed; final


class Subscription:
    """One subscription the hub wants. ``owner`` is the adapter's business (callbacks)."""

    __slots__ = ("what", "where", "owner", "state", "subid", "data", "_rid")

    def __init__(self, what: dict[str, Any], where: dict[str, Any], owner: Any) -> None:
        self.what = what
        self.where = where
        self.owner = owner
        self.state = SubState.WAITING
        self.subid: str | None = None
        self.data: dict[str, Any] = {}
        self._rid: str | None = None

    @property
    def closed(self) -> bool:
        return self.state is SubState.CLOSED


@dataclass(frozen=True, slots=True)
class Reply:
    rid: str
    frame: Frame


@dataclass(frozen=True, slots=True)
class RequestFailed:
    rid: str
    error: SwarmRequestError


@dataclass(frozen=True, slots=True)
class SubscriptionData:
    sub: Subscription
    data: dict[str, Any]
    delta: dict[str, Any] | None  # None for a (re)subscription snapshot


@dataclass(frozen=True, slots=True)
class SubscriptionFailed:
    sub: Subscription
    error: SwarmError


@dataclass(frozen=True, slots=True)
class SessionStarted:
    session_id: str


@dataclass(frozen=True, slots=True)
class SessionExpired:
    pass


@dataclass(frozen=True, slots=True)
class RejectedDelta:
    subid: str
    reason: str


@dataclass(frozen=True, slots=True)
class ConnectionUnusable:
    reason: str
    stalled: bool = False  # the feed stopped answering (as opposed to refusing a session)


Event = (Reply | RequestFailed | SubscriptionData | SubscriptionFailed | SessionStarted | SessionExpired
         | RejectedDelta | ConnectionUnusable)


class _Kind(str, Enum):
    USER = "user"
    SESSION = "session"
    SUBSCRIBE = "subscribe"
    UNSUBSCRIBE = "unsubscribe"
    PROBE = "probe"


@dataclass(slots=True)
class _Pending:
    kind: _Kind
    command: str
    params: dict[str, Any]
    deadline: float
    key: str  # stable id the caller waits on (user requests); the wire rid changes on a resend
    sent_rid: str | None = None
    sub: Subscription | None = None
    sent_at: float = 0.0
    sent_seq: int = 0  # order on the wire: an answer proves that everything sent before it arrived


def unwrap(frame: Frame) -> Any:
    """The payload of a reply: ``data.data`` when present, else ``data``."""
    data = frame.data
    if isinstance(data, dict) and "data" in data:
        return data["data"]
    return data


def _code_ok(frame: Frame) -> bool:
    return frame.code in (None, CODE_OK)


class SwarmSession:
    """The upstream's protocol state across connections (see the module docstring)."""

    def __init__(
        self,
        *,
        site_id: int | str = 1,
        max_pending: int = MAX_PENDING_REQUESTS,
        max_subscriptions: int = MAX_SUBSCRIPTIONS,
        request_timeout: float = 60.0,
        idle_probe: float = 3.0,
        probe_timeout: float = 3.0,
        new_rid: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self.site_id = site_id
        self.max_pending = max_pending
        self.max_subscriptions = max_subscriptions
        self.request_timeout = request_timeout
        self.idle_probe = idle_probe
        self.probe_timeout = probe_timeout
        self._new_rid = new_rid
        self._keys = itertools.count(1)
        self._pending: dict[str, _Pending] = {}  # by key
        self._by_rid: dict[str, _Pending] = {}  # the ones on the wire
        self._subs: dict[Subscription, None] = {}  # open subscriptions, in subscribe order
        self._by_subid: dict[str, Subscription] = {}
        self._outbox: list[bytes] = []
        self.connected = False
        self.session_id: str | None = None
        self._session_deadline = 0.0
        self._last_frame = 0.0
        self._probe: _Pending | None = None
        self._sent_seq = 0
        self._answered_seq = 0  # the latest-sent request the feed answered (on this connection)
        # counters (read by health metrics)
        self.session_expiries = 0
        self.rejected_deltas = 0
        self.resubscribes = 0
        self.stalls = 0
        self.unknown_subid_pushes = 0
        self.unmatched_replies = 0

    # -- state ------------------------------------------------------------------------------
    @property
    def live(self) -> bool:
        return self.connected and self.session_id is not None

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    @property
    def subscription_count(self) -> int:
        """Open subscriptions (whatever their state): what the local cap counts."""
        return len(self._subs)

    @property
    def active_subscriptions(self) -> int:
        """Subscriptions the feed currently holds for us."""
        return len(self._by_subid)

    @property
    def has_output(self) -> bool:
        return bool(self._outbox)

    def data_to_send(self) -> list[bytes]:
        out, self._outbox = self._outbox, []
        return out

    # -- connection lifecycle -----------------------------------------------------------------
    def connection_made(self, now: float, session_timeout: float) -> None:
        """A socket is open: ask for a session (it must come within ``session_timeout``)."""
        self.connected = True
        self.session_id = None
        self._last_frame = now
        self._answered_seq = self._sent_seq  # nothing on the new socket is proven yet
        self._session_deadline = now + session_timeout
        self._ask_session(now)

    def connection_lost(self, reason: str) -> list[Event]:
        """The socket is gone: requests on the wire fail, subscriptions wait for the next session.

        Requests not sent yet keep waiting (with their deadlines) for the next session.
        """
        self.connected = False
        self.session_id = None
        self._probe = None
        self._outbox.clear()
        events: list[Event] = []
        for pending in list(self._by_rid.values()):
            self._forget(pending)
            if pending.kind is _Kind.USER:
                events.append(RequestFailed(pending.key, SwarmRequestError(reason)))
        self._unbind_subscriptions()
        return events

    # -- requests ---------------------------------------------------------------------------
    def request(self, command: str, params: dict[str, Any], now: float, timeout: float) -> str:
        """Queue ``command``; returns the key its Reply/RequestFailed will carry."""
        if self._count(_Kind.USER) >= self.max_pending:
            raise RequestLimitError("Too many concurrent pending requests")
        pending = self._add(_Kind.USER, command, params, now + timeout)
        if self.live:
            self._send(pending, now)
        return pending.key

    def cancel(self, key: str) -> None:
        """The caller stopped waiting: forget the request (a late reply is ignored)."""
        pending = self._pending.get(key)
        if pending is not None and pending.kind is _Kind.USER:
            self._forget(pending)

    # -- subscriptions ----------------------------------------------------------------------
    def subscribe(self, what: dict[str, Any], where: dict[str, Any], owner: Any, now: float) -> Subscription:
        """Open a subscription; it is established now if a session is live, else when one is.

        Raises :class:`SubscriptionLimitError` before anything is sent if the cap is reached.
        """
        if len(self._subs) >= self.max_subscriptions:
            raise SubscriptionLimitError("Too many concurrent subscriptions")
        sub = Subscription(what, where, owner)
        self._subs[sub] = None
        if self.live:
            self._establish(sub, now)
        return sub

    def unsubscribe(self, sub: Subscription, now: float) -> None:
        """Close ``sub`` for good: no more deliveries; the feed is told if it holds it. Idempotent."""
        if sub.closed:
            return
        state, subid = sub.state, sub.subid
        self._close(sub)
        if state is SubState.ACTIVE and subid is not None and self.live:
            self._tell_unsubscribe(subid, now)
        # REQUESTED: the reply is still coming; _on_subscribed unsubscribes the subid it carries.

    def subscription_data(self, sub: Subscription) -> dict[str, Any] | None:
        """The merged tree of an open subscription (kept while it is being re-established)."""
        return None if sub.closed else sub.data

    # -- input ------------------------------------------------------------------------------
    def receive(self, frame: Frame, now: float) -> list[Event]:
        self._last_frame = now
        if frame.is_push:
            return self._apply_push(frame, now)
        rid = "" if frame.rid is None else str(frame.rid)
        pending = self._by_rid.get(rid)
        if pending is None:
            self.unmatched_replies += 1
            return []
        self._answered_seq = max(self._answered_seq, pending.sent_seq)
        self._forget(pending)
        if frame.code == CODE_SESSION_LOST and pending.kind is not _Kind.SESSION:
            return self._session_lost(pending, now)
        if pending.kind is _Kind.SUBSCRIBE:
            return self._on_subscribed(pending, frame, now, rid)
        handler = {
            _Kind.USER: self._on_user_reply,
            _Kind.SESSION: self._on_session_reply,
            _Kind.UNSUBSCRIBE: self._on_ignored,
            _Kind.PROBE: self._on_ignored,
        }[pending.kind]
        return handler(pending, frame, now)

    def tick(self, now: float) -> list[Event]:
        """Fail every request whose deadline has passed; probe a quiet feed; spot a stalled one."""
        events: list[Event] = []
        for pending in [p for p in self._pending.values() if p.deadline <= now]:
            self._forget(pending)
            if pending.kind is _Kind.USER:
                events.append(RequestFailed(pending.key, SwarmRequestError(
                    f"Swarm request {pending.command} timed out")))
            elif pending.kind is _Kind.SUBSCRIBE and pending.sub is not None and not pending.sub.closed:
                pending.sub.state = SubState.WAITING
                pending.sub._rid = None
                if self.live:
                    self._establish(pending.sub, now)
            elif pending.kind is _Kind.SESSION:
                events.append(ConnectionUnusable("Failed to get Swarm session id (timed out)"))
            elif pending.kind is _Kind.PROBE:
                self._probe = None
                self.stalls += 1
                quiet = now - self._last_frame
                why = (f"nothing received for {quiet:.1f}s" if quiet >= self.probe_timeout else
                       "requests go unanswered while it still pushes")
                events.append(ConnectionUnusable(f"Swarm feed stalled: {why}", stalled=True))
        if self.live and self._probe is None and self._expecting() and (
                now - self._last_frame >= self.idle_probe or self._unanswered(now)):
            self._probe = self._add(_Kind.PROBE, "get", PROBE, now + self.probe_timeout)
            self._send(self._probe, now)
        return events

    def _unanswered(self, now: float) -> bool:
        """A request has waited ``idle_probe`` for its reply and nothing sent after it was answered:
        the feed may be pushing while our direction is dead (a half-open connection)."""
        return any(p.sent_rid is not None and p.sent_seq > self._answered_seq and now - p.sent_at >= self.idle_probe
                   for p in self._pending.values())

    # -- internals: bookkeeping ---------------------------------------------------------------
    def _add(self, kind: _Kind, command: str, params: dict[str, Any], deadline: float,
             sub: Subscription | None = None) -> _Pending:
        pending = _Pending(kind, command, params, deadline, f"k{next(self._keys)}", sub=sub)
        self._pending[pending.key] = pending
        return pending

    def _send(self, pending: _Pending, now: float) -> None:
        rid = self._new_rid()
        pending.sent_rid = rid
        self._sent_seq += 1
        pending.sent_seq, pending.sent_at = self._sent_seq, now
        self._by_rid[rid] = pending
        if pending.sub is not None:
            pending.sub._rid = rid
        self._outbox.append(REQUEST_ENCODER.encode(Request(command=pending.command, params=pending.params, rid=rid)))

    def _forget(self, pending: _Pending) -> None:
        self._pending.pop(pending.key, None)
        if pending.sent_rid is not None:
            self._by_rid.pop(pending.sent_rid, None)
            pending.sent_rid = None
        if pending is self._probe:
            self._probe = None

    def _count(self, kind: _Kind) -> int:
        return sum(1 for p in self._pending.values() if p.kind is kind)

    def _expecting(self) -> bool:
        return bool(self._by_subid) or any(p.sent_rid is not None for p in self._pending.values())

    def _close(self, sub: Subscription) -> None:
        if sub.subid is not None:
            self._by_subid.pop(sub.subid, None)
        sub.state = SubState.CLOSED
        sub.subid = None
        sub.data = {}
        self._subs.pop(sub, None)
        for pending in [p for p in self._pending.values() if p.sub is sub]:
            if pending.sent_rid is None:
                self._forget(pending)  # never sent: nothing to undo upstream

    def _unbind_subscriptions(self) -> None:
        """The feed no longer holds our subscriptions (new socket or new session)."""
        self._by_subid.clear()
        for sub in self._subs:
            sub.state = SubState.WAITING
            sub.subid = None
            sub.data = {}
            sub._rid = None
        for pending in [p for p in self._pending.values() if p.kind in (_Kind.SUBSCRIBE, _Kind.UNSUBSCRIBE)]:
            self._forget(pending)

    # -- internals: the session ---------------------------------------------------------------
    def _ask_session(self, now: float) -> None:
        pending = self._add(_Kind.SESSION, "request_session", {"site_id": self.site_id, "language": "eng"},
                            max(self._session_deadline, now + 0.001))
        self._send(pending, now)

    def _on_session_reply(self, pending: _Pending, frame: Frame, now: float) -> list[Event]:
        data = frame.data if isinstance(frame.data, dict) else {}
        sid = data.get("sid")
        if not _code_ok(frame) or not isinstance(sid, str) or not sid:
            return [ConnectionUnusable("Failed to get Swarm session id")]
        self.session_id = sid
        for waiting in [p for p in self._pending.values() if p.sent_rid is None and p.kind is _Kind.USER]:
            self._send(waiting, now)
        for sub in list(self._subs):
            if sub.state is SubState.WAITING:
                self._establish(sub, now)
        return [SessionStarted(sid)]

    def _session_lost(self, pending: _Pending, now: float) -> list[Event]:
        """The feed forgot our session: ask for a new one; resend and resubscribe once it is live."""
        if pending.kind is _Kind.USER:
            self._pending[pending.key] = pending  # it waits for the new session, deadline unchanged
        if self.session_id is None:
            return []  # already asking for a new session
        self.session_id = None
        self.session_expiries += 1
        for other in list(self._by_rid.values()):
            if other.kind is _Kind.USER:
                self._by_rid.pop(other.sent_rid or "", None)
                other.sent_rid = None  # resent with a new rid; a late reply to the old one is ignored
            else:
                self._forget(other)
        self._probe = None
        self._unbind_subscriptions()
        self._session_deadline = now + self.request_timeout
        self._ask_session(now)
        return [SessionExpired()]

    # -- internals: replies ---------------------------------------------------------------------
    def _on_user_reply(self, pending: _Pending, frame: Frame, now: float) -> list[Event]:
        return [Reply(pending.key, frame)]

    def _on_ignored(self, pending: _Pending, frame: Frame, now: float) -> list[Event]:
        return []

    def _establish(self, sub: Subscription, now: float) -> None:
        params = {"source": "betting", "what": sub.what, "where": sub.where, "subscribe": True}
        pending = self._add(_Kind.SUBSCRIBE, "get", params, now + self.request_timeout, sub=sub)
        sub.state = SubState.REQUESTED
        self._send(pending, now)

    def _tell_unsubscribe(self, subid: str, now: float) -> None:
        pending = self._add(_Kind.UNSUBSCRIBE, "unsubscribe", {"subid": subid}, now + UNSUBSCRIBE_TIMEOUT)
        self._send(pending, now)

    def _on_subscribed(self, pending: _Pending, frame: Frame, now: float, rid: str) -> list[Event]:
        sub = pending.sub
        assert sub is not None
        data = frame.data if isinstance(frame.data, dict) else {}
        subid = data.get("subid")
        if _code_ok(frame) and subid is not None and (sub.closed or sub._rid != rid):
            # Closed (or superseded) while the request was in flight: undo it upstream.
            self._tell_unsubscribe(str(subid), now)
            return []
        if sub.closed:
            return []
        if not _code_ok(frame):
            self._close(sub)
            return [SubscriptionFailed(sub, SwarmRequestError(f"get subscribe failed: {frame.msg or frame.code}",
                                                               frame.code))]
        if subid is None:
            self._close(sub)
            return [SubscriptionFailed(sub, SwarmRequestError("subscribe did not return subid", frame.code))]
        tree = data.get("data")
        tree = tree if isinstance(tree, dict) else {}
        problem = tree_error(tree)
        if problem is not None:
            self._tell_unsubscribe(str(subid), now)
            self._close(sub)
            self.rejected_deltas += 1
            return [RejectedDelta(str(subid), problem),
                    SubscriptionFailed(sub, SwarmRequestError(f"subscribe snapshot malformed: {problem}"))]
        sub.state = SubState.ACTIVE
        sub.subid = str(subid)
        sub.data = tree
        sub._rid = None
        self._by_subid[sub.subid] = sub
        return [SubscriptionData(sub, tree, None)]

    def _apply_push(self, frame: Frame, now: float) -> list[Event]:
        events: list[Event] = []
        if not isinstance(frame.data, dict):
            return events
        for subid, delta in frame.data.items():
            sub = self._by_subid.get(str(subid))
            if sub is None:
                self.unknown_subid_pushes += 1
                continue
            problem = tree_error(delta)
            if problem is not None:
                # Rejected whole; our state now lags the feed's, so start over from a snapshot.
                self.rejected_deltas += 1
                events.append(RejectedDelta(str(subid), problem))
                self._resubscribe(sub, now)
                continue
            merge(sub.data, delta)
            events.append(SubscriptionData(sub, sub.data, delta))
        return events

    def _resubscribe(self, sub: Subscription, now: float) -> None:
        self.resubscribes += 1
        if sub.subid is not None:
            self._by_subid.pop(sub.subid, None)
            self._tell_unsubscribe(sub.subid, now)
        sub.subid = None  # the tree stays as it was until the new snapshot replaces it
        self._establish(sub, now)
