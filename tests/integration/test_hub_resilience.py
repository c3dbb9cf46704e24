"""The hub under trouble, over real sockets: feed loss, resume, slow readers, limits."""

from __future__ import annotations

import asyncio
import logging
import re
import socket

import httpx
import pytest

from backend.hub import queries
from tests.support.feed import feed_get, wait_for
from tests.support.server import running_server
from tests.support.sse import SseStream


async def busiest_live_sport(server) -> int:
    what, where = queries.counts(live=True)
    tree = await feed_get(server.simulator.url, what, where)
    return max(tree["sport"].values(), key=lambda s: len(s.get("game", {})))["id"]


class View:
    """What a browser would hold after applying a stream's events."""

    def __init__(self) -> None:
        self.games: list[int] = []
        self.odds: dict[str, list | None] = {}
        self.total: int | None = None
        self.game: dict | None = None

    def apply(self, event: str, payload: dict) -> None:
        if event == "games":
            self.games = [g["id"] for g in payload["data"]]
        elif event == "odds":
            for u in payload["updates"]:
                self.odds[str(u["gameId"])] = u["odds"]
        elif event in ("counts", "live_counts"):
            self.total = payload["total_games"]
        elif event == "game":
            self.game = payload["data"]


async def follow(stream: SseStream, view: View) -> None:
    while True:
        msg = await stream.next_event(timeout=120)
        view.apply(msg.event, msg.json())


async def test_every_client_converges_to_the_feed_after_it_goes_away_and_returns():
    async with running_server(sim_price_changes_per_second=3.0) as srv, \
            httpx.AsyncClient(base_url=srv.base_url, timeout=30) as http:
        await wait_for(lambda: srv.hub.conn.connected)
        sport = await busiest_live_sport(srv)
        views = [View() for _ in range(3)]
        async with SseStream(http, f"/api/live-stream?sportId={sport}") as s0, \
                SseStream(http, f"/api/live-stream?sportId={sport}") as s1, \
                SseStream(http, "/api/counts-stream") as s2:
            tasks = [asyncio.create_task(follow(s, v)) for s, v in zip((s0, s1, s2), views)]
            try:
                await wait_for(lambda: views[0].games and views[0].odds and views[2].total, 15)
                await srv.simulator.stop()
                await wait_for(lambda: not srv.hub.conn.connected, 5)
                await asyncio.sleep(1.0)  # the feed stays away for a while
                await srv.simulator.start()
                await wait_for(lambda: srv.hub.conn.connected, 20)

                async def feed_state():
                    games = await feed_get(srv.simulator.url, *queries.sport_games(sport, live=True))
                    ids = [g["id"] for *_, g in _walk_games(games)]
                    counts = await feed_get(srv.simulator.url, *queries.counts(live=True))
                    total = sum(len(s.get("game", {})) for s in counts["sport"].values())
                    odds = await feed_get(srv.simulator.url, *queries.live_main_odds(sport, "P1XP2"))
                    prices = {str(g["id"]): sorted(e["price"] for m in g.get("market", {}).values()
                                                   for e in m.get("event", {}).values())
                              for g in odds.get("game", {}).values()}
                    return ids, total, prices

                deadline = asyncio.get_running_loop().time() + 20
                while True:
                    ids, total, prices = await feed_state()
                    ok = all(v.games == ids for v in views[:2]) and views[2].total == total and all(
                        sorted(o["price"] for o in (v.odds.get(gid) or [])) == p
                        for v in views[:2] for gid, p in prices.items() if len(p) in (2, 3))
                    if ok:
                        break
                    assert asyncio.get_running_loop().time() < deadline, "clients did not converge"
                    await asyncio.sleep(0.5)
            finally:
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)


def _walk_games(tree):
    for sport in tree.get("sport", {}).values():
        for region in sport.get("region", {}).values():
            for comp in region.get("competition", {}).values():
                for game in sorted(comp.get("game", {}).values(), key=lambda g: g["id"]):
                    yield sport, region, comp, game


