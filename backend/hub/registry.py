"""Sans-I/O group registry: references, the grace period, and the limits.

A *group* is everything a streaming service keeps for one stream key (``("live", "1")``,
``("game", "123")``, ``("tracker", "123")``, ...): its upstream (subscriptions, or a tracker
connection), caches and SSE channel; the odds hub and the live tracker each have a registry. The
registry only does the bookkeeping; the service creates and closes the real group objects when told
to.

* ``acquire(key, now, cost=n)`` before a client joins; returns a :class:`Lease` and whether the
  group must be created. Raises :class:`LimitExceeded` (the route answers 429 with
  ``Retry-After``) when the client limit, the per-kind group limit or the upstream subscription
  budget would be passed. ``cost`` is how many upstream subscriptions a new group of that key
  opens; the budget is the session's subscription cap, so the feed's cap is never what says no.
* ``check_group(key, cost=n, holds=...)`` raises what ``acquire`` (after the client limit) would,
  and then the internal acquires a new group of that key makes (``holds``), and takes nothing: the
  answer to a ``HEAD``.
* ``release(lease, now)`` when a client leaves. The last one starts the grace period.
* ``tick(now)`` returns the keys whose grace period ran out: close those groups.
* ``retire(key)`` when a group failed: the key is free at once (the next client gets a new group)
  while the old group's clients still hold their leases; their releases then only count down.

A client that rejoins during the grace period cancels the teardown. Internal leases (one group
holding another, as a live sport group holds the counts group) are not clients: they skip the
client limit and are not counted as clients.
"""

from __future__ import annotations

from collections.abc import Hashable


class LimitExceeded(Exception):
    """A resource limit was hit; ``retry_after`` is a hint in whole seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class _Entry:
    __slots__ = ("key", "kind", "cost", "clients", "holds", "idle_since", "retired")

    def __init__(self, key: Hashable, kind: str, cost: int) -> None:
        self.key = key
        self.kind = kind
        self.cost = cost
        self.clients = 0
        self.holds = 0
        self.idle_since: float | None = None
        self.retired = False


class Lease:
    """One reference on one incarnation of a group; give it back with ``registry.release``."""

    __slots__ = ("entry", "internal", "released")

    def __init__(self, entry: _Entry, internal: bool) -> None:
        self.entry = entry
        self.internal = internal
        self.released = False

    @property
    def key(self) -> Hashable:
        return self.entry.key


class GroupRegistry:
    def __init__(self, *, grace: float, max_clients: int, max_groups: dict[str, int] | None = None,
                 subscription_budget: int | None = None) -> None:
        self.grace = grace
        self.max_clients = max_clients
        self.max_groups = dict(max_groups or {})
        self.subscription_budget = subscription_budget
        self._entries: dict[Hashable, _Entry] = {}
        self._per_kind: dict[str, int] = {}
        self.subscriptions_reserved = 0
        self.total_clients = 0
        self.rejected_total = 0

    @staticmethod
    def kind_of(key: Hashable) -> str:
        return str(key[0]) if isinstance(key, tuple) and key else str(key)

    def check_client_limit(self) -> None:
        """Raise LimitExceeded if one more client would be over the limit."""
        if self.total_clients >= self.max_clients:
            self.rejected_total += 1
            raise LimitExceeded("Too many concurrent clients", retry_after=5)

    def acquire(self, key: Hashable, now: float, *, internal: bool = False, cost: int = 0) -> tuple[Lease, bool]:
        """Take a reference; returns ``(lease, created)``. See the module docstring for the limits."""
        if not internal:
            self.check_client_limit()
        entry = self._entries.get(key)
        created = entry is None
        if entry is None:
            kind = self.kind_of(key)
            self._check_new(kind, cost, self._per_kind.get(kind, 0), self.subscriptions_reserved)
            entry = self._entries[key] = _Entry(key, kind, cost)
            self._per_kind[kind] = self._per_kind.get(kind, 0) + 1
            self.subscriptions_reserved += cost
        if internal:
            entry.holds += 1
        else:
            entry.clients += 1
            self.total_clients += 1
        entry.idle_since = None
        return Lease(entry, internal), created

    def check_group(self, key: Hashable, *, cost: int = 0, holds: tuple[tuple[Hashable, int], ...] = ()) -> None:
        """Raise LimitExceeded if a client's ``acquire(key, cost=cost)`` would, past the client limit
        (check that first) -- and then, for a new group, the internal acquire of each ``(key, cost)``
        in ``holds`` that it makes as it starts. Nothing is taken or changed but ``rejected_total``."""
        if key in self._entries:
            return
        per_kind: dict[str, int] = {}
        reserved = self.subscriptions_reserved
        for new_key, new_cost in ((key, cost), *holds):
            if new_key != key and new_key in self._entries:
                continue  # held already: joined, not created
            kind = self.kind_of(new_key)
            self._check_new(kind, new_cost, self._per_kind.get(kind, 0) + per_kind.get(kind, 0), reserved)
            per_kind[kind] = per_kind.get(kind, 0) + 1
            reserved += new_cost

    def _check_new(self, kind: str, cost: int, groups_of_kind: int, reserved: int) -> None:
        """Raise LimitExceeded if one more group of ``kind``, costing ``cost``, would pass a limit."""
        limit = self.max_groups.get(kind)
        if limit is not None and groups_of_kind >= limit:
            self.rejected_total += 1
            raise LimitExceeded(f"Too many concurrent {kind} groups", retry_after=int(self.grace) + 1)
        budget = self.subscription_budget
        if budget is not None and reserved + cost > budget:
            self.rejected_total += 1
            raise LimitExceeded("Too many concurrent upstream subscriptions", retry_after=int(self.grace) + 1)

    def release(self, lease: Lease, now: float) -> None:
        """Give a lease back (a second release of the same lease is an error)."""
        if lease.released:
            raise KeyError(f"lease on {lease.key!r} released twice")
        lease.released = True
        entry = lease.entry
        if lease.internal:
            entry.holds -= 1
        else:
            entry.clients -= 1
            self.total_clients -= 1
        if entry.clients == 0 and entry.holds == 0 and not entry.retired:
            entry.idle_since = now

    def retire(self, key: Hashable) -> bool:
        """Free ``key`` now (its group failed and is closed); True if it was registered."""
        entry = self._entries.get(key)
        if entry is None:
            return False
        self._forget(entry)
        entry.retired = True
        entry.idle_since = None
        return True

    def tick(self, now: float) -> list[Hashable]:
        expired = [e for e in self._entries.values()
                   if e.idle_since is not None and now - e.idle_since >= self.grace]
        for entry in expired:
            self._forget(entry)
        return [e.key for e in expired]

    def drain(self) -> list[Hashable]:
        """Forget every group (shutdown); returns their keys so the caller can close them."""
        entries = list(self._entries.values())
        for entry in entries:
            self._forget(entry)
            entry.retired = True
        return [e.key for e in entries]

    def _forget(self, entry: _Entry) -> None:
        del self._entries[entry.key]
        self._per_kind[entry.kind] -= 1
        if not self._per_kind[entry.kind]:
            del self._per_kind[entry.kind]
        self.subscriptions_reserved -= entry.cost

    def clients(self, key: Hashable) -> int:
        entry = self._entries.get(key)
        return entry.clients if entry else 0

    def __contains__(self, key: Hashable) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def groups_of_kind(self, kind: str) -> int:
        return self._per_kind.get(kind, 0)
