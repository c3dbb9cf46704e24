"""The group registry as a state machine driven by a fake clock."""

from __future__ import annotations

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from backend.hub.groups import GroupRegistry, LimitExceeded

KEYS = st.sampled_from([("game", "1"), ("game", "2"), ("game", "3"), ("live", "1"), ("counts",)])
GRACE = 5.0


class RegistryMachine(RuleBasedStateMachine):
    @initialize()
    def setup(self):
        self.now = 0.0
        self.registry = GroupRegistry(grace=GRACE, max_clients=6, max_groups={"game": 2})
        self.clients: dict[tuple, int] = {}  # model: clients per key
        self.holds: dict[tuple, int] = {}  # model: internal (group-to-group) references per key
        self.idle_since: dict[tuple, float] = {}  # model: groups alive with no references

    def alive(self) -> set:
        return {k for k, n in self.clients.items() if n > 0} | set(self.holds) | set(self.idle_since)

    @rule()
    def hold_counts(self):
        # Internal references never count as clients, so the client limit does not apply.
        key = ("counts",)
        created = self.registry.acquire(key, self.now, internal=True)
        assert created == (key not in self.alive())
        self.holds[key] = self.holds.get(key, 0) + 1
        self.idle_since.pop(key, None)

    @precondition(lambda self: self.holds)
    @rule()
    def unhold_counts(self):
        key = ("counts",)
        self.registry.release(key, self.now, internal=True)
        self.holds[key] -= 1
        if not self.holds[key]:
            del self.holds[key]
            if not self.clients.get(key):
                self.idle_since[key] = self.now

    @rule(key=KEYS)
    def acquire(self, key):
        total = sum(self.clients.values())
        games = sum(1 for k in self.alive() if k[0] == "game")
        exists = key in self.alive()
        if total >= 6 or (key[0] == "game" and not exists and games >= 2):
            with pytest.raises(LimitExceeded) as info:
                self.registry.acquire(key, self.now)
            assert info.value.retry_after >= 1
            return
        created = self.registry.acquire(key, self.now)
        assert created == (not exists)
        self.clients[key] = self.clients.get(key, 0) + 1
        self.idle_since.pop(key, None)

    @precondition(lambda self: any(n > 0 for n in self.clients.values()))
    @rule(data=st.data())
    def release(self, data):
        key = data.draw(st.sampled_from(sorted(k for k, n in self.clients.items() if n > 0)))
        self.registry.release(key, self.now)
        self.clients[key] -= 1
        if self.clients[key] == 0:
            del self.clients[key]
            if not self.holds.get(key):
                self.idle_since[key] = self.now

    @rule(dt=st.floats(0, 8))
    def advance_and_tick(self, dt):
        self.now += dt
        expired = set(self.registry.tick(self.now))
        expected = {k for k, t in self.idle_since.items() if self.now - t >= GRACE}
        assert expired == expected
        for key in expired:
            del self.idle_since[key]

    @invariant()
    def registry_matches_model(self):
        alive = self.alive()
        assert len(self.registry) == len(alive)
        assert all(k in self.registry for k in alive)
        assert self.registry.total_clients == sum(self.clients.values())
        for key in alive:
            assert self.registry.clients(key) == self.clients.get(key, 0)

    def teardown(self):
        # Everybody leaves; after the grace period no group is left.
        for key, n in list(self.clients.items()):
            for _ in range(n):
                self.registry.release(key, self.now)
        for key, n in list(self.holds.items()):
            for _ in range(n):
                self.registry.release(key, self.now, internal=True)
        self.registry.tick(self.now + GRACE + 1e-9 * (1 + self.now))
        assert len(self.registry) == 0 and self.registry.total_clients == 0


TestRegistry = RegistryMachine.TestCase


def test_a_rejoin_during_grace_cancels_the_teardown():
    reg = GroupRegistry(grace=5, max_clients=10)
    assert reg.acquire(("live", "1"), 0)
    reg.release(("live", "1"), 1)
    assert reg.tick(5.9) == []
    assert not reg.acquire(("live", "1"), 5.9)
    assert reg.tick(100) == []
    reg.release(("live", "1"), 100)
    assert reg.tick(104.9) == [] and reg.tick(105) == [("live", "1")]


def test_release_without_acquire_is_an_error():
    with pytest.raises(KeyError):
        GroupRegistry(grace=5, max_clients=10).release(("x",), 0)
