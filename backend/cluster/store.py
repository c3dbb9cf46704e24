"""What the cluster keeps in common, behind one interface: leases, wanted groups, frames, calls.

:class:`Store` is the interface; :class:`~.redis_store.RedisStore` is the real one (every process of
a cluster talks to one Redis) and :class:`MemoryStore` has the same semantics inside one process,
so the contract suite (``tests/backend/cluster/test_store_contract.py``) holds both to them and the
edge and leader logic can be unit-tested on a fake clock.

The model, per service (``"hub"``, ``"tracker"``):

* **lease** ``name``: at most one holder; acquiring returns a *fencing token* that increases with
  every acquisition; renew and publish only succeed with the current token, so a paused former
  holder cannot write after losing it.
* **groups**: the groups some process wants, each with its spec, its *epoch* (a new one for every
  incarnation: ids of a torn-down group never match a new one) and the processes interested, each
  with an expiry. Admission of a new group checks the per-kind limits and the subscription budget
  cluster-wide; a group no process wants any more (left, or expired) is forgotten.
* **frames** of a group incarnation: a sequence numbered 1, 2, 3, ... (the ``seq`` of its SSE ids),
  bounded to the last ``maxlen``, each notified to the subscribers as it is written; and its latest
  *snapshot* with the seq it was taken at, kept but not notified (it is the big item: a replica
  reads it when a late joiner needs it).
* **calls**: requests for the leader (hierarchy, results) and their replies.
* **processes**: what each process reports about itself, expiring with it.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import msgspec

from backend.clock import Clock, within


class StoreError(Exception):
    """The store cannot be reached or answered in an unexpected way (e.g. Redis is down)."""


class Fenced(Exception):
    """A write with a lease token that is no longer the holder's: the writer lost the lease."""


class Admission(msgspec.Struct, frozen=True):
    ok: bool
    epoch: str = ""
    reason: str = ""  # "kind" (per-kind group limit) or "budget" (upstream subscriptions) when refused


class Wanted(msgspec.Struct, frozen=True):
    spec: bytes
    epoch: str


class Meta(msgspec.Struct, frozen=True):
    seq: int  # the newest frame's (0: none yet)
    first: int  # the oldest frame still kept (seq + 1 when none is)
    snapshot: bytes | None
    snapshot_seq: int


class Message(msgspec.Struct, frozen=True):
    """A notification on a group's channel: a frame (``kind`` "F") at ``seq``."""

    kind: str
    seq: int
    data: bytes


OnMessage = Callable[[str, Message], None]


def encode_message(kind: str, seq: int, data: bytes) -> bytes:
    return kind.encode() + str(seq).encode() + b" " + data


def decode_message(raw: bytes) -> Message:
    head, _, data = raw.partition(b" ")
    return Message(head[:1].decode(), int(head[1:]), data)


class Subscriber(Protocol):
    async def subscribe(self, channel: str) -> None: ...

    async def unsubscribe(self, channel: str) -> None: ...

    async def close(self) -> None: ...


class Store(Protocol):
    # -- leases ---------------------------------------------------------------------------------
    async def acquire_lease(self, name: str, holder: str, ttl: float) -> int | None: ...

    async def renew_lease(self, name: str, token: int, ttl: float) -> bool: ...

    async def release_lease(self, name: str, token: int) -> None: ...

    async def lease_holder(self, name: str) -> tuple[int, str] | None: ...

    # -- groups ---------------------------------------------------------------------------------
    async def admit(self, service: str, key: str, spec: bytes, kind: str, cost: int, kind_limit: int | None,
                    budget: int | None, process: str, ttl: float, new_epoch: str, dry_run: bool = False) -> Admission:
        """Admit ``process``'s interest in the group ``key`` under the cluster's limits (creating it
        with ``new_epoch`` if no process wants it yet). ``dry_run``: only say whether it would be
        admitted (a ``HEAD``), changing nothing."""
        ...

    async def refresh(self, service: str, groups: list[tuple[str, str]], process: str, ttl: float) -> list[str]:
        """Renew this process's interest in each ``(key, epoch)``; return the keys whose incarnation
        the store no longer has (forgotten after every interest expired, or the store restarted
        empty): their streams cannot continue."""
        ...

    async def leave(self, service: str, key: str, process: str) -> None: ...

    async def wanted(self, service: str) -> dict[str, Wanted]: ...

    # -- frames ---------------------------------------------------------------------------------
    async def publish(self, service: str, key: str, epoch: str, lease: str, token: int, frame: bytes | None,
                      snapshot: bytes | None, maxlen: int) -> int: ...

    async def publish_many(self, service: str, lease: str, token: int, maxlen: int,
                           items: list[tuple[str, str, bytes | None, bytes | None]]) -> list[int | Exception]: ...

    async def meta(self, service: str, key: str, epoch: str) -> Meta: ...

    async def frames(self, service: str, key: str, epoch: str, after: int, upto: int | None = None
                     ) -> list[tuple[int, bytes]]: ...

    async def drop(self, service: str, key: str, epoch: str) -> None: ...

    def channel(self, service: str, key: str, epoch: str) -> str: ...

    def subscriber(self, on_message: OnMessage) -> Subscriber: ...

    # -- calls and processes ----------------------------------------------------------------------
    async def call(self, service: str, request: bytes, timeout: float) -> bytes | None: ...

    async def next_call(self, service: str, timeout: float) -> tuple[str, bytes] | None: ...

    async def reply(self, reply_to: str, response: bytes) -> None: ...

    async def put(self, name: str, value: bytes, ttl: float) -> None: ...

    async def get(self, name: str) -> bytes | None: ...

    async def report_process(self, process: str, info: bytes, ttl: float) -> None: ...

    async def processes(self) -> dict[str, bytes]: ...

    async def health_report(self, items: list[HealthItem], cap: int) -> None: ...

    async def health_rollup(self) -> HealthRollup: ...

    async def close(self) -> None: ...


