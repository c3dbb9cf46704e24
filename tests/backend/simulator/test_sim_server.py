"""The simulator over a real WebSocket on 127.0.0.1: protocol, pushes, fault hooks, shutdown."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from backend.clock import FakeClock
from backend.simulator import SimulatorConfig, SwarmSimulator
from backend.swarm.messages import CODE_BAD_REQUEST, CODE_OK, CODE_SESSION_LOST, CODE_UNKNOWN_COMMAND

from .support import swarm_merge

FAST = SimulatorConfig(seed=21, live_games=20, prematch_games=80, price_changes_per_second=2000.0,
                       push_interval=0.05, history_games_per_day=20, block_changes_per_second=5.0)
LIVE_ODDS = (
    {"game": ["id", "markets_count"], "market": ["id", "type", "is_blocked"], "event": ["id", "price", "type"]},
    {"game": {"type": 1}, "market": {"type": {"@in": ["P1XP2", "P1P2"]}}},
)


class Peer:
    """A Swarm client over a real socket that sets replies apart from pushes."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.pushes: list[dict[str, Any]] = []
        self.rid = 0

    async def recv(self, timeout: float = 3.0) -> dict[str, Any]:
        return json.loads(await asyncio.wait_for(self.ws.recv(), timeout))

    async def request(self, command: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        self.rid += 1
        rid = str(self.rid)
        await self.ws.send(json.dumps({"command": command, "params": params or {}, "rid": rid}))
        return await self.reply(rid)

    async def reply(self, rid: str | None) -> dict[str, Any]:
        while True:
            frame = await self.recv()
            if frame.get("rid") == 0:
                self.pushes.append(frame)
                continue
            assert frame.get("rid") == rid, frame
            return frame

    async def session(self) -> None:
        frame = await self.request("request_session", {"site_id": 1, "language": "eng"})
        assert frame["code"] == CODE_OK and isinstance(frame["data"]["sid"], str)

    async def subscribe(self, what: dict[str, Any], where: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        frame = await self.request("get", {"source": "betting", "what": what, "where": where, "subscribe": True})
        assert frame["code"] == CODE_OK, frame
        return frame["data"]["subid"], frame["data"]["data"]

    async def next_push(self, timeout: float = 3.0) -> dict[str, Any]:
        if self.pushes:
            return self.pushes.pop(0)
        frame = await self.recv(timeout)
        assert frame["rid"] == 0, frame
        return frame


@pytest.fixture
async def sim():
    async with SwarmSimulator(FAST) as simulator:
        yield simulator


async def open_peer(sim: SwarmSimulator) -> Peer:
    return Peer(await connect(sim.url, open_timeout=5))


async def test_url_and_lifecycle_properties(sim) -> None:
    assert sim.url == f"ws://127.0.0.1:{sim.port}/" and sim.port > 0
    assert sim.running
    peer = await open_peer(sim)
    await peer.session()
    assert (sim.connection_count, sim.session_count) == (1, 1)
    await peer.ws.close()


async def test_session_subscribe_deltas_and_unsubscribe(sim) -> None:
    peer = await open_peer(sim)
    assert (await peer.request("get", {"what": {"sport": ["id"]}}))["code"] == CODE_SESSION_LOST
    await peer.session()
    subid, tree = await peer.subscribe(*LIVE_ODDS)
    assert tree["game"]
    prices_moved = 0
    for _ in range(10):
        push = await peer.next_push()
        assert push["code"] == CODE_OK and subid in push["data"]
        delta = push["data"][subid]
        prices_moved += json.dumps(delta).count('"price"')
        tree = swarm_merge(tree, delta)
    assert prices_moved > 0
    assert all(isinstance(e["price"], float) for g in tree["game"].values()
               for m in g["market"].values() for e in m["event"].values())
    frame = await peer.request("unsubscribe", {"subid": subid})
    assert frame["code"] == CODE_OK
    peer.pushes.clear()  # pushes queued before the reply are fine; none may follow it
    with pytest.raises(TimeoutError):
        await peer.recv(timeout=0.5)
    await peer.ws.close()


async def test_expired_sessions_answer_session_lost(sim) -> None:
    peer = await open_peer(sim)
    await peer.session()
    await peer.subscribe(*LIVE_ODDS)
    await peer.next_push()
    assert sim.expire_sessions() == 1
    frame = await peer.request("get", {"what": {"sport": ["id"]}})
    assert frame["code"] == CODE_SESSION_LOST
    peer.pushes.clear()
    with pytest.raises(TimeoutError):
        await peer.recv(timeout=0.4)  # its subscriptions went with it
    await peer.session()
    assert (await peer.request("get", {"what": {"sport": ["id"]}}))["code"] == CODE_OK
    await peer.ws.close()


async def test_garbage_gets_bad_request_and_the_connection_stays_up(sim) -> None:
    peer = await open_peer(sim)
    await peer.ws.send("{definitely not json")
    frame = await peer.reply(None)
    assert frame["code"] == CODE_BAD_REQUEST and frame["msg"]
    await peer.ws.send(json.dumps({"command": "get", "rid": "q", "params": {"what": {"moon": []}}}))
    assert (await peer.reply("q"))["code"] in (CODE_BAD_REQUEST, CODE_SESSION_LOST)
    assert (await peer.request("fly")) ["code"] == CODE_UNKNOWN_COMMAND
    await peer.session()
    frame = await peer.request("get", {"what": {"game": ["id"]}, "where": {"game": {"id": {"@between": [1, 2]}}}})
    assert frame["code"] == CODE_BAD_REQUEST and "@between" in frame["msg"]
    assert (await peer.request("get", {"what": {"sport": ["id"]}}))["code"] == CODE_OK
    await peer.ws.close()


async def test_results_commands_over_the_socket(sim) -> None:
    peer = await open_peer(sim)
    await peer.session()
    details = (await peer.request("get_market_type", {"sport_alias": "Tennis"}))["data"]["details"]
    assert details[0]["BasaltKind"] == "P1P2" and {"Id", "Name", "Order", "BasaltKind"} == set(details[0])
    now = int(sim.world.now)
    window = {"from_date": now - 7 * 86400, "to_date": now}
    sports = (await peer.request("get_active_competitions", window))["data"]
    assert sports and "Name" in sports[0]
    games = (await peer.request("get_result_games", {"is_date_ts": 1, **window, "live": 0,
                                                      "sport_id": sports[0]["Id"]}))["data"]["games"]["game"]
    assert games and isinstance(games[0]["scores"], str)
    lines = (await peer.request("get_results", {"game_id": str(games[0]["game_id"])}))["data"]["lines"]["line"]
    assert isinstance(lines[0]["events"]["event_name"], list)
    unknown = await peer.request("get_results", {"game_id": "42"})
    assert unknown["code"] == CODE_OK and unknown["data"] == {"lines": {"line": []}}
    await peer.ws.close()


async def test_broadcast_raw_and_drop_connections(sim) -> None:
    peers = [await open_peer(sim) for _ in range(2)]
    assert await sim.broadcast_raw('{"code": "garbage"') == 2
    for peer in peers:
        assert await asyncio.wait_for(peer.ws.recv(), 2) == '{"code": "garbage"'
    assert await sim.drop_connections() == 2
    for peer in peers:
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(peer.ws.recv(), 2)
    assert sim.connection_count == 0


async def test_stop_and_start_again_on_the_same_port(sim) -> None:
    url = sim.url
    peer = await open_peer(sim)
    await peer.session()
    await sim.stop()
    assert not sim.running
    with pytest.raises(ConnectionClosed):
        await asyncio.wait_for(peer.ws.recv(), 2)
    with pytest.raises(OSError):
        await connect(url, open_timeout=1)
    await sim.start()
    assert sim.url == url
    again = await open_peer(sim)
    await again.session()
    subid, _ = await again.subscribe(*LIVE_ODDS)
    assert subid in (await again.next_push())["data"]
    await again.ws.close()


async def test_shutdown_is_quick_with_clients_connected() -> None:
    simulator = SwarmSimulator(FAST)
    await simulator.start()
    peers = [await open_peer(simulator) for _ in range(4)]
    for peer in peers:
        await peer.session()
        await peer.subscribe(*LIVE_ODDS)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await simulator.stop()
    assert loop.time() - started < 1.0
    await simulator.stop()  # idempotent
    for peer in peers:
        with pytest.raises(ConnectionClosed):
            while True:
                await asyncio.wait_for(peer.ws.recv(), 2)


async def test_time_comes_from_the_injected_clock() -> None:
    clock = FakeClock()
    config = SimulatorConfig(seed=4, live_games=20, prematch_games=40, price_changes_per_second=500.0,
                             push_interval=0.25, history_games_per_day=5)
    async with SwarmSimulator(config, clock) as simulator:
        assert simulator.world.now == clock.time()
        peer = await open_peer(simulator)
        await peer.session()
        subid, _ = await peer.subscribe(*LIVE_ODDS)
        with pytest.raises(TimeoutError):
            await peer.recv(timeout=0.3)  # no fake time passes, so nothing moves
        clock.advance(0.25)
        push = await peer.next_push()
        assert subid in push["data"]
        assert simulator.world.now == clock.time()
        await peer.ws.close()


async def test_the_command_line_names_both_feeds(sim, capsys) -> None:
    from backend.simulator.__main__ import parse_args, startup_lines

    with pytest.raises(SystemExit):
        parse_args(["--help"])
    assert "/tracker" in " ".join(capsys.readouterr().out.split())
    swarm, tracker = startup_lines(sim.url, sim.tracker_url).splitlines()
    assert sim.url in swarm and "Swarm" in swarm
    assert sim.tracker_url in tracker and sim.tracker_url.endswith("/tracker")


async def test_a_paused_world_stands_still_and_answers_then_goes_on() -> None:
    clock = FakeClock()
    config = SimulatorConfig(seed=4, live_games=20, prematch_games=40, price_changes_per_second=500.0,
                             push_interval=0.25, history_games_per_day=5)
    async with SwarmSimulator(config, clock) as simulator:
        peer = await open_peer(simulator)
        await peer.session()
        subid, tree = await peer.subscribe(*LIVE_ODDS)
        simulator.pause()
        ticks = simulator.ticks
        for _ in range(8):
            clock.advance(0.25)
            await asyncio.sleep(0)
        with pytest.raises(TimeoutError):
            await peer.recv(timeout=0.3)  # nothing moved, nothing pushed
        assert simulator.ticks == ticks
        _, again = await peer.subscribe(*LIVE_ODDS)  # still answered, from the frozen world
        assert again == tree
        simulator.resume()
        clock.advance(0.25)
        assert subid in (await peer.next_push())["data"]
        await peer.ws.close()
