"""bench.firstpaint's bootstrap interval of a ratio of medians: the spread printed beside each ratio,
so one run's MISS or PASS can be told from its noise."""

from __future__ import annotations

import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.firstpaint import interval

times = st.lists(st.floats(min_value=0.01, max_value=10.0, allow_nan=False), min_size=2, max_size=24)


@given(times, times)
def test_the_interval_is_ordered_bounded_and_repeatable(ours: list[float], against: list[float]) -> None:
    low, high = interval(ours, against)
    assert low <= high
    # a resampled median lies between the sample's extremes, so the ratio does too
    assert min(ours) / max(against) * (1 - 1e-12) <= low
    assert high <= max(ours) / min(against) * (1 + 1e-12)
    assert interval(ours, against) == (low, high)  # seeded: the same visits print the same interval


@given(times, times, st.floats(min_value=0.1, max_value=10.0))
def test_scaling_one_side_scales_the_interval(ours: list[float], against: list[float], k: float) -> None:
    low, high = interval(ours, against)
    scaled = interval([k * v for v in ours], against)
    assert scaled == pytest.approx((k * low, k * high), rel=1e-9)


def test_visits_that_agree_have_no_spread_and_noisy_ones_do() -> None:
    assert interval([0.2] * 8, [0.25] * 8) == pytest.approx((0.8, 0.8))
    noisy_ours = [0.18, 0.31, 0.22, 0.27, 0.20, 0.35, 0.24, 0.29]
    noisy_floor = [0.17, 0.28, 0.21, 0.33, 0.19, 0.26, 0.23, 0.30]
    low, high = interval(noisy_ours, noisy_floor)
    point = statistics.median(noisy_ours) / statistics.median(noisy_floor)
    assert low < point < high and high - low > 0.2
    # more visits of the same spread give a narrower interval
    low16, high16 = interval(noisy_ours * 2, noisy_floor * 2)
    assert high16 - low16 < high - low


def test_too_few_visits_have_no_interval() -> None:
    assert interval([0.2], [0.25, 0.3]) is None
    assert interval([0.2, None, "x"], [0.25, 0.3]) is None  # a visit without the milestone does not count
    assert interval([0.2, 0.3], [0.0, 0.3]) is None  # nor a zero on the other side
