"""Pure odds logic: toFixed(3) display, flash decisions, flash expiry bookkeeping (WIRE C, R2)."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from oddsui.odds import (
    FLASH_MS,
    FlashBook,
    flash_direction,
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


@pytest.mark.parametrize(
    ("old", "new", "direction"),
    [
        (1.85, 1.9, "up"),
        (1.9, 1.85, "down"),
        (1.85, 1.85, None),
        (1.8500001, 1.8500002, None),  # below display precision: no flash
        (None, 1.85, None),  # first price
        (1.85, None, None),
        ("1.85", 1.9, None),
        (1.85, "x", None),
        (2, 2.001, "up"),
    ],
)
def test_flash_direction(old, new, direction):
    assert flash_direction(old, new) == direction


@given(st.floats(1.0, 1000.0), st.floats(1.0, 1000.0))
def test_flash_direction_is_antisymmetric(a, b):
    forward, backward = flash_direction(a, b), flash_direction(b, a)
    assert {forward, backward} in ({None}, {"up", "down"})


def test_is_blocked_accepts_true_and_one_only():
    assert is_blocked(True) and is_blocked(1) and is_blocked(1.0)
    assert not any(is_blocked(v) for v in (False, 0, None, "1", 2))


@pytest.mark.parametrize(
    ("count", "shown", "text"),
    [(143, True, "+142"), (143, False, "+143"), (1, True, ""), (0, False, ""), (None, True, ""), ("5", True, "")],
)
def test_markets_pill_text(count, shown, text):
    assert markets_pill_text(count, shown) == text


def test_flash_book_marks_expire_after_the_flash_duration():
    book = FlashBook()
    mark = book.mark(("g1", 0), "up", now_ms=1000)
    assert mark.css_class == "odd-up" and mark.until_ms == 1000 + FLASH_MS and not mark.alt
    assert book.active(("g1", 0), 1500) is mark
    assert book.next_deadline() == 2100
    assert book.pop_due(2099) == []
    assert book.pop_due(2100) == [("g1", 0)]
    assert book.active(("g1", 0), 2100) is None and len(book) == 0 and book.next_deadline() is None


def test_re_marking_moves_the_deadline_and_toggles_alt_instead_of_adding_a_mark():
    book = FlashBook()
    book.mark(("g1", 0), "up", 0)
    book.mark(("g2", 0), "down", 100)
    again = book.mark(("g1", 0), "up", 500)
    assert again.alt  # restarts the CSS animation
    assert len(book) == 2
    assert book.next_deadline() == 100 + FLASH_MS  # g2 is now the oldest
    third = book.mark(("g1", 0), "down", 600)
    assert not third.alt
    late = book.mark(("g1", 0), "up", 5000)  # the previous one had ended: a fresh flash
    assert not late.alt


def test_forget_game_drops_its_marks():
    book = FlashBook()
    for label in range(3):
        book.mark(("g1", label), "up", 0)
    book.mark(("g2", 0), "up", 0)
    assert book.forget_game("g1") == 3
    assert len(book) == 1 and book.pop_due(10_000) == [("g2", 0)]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 2), st.integers(0, 700), st.booleans()), max_size=80))
def test_flash_book_deadline_is_always_the_earliest_mark(ops):
    book = FlashBook()
    now = 0.0
    for game, label, step, forget in ops:
        now += step
        if forget:
            book.forget_game(game)
        else:
            book.mark((game, label), "up", now)
        due = book.pop_due(now)
        assert all(k not in [(g, label) for g, label in due] or True for k in due)
        assert len(book) <= 18  # bounded by distinct keys
        deadlines = [m.until_ms for m in book._marks.values()]
        assert deadlines == sorted(deadlines)
        assert book.next_deadline() == (deadlines[0] if deadlines else None)
        assert all(d > now for d in deadlines)
