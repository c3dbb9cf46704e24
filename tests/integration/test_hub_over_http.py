"""The whole backend over real sockets: simulator --WebSocket--> hub --SSE/HTTP--> test client.

One server (small simulated world, high price rate) serves every test in this module.
"""

from __future__ import annotations

import asyncio

import pytest

from backend.hub import queries
from tests.support.feed import feed_get, wait_for
from tests.support.sse import SseStream

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def live_sport_id(srv) -> str:
    what, where = queries.counts(live=True)
    tree = await feed_get(srv.simulator.url, what, where)
    best = max(tree["sport"].values(), key=lambda s: len(s.get("game", {})))
    return str(best["id"])


async def test_hierarchy_is_cached_after_the_first_load(http):
    first = await http.get("/api/hierarchy")
    assert first.status_code == 200
    body = first.json()
    assert len(body["sport"]) >= 15
    sport = next(iter(body["sport"].values()))
    assert {"id", "name", "alias", "order"} <= set(sport)
    again = await http.get("/api/hierarchy")
    assert again.json()["cached"] is True
    assert again.headers["cache-control"] == "public, max-age=60, stale-while-revalidate=300"
    forced = await http.get("/api/hierarchy?refresh=true")
    assert forced.json()["cached"] is False and forced.headers["cache-control"] == "no-store"


async def test_counts_stream_sends_the_preamble_then_counts_matching_the_feed(srv, http):
    async with SseStream(http, "/api/counts-stream?_=1") as stream:
        assert stream.response.headers["content-type"] == "text/event-stream"
        assert stream.response.headers["cache-control"] == "no-cache, no-transform"
        assert stream.response.headers["x-accel-buffering"] == "no"
        assert stream.response.headers["access-control-allow-origin"] == "*"
        first = await stream.next_message()
        assert first.comments == [""]  # the 2 KiB padding comment
        ready = await stream.next_message()
        assert ready.comments[0].startswith("ready ")
        got = {}
        while len(got) < 2:
            msg = await stream.next_event("live_counts", "prematch_counts")
            got[msg.event] = msg.json()
    live = got["live_counts"]
    assert live["total_games"] == sum(s["count"] for s in live["sports"]) > 0
    what, where = queries.counts(live=True)
    tree = await feed_get(srv.simulator.url, what, where)
    feed_total = sum(len(s.get("game", {})) for s in tree["sport"].values())
    assert abs(feed_total - live["total_games"]) <= 3  # games may start or end in between
    hierarchy_names = {s["name"].lower() for s in (await http.get("/api/hierarchy")).json()["sport"].values()}
    assert {s["name"].lower() for s in live["sports"]} <= hierarchy_names


async def test_live_stream_sends_games_and_odds_and_prices_move(srv, http):
    sport_id = await live_sport_id(srv)
    async with SseStream(http, f"/api/live-stream?sportId={sport_id}") as stream:
        games = (await stream.next_event("games")).json()
        assert games["sportId"] == sport_id and games["data"]
        for game in games["data"]:
            assert game["type"] == 1 and isinstance(game["region"], str) and isinstance(game["competition"], str)
            assert isinstance(game["competition_id"], int) and game["market"] == {}
            assert game["sport"] == games["sportName"]
            # docs/api.md C1: what the UI reads from a list game.
            assert {"id", "team1_name", "team2_name", "start_ts", "markets_count", "is_blocked", "info",
                    "text_info"} <= set(game)
            assert isinstance(game["id"], int) and isinstance(game["start_ts"], int)
        assert isinstance(games["last_updated"], str) and games["last_updated"].endswith("Z")
        seen: dict[str, list] = {}
        moved = False
        for i in range(60):
            odds = (await stream.next_event("odds", timeout=20)).json()
            assert odds["sportId"] == sport_id
            if i > 0:  # after the snapshot (string ids), live emits carry the upstream number
                assert all(isinstance(u["gameId"], int) for u in odds["updates"])
            for update in odds["updates"]:
                assert set(update) == {"gameId", "odds", "markets_count"}
                if update["odds"] is not None:
                    assert len(update["odds"]) in (2, 3)
                    assert all(isinstance(o["price"], (int, float)) for o in update["odds"])
                key = str(update["gameId"])
                if key in seen and seen[key] != update["odds"]:
                    moved = True
                seen[key] = update["odds"]
            if moved:
                break
        assert moved, "no price moved on the live stream"


