"""Health metrics under any sequence of reports and clock moves (docs/design.md R4, R8): the lease map and the rings
stay within their bounds, eviction and expiry are exact, and the rollup is what the leases say."""

from __future__ import annotations

import asyncio

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from backend.clock import FakeClock
from backend.health.leases import LeaseMap
from backend.health.reports import TrackerReport, UpstreamReport
from backend.health.service import HealthService
from backend.health.snapshot import CountsStream, ServiceMemory, TrackerMetrics, Upstream
from backend.hub.service import OddsHub
from backend.settings import Settings
from backend.tracker.groups import TrackerSpec
from backend.tracker.service import TrackerService
from tests.support.fake_feed import FakeTrackerFeed

CAPACITY = 5
GAMES = st.sampled_from([str(n) for n in range(1, 9)])


class LeaseMachine(RuleBasedStateMachine):
    @initialize()
    def setup(self):
        self.now = 0.0
        self.leases: LeaseMap[int] = LeaseMap(CAPACITY)
        self.model: dict[str, tuple[float, int, int]] = {}  # key -> (expires, value, renewal order)
        self.order = 0
        self.evicted = 0

    @rule(key=GAMES, value=st.integers(0, 100), ttl=st.sampled_from([5.0, 30.0]))
    def renew(self, key, value, ttl):
        self.order += 1
        self.leases.renew(key, value, self.now, ttl)
        self.model[key] = (self.now + ttl, value, self.order)
        # expired ones at the old end go at once; then the least recently renewed beyond capacity
        for k in sorted(self.model, key=lambda k: self.model[k][2]):
            if self.model[k][0] > self.now or k == key:
                break
            del self.model[k]
        while len(self.model) > CAPACITY:
            oldest = min(self.model, key=lambda k: self.model[k][2])
            del self.model[oldest]
            self.evicted += 1

    @rule(dt=st.sampled_from([0.5, 4.0, 5.0, 29.0, 31.0]))
    def time_passes(self, dt):
        self.now += dt

    @rule()
    def read(self):
        live = dict(self.leases.live(self.now))
        self.model = {k: v for k, v in self.model.items() if v[0] > self.now}
        assert live == {k: v[1] for k, v in self.model.items()}

    @invariant()
    def bounded_and_exact(self):
        assert len(self.leases) <= CAPACITY
        assert self.leases.evicted_total == self.evicted
        assert set(k for k, _ in ((k, v) for k, v in self.leases._leases.items())) == set(self.model)


TestLeases = LeaseMachine.TestCase
TestLeases.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)


class HealthMachine(RuleBasedStateMachine):
    """Reports from tracker games and the hub, in any order, with time passing."""

    @initialize()
    def setup(self):
        self.clock = FakeClock()
        self.health = HealthService(self.clock, max_leases=4)
        self.health.tracker = _NoTracker()
        self.model: dict[str, tuple[float, int, bool]] = {}  # game -> (expires, clients, connected)
        self.messages: list[tuple[int, int]] = []  # (second, count) of tracker messages
        self.totals = [0, 0]

    @rule(game=GAMES, clients=st.integers(0, 3), connected=st.booleans(), messages=st.integers(0, 60),
          errors=st.integers(0, 6))
    def a_game_reports(self, game, clients, connected, messages, errors):
        self.health.report(TrackerReport(game_id=game, lease_ttl=30.0, delta_messages=messages,
                                         delta_parse_errors=errors, sse_clients=clients, upstream_connected=connected,
                                         last_message_at=self.clock.time()))
        now = self.clock.monotonic()
        self.model = {k: v for k, v in self.model.items() if v[0] > now}
        self.model[game] = (now + 30.0, clients, connected)
        while len(self.model) > 4:  # the least recently renewed goes
            del self.model[next(iter(self.model))]
        self.model[game] = self.model.pop(game)
        self.messages.append((int(self.clock.time()), messages))
        self.totals[0] += messages
        self.totals[1] += errors

    @rule(messages=st.integers(0, 100))
    def the_hub_reports(self, messages):
        self.health.report(UpstreamReport(delta_messages=messages))

    @rule(dt=st.sampled_from([0.5, 1.0, 10.0, 29.0, 31.0, 61.0]))
    def time_passes(self, dt):
        self.clock.advance(dt)

    @invariant()
    def the_rollup_is_what_the_live_leases_say(self):
        now = self.clock.monotonic()
        live = {k: v for k, v in self.model.items() if v[0] > now}
        rollup = self.health.tracker_rollup()
        assert rollup.active_games == sum(1 for _, c, _ in live.values() if c > 0)
        assert rollup.active_sse_clients == sum(c for _, c, _ in live.values())
        assert rollup.upstream_ws_connected_games == sum(1 for _, _, up in live.values() if up)
        assert (rollup.ws_messages_total, rollup.ws_parse_errors_total) == tuple(self.totals)
        second = int(self.clock.time())
        assert rollup.ws_messages_last_60s == sum(n for s, n in self.messages if s > second - 60)
        assert rollup.leases <= 4

    @invariant()
    def memory_does_not_grow_with_reports(self):
        ring_lists = [self.health.ledger.messages._counts, self.health.odds_messages._counts]
        assert all(len(r) == 60 for r in ring_lists)
        assert len(self.health.leases) <= 4 and len(self.health._responses) <= 1024


