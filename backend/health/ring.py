"""Fixed-size per-second counters (docs/design.md R4: memory never grows with uptime).

:class:`SecondBuckets` keeps one slot per second in a preallocated list indexed by
``second % size``; a slot left over from an earlier lap is recognised by its stored second and
counts as empty. ``add`` and ``total`` allocate nothing.
"""

from __future__ import annotations


class SecondBuckets:
    def __init__(self, seconds: int = 60) -> None:
        if seconds <= 0:
            raise ValueError("seconds must be positive")
        self.size = seconds
        self._secs = [-1] * seconds
        self._counts = [0] * seconds

    def add(self, now: float, n: int = 1) -> None:
        sec = int(now)
        i = sec % self.size
        if self._secs[i] != sec:
            self._secs[i] = sec
            self._counts[i] = 0
        self._counts[i] += n

    def series(self, now: float) -> list[int]:
        """The count of each of the last ``size`` seconds, oldest first, the current one last."""
        sec = int(now)
        return [self._counts[s % self.size] if self._secs[s % self.size] == s else 0
                for s in range(sec - self.size + 1, sec + 1)]

    @property
    def nbytes(self) -> int:
        """About what the buckets take (two preallocated lists of small ints)."""
        return 2 * (56 + 8 * self.size)

    def total(self, now: float) -> int:
        """Sum over the last ``size`` seconds, the current one included."""
        oldest = int(now) - self.size + 1
        return sum(c for s, c in zip(self._secs, self._counts) if s >= oldest and s <= int(now))
