"""Pure odds logic: toFixed(3) display, lock flags, the markets pill (docs/api.md C2). Flashes: test_ui_flash.py."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from oddsui.odds import (
    format_price,
    is_blocked,
    markets_pill_text,
    price_value,
)


@pytest.mark.parametrize(
    ("price", "text"),
    [
        (1.85, "1.850"),
        (2, "2.000"),
        (3.4, "3.400"),
        (1.0005, "1.000"),  # the double is just below the tie: JS gives 1.000 too
        (0.0625, "0.063"),  # an exact tie rounds away from zero, as toFixed does
        (1.2345, "1.234"),  # 1.2345 is 1.23449999... as a double
        (-1.0625, "-1.063"),
        (-0.0001, "-0.000"),
        (-0.0, "0.000"),
        (1000000, "1000000.000"),
        (1e21, "1e+21"),
        ("1.85", "-"),
        (None, "-"),
        (True, "-"),
        (float("nan"), "-"),
        (float("inf"), "-"),
    ],
)
def test_format_price_matches_javascript_toFixed_3(price, text):
    assert format_price(price) == text


@given(st.floats(min_value=-1e15, max_value=1e15, allow_nan=False))
def test_format_price_has_three_decimals_and_is_the_nearest_value(value):
    text = format_price(value)
    whole, _, frac = text.lstrip("-").partition(".")
    assert len(frac) == 3 and whole.isdigit()
    assert abs(Decimal(text) - Decimal(value)) <= Decimal("0.0005")


def test_price_value_accepts_only_finite_numbers():
    assert price_value(2) == 2.0 and price_value(1.5) == 1.5
    assert price_value(False) is None and price_value("2") is None and price_value(math.inf) is None


def test_is_blocked_accepts_true_and_one_only():
    assert is_blocked(True) and is_blocked(1) and is_blocked(1.0)
    assert not any(is_blocked(v) for v in (False, 0, None, "1", 2))


@pytest.mark.parametrize(
    ("count", "shown", "text"),
    [(143, True, "+142"), (143, False, "+143"), (1, True, ""), (0, False, ""), (None, True, ""), ("5", True, "")],
)
def test_markets_pill_text(count, shown, text):
    assert markets_pill_text(count, shown) == text
