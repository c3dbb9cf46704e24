"""One game's tracker group on a fake clock, against the in-memory tracker feed: what it charges
the budget for the match state, when it says ``ready``, and what it tells health."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from backend.clock import FakeClock
from backend.hub.fanout import encode_json
from backend.settings import Settings
from backend.tracker.groups import TrackerGroup, TrackerSpec
from backend.tracker.service import TrackerService
from tests.support.fake_feed import FakeTrackerFeed


async def settle(rounds: int = 20) -> None:
    for _ in range(rounds):
        await asyncio.sleep(0)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def feed() -> FakeTrackerFeed:
    return FakeTrackerFeed(["1"])


@pytest_asyncio.fixture
async def tracker(clock, feed) -> AsyncIterator[TrackerService]:
    options = Settings(swarm_backoff_base=0.5, swarm_backoff_cap=2.0, tracker_idle_timeout=1e6)
    async with TrackerService(options, clock, "ws://tracker/", connector=feed.connect) as service:
        yield service


async def followed(tracker: TrackerService, clock: FakeClock) -> TrackerGroup:
    _lease, group = tracker.acquire(TrackerSpec("1"))
    assert isinstance(group, TrackerGroup)
    await clock.run_until(lambda: group.session.state is not None)
    return group


async def test_the_budget_follows_the_state_as_its_timeline_grows_to_its_cap(tracker, clock, feed):
    group = await followed(tracker, clock)
    for goal in range(1, 260):  # past the 200 events a timeline keeps
        feed.goal("1")
        await settle()
        exact = len(encode_json(group.session.state))
        assert abs(tracker.budget.cache_bytes - exact) <= exact // 50, goal  # within 2 %, every frame
    assert len(group.session.state.timeline) == 200