async def test_stream_writes_go_straight_to_the_transport_and_stay_valid_http(srv, http):
    """Under uvicorn each event reaches a client as one chunk written directly (backend/http.py
    DirectWriter), not through the ASGI send coroutine; the stream stays valid chunked HTTP (httpx
    parses every chunk) and carries consecutive ids."""
    sport_id = await live_sport_id(srv)
    async with SseStream(http, f"/api/live-stream?sportId={sport_id}") as stream:
        await stream.next_event("odds")
        group = next(g for key, g in srv.hub.groups.items() if key == ("live", sport_id))
        clients = list(group.channel.clients)
        assert clients and all(c.direct is not None for c in clients)
        parked_before = srv.hub.fanout_stats.parked_writes
        ids = []
        for _ in range(20):
            ids.append((await stream.next_event("odds", timeout=20)).id)
        seqs = [int(i.rsplit("-", 1)[1]) for i in ids]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        assert srv.hub.fanout_stats.parked_writes == parked_before  # a reading client never waited


async def test_a_late_joiner_gets_counts_games_and_an_odds_snapshot_at_once(srv, http):
    sport_id = await live_sport_id(srv)
    async with SseStream(http, f"/api/live-stream?sportId={sport_id}") as first:
        await first.next_event("odds", timeout=20)
        async with SseStream(http, f"/api/live-stream?sportId={sport_id}") as late:
            names = [(await late.next_event(timeout=2)).event for _ in range(4)]
    assert names == ["counts", "prematch_counts", "games", "odds"]
    snapshot = late.events[-1].json()
    assert all(isinstance(u["gameId"], str) for u in snapshot["updates"])
    assert [u["gameId"] for u in snapshot["updates"]] == sorted(u["gameId"] for u in snapshot["updates"])


async def test_game_stream_sends_the_full_game_with_market_maps(srv, http):
    sport_id = await live_sport_id(srv)
    async with SseStream(http, f"/api/live-stream?sportId={sport_id}") as stream:
        game_id = str((await stream.next_event("games")).json()["data"][0]["id"])
    async with SseStream(http, f"/api/live-game-stream?gameId={game_id}") as stream:
        payload = (await stream.next_event("game")).json()
    assert payload["gameId"] == game_id and payload["last_updated"].endswith("Z")
    markets = payload["data"]["market"]
    assert isinstance(markets, dict) and markets
    market = next(iter(markets.values()))
    assert {"group_id", "group_name", "group_order", "display_key", "col_count", "order", "is_blocked"} <= set(market)
    event = next(iter(market["event"].values()))
    assert {"name", "type", "type_1", "price", "base", "order", "is_blocked"} <= set(event)


async def test_prematch_stream_lists_prematch_games_and_polls_their_odds(srv, http):
    what, where = queries.counts(live=False)
    tree = await feed_get(srv.simulator.url, what, where)
    sport = max(tree["sport"].values(), key=lambda s: len(s.get("game", {})))
    async with SseStream(http, f"/api/prematch-stream?sportId={sport['id']}") as stream:
        games = (await stream.next_event("games")).json()
        assert games["data"] and all(g["type"] in (0, 2) or g.get("visible_in_prematch") == 1 for g in games["data"])
        odds = (await stream.next_event("odds", timeout=20)).json()
    listed = {g["id"] for g in games["data"]}
    assert {u["gameId"] for u in odds["updates"]} <= listed


@pytest.mark.parametrize("path, error", [
    ("/api/live-stream", "sportId is required"),
    ("/api/live-stream?sportId=", "sportId is required"),
    ("/api/live-stream?sportId=abc", "sportId must be a positive integer"),
    ("/api/prematch-stream", "sportId is required"),
    ("/api/live-game-stream", "gameId is required"),
    ("/api/live-game-stream?gameId=-4", "gameId must be a positive integer"),
])
async def test_bad_query_parameters_are_a_json_400(http, path, error):
    response = await http.get(path)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"error": error}
    assert response.headers["access-control-allow-origin"] == "*"


