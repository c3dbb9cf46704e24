"""Pure odds logic: price text, lock flags and the markets pill (docs/api.md C2).

* ``format_price`` reproduces JavaScript's ``Number.prototype.toFixed(3)`` (the original UI's
  display): exact decimal value of the double, ties away from zero; anything that is not a finite
  number shows ``-``.
* ``price_value`` is the price as a finite float, or None.
* ``is_blocked`` reads the wire's lock flags; ``markets_pill_text`` is the "+N" pill.

Whether a price move flashes, and the flash itself, belong to ``flash``.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

__all__ = [
    "format_price",
    "is_blocked",
    "markets_pill_text",
    "price_value",
]


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
    # Python's formatting rounds the exact binary value to nearest, as toFixed does, and differs only
    # on an exact tie (toFixed rounds those away from zero): only a value whose 4-decimal rendering
    # ends in 5 can be one, and only those take the exact (slower) decimal path.
    if not f"{value:.4f}".endswith("5"):
        return f"{value:.3f}"
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


def is_blocked(flag: Any) -> bool:
    """Wire flags are ``true``/``1`` for blocked (docs/api.md C: ``is_blocked`` true or 1)."""
    return flag is True or (isinstance(flag, (int, float)) and not isinstance(flag, bool) and flag == 1)


def markets_pill_text(markets_count: Any, odds_shown: bool) -> str:
    """The "+N" pill: ``+(count-1)`` when the main odds are shown, else ``+count``; empty if N <= 0."""
    if isinstance(markets_count, bool) or not isinstance(markets_count, (int, float)):
        return ""
    count = int(markets_count) - (1 if odds_shown else 0)
    return f"+{count}" if count > 0 else ""
