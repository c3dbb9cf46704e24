"""Alert rules (docs/design.md R8): each fires exactly at its threshold and clears as soon as the figure is below it."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from backend.health import alerts
from backend.health.ring import SecondBuckets
from backend.health.snapshot import ServiceMemory, Upstream


def upstream(attempts: int = 1, failures: int = 0, stalls: int = 0, expiries: int = 0) -> Upstream:
    return Upstream(connected=1, connect_attempts_5m=attempts, connect_failures_5m=failures,
                    failure_rate_5m=alerts.failure_rate(attempts, failures), stalls_5m=stalls,
                    session_expiries_5m=expiries)


def names(**kwargs) -> list[str]:
    kwargs.setdefault("odds_connected", True)
    kwargs.setdefault("upstreams", {})
    kwargs.setdefault("group_clients", {})
    kwargs.setdefault("memory", {})
    return [a.name for a in alerts.evaluate(**kwargs)]


@given(st.dictionaries(st.text(min_size=1, max_size=5), st.integers(0, 20_000), max_size=6),
       st.integers(0, 500), st.data(), st.booleans())
def test_alerts_fire_exactly_at_their_thresholds(groups, attempts, data, connected):
    failures = data.draw(st.integers(0, attempts))
    fired = names(odds_connected=connected, upstreams={"odds_feed": upstream(attempts, failures)},
                  group_clients=groups)
    assert fired.count("group_clients_high") == sum(1 for n in groups.values() if n >= 8000)
    assert ("upstream_failure_rate" in fired) == (attempts > 0 and failures / attempts > 0.10)
    assert ("upstream_disconnected" in fired) == (not connected)


def test_ten_percent_is_not_above_ten_percent_and_each_upstream_counts_alone():
    assert names(upstreams={"odds_feed": upstream(10, 1)}) == []
    assert names(upstreams={"odds_feed": upstream(9, 1)}) == ["upstream_failure_rate"]
    both = alerts.evaluate(odds_connected=True, group_clients={}, memory={},
                           upstreams={"odds_feed": upstream(10, 1), "tracker_feed": upstream(5, 1)})
    assert [(a.name, a.service) for a in both] == [("upstream_failure_rate", "tracker_feed")]


def test_stalls_lost_sessions_and_an_exceeded_budget_raise_their_alerts():
    assert names(upstreams={"odds_feed": upstream()}, memory={"odds_hub": ServiceMemory(budget_bytes=10,
                                                                                         replay_bytes=10)}) == []
    fired = alerts.evaluate(odds_connected=True, group_clients={},
                            upstreams={"odds_feed": upstream(stalls=1, expiries=2)},
                            memory={"odds_hub": ServiceMemory(budget_bytes=10, replay_bytes=6, cache_bytes=5)})
    assert [a.name for a in fired] == ["upstream_stalled", "upstream_session_lost", "memory_budget"]
    assert all(a.severity == "warning" for a in fired)


@given(st.lists(st.tuples(st.integers(0, 5), st.integers(1, 10)), max_size=200), st.integers(1, 120))
def test_second_buckets_sum_exactly_the_last_window_with_fixed_memory(events, size):
    ring = SecondBuckets(size)
    now, log = 1000, []
    for dt, n in events:
        now += dt
        ring.add(now, n)
        log.append((now, n))
        assert ring.total(now) == sum(k for t, k in log if t > now - size)
        assert ring.series(now) == [sum(k for t, k in log if t == s) for s in range(now - size + 1, now + 1)]
        assert len(ring._counts) == size


class FailureRateMachine(RuleBasedStateMachine):
    """Connection attempts and failures over time, counted in the real 5-minute buckets: the rate
    alert is up exactly while more than 10 % of the last 5 minutes' attempts failed."""

    @initialize()
    def setup(self):
        self.now = 10_000.0
        self.attempts = SecondBuckets(300)
        self.failures = SecondBuckets(300)
        self.log: list[tuple[int, bool]] = []

    @rule(failed=st.booleans(), n=st.integers(1, 5))
    def attempts_happen(self, failed, n):
        for _ in range(n):
            self.attempts.add(self.now)
            if failed:
                self.failures.add(self.now)
            self.log.append((int(self.now), failed))

    @rule(dt=st.sampled_from([0.5, 1.0, 30.0, 120.0, 299.0, 301.0]))
    def time_passes(self, dt):
        self.now += dt

    @invariant()
    def the_alert_follows_the_trailing_window(self):
        recent = [failed for t, failed in self.log if t > int(self.now) - 300]
        attempts, failures = self.attempts.total(self.now), self.failures.total(self.now)
        assert (attempts, failures) == (len(recent), sum(recent))
        fired = names(upstreams={"odds_feed": upstream(attempts, failures)})
        assert ("upstream_failure_rate" in fired) == (bool(recent) and sum(recent) / len(recent) > 0.10)


TestFailureRate = FailureRateMachine.TestCase
TestFailureRate.settings = settings(max_examples=100, stateful_step_count=40, deadline=None)
