"""Numeric request parameters (backend/http.py): ASCII digits, bounded length, never an exception."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.http import MAX_DIGITS, accepted_encodings, decimal_int, positive_int


@given(st.text())
def test_any_text_is_either_a_bounded_ascii_number_or_none(text):
    value = decimal_int(text)
    if value is None:
        assert not (0 < len(text) <= MAX_DIGITS and all(c in "0123456789" for c in text))
    else:
        assert 0 < len(text) <= MAX_DIGITS and all(c in "0123456789" for c in text) and value == int(text)


@given(st.integers(min_value=1, max_value=10**MAX_DIGITS - 1))
def test_every_positive_integer_up_to_fifteen_digits_reads_back(n):
    assert positive_int(str(n)) == n
    assert positive_int(str(n).zfill(MAX_DIGITS)) == n


@pytest.mark.parametrize("text", [
    None, "", "0", "000", "-1", "+1", " 1", "1 ", "1_0", "1.0", "1e3", "0x1f", "\u00b2", "\u0661", "\uff11",
    "\u096a", "1" * (MAX_DIGITS + 1), "9" * 5000,
])
def test_what_is_not_a_positive_integer_is_none(text):
    assert positive_int(text) is None


def test_zero_is_a_decimal_int_but_not_a_positive_one():
    assert decimal_int("0") == 0 and positive_int("0") is None


@pytest.mark.parametrize(("header", "expected"), [
    (None, []),
    ("", []),
    ("identity", []),
    ("gzip, deflate, br", ["br", "gzip"]),
    ("gzip;q=1.0, br;q=0.5", ["gzip", "br"]),
    ("br;q=0, gzip", ["gzip"]),
    ("*", ["br", "gzip"]),
    ("*;q=0, br", ["br"]),  # a name the client gives wins over its "*"
    ("br, *;q=0", ["br"]),
    ("gzip;q=0.3, *;q=0.8", ["br", "gzip"]),
    ("GZIP;Q=0.5", ["gzip"]),
    ("br;q=abc", []),
])
def test_accept_encoding_ranks_what_we_have_and_an_explicit_name_wins_over_the_star(header, expected):
    assert accepted_encodings(header) == expected
