"""The group registry as a state machine driven by a fake clock: leases, grace, limits, retirement."""

from __future__ import annotations

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from backend.hub.registry import GroupRegistry, LimitExceeded

KEYS = st.sampled_from([("game", "1"), ("game", "2"), ("game", "3"), ("live", "1"), ("counts",)])
COST = {"game": 1, "live": 2, "counts": 2}
GRACE = 5.0
BUDGET = 5


class RegistryMachine(RuleBasedStateMachine):
    @initialize()
    def setup(self):
        self.now = 0.0
        self.registry = GroupRegistry(grace=GRACE, max_clients=6, max_groups={"game": 2},
                                      subscription_budget=BUDGET)
        self.leases: list = []  # (lease, key, internal, incarnation)
        self.incarnation: dict[tuple, int] = {}  # model: the live incarnation of each registered key
        self.idle_since: dict[tuple, float] = {}  # model: registered keys with no references
        self.next_incarnation = 0

    def holders(self, key, incarnation) -> list:
        return [entry for entry in self.leases if entry[1] == key and entry[3] == incarnation]

    def take(self, key, internal):
        registered = key in self.incarnation
        clients = sum(1 for _, _, inner, _ in self.leases if not inner)
        games = sum(1 for k in self.incarnation if k[0] == "game")
        reserved = sum(COST[k[0]] for k in self.incarnation)
        refused = (not internal and clients >= 6) or (not registered and (
            (key[0] == "game" and games >= 2) or reserved + COST[key[0]] > BUDGET))
        if refused:
            with pytest.raises(LimitExceeded) as info:
                self.registry.acquire(key, self.now, internal=internal, cost=COST[key[0]])
            assert info.value.retry_after >= 1
            return
        lease, created = self.registry.acquire(key, self.now, internal=internal, cost=COST[key[0]])
        assert created == (not registered)
        if created:
            self.next_incarnation += 1
            self.incarnation[key] = self.next_incarnation
        self.idle_since.pop(key, None)
        self.leases.append((lease, key, internal, self.incarnation[key]))

    @rule(key=KEYS)
    def acquire(self, key):
        self.take(key, internal=False)

    @rule()
    def hold_counts(self):
        # Internal references never count as clients, so the client limit does not apply.
        self.take(("counts",), internal=True)

    @precondition(lambda self: self.leases)
    @rule(data=st.data())
    def release(self, data):
        index = data.draw(st.integers(0, len(self.leases) - 1))
        lease, key, _, incarnation = self.leases.pop(index)
        self.registry.release(lease, self.now)
        if self.incarnation.get(key) == incarnation and not self.holders(key, incarnation):
            self.idle_since[key] = self.now

    @rule(key=KEYS)
    def retire(self, key):
        # A failed group: its key is free at once, whoever still holds a lease on it.
        assert self.registry.retire(key) == (key in self.incarnation)
        self.incarnation.pop(key, None)
        self.idle_since.pop(key, None)

    @rule(dt=st.floats(0, 8))
    def advance_and_tick(self, dt):
        self.now += dt
        expired = set(self.registry.tick(self.now))
        expected = {k for k, t in self.idle_since.items() if self.now - t >= GRACE}
        assert expired == expected
        for key in expired:
            del self.idle_since[key]
            del self.incarnation[key]

    @invariant()
    def registry_matches_model(self):
        assert len(self.registry) == len(self.incarnation)
        assert all(k in self.registry for k in self.incarnation)
        assert self.registry.total_clients == sum(1 for _, _, inner, _ in self.leases if not inner)
        assert self.registry.subscriptions_reserved == sum(COST[k[0]] for k in self.incarnation)
        assert self.registry.subscriptions_reserved <= BUDGET
        for key, incarnation in self.incarnation.items():
            clients = sum(1 for _, _, inner, _ in self.holders(key, incarnation) if not inner)
            assert self.registry.clients(key) == clients

    def teardown(self):
        # Everybody leaves; after the grace period no group is left.
        for lease, *_ in self.leases:
            self.registry.release(lease, self.now)
        self.registry.tick(self.now + GRACE + 1e-9 * (1 + self.now))
        assert len(self.registry) == 0 and self.registry.total_clients == 0
        assert self.registry.subscriptions_reserved == 0


TestRegistry = RegistryMachine.TestCase


def test_a_rejoin_during_grace_cancels_the_teardown():
    reg = GroupRegistry(grace=5, max_clients=10)
    first, created = reg.acquire(("live", "1"), 0)
    assert created
    reg.release(first, 1)
    assert reg.tick(5.9) == []
    second, created = reg.acquire(("live", "1"), 5.9)
    assert not created
    assert reg.tick(100) == []
    reg.release(second, 100)
    assert reg.tick(104.9) == [] and reg.tick(105) == [("live", "1")]


def test_a_lease_cannot_be_released_twice():
    reg = GroupRegistry(grace=5, max_clients=10)
    lease, _ = reg.acquire(("x",), 0)
    reg.release(lease, 0)
    with pytest.raises(KeyError):
        reg.release(lease, 0)


def test_the_subscription_budget_refuses_a_new_group_before_the_feed_cap_could():
    # The budget at the Swarm session's own subscription cap: every kind of group counts against it,
    # so the registry refuses a group (429) before the feed would refuse its subscription.
    reg = GroupRegistry(grace=5, max_clients=10_000, max_groups={"game": 1000}, subscription_budget=1000)
    for sport in range(6):
        reg.acquire(("prematch", str(sport)), 0, cost=1)
    reg.acquire(("counts",), 0, internal=True, cost=2)
    for game in range(992):
        reg.acquire(("game", str(game)), 0, cost=1)
    with pytest.raises(LimitExceeded, match="upstream subscriptions") as info:
        reg.acquire(("game", "next"), 0, cost=1)
    assert info.value.retry_after >= 1 and reg.subscriptions_reserved == 1000
