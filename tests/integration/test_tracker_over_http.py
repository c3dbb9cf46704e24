"""The live tracker over real sockets: simulator --WebSocket--> tracker --SSE--> test client."""

from __future__ import annotations

import asyncio
import contextlib
import json

import httpx
from oddsui.tracker_feed import MatchEnd, MatchEvent, MatchState, Score, Teams, apply, decode_frame, encode_frame
from websockets.asyncio.server import serve

from tests.support.feed import wait_for
from tests.support.server import running_server
from tests.support.sse import SseMessage, SseStream


async def live_game(srv, sport_id: int = 1) -> int:
    world = srv.simulator.world
    return next(g for g in world.game_ids(live=True) if world.game(g)["sport_id"] == sport_id)


async def collect(stream: SseStream, n: int, timeout: float = 15.0) -> list[SseMessage]:
    return [await stream.next_event(timeout=timeout) for _ in range(n)]


def frames(messages: list[SseMessage]) -> list:
    return [decode_frame(m.data) for m in messages if m.event is None and m.data]


async def test_a_tracker_stream_shows_the_match_and_health_follows_it():
    async with running_server(sim_live_games=20, sim_prematch_games=20) as srv, \
            httpx.AsyncClient(base_url=srv.base_url, timeout=30) as http:
        await wait_for(lambda: srv.hub.conn.connected)
        gid = await live_game(srv)
        async with SseStream(http, f"/api/live-tracker?gameId={gid}") as stream:
            assert stream.response.headers["content-type"] == "text/event-stream"
            first = await stream.next_event(timeout=10)
            assert first.event == "ready" and first.json() == {"gameId": str(gid)}
            messages = await collect(stream, 6)
            state = frames(messages)[0]
            assert isinstance(state, MatchState) and state.game_id == str(gid) and state.sport == "football"
            node = srv.simulator.world.game(gid)
            assert (state.score.home, state.score.away) == (int(node["info"]["score1"]), int(node["info"]["score2"]))
            await asyncio.sleep(1.2)  # a report reaches health
            health = (await http.get("/api/health")).json()
            rollup = health["live_tracker"]
            assert rollup is not None and rollup["active_sse_clients"] == 1 and rollup["active_games"] == 1
            assert rollup["upstream_ws_connected_games"] == 1 and rollup["ws_messages_total"] >= 1
            metrics = (await http.get("/metrics")).text
            assert "odds_tracker_sse_clients 1.0" in metrics and "odds_swarm_connected 1.0" in metrics
        await wait_for(lambda: srv.tracker.registry.total_clients == 0)
        srv.tracker.registry.grace = 0.0
        await wait_for(lambda: not srv.tracker.groups and srv.simulator.tracker_connections == 0, 10)
        await asyncio.sleep(0.6)
        assert (await http.get("/api/health")).json()["live_tracker"]["active_sse_clients"] == 0


async def test_upstream_loss_is_recovered_with_a_fresh_state_and_nothing_twice():
    async with running_server(sim_live_games=20, sim_prematch_games=20, swarm_backoff_base=0.2) as srv, \
            httpx.AsyncClient(base_url=srv.base_url, timeout=30) as http:
        await wait_for(lambda: srv.hub.conn.connected)
        gid = await live_game(srv)
        async with SseStream(http, f"/api/live-tracker?gameId={gid}") as stream:
            before = await collect(stream, 8)
            await wait_for(lambda: srv.simulator.tracker_connections == 1)
            assert await srv.simulator.drop_connections() >= 1
            after = await collect(stream, 12, timeout=20)
        everything = before + after
        ids = [int(m.id.rsplit("-", 1)[1]) for m in everything if m.id]
        assert ids == list(range(ids[0], ids[0] + len(ids)))  # our ids: no gap, no repeat
        seen = frames(everything)
        states = [i for i, f in enumerate(seen) if isinstance(f, MatchState)]
        assert len(states) >= 2  # the first, and the fresh one after the reconnect
        increments = [f.seq for f in seen if not isinstance(f, MatchState)]
        assert len(increments) == len(set(increments))  # no frame twice
        for i in range(1, len(seen)):
            if not isinstance(seen[i], MatchState):
                assert seen[i].seq > seen[i - 1].seq
        assert srv.tracker.stats.connections_opened_total >= 2