async def test_a_resuming_client_gets_exactly_the_events_it_missed_or_a_snapshot():
    async with running_server(replay_frames=64) as srv, httpx.AsyncClient(base_url=srv.base_url, timeout=30) as http:
        await wait_for(lambda: srv.hub.conn.connected)
        sport = await busiest_live_sport(srv)
        url = f"/api/live-stream?sportId={sport}"
        async with SseStream(http, url) as witness:
            async with SseStream(http, url) as first:
                await first.next_event("odds")
                await first.next_event("odds")
                last = first.events[-1].id
            assert last and last.rsplit("-", 1)[1].isdigit()
            await asyncio.sleep(0.6)  # events go by while the client is away
            async with SseStream(http, url, headers={"Last-Event-ID": last}) as resumed:
                got = [await resumed.next_event(timeout=5) for _ in range(3)]
            # The witness saw everything: the resumed client got the events right after `last`.
            seen = []
            while not seen or seen[-1].id != got[-1].id:
                seen.append(await witness.next_event(timeout=5))
            ids = [m.id for m in seen]
            start = ids.index(last) + 1
            assert [(m.id, m.event, m.data) for m in got] == [(m.id, m.event, m.data) for m in seen[start:start + 3]]
        # An id the ring no longer covers (or from another incarnation) gets the snapshot instead.
        async with SseStream(http, url, headers={"Last-Event-ID": "zz.1-1"}) as stale:
            names = [(await stale.next_event(timeout=5)).event for _ in range(4)]
        assert names == ["counts", "prematch_counts", "games", "odds"]
        assert srv.hub.fanout_stats.resumed >= 1


