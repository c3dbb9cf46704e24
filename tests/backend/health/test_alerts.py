from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from backend.health import alerts
from backend.health.prometheus import Exposition
from backend.health.ring import SecondBuckets


@given(st.dictionaries(st.text(min_size=1, max_size=5), st.integers(0, 20_000), max_size=6),
       st.integers(0, 500), st.data(), st.booleans())
def test_alerts_fire_exactly_at_their_thresholds(groups, attempts, data, connected):
    failures = data.draw(st.integers(0, attempts))
    fired = alerts.evaluate(connected=connected, attempts_5m=attempts, failures_5m=failures, group_clients=groups)
    names = [a.name for a in fired]
    assert names.count("group_clients_high") == sum(1 for n in groups.values() if n >= 8000)
    assert ("upstream_failure_rate" in names) == (attempts > 0 and failures / attempts > 0.10)
    assert ("upstream_disconnected" in names) == (not connected)


def test_ten_percent_is_not_above_ten_percent():
    assert not alerts.evaluate(connected=True, attempts_5m=10, failures_5m=1, group_clients={})
    assert [a.name for a in alerts.evaluate(connected=True, attempts_5m=9, failures_5m=1, group_clients={})] == [
        "upstream_failure_rate"]


@given(st.lists(st.tuples(st.integers(0, 5), st.integers(1, 10)), max_size=200), st.integers(1, 120))
def test_second_buckets_sum_exactly_the_last_window_with_fixed_memory(events, size):
    ring = SecondBuckets(size)
    now, log = 1000, []
    for dt, n in events:
        now += dt
        ring.add(now, n)
        log.append((now, n))
        assert ring.total(now) == sum(k for t, k in log if t > now - size)
        assert len(ring._counts) == size


def test_prometheus_exposition_format():
    out = Exposition()
    out.metric("a_total", "counter", "things", 3)
    out.metric("b", "gauge", "by kind", [({"kind": 'x"y'}, 1.5)])
    assert out.render() == ('# HELP a_total things\n# TYPE a_total counter\na_total 3\n'
                            '# HELP b by kind\n# TYPE b gauge\nb{kind="x\\"y"} 1.5\n')


def test_stalls_lost_sessions_and_an_exceeded_budget_raise_their_alerts():
    quiet = alerts.evaluate(connected=True, attempts_5m=1, failures_5m=0, group_clients={},
                            retained_bytes=10, budget_bytes=10)
    assert quiet == []
    loud = alerts.evaluate(connected=True, attempts_5m=1, failures_5m=0, group_clients={}, stalls_5m=1,
                           expiries_5m=2, retained_bytes=11, budget_bytes=10)
    assert [a.name for a in loud] == ["upstream_stalled", "upstream_session_lost", "memory_budget"]
    assert all(a.severity == "warning" for a in loud)
