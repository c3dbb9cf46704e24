"""The odds hub's own figures for health (``OddsHub.health_metrics``, docs/api.md A2 ``swarm_ws``)."""

from __future__ import annotations

import asyncio

from backend.clock import FakeClock
from backend.hub.service import OddsHub
from backend.hub.specs import CompetitionSpec, GameSpec
from backend.settings import Settings
from tests.support.fake_feed import FakeFeed


async def settle(rounds: int = 40) -> None:
    for _ in range(rounds):
        await asyncio.sleep(0)


async def test_by_tag_counts_the_groups_holding_each_purpose_and_their_clients():
    clock, feed = FakeClock(), FakeFeed()
    async with OddsHub(Settings(), clock, "ws://feed/", connector=feed.connect) as hub:
        await clock.run_until(lambda: hub.conn.connected)
        for spec, clients in ((GameSpec("1"), 2), (GameSpec("2"), 1), (CompetitionSpec("5", "1", live=True), 3)):
            for _ in range(clients):
                hub.acquire(spec)
        await clock.run_until(lambda: hub.conn.active_subscriptions == 3)
        figures = hub.health_metrics()
        by_tag = {tag: (f.active_subscriptions, f.groups, f.clients) for tag, f in figures.by_tag.items()}
        assert by_tag == {"game": (2, 2, 3), "competition": (1, 1, 3)}
        by_kind = {kind: (f.active_subscriptions, f.groups, f.clients) for kind, f in figures.by_endpoint.items()}
        assert by_kind == by_tag  # here each kind has one purpose: the same figures