class HealthItem(msgspec.Struct, frozen=True):
    """One tracker report for the cluster's health leases: lease ``member`` (game|process) renewed with
    ``value`` for ``ttl`` seconds; the deltas go into the cluster-wide totals and per-second ring."""

    member: str
    value: bytes
    ttl: float
    delta_messages: int = 0
    delta_parse_errors: int = 0
    last_message_at: float | None = None


class HealthRollup(msgspec.Struct, frozen=True):
    leases: list[bytes]  # every live lease's value
    messages_total: int
    parse_errors_total: int
    last_message_at: float | None
    first_seen_at: float | None
    messages_by_second: dict[int, int]  # epoch second -> messages (the last 60 seconds)
    evicted_total: int


# -- the in-memory store ------------------------------------------------------------------------------

@dataclass
class _Group:
    spec: bytes
    epoch: str
    kind: str
    cost: int
    interest: dict[str, float] = field(default_factory=dict)  # process -> expiry


@dataclass
class _Frames:
    seq: int = 0
    kept: deque[tuple[int, bytes]] = field(default_factory=deque)
    snapshot: bytes | None = None
    snapshot_seq: int = 0


class MemoryStore:
    """The store's semantics in one process, on an injected clock: expiries and TTLs read
    ``clock.monotonic()``, the health figures that carry wall time ``clock.time()``, and the waits of
    :meth:`call` and :meth:`next_call` are ``within`` the clock's time (a ``FakeClock`` drives them)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.now = clock.monotonic
        self.wall = clock.time  # epoch seconds, for the health figures that carry wall time
        self._health: dict = {"leases": {}, "messages": 0, "errors": 0, "last": None, "first": None,
                              "seconds": {}, "evicted": 0}
        self._leases: dict[str, tuple[int, str, float]] = {}  # name -> (token, holder, expiry)
        self._fences: dict[str, int] = {}
        self._groups: dict[str, dict[str, _Group]] = {}
        self._frames: dict[str, _Frames] = {}
        self._subscribers: list[_MemorySubscriber] = []
        self._calls: dict[str, deque[tuple[str, bytes]]] = {}
        self._replies: dict[str, asyncio.Future[bytes]] = {}
        self._values: dict[str, tuple[bytes, float]] = {}
        self._processes: dict[str, tuple[bytes, float]] = {}
        self._ids = itertools.count(1)
        self._call_waiters: dict[str, asyncio.Event] = {}
        self.down = False  # fault hook: every operation raises StoreError

    def _check(self) -> None:
        if self.down:
            raise StoreError("store unavailable")

    async def acquire_lease(self, name: str, holder: str, ttl: float) -> int | None:
        self._check()
        current = self._leases.get(name)
        if current is not None and current[2] > self.now():
            return None
        # never below the clock in ms, as in Redis: tokens keep growing across a flush()
        token = self._fences[name] = max(self._fences.get(name, 0) + 1, int(self.wall() * 1000))
        self._leases[name] = (token, holder, self.now() + ttl)
        return token

    async def renew_lease(self, name: str, token: int, ttl: float) -> bool:
        self._check()
        current = self._leases.get(name)
        if current is None or current[0] != token or current[2] <= self.now():
            return False
        self._leases[name] = (token, current[1], self.now() + ttl)
        return True

    async def release_lease(self, name: str, token: int) -> None:
        self._check()
        current = self._leases.get(name)
        if current is not None and current[0] == token:
            del self._leases[name]

    async def lease_holder(self, name: str) -> tuple[int, str] | None:
        self._check()
        current = self._leases.get(name)
        return (current[0], current[1]) if current is not None and current[2] > self.now() else None

    def _holds(self, name: str, token: int) -> bool:
        current = self._leases.get(name)
        return current is not None and current[0] == token and current[2] > self.now()

    async def admit(self, service: str, key: str, spec: bytes, kind: str, cost: int, kind_limit: int | None,
                    budget: int | None, process: str, ttl: float, new_epoch: str, dry_run: bool = False) -> Admission:
        self._check()
        groups = self._groups.setdefault(service, {})
        self._prune(service)
        group = groups.get(key)
        if group is None:
            if kind_limit is not None and sum(1 for g in groups.values() if g.kind == kind) >= kind_limit:
                return Admission(False, reason="kind")
            if budget is not None and sum(g.cost for g in groups.values()) + cost > budget:
                return Admission(False, reason="budget")
            if dry_run:
                return Admission(True)
            group = groups[key] = _Group(spec, new_epoch, kind, cost)
        if dry_run:
            return Admission(True, group.epoch)
        group.interest[process] = self.now() + ttl
        return Admission(True, group.epoch)

    async def refresh(self, service: str, groups: list[tuple[str, str]], process: str, ttl: float) -> list[str]:
        self._check()
        known = self._groups.get(service, {})
        lost = []
        for key, epoch in groups:
            group = known.get(key)
            if group is None or group.epoch != epoch:
                lost.append(key)
            else:
                group.interest[process] = self.now() + ttl
        return lost

    def flush(self) -> None:
        """Forget everything, as a Redis restarted without persistence would (tests). The fencing
        counters stay: a restart takes time, and Redis's tokens follow its clock."""
        self._leases.clear()
        self._groups.clear()
        self._frames.clear()
        self._calls.clear()
        self._values.clear()

    async def leave(self, service: str, key: str, process: str) -> None:
        self._check()
        groups = self._groups.get(service, {})
        group = groups.get(key)
        if group is not None:
            group.interest.pop(process, None)
            if not group.interest:
                del groups[key]

    def _prune(self, service: str) -> None:
        groups = self._groups.get(service, {})
        now = self.now()
        for key, group in list(groups.items()):
            for process, expiry in list(group.interest.items()):
                if expiry <= now:
                    del group.interest[process]
            if not group.interest:
                del groups[key]

    async def wanted(self, service: str) -> dict[str, Wanted]:
        self._check()
        self._prune(service)
        return {key: Wanted(g.spec, g.epoch) for key, g in self._groups.get(service, {}).items()}

    def _frames_of(self, service: str, key: str, epoch: str) -> _Frames:
        return self._frames.setdefault(f"{service}|{key}|{epoch}", _Frames())

    async def publish(self, service: str, key: str, epoch: str, lease: str, token: int, frame: bytes | None,
                      snapshot: bytes | None, maxlen: int) -> int:
        self._check()
        if not self._holds(lease, token):
            raise Fenced(f"lease {lease!r} token {token} is not the holder's")
        frames = self._frames_of(service, key, epoch)
        channel = self.channel(service, key, epoch)
        if frame is not None:
            frames.seq += 1
            frames.kept.append((frames.seq, frame))
            while len(frames.kept) > maxlen:
                frames.kept.popleft()
            self._notify(channel, Message("F", frames.seq, frame))
        if snapshot is not None:  # kept, not notified: a replica reads it when a late joiner needs it
            frames.snapshot, frames.snapshot_seq = snapshot, frames.seq
        return frames.seq

    async def publish_many(self, service: str, lease: str, token: int, maxlen: int,
                           items: list[tuple[str, str, bytes | None, bytes | None]]) -> list[int | Exception]:
        """Publish each ``(key, epoch, frame, snapshot)`` in order; a fenced one gives Fenced, not a raise."""
        self._check()
        out: list[int | Exception] = []
        for key, epoch, frame, snapshot in items:
            try:
                out.append(await self.publish(service, key, epoch, lease, token, frame, snapshot, maxlen))
            except Fenced as exc:
                out.append(exc)
        return out

    def _notify(self, channel: str, message: Message) -> None:
        loop = asyncio.get_running_loop()
        for sub in list(self._subscribers):
            if channel in sub.channels:
                loop.call_soon(sub.deliver, channel, message)

    async def meta(self, service: str, key: str, epoch: str) -> Meta:
        self._check()
        frames = self._frames_of(service, key, epoch)
        first = frames.kept[0][0] if frames.kept else frames.seq + 1
        return Meta(frames.seq, first, frames.snapshot, frames.snapshot_seq)

    async def frames(self, service: str, key: str, epoch: str, after: int, upto: int | None = None
                     ) -> list[tuple[int, bytes]]:
        self._check()
        kept = self._frames_of(service, key, epoch).kept
        return [(s, f) for s, f in kept if s > after and (upto is None or s <= upto)]

    async def drop(self, service: str, key: str, epoch: str) -> None:
        self._check()
        self._frames.pop(f"{service}|{key}|{epoch}", None)

    def channel(self, service: str, key: str, epoch: str) -> str:
        return f"odds:{service}:c:{key}:{epoch}"

    def subscriber(self, on_message: OnMessage) -> _MemorySubscriber:
        sub = _MemorySubscriber(self, on_message)
        self._subscribers.append(sub)
        return sub

    async def call(self, service: str, request: bytes, timeout: float) -> bytes | None:
        self._check()
        reply_to = f"reply:{next(self._ids)}"
        fut: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._replies[reply_to] = fut
        self._calls.setdefault(service, deque()).append((reply_to, request))
        self._call_waiters.setdefault(service, asyncio.Event()).set()
        try:
            return await within(self.clock, timeout, fut)
        except TimeoutError:
            return None
        finally:
            self._replies.pop(reply_to, None)

    async def next_call(self, service: str, timeout: float) -> tuple[str, bytes] | None:
        self._check()
        queue = self._calls.setdefault(service, deque())
        event = self._call_waiters.setdefault(service, asyncio.Event())
        if not queue:
            event.clear()
            try:
                await within(self.clock, timeout, event.wait())
            except TimeoutError:
                return None
        return queue.popleft() if queue else None

    async def reply(self, reply_to: str, response: bytes) -> None:
        self._check()
        fut = self._replies.get(reply_to)
        if fut is not None and not fut.done():
            fut.set_result(response)

    async def put(self, name: str, value: bytes, ttl: float) -> None:
        self._check()
        self._values[name] = (value, self.now() + ttl)

    async def get(self, name: str) -> bytes | None:
        self._check()
        entry = self._values.get(name)
        return entry[0] if entry is not None and entry[1] > self.now() else None

    async def report_process(self, process: str, info: bytes, ttl: float) -> None:
        self._check()
        self._processes[process] = (info, self.now() + ttl)

    async def processes(self) -> dict[str, bytes]:
        self._check()
        now = self.now()
        return {p: info for p, (info, expiry) in self._processes.items() if expiry > now}

    async def health_report(self, items: list[HealthItem], cap: int) -> None:
        self._check()
        now = self.now()
        h = self._health
        for item in items:
            h["leases"][item.member] = (now + item.ttl, item.value)
            h["leases"][item.member] = h["leases"].pop(item.member)
            h["messages"] += item.delta_messages
            h["errors"] += item.delta_parse_errors
            if item.last_message_at is not None:
                h["last"] = item.last_message_at
            if h["first"] is None:
                h["first"] = self.wall()
            second = int(self.wall())
            h["seconds"][second] = h["seconds"].get(second, 0) + item.delta_messages
        leases = h["leases"]
        for member in [m for m, (expiry, _) in leases.items() if expiry <= now]:
            del leases[member]
        while len(leases) > cap:
            del leases[next(iter(leases))]
            h["evicted"] += 1
        oldest = int(self.wall()) - 59
        for second in [s for s in h["seconds"] if s < oldest]:
            del h["seconds"][second]

    async def health_rollup(self) -> HealthRollup:
        self._check()
        h = self._health
        now = self.now()
        oldest = int(self.wall()) - 59
        return HealthRollup([v for expiry, v in h["leases"].values() if expiry > now], h["messages"], h["errors"],
                            h["last"], h["first"], {s: n for s, n in h["seconds"].items() if s >= oldest},
                            h["evicted"])

    async def close(self) -> None:
        self._subscribers.clear()


class _MemorySubscriber:
    def __init__(self, store: MemoryStore, on_message: OnMessage) -> None:
        self.store = store
        self.on_message = on_message
        self.on_reconnect: Callable[[], None] | None = None
        self.channels: set[str] = set()

    def deliver(self, channel: str, message: Message) -> None:
        if channel in self.channels:
            self.on_message(channel, message)

    async def subscribe(self, channel: str) -> None:
        self.store._check()
        self.channels.add(channel)

    async def unsubscribe(self, channel: str) -> None:
        self.channels.discard(channel)

    async def close(self) -> None:
        self.channels.clear()
        if self in self.store._subscribers:
            self.store._subscribers.remove(self)

