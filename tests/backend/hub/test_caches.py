"""Hierarchy and market-type caches: TTL, stale-while-revalidate, single flight, last good copy."""

from __future__ import annotations

import asyncio

import pytest

from backend.clock import FakeClock
from backend.hub.caches import CacheStats, HierarchyCache, HierarchyError, MarketTypeCache
from backend.swarm.session import SwarmRequestError

TREE = {"sport": {"1": {"id": 1, "name": "Football", "alias": "Soccer", "order": 1}}}


class Feed:
    def __init__(self, *answers):
        self.answers = list(answers)
        self.calls: list[tuple[str, dict]] = []
        self.gate: asyncio.Event | None = None

    async def __call__(self, command, params, timeout):
        self.calls.append((command, params))
        if self.gate is not None:
            await self.gate.wait()
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


async def test_fresh_then_stale_then_refreshed_in_the_background():
    clock, feed = FakeClock(), Feed(TREE)
    cache = HierarchyCache(feed, clock, ttl=1800, stats=CacheStats())
    assert await cache.get() == (TREE, {"cached": False})
    assert await cache.get() == (TREE, {"cached": True})
    clock.advance(1801)
    assert await cache.get() == (TREE, {"cached": True, "stale": True})
    await asyncio.sleep(0)
    assert len(feed.calls) == 2 and (await cache.get())[1] == {"cached": True}
    assert cache.stats.hits == 3 and cache.stats.misses == 1


async def test_zero_sports_retries_unfiltered_and_fails_only_without_an_earlier_copy():
    feed = Feed({"sport": {}}, {"sport": {}})
    cache = HierarchyCache(feed, FakeClock(), ttl=10, stats=CacheStats())
    with pytest.raises(HierarchyError, match="Hierarchy refresh returned 0 sports"):
        await cache.get()
    assert [c[1]["where"] for c in feed.calls] == [{"sport": {"type": {"@nin": [1, 4]}}}, {}]


async def test_a_failed_refresh_keeps_the_last_good_copy():
    feed = Feed(TREE, {"sport": {}}, {"sport": {}})
    cache = HierarchyCache(feed, FakeClock(), ttl=10, stats=CacheStats())
    await cache.get()
    assert (await cache.get(refresh=True))[0] == TREE


async def test_concurrent_callers_share_one_upstream_request():
    feed = Feed(TREE)
    feed.gate = asyncio.Event()
    cache = HierarchyCache(feed, FakeClock(), ttl=10, stats=CacheStats())
    waiters = [asyncio.create_task(cache.get()) for _ in range(5)]
    await asyncio.sleep(0)
    feed.gate.set()
    results = await asyncio.gather(*waiters)
    assert len(feed.calls) == 1 and all(r[0] == TREE for r in results)


async def test_market_types_sorted_cached_and_fall_back_on_failure():
    clock = FakeClock()
    feed = Feed({"details": [{"Order": 2, "BasaltKind": "Total"}, {"Order": 1, "BasaltKind": "P1XP2"}]})
    cache = MarketTypeCache(feed, clock, ttl=100, stats=CacheStats())
    assert await cache.get("Soccer") == ["P1XP2", "Total"]
    assert await cache.get("Soccer") == ["P1XP2", "Total"] and len(feed.calls) == 1
    assert await cache.get(None) == []
    clock.advance(101)
    feed.answers = [SwarmRequestError("down")]
    assert await cache.get("Soccer") == ["P1XP2", "Total"]  # the expired copy beats nothing
    assert await MarketTypeCache(feed, clock, ttl=100, stats=CacheStats()).get("Tennis") == []