async def test_unknown_paths_options_and_cors(http):
    missing = await http.get("/api/nope")
    assert missing.status_code == 404 and missing.text == "Not found"
    assert missing.headers["access-control-allow-origin"] == "*"
    options = await http.options("/api/live-stream")
    assert options.status_code == 204 and options.content == b""
    assert options.headers["access-control-allow-methods"] == "GET,POST,OPTIONS"
    assert options.headers["access-control-max-age"] == "86400"
    post = await http.post("/api/hierarchy")
    assert post.status_code == 404 and post.json() == {"error": "Not found"}


async def test_warmup_and_health(http):
    warm = (await http.get("/api/warmup")).json()
    assert warm["status"] == "warmed" and warm["hierarchy_loaded"] is True and isinstance(warm["timestamp"], int)
    health = (await http.get("/api/health")).json()
    assert health["status"] == "ok"
    swarm = health["swarm_ws"]
    assert swarm["connected"] is True and isinstance(swarm["session_id"], str)
    assert swarm["ws_messages_total"] >= swarm["ws_messages_last_60s"] > 0


async def test_a_malformed_upstream_frame_is_counted_and_the_connection_stays_up(srv, http):
    conn = srv.hub.conn
    session, errors = conn.session_id, conn.stats.parse_errors_total
    await srv.simulator.broadcast_raw("{this is not json")
    await srv.simulator.broadcast_raw('{"code": "not a number", "rid": 1}')
    await wait_for(lambda: conn.stats.parse_errors_total == errors + 2)
    assert conn.connected and conn.session_id == session
    assert (await http.get("/api/warmup")).json()["hierarchy_loaded"] is True


async def test_after_the_feed_drops_every_live_group_is_resubscribed_and_resent(srv, http):
    sport_id = await live_sport_id(srv)
    async with SseStream(http, f"/api/live-stream?sportId={sport_id}") as stream:
        await stream.next_event("games")
        await stream.next_event("odds", timeout=20)
        opened = srv.hub.conn.stats.connections_opened_total
        await srv.simulator.drop_connections()
        await wait_for(lambda: srv.hub.conn.stats.connections_opened_total > opened and srv.hub.conn.connected, 15)
        # A fresh snapshot (games, then odds) arrives after the reconnect, then deltas flow again.
        await stream.next_event("games", timeout=15)
        await stream.next_event("odds", timeout=15)
        await stream.next_event("odds", timeout=15)
    assert srv.hub.conn.active_subscriptions >= 1


async def test_competition_odds_stream_snapshot_then_changes(srv, http):
    sport_id = await live_sport_id(srv)
    async with SseStream(http, f"/api/live-stream?sportId={sport_id}") as stream:
        games = (await stream.next_event("games")).json()["data"]
    by_comp: dict[int, set] = {}
    for g in games:
        by_comp.setdefault(g["competition_id"], set()).add(g["id"])
    comp, ids = max(by_comp.items(), key=lambda kv: len(kv[1]))
    url = f"/api/competition-odds-stream?competitionId={comp}&sportId={sport_id}&mode=live"
    async with SseStream(http, url) as stream:
        first = (await stream.next_event("odds")).json()
        assert first["sportId"] == sport_id and first["competitionId"] == str(comp)
        assert {u["gameId"] for u in first["updates"]} <= {str(i) for i in ids}
        assert all(isinstance(u["markets_count"], int) for u in first["updates"])
        async with SseStream(http, url) as late:
            snapshot = (await late.next_event("odds", timeout=3)).json()
        assert all(isinstance(u["gameId"], str) for u in snapshot["updates"])


@pytest.mark.parametrize("query, error", [
    ("sportId=1&mode=live", "competitionId is required"),
    ("competitionId=5&mode=live", "sportId is required"),
    ("competitionId=5&sportId=1", "mode must be live or prematch"),
    ("competitionId=5&sportId=1&mode=LIVE", "mode must be live or prematch"),
    ("competitionId=x&sportId=1&mode=live", "competitionId must be a positive integer"),
])
async def test_competition_stream_validation_in_order(http, query, error):
    response = await http.get(f"/api/competition-odds-stream?{query}")
    assert response.status_code == 400 and response.json() == {"error": error}


