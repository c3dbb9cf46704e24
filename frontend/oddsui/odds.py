"""Pure odds logic: price text, flash decisions and flash expiry bookkeeping (WIRE C, R2).

* ``format_price`` reproduces JavaScript's ``Number.prototype.toFixed(3)`` (the original UI's
  display): exact decimal value of the double, ties away from zero; anything that is not a finite
  number shows ``-``.
* ``flash_direction`` decides per button whether a price move flashes ``up`` or ``down``.
* ``FlashBook`` remembers, per (game id, label) key, the active flash and when it ends. Re-marking a
  key moves its deadline instead of adding one, and ``next_deadline()`` is O(1), so the adapter needs
  exactly one timer for all flashes (``FlashTimer`` in render.py): re-renders and repeated moves never
  accumulate timers, and forgetting a game drops its marks with it.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Hashable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

__all__ = [
    "FLASH_MS",
    "FlashBook",
    "FlashMark",
    "flash_direction",
    "format_price",
    "is_blocked",
    "markets_pill_text",
    "price_value",
]

FLASH_MS = 1100.0
UP = "up"
DOWN = "down"


def price_value(price: Any) -> float | None:
    """The price as a finite float, or None (strings, booleans, NaN, infinities are not prices)."""
    if isinstance(price, bool) or not isinstance(price, (int, float)):
        return None
    value = float(price)
    if not math.isfinite(value):
        return None
    return value


def format_price(price: Any) -> str:
    """``price.toFixed(3)`` for a finite number, else ``-``."""
    value = price_value(price)
    if value is None:
        return "-"
    if abs(value) >= 1e21:
        return _js_number_string(value)
    if value == 0:
        value = 0.0  # toFixed drops the sign of -0
    quantized = Decimal(value).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)
    return f"{quantized:f}"


def _js_number_string(value: float) -> str:
    # Number.prototype.toString for |x| >= 1e21 (toFixed defers to it there): shortest round-trip
    # digits in exponent form, e.g. 1e+21, 1.5e+22.
    mantissa, _, exponent = repr(value).partition("e")
    if not exponent:
        digits = f"{value:e}"
        mantissa, _, exponent = digits.partition("e")
    mantissa = mantissa.rstrip("0").rstrip(".") if "." in mantissa else mantissa
    exp = int(exponent)
    return f"{mantissa}e{'+' if exp >= 0 else '-'}{abs(exp)}"


def flash_direction(old_price: Any, new_price: Any) -> str | None:
    """``up``/``down`` when the displayed (3-decimal) price changed between two known prices, else None.

    No flash on the first price, to or from a non-number, or for a move below display precision.
    """
    old_value = price_value(old_price)
    new_value = price_value(new_price)
    if old_value is None or new_value is None:
        return None
    if format_price(old_value) == format_price(new_value):
        return None
    return UP if new_value > old_value else DOWN


def is_blocked(flag: Any) -> bool:
    """Wire flags are ``true``/``1`` for blocked (WIRE C: ``is_blocked`` true or 1)."""
    return flag is True or (isinstance(flag, (int, float)) and not isinstance(flag, bool) and flag == 1)


def markets_pill_text(markets_count: Any, odds_shown: bool) -> str:
    """The "+N" pill: ``+(count-1)`` when the main odds are shown, else ``+count``; empty if N <= 0."""
    if isinstance(markets_count, bool) or not isinstance(markets_count, (int, float)):
        return ""
    count = int(markets_count) - (1 if odds_shown else 0)
    return f"+{count}" if count > 0 else ""


class FlashMark:
    __slots__ = ("alt", "direction", "until_ms")

    def __init__(self, direction: str, until_ms: float, alt: bool) -> None:
        self.direction = direction
        self.until_ms = until_ms
        self.alt = alt

    @property
    def css_class(self) -> str:
        return "odd-up" if self.direction == UP else "odd-down"

    def __repr__(self) -> str:
        return f"FlashMark({self.direction!r}, until={self.until_ms}, alt={self.alt})"


Key = tuple[Hashable, Hashable]


class FlashBook:
    """Active flashes keyed by (game id, label); deadlines kept in order (all flashes last FLASH_MS)."""

    def __init__(self, duration_ms: float = FLASH_MS) -> None:
        self.duration_ms = duration_ms
        self._marks: OrderedDict[Key, FlashMark] = OrderedDict()
        self._by_game: dict[Hashable, set] = {}

    def __len__(self) -> int:
        return len(self._marks)

    def mark(self, key: Key, direction: str, now_ms: float) -> FlashMark:
        """Start (or restart) a flash; returns the mark to apply. ``alt`` toggles on a restart so the
        CSS animation restarts too."""
        previous = self._marks.pop(key, None)
        alt = previous is not None and previous.until_ms > now_ms and not previous.alt
        mark = FlashMark(direction, now_ms + self.duration_ms, alt)
        self._marks[key] = mark  # appended: deadlines stay in non-decreasing order
        self._by_game.setdefault(key[0], set()).add(key)
        return mark

    def active(self, key: Key, now_ms: float) -> FlashMark | None:
        mark = self._marks.get(key)
        if mark is None or mark.until_ms <= now_ms:
            return None
        return mark

    def next_deadline(self) -> float | None:
        if not self._marks:
            return None
        return next(iter(self._marks.values())).until_ms

    def pop_due(self, now_ms: float) -> list[Key]:
        """Remove and return the keys whose flash has ended by ``now_ms`` (oldest first)."""
        due: list[Key] = []
        while self._marks:
            key, mark = next(iter(self._marks.items()))
            if mark.until_ms > now_ms:
                break
            self._marks.popitem(last=False)
            self._drop_index(key)
            due.append(key)
        return due

    def forget_game(self, game_id: Hashable) -> int:
        """Drop every mark of a game (its row left the page); returns how many."""
        keys = self._by_game.pop(game_id, set())
        for key in keys:
            self._marks.pop(key, None)
        return len(keys)

    def clear(self) -> None:
        self._marks.clear()
        self._by_game.clear()

    def _drop_index(self, key: Key) -> None:
        keys = self._by_game.get(key[0])
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._by_game[key[0]]
