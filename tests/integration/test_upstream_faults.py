"""A misbehaving feed, over real sockets: an expired session, a stall, deltas that do not fit.

Each test runs the real app against the embedded simulator and uses its fault hooks; the hub must
recover by itself, tell its clients the fresh state, and show the episode in /api/health.
"""

from __future__ import annotations

import json

import httpx

from backend.hub import queries
from tests.support.feed import feed_get, wait_for
from tests.support.server import running_server
from tests.support.sse import SseStream

FAST_PROBE = dict(swarm_idle_probe=1.0, swarm_probe_timeout=1.0)


async def busiest_live_sport(server) -> int:
    what, where = queries.counts(live=True)
    tree = await feed_get(server.simulator.url, what, where)
    return max(tree["sport"].values(), key=lambda s: len(s.get("game", {})))["id"]


async def test_an_expired_session_is_renewed_and_every_stream_gets_a_fresh_snapshot():
    # A lost Swarm session (docs/api.md D3): once, every stream went silent for good and health stayed green.
    async with running_server(sim_price_changes_per_second=50.0, **FAST_PROBE) as srv, \
            httpx.AsyncClient(base_url=srv.base_url, timeout=30) as http:
        await wait_for(lambda: srv.hub.conn.connected)
        sport = await busiest_live_sport(srv)
        async with SseStream(http, f"/api/live-stream?sportId={sport}") as stream:
            first = (await stream.next_event("games")).json()
            assert srv.simulator.expire_sessions() == 1
            again = (await stream.next_event("games", timeout=15)).json()  # the resubscription's snapshot
            assert {g["id"] for g in again["data"]} and len(again["data"]) >= len(first["data"]) - 3
            await stream.next_event("odds", timeout=15)  # and the stream is live again
        health = (await http.get("/api/health")).json()
        assert health["swarm_ws"]["session_expiries_total"] == 1 and health["swarm_ws"]["connected"]
        assert "upstream_session_lost" in {a["name"] for a in health["alerts"]}
        assert health["swarm_ws"]["connect_attempts_total"] == 1  # renewed on the same socket
        refreshed = await http.get("/api/hierarchy?refresh=true")
        assert refreshed.status_code == 200 and refreshed.json()["sport"]
        async with SseStream(http, "/api/live-game-stream?gameId=" + str(again["data"][0]["id"])) as game:
            assert (await game.next_event("game", "error")).event == "game"  # a new group works too


async def test_a_stalled_feed_is_noticed_within_seconds_alerted_and_replaced():
    # The socket stays open but nothing comes (docs/api.md D6); without the probe, 30-40 s passed unnoticed.
    async with running_server(sim_price_changes_per_second=50.0, **FAST_PROBE) as srv, \
            httpx.AsyncClient(base_url=srv.base_url, timeout=30) as http:
        await wait_for(lambda: srv.hub.conn.connected)
        sport = await busiest_live_sport(srv)
        async with SseStream(http, f"/api/live-stream?sportId={sport}") as stream:
            await stream.next_event("games")
            loop_time = srv.hub.clock.monotonic
            assert srv.simulator.stall_connections() == 1
            stalled_at = loop_time()
            await wait_for(lambda: srv.hub.conn.stats.stalls_total == 1, 10)
            assert loop_time() - stalled_at < 5.0
            health = (await http.get("/api/health")).json()
            assert "upstream_stalled" in {a["name"] for a in health["alerts"]}
            again = await stream.next_event("games", timeout=15)  # reconnected and resubscribed
            assert again.json()["data"]
        assert srv.hub.conn.connected and srv.hub.conn.stats.connections_opened_total == 2


async def test_a_delta_that_does_not_fit_leaves_every_list_whole_and_the_group_repairs_itself():
    # A wrongly typed delta (docs/api.md D5): without the schema check it shrank a sport's list to
    # nothing until a reconnect.
    async with running_server(sim_price_changes_per_second=50.0) as srv, \
            httpx.AsyncClient(base_url=srv.base_url, timeout=30) as http:
        await wait_for(lambda: srv.hub.conn.connected)
        sport = await busiest_live_sport(srv)
        async with SseStream(http, f"/api/live-stream?sportId={sport}") as stream:
            before = (await stream.next_event("games")).json()
            errors = srv.hub.conn.stats.parse_errors_total
            subids = srv.simulator.subscription_ids()
            bad = {subid: {"sport": {str(sport): {"region": "not an object", "id": "1"}}} for subid in subids}
            await srv.simulator.broadcast_raw(json.dumps({"code": 0, "rid": 0, "data": bad}))
            await wait_for(lambda: srv.hub.conn.stats.parse_errors_total >= errors + len(subids), 10)
            repaired = (await stream.next_event("games", timeout=15)).json()
            assert len(repaired["data"]) >= len(before["data"]) - 3 > 0
        metrics = srv.hub.metrics()
        assert metrics["rejected_deltas_total"] >= len(subids) and metrics["connected"]
