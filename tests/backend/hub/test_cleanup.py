"""R9: cleanup always runs to the end, and clients leave every map even when a step throws."""

from __future__ import annotations

import asyncio
import logging

from backend.clock import FakeClock
from backend.hub.service import OddsHub
from backend.hub.streams import Group
from backend.settings import Settings


class ExplodingSub:
    def __init__(self):
        self.closed = False

    async def close(self):
        self.closed = True
        raise RuntimeError("unsubscribe blew up")


async def test_a_group_whose_unsubscribe_and_tasks_fail_still_closes_completely(caplog):
    hub = OddsHub(Settings(group_grace=1.0), FakeClock(), "ws://127.0.0.1:9/")
    key, group = hub.acquire("game", "5")
    subs = [ExplodingSub(), ExplodingSub()]
    group._subs.extend(subs)

    async def boom():
        raise ValueError("task failed")

    group.spawn(boom(), "boom")
    await asyncio.sleep(0)
    hub.release(key)
    hub.clock.advance(1.0)
    with caplog.at_level(logging.ERROR):
        await hub.reap()
    assert all(s.closed for s in subs)  # the second unsubscribe ran although the first raised
    assert not hub.groups and len(hub.registry) == 0 and hub.registry.total_clients == 0
    assert "unsubscribe failed" in caplog.text


async def test_a_group_whose_close_raises_is_still_forgotten(caplog):
    hub = OddsHub(Settings(group_grace=0.0), FakeClock(), "ws://127.0.0.1:9/")
    key, group = hub.acquire("game", "6")

    async def broken_close():
        raise RuntimeError("close failed")

    group.close = broken_close  # type: ignore[method-assign]
    hub.release(key)
    with caplog.at_level(logging.ERROR):
        await hub.reap()
    assert key not in hub.groups and key not in hub.registry
    assert "closing group" in caplog.text


async def test_shutdown_closes_every_group_even_if_one_hangs():
    hub = OddsHub(Settings(), FakeClock(), "ws://127.0.0.1:9/")
    hub.acquire("game", "1")
    _, stuck = hub.acquire("game", "2")

    async def hang():
        await asyncio.Event().wait()

    stuck.close = hang  # type: ignore[method-assign]
    await asyncio.wait_for(hub.__aexit__(None, None, None), 5)
    assert not hub.groups and len(hub.registry) == 0


def test_groups_never_share_channels():
    hub = OddsHub(Settings(), FakeClock(), "ws://127.0.0.1:9/")
    a, b = Group(hub, ("x", "1")), Group(hub, ("x", "2"))
    assert a.channel is not b.channel and a.channel.epoch != b.channel.epoch
