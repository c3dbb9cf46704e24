"""Scope: every resource released exactly once, newest first, whatever fails
(docs/design.md principle 6, R1, R2, R9)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, rule
from oddsui.scope import Scope, ScopeClosedError
from ui_fakes import FakeEventTarget, FakePlatform


class Boom(Exception):
    pass


def test_close_releases_in_reverse_order_of_acquisition(platform):
    scope = Scope(platform)
    calls = []
    for i in range(5):
        scope.defer(lambda i=i: calls.append(i))
    assert scope.live_count() == 5
    assert scope.close() == []
    assert calls == [4, 3, 2, 1, 0]
    assert scope.live_count() == 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.booleans(), min_size=0, max_size=30))
def test_a_raising_release_never_skips_the_others(raises):
    platform = FakePlatform()
    scope = Scope(platform)
    calls = []

    def make(i, bad):
        def release():
            calls.append(i)
            if bad:
                raise Boom(i)
        return release

    for i, bad in enumerate(raises):
        scope.defer(make(i, bad))
    errors = scope.close()
    assert calls == list(reversed(range(len(raises))))  # each exactly once, newest first
    assert [e.args[0] for e in errors] == [i for i in reversed(range(len(raises))) if raises[i]]
    assert len(platform.errors) == sum(raises)  # each failure reported loudly
    assert scope.live_count() == 0
    assert scope.close() == [] and calls == list(reversed(range(len(raises))))  # idempotent


def test_close_is_idempotent_and_blocks_new_acquisitions(platform):
    scope = Scope(platform)
    target = FakeEventTarget()
    scope.listen(target, "click", lambda e: None)
    scope.close()
    scope.close()
    assert target.listener_count() == 0
    proxies_before = len(platform.proxies)
    with pytest.raises(ScopeClosedError):
        scope.listen(target, "click", lambda e: None)
    with pytest.raises(ScopeClosedError):
        scope.timeout(lambda: None, 10)
    with pytest.raises(ScopeClosedError):
        scope.child("x")
    assert len(platform.proxies) == proxies_before  # nothing created for a refused acquisition
    assert target.listener_count() == 0


def test_listener_is_removed_with_the_same_proxy_then_destroyed(platform):
    scope = Scope(platform)
    target = FakeEventTarget()
    seen = []
    handle = scope.listen(target, "click", seen.append)
    proxy = target.listeners["click"][0]
    target.dispatch("click", "e1")
    assert seen == ["e1"]
    handle.release()
    assert target.listener_count() == 0 and proxy.destroyed
    assert scope.live_count() == 0
    handle.release()  # idempotent
    scope.close()
    assert platform.live_proxies() == 0


def test_listener_errors_are_reported_not_raised(platform):
    scope = Scope(platform)
    target = FakeEventTarget()

    def bad(_event):
        raise Boom("handler")

    scope.listen(target, "click", bad)
    target.dispatch("click", None)  # does not raise
    assert len(platform.errors) == 1 and isinstance(platform.errors[0][0], Boom)


def test_timeout_fires_once_and_is_forgotten(platform):
    scope = Scope(platform)
    fired = []
    scope.timeout(lambda: fired.append(platform.now), 100)
    assert scope.live_count() == 1 and len(platform.timers) == 1
    platform.advance(99)
    assert fired == []
    platform.advance(1)
    assert fired == [100]
    assert scope.live_count() == 0 and platform.timers == {}
    assert platform.live_proxies() == 0  # the once-callable destroyed itself
    scope.close()
    assert platform.live_proxies() == 0


def test_released_timeout_is_cleared_and_its_proxy_destroyed(platform):
    scope = Scope(platform)
    fired = []
    handle = scope.timeout(lambda: fired.append(1), 100)
    handle.release()
    platform.advance(1000)
    assert fired == [] and platform.timers == {} and platform.live_proxies() == 0


def test_interval_and_animation_frame_are_released_on_close(platform):
    scope = Scope(platform)
    ticks = []
    scope.interval(lambda: ticks.append(platform.now), 100)
    scope.animation_frame(lambda ts: ticks.append("frame"))
    platform.advance(350)
    assert ticks == [100, 200, 300]
    scope.close()
    platform.advance(1000)
    assert platform.run_frame() == 0
    assert ticks == [100, 200, 300]
    assert platform.timers == {} and platform.frames == {} and platform.live_proxies() == 0


def test_child_scope_closes_with_parent_and_can_close_early(platform):
    root = Scope(platform)
    calls = []
    root.defer(lambda: calls.append("root-first"))
    child = root.child("c")
    child.defer(lambda: calls.append("child-a"))
    child.defer(lambda: calls.append("child-b"))
    root.defer(lambda: calls.append("root-last"))
    assert root.live_count() == 5  # 2 own + child + its 2
    root.close()
    assert calls == ["root-last", "child-b", "child-a", "root-first"]

    root2 = Scope(platform)
    early = root2.child("early")
    early.defer(lambda: calls.append("early"))
    early.close()
    assert root2.live_count() == 0  # the child left its parent
    root2.close()
    assert calls.count("early") == 1


def test_child_errors_come_back_from_parent_close(platform):
    root = Scope(platform)
    child = root.child("c")
    child.defer(lambda: (_ for _ in ()).throw(Boom("child")))
    errors = root.close()
    assert [str(e) for e in errors] == ["child"]


def test_task_is_cancelled_on_close_and_forgotten_when_done(platform):
    scope = Scope(platform)

    async def quick():
        return 1

    scope.task(quick())
    assert scope.live_count() == 0  # finished at once in the fake loop

    class Never:
        def __await__(self):
            yield None

    async def slow():
        await Never()

    handle = scope.task(slow())
    assert scope.live_count() == 1
    scope.close()
    assert handle.value.cancelled()


def test_release_that_acquires_during_close_cannot_leak(platform):
    scope = Scope(platform)
    target = FakeEventTarget()
    scope.defer(lambda: scope.listen(target, "x", lambda e: None))
    errors = scope.close()
    assert len(errors) == 1 and isinstance(errors[0], ScopeClosedError)
    assert target.listener_count() == 0 and platform.live_proxies() == 0


class ScopeMachine(RuleBasedStateMachine):
    """Random acquire / release / fire / close sequences never leak and never double-release."""

    handles = Bundle("handles")
    scopes = Bundle("scopes")

    def __init__(self):
        super().__init__()
        self.platform = FakePlatform()
        self.root = Scope(self.platform)
        self.target = FakeEventTarget()
        self.release_counts = {}
        self.next_id = 0

    @rule(target=scopes)
    def root_scope(self):
        return self.root

    @rule(target=scopes, parent=scopes)
    def make_child(self, parent):
        if parent.closed:
            return parent
        return parent.child(f"c{self.next_id}")

    @rule(target=handles, scope=scopes, kind=st.sampled_from(["defer", "listen", "timeout", "interval", "frame"]),
          fail=st.booleans())
    def acquire(self, scope, kind, fail):
        if scope.closed:
            return None
        self.next_id += 1
        ident = self.next_id

        def release():
            self.release_counts[ident] += 1
            if fail:
                raise Boom(ident)

        if kind == "defer":
            self.release_counts[ident] = 0
            return scope.defer(release)
        if kind == "listen":
            return scope.listen(self.target, "evt", lambda e: None)
        if kind == "timeout":
            return scope.timeout(lambda: None, 50)
        if kind == "interval":
            return scope.interval(lambda: None, 30)
        return scope.animation_frame(lambda ts: None)

    @rule(handle=consumes(handles))
    def release_early(self, handle):
        if handle is not None:
            handle.release()
            handle.release()

    @rule(ms=st.integers(min_value=0, max_value=200))
    def time_passes(self, ms):
        self.platform.advance(ms)

    @rule()
    def frame(self):
        self.platform.run_frame()

    @rule(scope=scopes)
    def close_scope(self, scope):
        scope.close()

    @invariant()
    def nothing_released_twice(self):
        assert all(n <= 1 for n in self.release_counts.values())

    @invariant()
    def live_proxies_match_what_scopes_hold(self):
        # Every live proxy belongs to a listener, interval, timeout or frame still held by a scope.
        held = self.root.summary()
        expected = held.get("listener", 0) + held.get("interval", 0) + held.get("timeout", 0) + held.get("frame", 0)
        assert self.platform.live_proxies() == expected
        assert self.target.listener_count() == held.get("listener", 0)

    def teardown(self):
        self.root.close()
        assert self.root.live_count() == 0
        assert self.platform.live_proxies() == 0
        assert self.platform.timers == {} and self.platform.frames == {}
        assert self.target.listener_count() == 0
        assert all(n == 1 for n in self.release_counts.values())


TestScopeMachine = ScopeMachine.TestCase
TestScopeMachine.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
