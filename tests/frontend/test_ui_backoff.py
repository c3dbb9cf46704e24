"""Backoff: full-jitter exponential delays with a floor and a cap, reset after a success."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from oddsui.backoff import Backoff


def test_floor_prevents_a_hot_reconnect_loop():
    backoff = Backoff(base_ms=1000, cap_ms=8000, floor_ms=250)
    assert backoff.next_delay(0.0) == 250


def test_the_ceiling_doubles_per_attempt_up_to_the_cap_and_reset_starts_over():
    backoff = Backoff(base_ms=1000, cap_ms=8000, floor_ms=0)
    assert [backoff.next_delay(0.5) for _ in range(6)] == [500, 1000, 2000, 4000, 4000, 4000]
    assert backoff.attempt == 6
    backoff.reset()
    assert backoff.attempt == 0 and backoff.next_delay(0.5) == 500


@given(
    st.floats(1.0, 10_000.0), st.floats(1.0, 100_000.0), st.floats(0.0, 1_000.0),
    st.lists(st.floats(0.0, 0.999999), min_size=1, max_size=60),
)
def test_every_delay_is_between_the_floor_and_the_capped_ceiling(base, cap, floor, draws):
    backoff = Backoff(base_ms=base, cap_ms=cap, floor_ms=floor)
    for attempt, uniform in enumerate(draws):
        ceiling = min(cap, base * 2 ** min(attempt, 30))
        delay = backoff.next_delay(uniform)
        assert delay == max(floor, uniform * ceiling)
        assert floor <= delay <= max(floor, cap)
