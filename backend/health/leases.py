"""Leases: values that expire unless renewed, in a map of bounded size (docs/design.md R4). Pure.

Each report renews its key's lease for ``ttl`` seconds and makes it the most recently used. The map
holds at most ``capacity`` leases: one more evicts the least recently renewed. Expired leases are
pruned promptly -- from the old end on every renewal (leases of one TTL expire in renewal order),
and all of them on every read -- so neither uptime nor churn grows it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Iterator
from typing import Generic, TypeVar

V = TypeVar("V")


class LeaseMap(Generic[V]):
    def __init__(self, capacity: int = 10_000) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._leases: OrderedDict[Hashable, tuple[float, V]] = OrderedDict()  # least recently renewed first
        self.evicted_total = 0
        self.expired_total = 0

    def renew(self, key: Hashable, value: V, now: float, ttl: float) -> None:
        """Set ``key``'s value and let its lease run ``ttl`` seconds from ``now``."""
        self._leases[key] = (now + ttl, value)
        self._leases.move_to_end(key)
        while self._leases:
            oldest, (expires, _) = next(iter(self._leases.items()))
            if expires > now or oldest == key:
                break
            del self._leases[oldest]
            self.expired_total += 1
        while len(self._leases) > self.capacity:
            self._leases.popitem(last=False)
            self.evicted_total += 1

    def drop(self, key: Hashable) -> None:
        self._leases.pop(key, None)

    def prune(self, now: float) -> int:
        """Forget every lease that has expired; returns how many."""
        gone = [k for k, (expires, _) in self._leases.items() if expires <= now]
        for key in gone:
            del self._leases[key]
        self.expired_total += len(gone)
        return len(gone)

    def live(self, now: float) -> Iterator[tuple[Hashable, V]]:
        """The leases still running at ``now`` (expired ones are pruned first)."""
        self.prune(now)
        for key, (_, value) in self._leases.items():
            yield key, value

    def __len__(self) -> int:
        return len(self._leases)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._leases