class _NoTracker:
    def metrics(self) -> TrackerMetrics:
        return TrackerMetrics()


TestHealth = HealthMachine.TestCase
TestHealth.settings = settings(max_examples=100, stateful_step_count=40, deadline=None)


def test_response_times_keep_a_bounded_window_and_count_slow_requests():
    health = HealthService(FakeClock())
    for i in range(3000):
        health.record_response(0.001 * (i % 10) + (2.0 if i % 1000 == 0 else 0.0))
    figures = health.response_time()
    assert figures.count == 1024 and figures.slowRequests == 3
    assert 0 < figures.avg < 20 and figures.p95 <= 2009


async def test_a_stalled_tracker_feed_raises_upstream_stalled_for_five_minutes():
    clock = FakeClock()
    feed = FakeTrackerFeed(["1"])  # it sends the state, then nothing: the connection stalls after 20 s
    settings_ = Settings(tracker_idle_timeout=20.0, swarm_backoff_base=0.5, swarm_backoff_cap=1.0)
    async with TrackerService(settings_, clock, "ws://tracker/", connector=feed.connect) as tracker:
        health = HealthService(clock, tracker=tracker)
        lease, group = tracker.acquire(TrackerSpec("1"))
        await clock.run_until(lambda: group.upstream_connected)
        snap = health.snapshot()
        assert snap.upstream["tracker_feed"].stalls_5m == 0 and snap.alerts == []
        await clock.run_until(lambda: tracker.stats.stalls_total == 1)
        snap = health.snapshot()
        assert snap.upstream["tracker_feed"].stalls_5m == 1
        assert [(a.name, a.service, a.value) for a in snap.alerts] == [("upstream_stalled", "tracker_feed", 1)]
        tracker.release(lease)
        await clock.run_until(lambda: not tracker.groups)  # the game is no longer followed: no more stalls
        await tracker.idle()
        clock.advance(301)
        snap = health.snapshot()
        assert snap.upstream["tracker_feed"].stalls_5m == 0 and snap.alerts == []
        assert snap.live_tracker.stalls_total == 1


def test_every_field_of_the_hubs_report_is_counted_by_health():
    clock = FakeClock()
    counted = {"delta_messages": (3, lambda h: sum(h.odds_messages.series(clock.time()))),
               "delta_updates": (3, lambda h: h.odds_updates.total(clock.time())),
               "delta_parse_errors": (3, lambda h: h.hub_reports().parse_errors_total),
               "clients": (3, lambda h: h.hub_reports().clients),
               "upstream_connected": (True, lambda h: h.hub_reports().upstream_connected),
               "lease_ttl": (3.0, lambda h: h.hub_reports().lease_expires_in),
               "role": ("edge", lambda h: next(iter(k for k, _ in h.hub_leases.live(clock.monotonic()))))}
    assert set(UpstreamReport.__struct_fields__) == set(counted)  # nothing sent that health never reads
    for field, (value, reading) in counted.items():
        health = HealthService(clock)
        health.report(UpstreamReport(**{field: value}))
        assert reading(health) == value


