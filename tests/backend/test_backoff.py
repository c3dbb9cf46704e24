from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.backoff import Backoff, ceiling, full_jitter


@given(st.floats(0.01, 5), st.floats(1, 120), st.integers(0, 2**32), st.integers(1, 80))
def test_every_delay_lies_between_zero_and_the_capped_exponential_ceiling(base, cap_factor, seed, n):
    cap = base * cap_factor
    gen = full_jitter(base, cap, random.Random(seed))
    for attempt in range(n):
        delay = next(gen)
        assert 0.0 <= delay <= min(cap, base * 2**attempt)


def test_jitter_spreads_delays_over_the_whole_range():
    rng = random.Random(1)
    delays = [Backoff(1.0, 8.0, rng).next_delay() for _ in range(2000)]
    assert min(delays) < 0.05 and max(delays) > 0.95  # the first attempt's full range [0, 1)


def test_reset_starts_the_schedule_over():
    b = Backoff(1.0, 1000.0, random.Random(3))
    for _ in range(10):
        b.next_delay()
    assert b.failures == 10
    b.reset()
    assert b.failures == 0
    assert b.next_delay() <= 1.0


def test_ceiling_is_capped_for_huge_attempts():
    assert ceiling(10_000, 0.5, 30.0) == 30.0


def test_invalid_bounds_are_rejected():
    with pytest.raises(ValueError):
        next(full_jitter(0, 1))
