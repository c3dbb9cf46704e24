from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from backend.ratelimit import TokenBucket


@given(st.floats(0.5, 50), st.integers(1, 20), st.lists(st.floats(0, 2), min_size=1, max_size=200),
       st.floats(0.1, 10))
def test_no_window_sees_more_than_burst_plus_rate_times_its_length(rate, burst, gaps, window):
    bucket = TokenBucket(rate, burst, now=0.0)
    now, uses = 0.0, []
    for gap in gaps:
        now += gap
        wait = bucket.reserve(now)
        assert wait >= 0
        uses.append(now + wait)
    assert uses == sorted(uses)  # first come, first served
    for i, start in enumerate(uses):
        inside = sum(1 for u in uses[i:] if u <= start + window)
        assert inside <= burst + rate * window + 1e-6


def test_an_idle_bucket_lets_a_burst_through_at_once_then_paces():
    bucket = TokenBucket(rate=2, burst=3, now=0)
    assert [bucket.reserve(10) for _ in range(3)] == [0, 0, 0]
    assert bucket.reserve(10) == 0.5 and bucket.reserve(10) == 1.0
    assert bucket.delayed == 2
