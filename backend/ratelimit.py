"""A token bucket for upstream polling (docs/design.md R5: polling cannot overload the feed).

Sans-I/O: ``reserve(now)`` takes a permit and says how long the caller must wait before using it.
Reservations queue up fairly (a later caller never goes before an earlier one), and over any
window of length T at most ``burst + rate * T`` permits are used.
"""

from __future__ import annotations


class TokenBucket:
    def __init__(self, rate: float, burst: float, now: float) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("need rate > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._at = now
        self.waited_total = 0.0
        self.delayed = 0

    def reserve(self, now: float) -> float:
        """Take one permit; returns the seconds to wait before using it (0.0 if it is free now)."""
        now = max(now, self._at)
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        self._tokens -= 1.0
        if self._tokens >= 0:
            return 0.0
        wait = -self._tokens / self.rate
        self.delayed += 1
        self.waited_total += wait
        return wait
