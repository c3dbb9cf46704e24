"""One memory budget for everything the hub retains, held with 1,000 busy groups
(docs/design.md R5; docs/api.md F4).

The real hub (connection loop, groups, channels) runs against an in-memory feed on a FakeClock:
1,000 game groups, each fed a stream of game updates. Without a global bound each ring could keep
8 MiB; with the budget the total stays under it, the oldest replay goes first, the newest frames
and every late-joiner snapshot stay, and a resume from a trimmed id gets the snapshot.
"""

from __future__ import annotations

import asyncio

from backend.clock import FakeClock
from backend.hub.service import OddsHub
from backend.hub.specs import GameSpec
from backend.settings import Settings
from tests.support.fake_feed import FakeFeed

GROUPS = 1000
BUDGET = 8 * 1024 * 1024


def game(gid: int, version: int) -> dict:
    markets = {str(m): {"id": m, "type": "P1XP2", "order": m, "name": f"Market {m} " + "x" * 40,
                        "event": {str(e): {"id": e, "price": 1.5 + version / 100, "order": e, "name": "e" * 20}
                                  for e in range(m * 10, m * 10 + 3)}}
               for m in range(1, 8)}
    return {"id": gid, "markets_count": version, "market": markets}


async def settle(rounds: int = 20) -> None:
    for _ in range(rounds):
        await asyncio.sleep(0)


async def test_a_thousand_busy_groups_stay_within_one_budget():
    clock = FakeClock()
    def snapshot(params: dict) -> dict:
        gid = params["where"]["game"]["id"]
        return {"game": {str(gid): game(gid, 0)}}

    feed = FakeFeed(snapshot=snapshot)
    settings = Settings(max_subscriptions=GROUPS, max_game_groups=GROUPS, memory_budget=BUDGET, group_grace=5.0)
    hub = OddsHub(settings, clock, "ws://feed/", connector=feed.connect)
    await hub.__aenter__()
    try:
        await clock.run_until(lambda: hub.conn.connected, limit=5)
        leases = [hub.acquire(GameSpec(str(gid)))[0] for gid in range(1, GROUPS + 1)]
        await clock.run_until(lambda: hub.conn.active_subscriptions == GROUPS, limit=5, step=0.1)
        by_game = {next(iter(tree["game"])): subid for subid, tree in feed.subscriptions.items()}
        first_ids = {key: group.channel.event_id() for key, group in hub.groups.items()}
        peak = 0
        for version in range(1, 31):
            for gid, subid in by_game.items():
                feed.socket.push(subid, {"game": {gid: {"markets_count": version,
                                                         "market": game(int(gid), version)["market"]}}})
            await settle(50)
            peak = max(peak, hub.budget.used)
            assert hub.budget.used <= BUDGET
            clock.advance(1.0)
        assert hub.budget.trimmed_frames > 0  # without the budget this would have been ~50 MiB
        assert peak <= BUDGET and not hub.budget.over
        assert hub.fanout_stats.events_published >= GROUPS * 30
        for key, group in hub.groups.items():
            assert len(group.channel.ring) >= 1  # the newest frame of every group is kept
            assert group.late_joiner_frames()  # and every snapshot
            assert group.channel.resume_position(first_ids[key]) is None  # trimmed: a resume gets the snapshot
        for lease in leases:
            hub.release(lease)
        clock.advance(6.0)
        await clock.run_until(lambda: not hub.groups, limit=5)
        await hub.idle()
        assert hub.budget.used == 0  # everything given back
    finally:
        await hub.__aexit__(None, None, None)
