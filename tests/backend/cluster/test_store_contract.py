"""One contract for both stores: the in-memory one and Redis (a real redis-server on loopback).

Every test runs twice. Time: the memory store's is a FakeClock the test moves; Redis keeps its own,
so for it the test waits (the TTLs here are a fraction of a second).
"""

from __future__ import annotations

import asyncio

import pytest
import pytest_asyncio

from backend.clock import FakeClock
from backend.cluster.redis_store import RedisStore
from backend.cluster.store import Fenced, HealthItem, MemoryStore
from tests.support.redis import redis_server

TTL = 0.3


@pytest.fixture(scope="module")
def redis():
    with redis_server() as server:
        yield server


class Harness:
    def __init__(self, store, clock: FakeClock | None, flush) -> None:
        self.store = store
        self.clock = clock
        self.flush = flush  # forget everything, as a restarted Redis without persistence

    async def pass_time(self, seconds: float) -> None:
        if self.clock is not None:
            self.clock.advance(seconds)
            await asyncio.sleep(0)
        else:
            await asyncio.sleep(seconds)

    async def settle(self) -> None:
        for _ in range(20):
            await asyncio.sleep(0.01 if self.clock is None else 0)


@pytest_asyncio.fixture(params=["memory", "redis"])
async def h(request, redis):
    if request.param == "memory":
        clock = FakeClock()
        store = MemoryStore(clock)
        harness = Harness(store, clock, store.flush)
    else:
        redis.cli("FLUSHALL")
        harness = Harness(RedisStore(redis.url), None, lambda: redis.cli("FLUSHALL"))
    yield harness
    await harness.store.close()


async def test_a_lease_has_one_holder_and_tokens_only_grow(h):
    s = h.store
    first = await s.acquire_lease("hub", "a", TTL)
    assert first is not None
    assert await s.acquire_lease("hub", "b", TTL) is None
    assert await s.lease_holder("hub") == (first, "a")
    assert await s.renew_lease("hub", first, TTL)
    assert not await s.renew_lease("hub", first + 1, TTL)  # not the holder's token
    await h.pass_time(TTL * 1.5)
    second = await s.acquire_lease("hub", "b", TTL)  # expired: another takes it, with a larger token
    assert second is not None and second > first
    assert not await s.renew_lease("hub", first, TTL)  # the former holder cannot renew
    await s.release_lease("hub", first)  # nor release it
    assert await s.lease_holder("hub") == (second, "b")
    await s.release_lease("hub", second)
    assert await s.lease_holder("hub") is None


async def test_tokens_grow_even_across_a_store_that_forgot_everything(h):
    s = h.store
    before = await s.acquire_lease("hub", "a", TTL)
    h.flush()
    after = await s.acquire_lease("hub", "b", TTL)
    assert after is not None and after > before
    with pytest.raises(Fenced):
        await s.publish("hub", "k", "e1", "hub", before, b"frame", None, 100)


async def test_a_write_with_a_stale_token_is_fenced(h):
    s = h.store
    token = await s.acquire_lease("hub", "a", TTL)
    assert await s.publish("hub", "k", "e1", "hub", token, b"frame", None, 100) == 1
    await h.pass_time(TTL * 1.5)
    newer = await s.acquire_lease("hub", "b", TTL)
    with pytest.raises(Fenced):
        await s.publish("hub", "k", "e1", "hub", token, b"late", None, 100)
    results = await s.publish_many("hub", "hub", token, 100, [("k", "e1", b"x", None)])
    assert isinstance(results[0], Fenced)
    assert await s.publish_many("hub", "hub", newer, 100, [("k", "e1", b"y", None), ("k", "e1", b"z", b"snap")]) \
        == [2, 3]
    assert [f for _, f in await s.frames("hub", "k", "e1", 0)] == [b"frame", b"y", b"z"]


