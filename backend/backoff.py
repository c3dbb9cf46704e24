"""Full-jitter exponential backoff as a pure generator.

``delay(n) = uniform(0, min(cap, base * 2**n))`` for the n-th consecutive failure (AWS's "full
jitter"): spreads reconnecting clients evenly instead of letting them retry in lock-step, while
the cap bounds the longest wait. The caller owns the clock; this module only does arithmetic, so
tests drive it with a seeded ``random.Random``.
"""

from __future__ import annotations

import random
from collections.abc import Iterator


def ceiling(attempt: int, base: float, cap: float) -> float:
    """The largest delay full jitter may choose for the given 0-based attempt."""
    if attempt >= 64:  # 2**64 * base overflows nothing in Python but is far past any cap
        return cap
    return min(cap, base * (2**attempt))


def full_jitter(base: float, cap: float, rng: random.Random | None = None) -> Iterator[float]:
    """Yield an endless sequence of delays for consecutive failures; restart it after a success."""
    if base <= 0 or cap < base:
        raise ValueError(f"need 0 < base <= cap, got base={base} cap={cap}")
    rand = rng or random.Random()
    attempt = 0
    while True:
        yield rand.uniform(0.0, ceiling(attempt, base, cap))
        attempt += 1


class Backoff:
    """A resettable full-jitter schedule: ``next_delay()`` after a failure, ``reset()`` after health."""

    def __init__(self, base: float, cap: float, rng: random.Random | None = None) -> None:
        self.base = base
        self.cap = cap
        self._rng = rng or random.Random()
        self._gen = full_jitter(base, cap, self._rng)
        self.failures = 0

    def next_delay(self) -> float:
        self.failures += 1
        return next(self._gen)

    def reset(self) -> None:
        self.failures = 0
        self._gen = full_jitter(self.base, self.cap, self._rng)