async def test_metrics_in_prometheus_text_and_every_health_field_the_original_ui_reads(http):
    # JSON requests of its own for responseTime to count (a request is counted once answered, so a
    # health read never counts itself), whatever ran before in this module or if nothing did
    timed_before = (await http.get("/api/health")).json()["responseTime"]["count"]
    assert (await http.get("/api/hierarchy")).status_code == 200
    for _ in range(50):  # the connection as the hub last reported it (at most a second behind)
        response = await http.get("/metrics")
        assert response.status_code == 200
        lines = [line for line in response.text.splitlines() if line and not line.startswith("#")]
        samples = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in lines}
        if samples["odds_swarm_connected"] == 1.0:
            break
        await asyncio.sleep(0.1)
    assert response.headers["content-type"] == "text/plain; version=1.0.0; charset=utf-8"
    assert samples["odds_swarm_connected"] == 1.0
    assert samples["odds_swarm_messages_total"] > 0
    assert samples["odds_process_resident_memory_bytes"] > 1e6
    assert samples['odds_upstream_connected{upstream="odds_feed"}'] == 1.0
    assert 'odds_service_memory_bytes{kind="replay",service="odds_hub"}' in samples
    health = (await http.get("/api/health")).json()
    assert health["status"] == "ok" and health["alerts"] == [] and health["upstream"]["odds_feed"]["connected"] == 1
    # docs/api.md A2: what the original UI reads
    assert isinstance(health["uptime"], float) and set(health["cache"]) >= {"hits", "misses"}
    assert set(health["responseTime"]) >= {"avg", "p95", "slowRequests"} and health["responseTime"]["count"] >= 1
    assert health["responseTime"]["count"] == min(timed_before + 2, 1024)  # the first health read, the hierarchy
    assert set(health["counts_stream"]) == {"runs_last_60s", "last_reason", "runs_by_reason"}
    swarm = health["swarm_ws"]
    assert swarm["connected"] is True and swarm["ws_messages_total"] > 0
    assert {"active_subscriptions", "updates_last_60s_total", "by_endpoint", "by_tag"} <= set(swarm)
    for figures in [*swarm["by_endpoint"].values(), *swarm["by_tag"].values()]:
        assert {"active_subscriptions", "updates_last_60s"} <= set(figures)
    rollup = health["live_tracker"]
    assert {"active_games", "active_sse_clients", "upstream_ws_connected_games", "ws_messages_total",
            "ws_messages_last_60s", "ws_parse_errors_total", "last_message_at"} <= set(rollup)
    assert set(health["memory"]["services"]) == {"odds_hub", "live_tracker", "health"}
    assert len(health["messages_per_second"]["odds_feed"]) == 60


async def test_a_clients_sport_name_never_renames_the_sport_for_anyone(srv, http):
    # The name comes from the hierarchy; a huge name is refused before the stream opens.
    what, where = queries.counts(live=False)
    tree = await feed_get(srv.simulator.url, what, where)
    sport = min(tree["sport"].values(), key=lambda s: len(s.get("game", {})))  # a group nobody opened yet
    real_name = (await http.get("/api/hierarchy")).json()["sport"][str(sport["id"])]["name"]
    async with SseStream(http, f"/api/prematch-stream?sportId={sport['id']}&sportName=My%20Name") as first:
        mine = (await first.next_event("games")).json()
        async with SseStream(http, f"/api/prematch-stream?sportId={sport['id']}") as second:
            theirs = (await second.next_event("games")).json()
    for games in (mine, theirs):
        assert games["sportName"] == real_name and all(g["sport"] == real_name for g in games["data"])
    huge = await http.get(f"/api/prematch-stream?sportId={sport['id']}&sportName={'x' * 30_000}")
    assert huge.status_code == 400 and "sportName" in huge.json()["error"]