async def test_admission_counts_kinds_and_the_budget_across_the_cluster(h):
    s = h.store
    a = await s.admit("hub", "game:1", b'{"kind":"game"}', "game", 1, 2, 3, "p1", 10, "e1")
    b = await s.admit("hub", "game:2", b'{"kind":"game"}', "game", 1, 2, 3, "p2", 10, "e2")
    assert a.ok and a.epoch == "e1" and b.ok and b.epoch == "e2"
    refused = await s.admit("hub", "game:3", b"{}", "game", 1, 2, 3, "p1", 10, "e3")
    assert not refused.ok and refused.reason == "kind"
    again = await s.admit("hub", "game:1", b"{}", "game", 1, 2, 3, "p3", 10, "other")  # an existing group
    assert again.ok and again.epoch == "e1"
    over = await s.admit("hub", "live:1", b"{}", "live", 2, None, 3, "p1", 10, "e4")
    assert not over.ok and over.reason == "budget"
    assert set(await s.wanted("hub")) == {"game:1", "game:2"}
    await s.leave("hub", "game:1", "p1")
    await s.leave("hub", "game:1", "p3")
    assert set(await s.wanted("hub")) == {"game:2"}
    fresh = await s.admit("hub", "game:1", b"{}", "game", 1, 2, 3, "p1", 10, "e5")
    assert fresh.ok and fresh.epoch == "e5"  # a new incarnation


async def test_a_dry_run_admission_answers_as_the_real_one_would_and_changes_nothing(h):
    s = h.store
    assert (await s.admit("hub", "game:1", b"{}", "game", 1, 1, 3, "p1", 10, "e1", dry_run=True)).ok
    assert not await s.wanted("hub")  # nothing was created
    assert (await s.admit("hub", "game:1", b"{}", "game", 1, 1, 3, "p1", 10, "e1")).epoch == "e1"
    existing = await s.admit("hub", "game:1", b"{}", "game", 1, 1, 3, "p2", 10, "x", dry_run=True)
    assert existing.ok and existing.epoch == "e1"
    kind = await s.admit("hub", "game:2", b"{}", "game", 1, 1, 3, "p2", 10, "e2", dry_run=True)
    budget = await s.admit("hub", "live:1", b"{}", "live", 3, None, 3, "p2", 10, "e3", dry_run=True)
    assert (kind.ok, kind.reason, budget.ok, budget.reason) == (False, "kind", False, "budget")
    await s.leave("hub", "game:1", "p1")
    assert not await s.wanted("hub")  # the dry run of p2 took no interest that would keep it


async def test_interest_expires_with_its_process_unless_renewed(h):
    s = h.store
    await s.admit("hub", "live:1", b'{"kind":"live","sport_id":"1"}', "live", 2, None, None, "p1", TTL, "e1")
    await s.admit("hub", "live:2", b"{}", "live", 2, None, None, "p2", TTL, "e2")
    await h.pass_time(TTL * 0.6)
    assert await s.refresh("hub", [("live:1", "e1")], "p1", TTL) == []
    await h.pass_time(TTL * 0.6)
    wanted = await s.wanted("hub")
    assert set(wanted) == {"live:1"} and wanted["live:1"].spec == b'{"kind":"live","sport_id":"1"}'
    # an incarnation the store has forgotten, or replaced, is reported lost and not brought back
    assert await s.refresh("hub", [("live:1", "e1"), ("live:2", "e2"), ("live:1x", "e9")], "p2", TTL) == [
        "live:2", "live:1x"]
    await s.admit("hub", "live:2", b"{}", "live", 2, None, None, "p3", TTL, "e7")
    assert await s.refresh("hub", [("live:2", "e2")], "p2", TTL) == ["live:2"]
    assert set(await s.wanted("hub")) == {"live:1", "live:2"}