class _Hub:
    """What health reads of the odds hub directly; what it reports goes through the lease."""

    cache_stats = msgspec.defstruct("Stats", [("hits", int), ("misses", int)])(0, 0)

    def swarm_ws(self, updates_60s):
        return None

    def upstream_figures(self, now):
        return Upstream(connected=1, connect_attempts_5m=1, connect_failures_5m=0, failure_rate_5m=0.0)

    def counts_runs(self, now):
        return CountsStream(0, None, {})

    def memory_figures(self):
        return ServiceMemory()

    def clients_by_group(self):
        return {}


def _hub_state(health):
    snap = health.snapshot()
    return (snap.hub_reports.reporting, snap.upstream["odds_feed"].connected, snap.hub_reports.clients,
            sorted((a.name, a.service) for a in snap.alerts))


NOT_REPORTING = (False, 0, 0, [("service_not_reporting", "odds_hub"), ("upstream_disconnected", "odds_feed")])


@settings(max_examples=60, deadline=None)
@given(reports=st.lists(st.tuples(st.integers(0, 50), st.booleans(), st.floats(0.0, 29.0)), min_size=1, max_size=8),
       resume_after=st.floats(0.0, 100.0))
def test_the_hubs_lease_runs_out_exactly_30_s_after_its_last_report_and_a_report_renews_it(reports, resume_after):
    clock = FakeClock()
    health = HealthService(clock, hub=_Hub())
    assert _hub_state(health) == NOT_REPORTING  # nothing reported yet
    for clients, connected, gap in reports:  # reports at most 29 s apart: the lease never runs out
        health.report(UpstreamReport(delta_messages=5, clients=clients, upstream_connected=connected))
        last_at = clock.monotonic()
        expected = (True, int(connected), clients, [] if connected else [("upstream_disconnected", "odds_feed")])
        assert _hub_state(health) == expected
        clock.advance(gap)
        assert _hub_state(health) == expected
    clock.advance((last_at + 30.0 - 1e-6) - clock.monotonic())
    assert _hub_state(health) == expected  # a microsecond before 30 s it still holds
    clock.advance((last_at + 30.0) - clock.monotonic())
    assert clock.monotonic() == last_at + 30.0
    assert _hub_state(health) == NOT_REPORTING  # at 30 s exactly it has run out: no stale figures
    snap = health.snapshot()
    assert snap.hub_reports.lease_expires_in == 0 and snap.hub_reports.leases == 0
    assert snap.hub_reports.messages_total == 5 * len(reports)  # what was counted stays counted
    clock.advance(resume_after)
    assert _hub_state(health) == NOT_REPORTING
    health.report(UpstreamReport(clients=7, upstream_connected=True))  # it reports again: recovered
    assert _hub_state(health) == (True, 1, 7, [])
    assert health.snapshot().hub_reports.lease_expires_in == 30.0


async def _advance(clock, seconds):
    for _ in range(round(seconds / 0.1)):
        clock.advance(0.1)
        for _ in range(5):
            await asyncio.sleep(0)


async def _never_connects(url):
    raise OSError("no feed here")


async def test_a_hub_that_stops_reporting_is_shown_so_and_recovers_when_its_reaper_reports_again():
    # The real hub and its reaper: while the reaper ticks, the lease never lapses; stopped, it does.
    clock = FakeClock()
    hub = OddsHub(Settings(), clock, "ws://nowhere/", connector=_never_connects)
    health = HealthService(clock, hub=hub)
    hub.reporter = health
    async with hub:
        assert health.snapshot().hub_reports.reporting  # the first report as it starts
        await _advance(clock, 40.0)
        assert health.snapshot().hub_reports.reporting and health.reports_total >= 26
        reaper = hub._reaper
        reaper.cancel()
        await asyncio.gather(reaper, return_exceptions=True)
        await _advance(clock, 29.0)
        assert health.snapshot().hub_reports.reporting
        await _advance(clock, 1.0)
        snap = health.snapshot()
        assert not snap.hub_reports.reporting and snap.upstream["odds_feed"].connected == 0
        assert "service_not_reporting" in {a.name for a in snap.alerts}
        hub.start_reaper()
        await _advance(clock, 1.0)  # its first round, half a second after it starts
        snap = health.snapshot()
        assert snap.hub_reports.reporting and "service_not_reporting" not in {a.name for a in snap.alerts}