async def test_a_client_resuming_with_last_event_id_gets_exactly_what_it_missed():
    async with running_server(sim_live_games=20, sim_prematch_games=20) as srv, \
            httpx.AsyncClient(base_url=srv.base_url, timeout=30) as http:
        await wait_for(lambda: srv.hub.conn.connected)
        gid = await live_game(srv)
        url = f"/api/live-tracker?gameId={gid}"
        async with SseStream(http, url) as steady:
            early = await collect(steady, 4)
            async with SseStream(http, url) as leaving:
                joined = await collect(leaving, 3)
            last = joined[-1].id
            await asyncio.sleep(1.0)  # frames go by while it is away
            async with SseStream(http, url, headers={"Last-Event-ID": last}) as back:
                resumed = await collect(back, 5)
            continuous = early + await collect(steady, 20)
        by_id = {m.id: m.data for m in continuous if m.id}
        start = int(last.rsplit("-", 1)[1])
        for k, message in enumerate(resumed):
            assert message.id.endswith(f"-{start + 1 + k}")
            assert message.data == by_id[message.id]


async def test_bad_requests_are_json_errors_and_an_unknown_game_ends_cleanly():
    async with running_server(sim_live_games=10, sim_prematch_games=10) as srv, \
            httpx.AsyncClient(base_url=srv.base_url, timeout=30) as http:
        await wait_for(lambda: srv.hub.conn.connected)
        for query, error in (("", "gameId is required"), ("?gameId=", "gameId is required"),
                             ("?gameId=abc", "gameId must be a positive integer"),
                             ("?gameId=%C2%B2", "gameId must be a positive integer"),
                             ("?gameId=" + "9" * 40, "gameId must be a positive integer")):
            response = await http.get("/api/live-tracker" + query)
            assert response.status_code == 400 and response.json() == {"error": error}
            assert response.headers["access-control-allow-origin"] == "*"
        async with SseStream(http, "/api/live-tracker?gameId=4242") as stream:
            error = await stream.next_event("error", timeout=10)
            assert "not live" in error.json()["error"]
            try:
                while True:
                    await asyncio.wait_for(stream.next_message(), 5)
            except EOFError:
                pass  # a clean end, not a hang
        again = await http.get("/api/live-tracker?gameId=4242", timeout=10)  # remembered: no new socket
        assert "not live" in again.text


async def test_malformed_frames_are_counted_and_skipped_and_the_end_keeps_the_final_state():
    state = MatchState(game_id="77", seq=0, sport="football", teams=Teams("A", "B"), score=Score())
    goal = MatchEvent(game_id="77", seq=1, kind="goal", team="home", score=Score(1, 0), minute=12)
    end = MatchEnd(game_id="77", seq=2, score=Score(1, 0))

    async def scripted_feed(ws):
        await ws.recv()
        await ws.send(encode_frame(state).decode())
        await ws.send("this is not a frame")
        await ws.send(json.dumps({"type": "event", "seq": "one"}))
        await ws.send(encode_frame(goal).decode())
        await ws.send(encode_frame(end).decode())
        await ws.wait_closed()

    async with serve(scripted_feed, "127.0.0.1", 0) as feed:
        url = f"ws://127.0.0.1:{feed.sockets[0].getsockname()[1]}/feed"
        async with running_server(live_tracker_ws_url=url, sim_live_games=5, sim_prematch_games=5) as srv, \
                httpx.AsyncClient(base_url=srv.base_url, timeout=30) as http:
            async with SseStream(http, "/api/live-tracker?gameId=77") as stream:
                got = await collect(stream, 4)
                assert [m.event for m in got] == ["ready", None, None, None]
                assert frames(got) == [state, goal, end]
                ended = await stream.next_event("end", timeout=5)
                assert ended.json() == {"gameId": "77"}
                assert srv.tracker.stats.parse_errors_total == 2
                async with SseStream(http, "/api/live-tracker?gameId=77") as late:
                    snapshot = await collect(late, 3)
                    assert [m.event for m in snapshot] == ["ready", None, "end"]
                    final = frames(snapshot)[0]
                    assert final.status == "ended" and final.score == Score(1, 0) and final.timeline[-1] == goal


