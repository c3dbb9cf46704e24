"""FrameBatcher: DOM work is coalesced into one animation frame at a time (docs/design.md R10)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from oddsui.frames import FrameBatcher
from oddsui.scope import Scope
from ui_fakes import FakePlatform


def test_many_schedules_make_one_frame_request(platform):
    batcher = FrameBatcher(Scope(platform))
    ran = []
    for i in range(50):
        batcher.schedule(("odds", i), lambda i=i: ran.append(i))
    assert len(platform.frames) == 1
    assert ran == []
    platform.run_frame()
    assert ran == list(range(50))
    assert platform.frames == {} and len(batcher) == 0


def test_rescheduling_a_key_replaces_the_job_and_keeps_its_place(platform):
    batcher = FrameBatcher(Scope(platform))
    ran = []
    batcher.schedule("a", lambda: ran.append("a1"))
    batcher.schedule("b", lambda: ran.append("b"))
    batcher.schedule("a", lambda: ran.append("a2"))
    platform.run_frame()
    assert ran == ["a2", "b"]


def test_work_past_the_budget_moves_to_the_next_frame(platform):
    batcher = FrameBatcher(Scope(platform), budget_ms=10)
    ran = []

    def job(i):
        def run():
            ran.append(i)
            platform.now += 4  # each job costs 4 ms
        return run

    for i in range(7):
        batcher.schedule(i, job(i))
    platform.run_frame()
    assert ran == [0, 1, 2]  # 12 ms >= budget after the third
    assert len(platform.frames) == 1
    platform.run_frame()
    platform.run_frame()
    assert ran == list(range(7)) and platform.frames == {}


def test_a_failing_job_is_reported_and_the_rest_run(platform):
    batcher = FrameBatcher(Scope(platform))
    ran = []
    batcher.schedule("bad", lambda: 1 / 0)
    batcher.schedule("good", lambda: ran.append("good"))
    platform.run_frame()
    assert ran == ["good"] and len(platform.errors) == 1


def test_closing_the_scope_cancels_the_frame_and_drops_the_queue(platform):
    scope = Scope(platform)
    batcher = FrameBatcher(scope)
    ran = []
    batcher.schedule("x", lambda: ran.append("x"))
    scope.close()
    assert platform.frames == {} and len(batcher) == 0 and platform.live_proxies() == 0
    batcher.schedule("y", lambda: ran.append("y"))  # ignored after close
    platform.run_frame()
    assert ran == [] and platform.frames == {}


def test_jobs_scheduled_during_a_frame_run_in_the_next_one(platform):
    batcher = FrameBatcher(Scope(platform))
    ran = []
    batcher.schedule("a", lambda: (ran.append("a"), batcher.schedule("b", lambda: ran.append("b"))))
    platform.run_frame()
    assert ran == ["a"] and len(platform.frames) == 1
    platform.run_frame()
    assert ran == ["a", "b"] and platform.frames == {}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.integers(0, 20).map(lambda k: ("schedule", k)), st.just(("frame", None))),
                max_size=100))
def test_at_most_one_frame_pending_and_every_key_runs_once_per_frame(ops):
    platform = FakePlatform()
    batcher = FrameBatcher(Scope(platform))
    runs = []
    pending = set()
    for op, key in ops:
        if op == "schedule":
            batcher.schedule(key, lambda key=key: runs.append(key))
            pending.add(key)
        else:
            runs.clear()
            platform.run_frame()
            assert len(runs) == len(set(runs))  # coalesced: each key once
            assert set(runs) == pending
            pending = set()
        assert len(platform.frames) <= 1
        assert (len(platform.frames) == 1) == bool(pending)


def test_a_job_scheduled_first_during_a_frame_waits_for_the_next_frame():
    platform = FakePlatform()
    batcher = FrameBatcher(Scope(platform))
    ran = []
    batcher.schedule("a", lambda: (ran.append("a"), batcher.schedule("w", lambda: ran.append("w"), first=True)))
    batcher.schedule("b", lambda: ran.append("b"))
    platform.run_frame()
    assert ran == ["a", "b"]  # "w" went to the head of the next frame, not into this one
    batcher.schedule("c", lambda: ran.append("c"))
    platform.run_frame()
    assert ran == ["a", "b", "w", "c"]


def test_jobs_left_by_the_budget_run_next_frame_before_newer_ones_and_keep_only_their_newest_job():
    platform = FakePlatform()
    batcher = FrameBatcher(Scope(platform), budget_ms=5.0)
    ran = []

    def slow(name):
        def job():
            ran.append(name)
            platform.now += 10.0
            if name == "a":
                batcher.schedule("c", lambda: ran.append("c-new"))
        return job

    for name in ("a", "b", "c"):
        batcher.schedule(name, slow(name))
    platform.run_frame()
    assert ran == ["a"]
    platform.run_frame()
    platform.run_frame()
    assert ran == ["a", "b", "c-new"]
