"""Full-jitter exponential backoff for reconnects and retries (pure: the caller supplies randomness).

``Backoff`` owns only the attempt counter. ``next_delay(uniform)`` takes a number in [0, 1) from the
caller (``Platform.random()`` in the app, a fixed value in tests) and returns the delay in ms::

    delay = max(floor, uniform * min(cap, base * 2**attempt))

then counts the attempt. ``reset()`` starts over (after a success). The floor keeps a reconnect loop
from running hot when the jitter draws close to 0. Used by ``streams.EventStream`` (reconnects) and
the app's hierarchy retry.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Backoff"]


@dataclass
class Backoff:
    """Full-jitter exponential backoff: delay = max(floor, U(0,1) * min(cap, base * 2**attempt))."""

    base_ms: float = 2000.0
    cap_ms: float = 30000.0
    floor_ms: float = 500.0
    attempt: int = 0

    def next_delay(self, uniform: float) -> float:
        """The delay before the next attempt, for ``uniform`` in [0, 1); counts the attempt."""
        ceiling = min(self.cap_ms, self.base_ms * (2 ** min(self.attempt, 30)))
        self.attempt += 1
        return max(self.floor_ms, uniform * ceiling)

    def reset(self) -> None:
        """Start over from ``base_ms`` (call after a success)."""
        self.attempt = 0