async def test_past_the_tracker_game_limit_another_game_is_a_429_with_retry_after_until_one_closes():
    async with running_server(sim_live_games=20, sim_prematch_games=20, tracker_max_games=1, group_grace=0.5) as srv, \
            httpx.AsyncClient(base_url=srv.base_url, timeout=30) as http:
        await wait_for(lambda: srv.hub.conn.connected)
        world = srv.simulator.world
        first, second = [g for g in world.game_ids(live=True) if world.game(g)["sport_id"] == 1][:2]
        async with SseStream(http, f"/api/live-tracker?gameId={first}") as stream:
            assert (await stream.next_event(timeout=10)).event == "ready"
            for method in ("GET", "HEAD"):
                refused = await http.request(method, f"/api/live-tracker?gameId={second}")
                assert refused.status_code == 429, method
                # the registry's hint: the grace period (0.5 s) rounded down, plus one second
                assert refused.headers["retry-after"] == "1", method
                assert refused.headers["access-control-allow-origin"] == "*", method
                assert "no-store" in refused.headers["cache-control"], method
            assert refused.request.method == "HEAD" and refused.content == b""
            body = (await http.get(f"/api/live-tracker?gameId={second}")).json()
            assert body == {"error": "Too many concurrent tracker groups"}
            async with SseStream(http, f"/api/live-tracker?gameId={first}") as again:  # the limit is on games
                assert (await again.next_event(timeout=10)).event == "ready"
            assert srv.tracker.registry.rejected_total == 3
            assert (await http.get("/api/health")).json()["live_tracker"]["rejected_total"] == 3  # read at once
        await wait_for(lambda: not srv.tracker.groups, 10)  # the first game's group closes after its grace
        async with SseStream(http, f"/api/live-tracker?gameId={second}") as stream:
            assert stream.response.status_code == 200
            ready = await stream.next_event(timeout=10)
            assert ready.event == "ready" and ready.json() == {"gameId": str(second)}


