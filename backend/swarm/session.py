"""Sans-I/O core of one Swarm connection: request ids, pending requests, subscriptions, deltas.

The adapter (``connection.py``) owns the socket and the clock. It calls :meth:`SwarmSession.request`
to queue a command, sends what :meth:`data_to_send` returns, feeds every decoded frame to
:meth:`receive`, and calls :meth:`tick` periodically (deadlines are checked there). The core answers with events:

* :class:`Reply` -- the frame answering a request (``rid`` matched as a string);
* :class:`RequestFailed` -- a request that timed out or was cut off by a connection loss;
* :class:`SubscriptionData` -- a subscription's whole merged tree after a delta was applied.

Errors (principle 8): :class:`SwarmError` is the root; :class:`RequestLimitError` and
:class:`SubscriptionLimitError` are local limits; :class:`SwarmRequestError` carries the remote code.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .merge import merge
from .messages import REQUEST_ENCODER, Frame, Request

MAX_PENDING_REQUESTS = 100
MAX_SUBSCRIPTIONS = 1000


class SwarmError(Exception):
    """Root of every error raised by the Swarm client."""


class RequestLimitError(SwarmError):
    """Too many requests are waiting for a reply (local limit)."""


class SubscriptionLimitError(SwarmError):
    """Too many subscriptions exist on this connection (local limit)."""


class SwarmRequestError(SwarmError):
    """The feed answered with a non-zero code, timed out, or the connection went away."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


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
    subid: str
    data: dict[str, Any]
    delta: dict[str, Any] | None  # None for the initial snapshot


Event = Reply | RequestFailed | SubscriptionData


@dataclass(slots=True)
class _Pending:
    command: str
    deadline: float


@dataclass(slots=True)
class _Subscription:
    data: dict[str, Any] = field(default_factory=dict)


def unwrap(frame: Frame) -> Any:
    """The payload of a reply: ``data.data`` when present, else ``data``."""
    data = frame.data
    if isinstance(data, dict) and "data" in data:
        return data["data"]
    return data


class SwarmSession:
    """Protocol state of one connection. Create a new one for every connection."""

    def __init__(
        self,
        *,
        max_pending: int = MAX_PENDING_REQUESTS,
        max_subscriptions: int = MAX_SUBSCRIPTIONS,
        new_rid: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self.max_pending = max_pending
        self.max_subscriptions = max_subscriptions
        self._new_rid = new_rid
        self._pending: dict[str, _Pending] = {}
        self._subs: dict[str, _Subscription] = {}
        self._outbox: list[bytes] = []
        self.unknown_subid_pushes = 0
        self.unmatched_replies = 0

    # -- requests ---------------------------------------------------------------------------
    def request(self, command: str, params: dict[str, Any], now: float, timeout: float) -> str:
        """Queue ``command``; send :meth:`data_to_send`, then wait for a Reply/RequestFailed."""
        if len(self._pending) >= self.max_pending:
            raise RequestLimitError("Too many concurrent pending requests")
        rid = self._new_rid()
        self._pending[rid] = _Pending(command, now + timeout)
        self._outbox.append(REQUEST_ENCODER.encode(Request(command=command, params=params, rid=rid)))
        return rid

    def send_unacknowledged(self, command: str, params: dict[str, Any]) -> None:
        """Queue a command whose reply nobody waits for (unsubscribe): its reply is dropped."""
        self._outbox.append(REQUEST_ENCODER.encode(Request(command=command, params=params, rid=self._new_rid())))

    def data_to_send(self) -> list[bytes]:
        out, self._outbox = self._outbox, []
        return out

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    # -- subscriptions ----------------------------------------------------------------------
    def add_subscription(self, subid: str, data: Any) -> SubscriptionData:
        """Record the subscription a successful subscribe reply created; returns its snapshot."""
        if subid not in self._subs and len(self._subs) >= self.max_subscriptions:
            raise SubscriptionLimitError("Too many concurrent subscriptions")
        tree = data if isinstance(data, dict) else {}
        self._subs[subid] = _Subscription(tree)
        return SubscriptionData(subid, tree, None)

    def remove_subscription(self, subid: str) -> bool:
        """Forget ``subid`` locally (before telling the feed, so late deltas are ignored)."""
        return self._subs.pop(subid, None) is not None

    @property
    def subscription_count(self) -> int:
        return len(self._subs)

    def subscription_data(self, subid: str) -> dict[str, Any] | None:
        sub = self._subs.get(subid)
        return sub.data if sub else None

    # -- input ------------------------------------------------------------------------------
    def receive(self, frame: Frame, now: float) -> list[Event]:
        if frame.is_push:
            return self._apply_push(frame)
        rid = "" if frame.rid is None else str(frame.rid)
        if self._pending.pop(rid, None) is None:
            self.unmatched_replies += 1
            return []
        return [Reply(rid, frame)]

    def _apply_push(self, frame: Frame) -> list[Event]:
        events: list[Event] = []
        if not isinstance(frame.data, dict):
            return events
        for subid, delta in frame.data.items():
            sub = self._subs.get(str(subid))
            if sub is None:
                self.unknown_subid_pushes += 1
                continue
            if isinstance(delta, dict):
                merge(sub.data, delta)
                events.append(SubscriptionData(str(subid), sub.data, delta))
        return events

    def tick(self, now: float) -> list[Event]:
        """Fail every request whose deadline has passed."""
        expired = [rid for rid, p in self._pending.items() if p.deadline <= now]
        events: list[Event] = []
        for rid in expired:
            pending = self._pending.pop(rid)
            events.append(RequestFailed(rid, SwarmRequestError(f"Swarm request {pending.command} timed out")))
        return events

    def close(self, reason: str) -> list[Event]:
        """The connection is gone: fail every pending request and drop every subscription."""
        events: list[Event] = [RequestFailed(rid, SwarmRequestError(reason)) for rid in self._pending]
        self._pending.clear()
        self._subs.clear()
        self._outbox.clear()
        return events
