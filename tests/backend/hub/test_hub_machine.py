"""The whole hub near its limits, as a state machine: clients come and go, the feed refuses
subscriptions or drops the socket, time passes.

The hub runs for real (its connection loop and reaper) against an in-memory feed on a FakeClock.
Properties: the registry's subscription budget is what refuses groups (429) -- the session's own
cap is never hit; a subscription the feed refused ends its group with an ``error`` event and frees
the key; the feed holds exactly the subscriptions of the groups alive; and once every client has
left and the grace period has passed, no group and no upstream subscription is left, whatever
happened on the way.
"""

from __future__ import annotations

import asyncio

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from backend.clock import FakeClock
from backend.hub.registry import LimitExceeded
from backend.hub.service import OddsHub
from backend.hub.specs import CompetitionSpec, GameSpec, LiveSportSpec
from backend.settings import Settings
from tests.support.fake_feed import FakeFeed

GRACE = 5.0
BUDGET = 7
SPECS = st.one_of(
    st.sampled_from(["1", "2", "3", "4"]).map(GameSpec),
    st.sampled_from(["1", "2"]).map(LiveSportSpec),
    st.sampled_from(["5", "6"]).map(lambda c: CompetitionSpec(c, "1", live=True)),
)


class HubMachine(RuleBasedStateMachine):
    @initialize()
    def setup(self):
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.clock = FakeClock()
        self.feed = FakeFeed()
        self.hub = OddsHub(Settings(group_grace=GRACE, max_subscriptions=BUDGET, max_game_groups=3,
                                    max_clients=12), self.clock, "ws://feed/", connector=self.feed.connect)
        self.loop.run_until_complete(self.hub.__aenter__())
        self.leases: list = []
        self.refused_groups = 0
        self.settle()

    def settle(self, rounds: int = 40) -> None:
        for _ in range(rounds):
            self.loop.run_until_complete(asyncio.sleep(0))

    def teardown(self):
        if not hasattr(self, "hub"):
            return
        try:
            for lease, _ in self.leases:
                self.hub.release(lease)
            self.leases.clear()
            self.pass_time(2 * GRACE + 1.0)  # a live group holds the counts group: two grace periods
            self.loop.run_until_complete(self.hub.idle())
            self.settle()
            assert not self.hub.groups and len(self.hub.registry) == 0
            assert self.hub.registry.total_clients == 0 and self.hub.registry.subscriptions_reserved == 0
            assert self.hub.conn.core.subscription_count == 0
            if self.hub.conn.connected:
                assert self.feed.subscriptions == {}  # nothing left upstream
        finally:
            self.loop.run_until_complete(self.hub.__aexit__(None, None, None))
            self.loop.close()
            asyncio.set_event_loop(None)

    def pass_time(self, seconds: float) -> None:
        end = self.clock.monotonic() + seconds
        while self.clock.monotonic() < end:
            self.clock.advance(min(0.5, end - self.clock.monotonic()))
            self.settle(10)
        self.settle()

    @rule(spec=SPECS)
    def client_opens(self, spec):
        try:
            lease, group = self.hub.acquire(spec)
        except LimitExceeded:
            reserved = self.hub.registry.subscriptions_reserved
            assert (self.hub.registry.total_clients >= 12 or reserved + spec.subscriptions > BUDGET
                    or (spec.kind == "live" and reserved + 2 + spec.subscriptions > BUDGET)
                    or self.hub.registry.groups_of_kind("game") >= 3)
            return
        self.leases.append((lease, group))
        self.settle()

    @precondition(lambda self: self.leases)
    @rule(data=st.data())
    def client_leaves(self, data):
        lease, _ = self.leases.pop(data.draw(st.integers(0, len(self.leases) - 1)))
        self.hub.release(lease)
        self.settle()

    @rule(n=st.integers(1, 3))
    def feed_refuses_the_next_subscribes(self, n):
        self.feed.refuse_subscribes = n

    @rule()
    def feed_drops_the_socket(self):
        sock = self.feed.socket
        if sock is not None:
            self.loop.run_until_complete(sock.close())
        self.settle()

    @rule(dt=st.sampled_from([0.5, 2.0, 6.0, 31.0]))
    def time_passes(self, dt):
        self.pass_time(dt)

    @invariant()
    def the_budget_refuses_before_the_session_cap_is_reached(self):
        if not hasattr(self, "hub"):
            return
        assert self.hub.conn.core.subscription_count <= self.hub.registry.subscriptions_reserved <= BUDGET

    @invariant()
    def failed_groups_told_their_clients_and_gave_up_their_key(self):
        if not hasattr(self, "hub"):
            return
        for _lease, group in self.leases:
            if group.failed is not None:
                assert self.hub.groups.get(group.key) is not group
                assert group.channel.closed and b"event: error" in b"".join(group.late_joiner_frames())
        for key, group in self.hub.groups.items():
            assert key in self.hub.registry and group.failed is None

    @invariant()
    def the_feed_holds_exactly_the_subscriptions_of_live_groups(self):
        if not hasattr(self, "hub") or not self.hub.conn.connected:
            return
        if any(p.sent_rid is not None for p in self.hub.conn.core._pending.values()):
            return  # requests in flight: not quiescent yet
        wanted = {h._sub.subid for g in self.hub.groups.values() for h in g._subs if h.active}
        assert set(self.feed.subscriptions) == wanted


TestHub = HubMachine.TestCase
TestHub.settings = settings(max_examples=50, stateful_step_count=30, deadline=None)
