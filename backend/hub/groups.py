"""Sans-I/O group registry: reference counts, the grace period, and the limits.

A *group* is everything the hub keeps for one stream key (``("live", "1")``, ``("game", "123")``,
...): its upstream subscriptions, caches and SSE channel. The registry only does the
bookkeeping; the service creates and closes the real group objects when told to.

* ``acquire(key, now)`` before a client joins. Raises :class:`LimitExceeded` when the client limit
  or the per-kind group limit is reached (the route answers 429 with ``Retry-After``); returns
  True when the group must be created.
* ``release(key, now)`` when a client leaves. The last one starts the grace period.
* ``tick(now)`` returns the keys whose grace period ran out: close those groups.

A client that rejoins during the grace period cancels the teardown.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass


class LimitExceeded(Exception):
    """A resource limit was hit; ``retry_after`` is a hint in whole seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(slots=True)
class _Entry:
    clients: int = 0
    holds: int = 0  # references from other groups (a live sport group holds the counts group)
    idle_since: float | None = None


class GroupRegistry:
    def __init__(self, *, grace: float, max_clients: int, max_groups: dict[str, int] | None = None) -> None:
        self.grace = grace
        self.max_clients = max_clients
        self.max_groups = dict(max_groups or {})
        self._entries: dict[Hashable, _Entry] = {}
        self._per_kind: dict[str, int] = {}
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

    def acquire(self, key: Hashable, now: float, *, internal: bool = False) -> bool:
        """Take a reference; ``internal`` ones (group to group) are not clients and skip the client limit."""
        if not internal:
            self.check_client_limit()
        entry = self._entries.get(key)
        created = entry is None
        if created:
            kind = self.kind_of(key)
            limit = self.max_groups.get(kind)
            if limit is not None and self._per_kind.get(kind, 0) >= limit:
                self.rejected_total += 1
                raise LimitExceeded(f"Too many concurrent {kind} groups", retry_after=int(self.grace) + 1)
            entry = self._entries[key] = _Entry()
            self._per_kind[kind] = self._per_kind.get(kind, 0) + 1
        if internal:
            entry.holds += 1
        else:
            entry.clients += 1
            self.total_clients += 1
        entry.idle_since = None
        return created

    def release(self, key: Hashable, now: float, *, internal: bool = False) -> None:
        entry = self._entries.get(key)
        if entry is None or (entry.holds if internal else entry.clients) == 0:
            raise KeyError(f"release without acquire: {key!r}")
        if internal:
            entry.holds -= 1
        else:
            entry.clients -= 1
            self.total_clients -= 1
        if entry.clients == 0 and entry.holds == 0:
            entry.idle_since = now

    def tick(self, now: float) -> list[Hashable]:
        expired = [k for k, e in self._entries.items()
                   if e.idle_since is not None and now - e.idle_since >= self.grace]
        for key in expired:
            self._forget(key)
        return expired

    def drain(self) -> list[Hashable]:
        """Forget every group (shutdown); returns their keys so the caller can close them."""
        keys = list(self._entries)
        for key in keys:
            self._forget(key)
        self.total_clients = 0
        return keys

    def _forget(self, key: Hashable) -> None:
        del self._entries[key]
        kind = self.kind_of(key)
        self._per_kind[kind] -= 1
        if not self._per_kind[kind]:
            del self._per_kind[kind]

    def clients(self, key: Hashable) -> int:
        entry = self._entries.get(key)
        return entry.clients if entry else 0

    def __contains__(self, key: Hashable) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def groups_of_kind(self, kind: str) -> int:
        return self._per_kind.get(kind, 0)

