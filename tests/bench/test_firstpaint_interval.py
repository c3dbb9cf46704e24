"""bench.firstpaint's bootstrap interval of a ratio of medians: the spread printed beside each ratio,
so one run's MISS or PASS can be told from its noise."""

from __future__ import annotations

import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.firstpaint import interval, paired

# Each example resamples 2,000 times: no per-example deadline (a loaded machine made it flaky).
NO_DEADLINE = settings(deadline=None)

times = st.lists(st.floats(min_value=0.01, max_value=10.0, allow_nan=False), min_size=2, max_size=24)


@NO_DEADLINE
@given(times, times)
def test_the_interval_is_ordered_bounded_and_repeatable(ours: list[float], against: list[float]) -> None:
    low, high = interval(ours, against)
    assert low <= high
    # a resampled median lies between the sample's extremes, so the ratio does too
    assert min(ours) / max(against) * (1 - 1e-12) <= low
    assert high <= max(ours) / min(against) * (1 + 1e-12)
    assert interval(ours, against) == (low, high)  # seeded: the same visits print the same interval


@NO_DEADLINE
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


pairs = st.lists(st.tuples(st.floats(min_value=0.01, max_value=10.0), st.floats(min_value=0.01, max_value=10.0)),
                 min_size=2, max_size=24)


@NO_DEADLINE
@given(pairs)
def test_the_paired_ratio_is_the_median_of_the_runs_own_ratios_inside_its_interval(runs: list[tuple[float, float]]) -> None:
    ours, against = [a for a, _ in runs], [b for _, b in runs]
    point, (low, high) = paired(ours, against)
    own = [a / b for a, b in runs]
    assert point == pytest.approx(statistics.median(own))
    assert min(own) * (1 - 1e-12) <= low <= high <= max(own) * (1 + 1e-12)
    assert paired(ours, against) == (point, (low, high))  # seeded


@NO_DEADLINE
@given(pairs, st.floats(min_value=0.1, max_value=10.0))
def test_a_machine_slower_in_some_runs_moves_both_visits_and_not_the_paired_ratio(
        runs: list[tuple[float, float]], slow: float) -> None:
    ours, against = [a for a, _ in runs], [b for _, b in runs]
    # every other run on a machine `slow` times as fast: each run's two visits move together
    ours_s = [v * (slow if i % 2 else 1) for i, v in enumerate(ours)]
    against_s = [v * (slow if i % 2 else 1) for i, v in enumerate(against)]
    point, spread = paired(ours, against)
    point_s, spread_s = paired(ours_s, against_s)
    assert point_s == pytest.approx(point, rel=1e-9) and spread_s == pytest.approx(spread, rel=1e-9)


def test_a_run_without_a_milestone_is_left_out_of_the_pairs() -> None:
    assert paired([0.3, None, 0.4], [0.3, 0.2, "x"]) == (1.0, None)
    assert paired([None], [0.2]) is None
    assert paired([0.2, 0.3], [0.0, 0.0]) is None
    point, spread = paired([0.2, 0.4, 0.3], [0.1, 0.4, 0.3])
    assert point == 1.0 and spread is not None