async def test_frames_are_numbered_kept_snapshotted_and_notified_in_order(h):
    s = h.store
    token = await s.acquire_lease("hub", "a", 10)
    seen = []
    sub = s.subscriber(lambda channel, message: seen.append((channel, message.kind, message.seq, message.data)))
    channel = s.channel("hub", "live:1", "e1")
    await sub.subscribe(channel)
    await h.settle()
    for i in range(1, 6):
        await s.publish("hub", "live:1", "e1", "hub", token, b"f%d" % i, b"snap%d" % i if i == 3 else None, 1000)
    await s.publish("hub", "live:1", "e1", "hub", token, None, b"latest", 1000)
    await h.settle()
    assert seen == [(channel, "F", 1, b"f1"), (channel, "F", 2, b"f2"), (channel, "F", 3, b"f3"),
                    (channel, "F", 4, b"f4"), (channel, "F", 5, b"f5")]  # snapshots are kept, not notified
    meta = await s.meta("hub", "live:1", "e1")
    assert (meta.seq, meta.first, meta.snapshot, meta.snapshot_seq) == (5, 1, b"latest", 5)
    assert await s.frames("hub", "live:1", "e1", 3) == [(4, b"f4"), (5, b"f5")]
    assert await s.frames("hub", "live:1", "e1", 1, upto=2) == [(2, b"f2")]
    await sub.unsubscribe(channel)
    await s.publish("hub", "live:1", "e1", "hub", token, b"f6", None, 1000)
    await h.settle()
    assert len(seen) == 5
    await sub.close()
    await s.drop("hub", "live:1", "e1")
    assert (await s.meta("hub", "live:1", "e1")).seq == 0


async def test_a_stream_keeps_at_least_its_last_maxlen_frames(h):
    s = h.store
    token = await s.acquire_lease("hub", "a", 10)
    for i in range(300):
        await s.publish("hub", "g", "e", "hub", token, b"%d" % i, None, 50)
    meta = await s.meta("hub", "g", "e")
    kept = await s.frames("hub", "g", "e", meta.first - 1)
    assert meta.seq == 300 and 50 <= len(kept) <= 300 and kept[-1] == (300, b"299")
    assert [seq for seq, _ in kept] == list(range(meta.first, 301))


async def test_calls_reach_the_leader_and_come_back(h):
    s = h.store

    async def leader():
        item = await s.next_call("hub", 2.0)
        assert item is not None
        reply_to, request = item
        await s.reply(reply_to, b"answer to " + request)

    serving = asyncio.create_task(leader())
    assert await s.call("hub", b"hierarchy", 2.0) == b"answer to hierarchy"
    await serving
    # nobody answers: the caller gets None after its timeout (the memory store's, on its clock);
    # nobody calls: the leader's wait for a call ends empty after its timeout
    lost = asyncio.create_task(s.call("hub", b"lost", 1.0))
    idle = asyncio.create_task(s.next_call("tracker", 1.0))
    await h.settle()
    assert not lost.done() and not idle.done()
    await h.pass_time(1.5)
    await h.settle()
    assert lost.done() and idle.done()  # at the timeout, not some real time later
    assert lost.result() is None and idle.result() is None


async def test_processes_and_health_leases_expire_and_are_capped(h):
    s = h.store
    await s.report_process("p1", b"one", TTL)
    await s.report_process("p2", b"two", TTL * 4)
    assert await s.processes() == {"p1": b"one", "p2": b"two"}
    items = [HealthItem(f"g{i}|p1|edge", b"%d" % i, TTL, delta_messages=2, delta_parse_errors=1) for i in range(5)]
    await s.health_report(items, cap=3)
    rollup = await s.health_rollup()
    assert len(rollup.leases) == 3 and rollup.evicted_total == 2
    assert (rollup.messages_total, rollup.parse_errors_total) == (10, 5) and sum(rollup.messages_by_second.values()) == 10
    await h.pass_time(TTL * 1.5)
    assert await s.processes() == {"p2": b"two"}
    assert (await s.health_rollup()).leases == []