async def test_a_client_that_stops_reading_is_dropped_and_the_others_keep_going(caplog):
    # The dropped client's connection is reset at once (docs/hub.md, "Dead clients") -- not left open with
    # megabytes queued -- quietly, and it no longer holds a socket.
    async with running_server(write_timeout=1.0, sim_price_changes_per_second=3000.0) as srv, httpx.AsyncClient(base_url=srv.base_url, timeout=30) as http:
        await wait_for(lambda: srv.hub.conn.connected)
        sport = await busiest_live_sport(srv)
        async with SseStream(http, f"/api/live-stream?sportId={sport}") as stream:
            game_id = (await stream.next_event("games")).json()["data"][0]["id"]
        host, port = srv.base_url.removeprefix("http://").split(":")
        stuck = socket.socket()
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
        stuck.connect((host, int(port)))
        stuck.sendall(f"GET /api/live-game-stream?gameId={game_id} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        connections = srv.server.server_state.connections
        try:
            with caplog.at_level(logging.WARNING, logger="uvicorn.error"):
                async with SseStream(http, f"/api/live-game-stream?gameId={game_id}") as healthy:
                    await healthy.next_event("game")
                    await wait_for(lambda: srv.hub.registry.clients(("game", str(game_id))) == 2)
                    open_before = len(connections)
                    # Full game payloads at every change soon fill the stuck socket's buffers.
                    await wait_for(lambda: srv.hub.fanout_stats.drops.get("stuck", 0) >= 1, 30)
                    await wait_for(lambda: srv.hub.registry.clients(("game", str(game_id))) == 1)
                    await wait_for(lambda: len(connections) == open_before - 1, 2)  # its socket is gone now
                    assert srv.hub.fanout_stats.aborted >= 1
                    await healthy.next_event("game", timeout=10)  # the reader that keeps up is unaffected
            stuck.setblocking(False)
            with pytest.raises((ConnectionResetError, BlockingIOError)):
                while stuck.recv(1 << 20):  # what was queued, then the reset
                    pass
        finally:
            stuck.close()
        assert srv.hub.metrics()["client_drops"]["stuck"] >= 1
        assert "without completing response" not in caplog.text


@pytest.mark.parametrize("limit", ["clients", "games"])
async def test_limits_answer_429_with_retry_after(limit):
    overrides = {"max_clients": 2} if limit == "clients" else {"max_game_groups": 2}
    async with running_server(**overrides) as srv, httpx.AsyncClient(base_url=srv.base_url, timeout=30) as http:
        await wait_for(lambda: srv.hub.conn.connected)
        paths = ["/api/live-game-stream?gameId=1", "/api/live-game-stream?gameId=2", "/api/live-game-stream?gameId=3"]
        if limit == "clients":
            paths = ["/api/counts-stream"] * 3
        async with SseStream(http, paths[0]), SseStream(http, paths[1]):
            await wait_for(lambda: srv.hub.registry.total_clients == 2)
            refused = await http.get(paths[2])
            assert refused.status_code == 429
            assert int(refused.headers["retry-after"]) >= 1
            assert refused.json()["error"].startswith("Too many concurrent")
            assert refused.headers["access-control-allow-origin"] == "*"
        # Once they leave (and, for groups, the grace period passes) there is room again.
        await wait_for(lambda: srv.hub.registry.total_clients == 0)
        if limit == "games":
            srv.hub.registry.grace = 0.0
            await wait_for(lambda: srv.hub.registry.groups_of_kind("game") == 0, 5)
        async with SseStream(http, paths[2]) as ok:
            assert ok.response.status_code == 200
        assert srv.hub.registry.rejected_total == 1


async def test_groups_are_torn_down_and_unsubscribed_after_the_grace_period():
    async with running_server(group_grace=0.5) as srv, httpx.AsyncClient(base_url=srv.base_url, timeout=30) as http:
        await wait_for(lambda: srv.hub.conn.connected)
        sport = await busiest_live_sport(srv)
        async with SseStream(http, f"/api/live-stream?sportId={sport}") as stream:
            await stream.next_event("odds")
            assert srv.hub.conn.active_subscriptions >= 4  # live+prematch counts, games, odds
            assert srv.simulator.subscription_count >= 4
        await wait_for(lambda: not srv.hub.groups, 5)
        await wait_for(lambda: srv.hub.conn.active_subscriptions == 0 and srv.simulator.subscription_count == 0, 5)


async def test_the_competition_stream_checks_the_limit_before_validating():
    async with running_server(max_clients=1) as srv, httpx.AsyncClient(base_url=srv.base_url, timeout=30) as http:
        async with SseStream(http, "/api/counts-stream"):
            await wait_for(lambda: srv.hub.registry.total_clients == 1)
            refused = await http.get("/api/competition-odds-stream?mode=nonsense")
            assert refused.status_code == 429 and "retry-after" in refused.headers
            invalid = await http.get("/api/live-stream")  # other streams validate first
            assert invalid.status_code == 400


async def test_the_memory_budget_holds_and_health_and_metrics_show_it():
    """A small budget under busy streams: the oldest replay is trimmed to stay within it, and the
    budget, what is retained and what was trimmed read back from /api/health and /metrics."""
    budget = 256 * 1024
    async with running_server(memory_budget=budget, sim_price_changes_per_second=3000.0) as srv, \
            httpx.AsyncClient(base_url=srv.base_url, timeout=30) as http:
        await wait_for(lambda: srv.hub.conn.connected)
        sport = await busiest_live_sport(srv)
        async with SseStream(http, f"/api/live-stream?sportId={sport}") as stream:
            game_ids = [g["id"] for g in (await stream.next_event("games")).json()["data"]][:6]
            streams = [SseStream(http, f"/api/live-game-stream?gameId={gid}") for gid in game_ids]
            for s in streams:
                await s.__aenter__()
            try:
                assert all(s.response.status_code == 200 for s in streams)
                # whole games at every change: the rings pass the budget in moments (a client left
                # behind by a trim is dropped as lagging, and would come back to a snapshot)
                await wait_for(lambda: srv.hub.budget.trimmed_frames > 0, 30)
                memory = (await http.get("/api/health")).json()["memory"]["services"]["odds_hub"]
                metrics = (await http.get("/metrics")).text
            finally:
                for s in streams:
                    await s.__aexit__(None, None, None)
    assert memory["budget_bytes"] == budget
    assert memory["replay_frames_trimmed_total"] > 0
    assert memory["replay_bytes"] <= budget  # the rings give way first: they stay within it
    assert f'odds_service_memory_budget_bytes{{service="odds_hub"}} {float(budget)}' in metrics
    trimmed = re.search(r'^odds_replay_frames_trimmed_total\{service="odds_hub"\} (\S+)$', metrics, re.M)
    assert trimmed and float(trimmed.group(1)) > 0
