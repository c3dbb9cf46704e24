"""docs/design.md R9: cleanup always runs to the end, and clients leave every map even when a step throws.

The hub runs on a FakeClock and is never connected: groups subscribe into the session core, which
keeps the subscriptions waiting, so every path here is local and no test waits in real time.
"""

from __future__ import annotations

import asyncio
import logging

from backend.clock import FakeClock
from backend.hub.groups import Group
from backend.hub.service import OddsHub
from backend.hub.specs import GameSpec
from backend.settings import Settings


class ExplodingSub:
    def __init__(self):
        self.closed = False

    def close(self):
        self.closed = True
        raise RuntimeError("unsubscribe blew up")


def make_hub(**settings) -> OddsHub:
    return OddsHub(Settings(**settings), FakeClock(), "ws://127.0.0.1:9/")


async def test_a_group_whose_unsubscribes_fail_still_closes_completely(caplog):
    hub = make_hub(group_grace=1.0)
    lease, group = hub.acquire(GameSpec("5"))
    subs = [ExplodingSub(), ExplodingSub()]
    group._subs.extend(subs)
    hub.release(lease)
    hub.clock.advance(1.0)
    with caplog.at_level(logging.ERROR):
        assert hub.reap() == [("game", "5")]
        await hub.idle()
    assert all(s.closed for s in subs)  # the second unsubscribe ran although the first raised
    assert not hub.groups and len(hub.registry) == 0 and hub.registry.total_clients == 0
    assert hub.conn.core.subscription_count == 0  # the group's real subscription went too
    assert "unsubscribe failed" in caplog.text


async def test_a_group_whose_task_fails_ends_its_clients_with_an_error_and_frees_its_key(caplog):
    hub = make_hub()
    lease, group = hub.acquire(GameSpec("7"))

    async def boom():
        raise ValueError("task failed")

    with caplog.at_level(logging.ERROR):
        group.spawn(boom(), "boom")
        for _ in range(3):
            await asyncio.sleep(0)
    assert group.failed == "internal error" and group.channel.closed
    assert ("game", "7") not in hub.registry and ("game", "7") not in hub.groups
    assert b"event: error" in b"".join(group.late_joiner_frames())
    _, fresh = hub.acquire(GameSpec("7"))  # the next client gets a new group at once
    assert fresh is not group and fresh.failed is None
    hub.release(lease)  # the old lease still counts down cleanly
    assert hub.registry.total_clients == 1
    await hub.idle()
    assert "task boom failed" in caplog.text


async def test_a_group_whose_close_raises_is_still_forgotten(caplog):
    hub = make_hub(group_grace=0.0)
    lease, group = hub.acquire(GameSpec("6"))

    async def broken_close():
        raise RuntimeError("close failed")

    group.close = broken_close  # type: ignore[method-assign]
    hub.release(lease)
    with caplog.at_level(logging.ERROR):
        hub.reap()
        await hub.idle()
    assert ("game", "6") not in hub.groups and ("game", "6") not in hub.registry
    assert "closing group" in caplog.text


async def test_shutdown_closes_every_group_even_if_one_hangs():
    hub = make_hub()
    _, quick = hub.acquire(GameSpec("1"))
    _, stuck = hub.acquire(GameSpec("2"))

    async def hang():
        await asyncio.Event().wait()

    stuck.close = hang  # type: ignore[method-assign]
    exit_task = asyncio.create_task(hub.__aexit__(None, None, None))
    await hub.clock.run_until(exit_task.done, limit=5)  # the 2 s bound is fake time
    await exit_task
    assert quick.closed and not hub.groups and len(hub.registry) == 0


def test_groups_never_share_channels():
    hub = make_hub()
    a, b = Group(hub, ("x", "1")), Group(hub, ("x", "2"))
    assert a.channel is not b.channel and a.channel.epoch != b.channel.epoch


async def test_a_closed_group_is_not_kept_alive_by_the_reaper():
    # Found by bench.soak: the reaper's loop variable kept the last group it had looked at (its cached
    # payloads, a whole game's markets for a game group) alive after the group was closed, for as long
    # as no other group came along.
    import gc
    import weakref

    hub = make_hub(group_grace=1.0)
    hub.start_reaper()
    try:
        lease, group = hub.acquire(GameSpec("5"))
        ref = weakref.ref(group)
        await hub.clock.run_until(lambda: hub.clock.monotonic() >= 1.0, step=0.5)  # the reaper looks at it
        hub.release(lease)
        del group, lease
        await hub.clock.run_until(lambda: not hub.groups, step=0.5)
        await hub.idle()
        await hub.clock.run_until(lambda: hub.clock.monotonic() >= 5.0, step=0.5)  # more rounds, no group
        gc.collect()
        assert ref() is None, [type(r).__name__ for r in gc.get_referrers(ref())]
    finally:
        await hub.shutdown_groups()