class Recorder:
    """Everything a stream sends, read in the background (so a quiet stream can be told apart)."""

    def __init__(self, stream: SseStream) -> None:
        self.messages: list[SseMessage] = []
        self._task = asyncio.create_task(self._read(stream))

    async def _read(self, stream: SseStream) -> None:
        while True:
            message = await stream.next_message()
            if message.data is not None:
                self.messages.append(message)

    async def stop(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


async def quiet(recorders: list[Recorder], seconds: float = 1.5, limit: float = 20.0) -> None:
    """Until none of ``recorders`` has received anything for ``seconds``."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    counts = [len(r.messages) for r in recorders]
    still_since = loop.time()
    while loop.time() - still_since < seconds:
        assert loop.time() - started < limit, "the streams never went quiet"
        await asyncio.sleep(0.1)
        now = [len(r.messages) for r in recorders]
        if now != counts:
            counts, still_since = now, loop.time()


def tracker_view(recorder: Recorder) -> MatchState | None:
    """The match as a receiver of the tracker stream holds it: its last state with every frame after."""
    state = None
    for frame in frames(recorder.messages):
        state = frame if isinstance(frame, MatchState) else apply(state, frame) if state is not None else None
    return state


def hub_view(recorder: Recorder) -> tuple[tuple[int, int], list[tuple[int, int]]] | None:
    """The score and per-period (or per-set) scores of the game as the odds hub's last ``game`` shows them."""
    games = [m for m in recorder.messages if m.event == "game"]
    if not games:
        return None
    data = games[-1].json()["data"]
    info, stats = data["info"], data.get("stats") or {}
    periods = [(stats[f"score_set{i}"]["team1_value"], stats[f"score_set{i}"]["team2_value"])
               for i in range(1, 1 + sum(1 for key in stats if key.startswith("score_set")))]
    return (int(info["score1"]), int(info["score2"])), periods


async def test_the_tracker_and_the_odds_hub_show_the_same_score_at_the_same_moment():
    # docs/api.md E5: the tracker follows the world the odds feed serves, so with the world frozen
    # (SwarmSimulator.pause) and both streams drained, a client of each sees the same score -- the
    # world's -- for every game, period by period, in timed and set sports, round after round.
    async with running_server(sim_live_games=60, sim_prematch_games=20, sim_time_scale=30.0) as srv, \
            httpx.AsyncClient(base_url=srv.base_url, timeout=30) as http:
        await wait_for(lambda: srv.hub.conn.connected)
        world = srv.simulator.world
        by_sport: dict[str, list[int]] = {}
        for gid in world.game_ids(live=True):
            by_sport.setdefault(world.live_view(gid).profile.name, []).append(gid)
        sports = ("Football", "Basketball", "Ice Hockey", "Handball", "Tennis", "Volleyball")
        picked = [g for name in sports for g in by_sport.get(name, [])[:2]]
        names = {world.live_view(g).profile.name for g in picked}
        assert {"Football", "Tennis"} <= names and len(names) >= 4, names  # timed sports and set sports
        async with contextlib.AsyncExitStack() as stack:
            trackers: dict[int, Recorder] = {}
            hubs: dict[int, Recorder] = {}
            for gid in picked:
                trackers[gid] = Recorder(await stack.enter_async_context(
                    SseStream(http, f"/api/live-tracker?gameId={gid}")))
                hubs[gid] = Recorder(await stack.enter_async_context(
                    SseStream(http, f"/api/live-game-stream?gameId={gid}")))
            recorders = [*trackers.values(), *hubs.values()]
            try:
                def started(gid: int) -> bool:
                    return bool(tracker_view(trackers[gid]) and hub_view(hubs[gid]))

                def over(gid: int) -> bool:  # it ended as the streams opened (the matches run fast)
                    return world.live_view(gid) is None or any(m.event == "error" for m in trackers[gid].messages)

                await wait_for(lambda: all(started(g) or over(g) for g in picked), 15)
                picked = [g for g in picked if started(g)]
                assert len(picked) >= 4
                seen: dict[int, set] = {g: set() for g in picked}
                for _ in range(4):
                    await asyncio.sleep(2.0)  # the world plays on (30 times real time)
                    srv.simulator.pause()
                    await quiet(recorders)
                    compared = 0
                    for gid in picked:
                        view = world.live_view(gid)
                        if view is None:
                            continue  # it ended meanwhile: the tracker said end, the hub has no live game
                        state, hub = tracker_view(trackers[gid]), hub_view(hubs[gid])
                        tracker_score = (state.score.home, state.score.away)
                        tracker_periods = [(p.home, p.away) for p in state.periods]
                        assert (tracker_score, tracker_periods) == hub, (gid, view.profile.name)
                        node = world.game(gid)
                        assert tracker_score == (int(node["info"]["score1"]), int(node["info"]["score2"]))
                        seen[gid].add((tracker_score, tuple(tracker_periods)))
                        compared += 1
                    assert compared >= len(picked) // 2
                    srv.simulator.resume()
                moved = sum(1 for g in picked if len(seen[g]) > 1)
                assert moved >= 2  # the scores changed between the frozen moments: not 0:0 against 0:0
            finally:
                for recorder in recorders:
                    await recorder.stop()
