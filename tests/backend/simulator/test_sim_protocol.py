"""One connection's Swarm protocol, driven sans-I/O: requests in, frames out, pushes after ticks."""

from __future__ import annotations

import json
from typing import Any

import pytest

from backend.simulator import protocol as protocol_module
from backend.simulator.config import SimulatorConfig
from backend.simulator.protocol import ChangeIndex, IdSource, SwarmProtocol
from backend.simulator.query import evaluate, parse_query
from backend.simulator.world import World
from backend.swarm.messages import (
    CODE_BAD_REQUEST,
    CODE_NO_SUCH_SUBSCRIPTION,
    CODE_OK,
    CODE_SESSION_LOST,
    CODE_TOO_MANY_SUBSCRIPTIONS,
    CODE_UNKNOWN_COMMAND,
)

from .support import swarm_merge
from .test_sim_world import hub_queries

T0 = 1_767_700_000.0
CONFIG = SimulatorConfig(seed=11, live_games=30, prematch_games=150, price_changes_per_second=200.0,
                         block_changes_per_second=4.0, time_scale=30.0, history_games_per_day=30)


class Client:
    """A test double of the hub's side: sends requests, keeps each subscription's merged tree."""

    def __init__(self, world: World, **kwargs: Any) -> None:
        self.world = world
        self.proto = SwarmProtocol(world, IdSource(1), **kwargs)
        self.rids = 0
        self.trees: dict[str, dict[str, Any]] = {}

    def raw(self, text: str, now: float = T0) -> list[dict[str, Any]]:
        return [json.loads(f) for f in self.proto.receive(text, now)]

    def send(self, command: str, params: dict[str, Any] | None = None, now: float = T0) -> dict[str, Any]:
        self.rids += 1
        request = {"command": command, "params": params or {}, "rid": f"r{self.rids}"}
        (frame,) = self.raw(json.dumps(request), now)
        assert frame["rid"] == f"r{self.rids}"
        return frame

    def session(self) -> str:
        frame = self.send("request_session", {"site_id": 1, "language": "eng"})
        assert frame["code"] == CODE_OK
        return frame["data"]["sid"]

    def subscribe(self, what: dict[str, Any], where: dict[str, Any], now: float = T0) -> str:
        frame = self.send("get", {"source": "betting", "what": what, "where": where, "subscribe": True}, now)
        assert frame["code"] == CODE_OK, frame
        subid = frame["data"]["subid"]
        assert isinstance(subid, str)
        self.trees[subid] = frame["data"]["data"]
        return subid

    def tick(self, now: float) -> dict[str, Any] | None:
        self.world.tick(now)
        frame = self.proto.collect_pushes(ChangeIndex.of(self.world, self.world.drain_changes()), now)
        if frame is None:
            return None
        push = json.loads(frame)
        assert push["code"] == CODE_OK and push["rid"] == 0
        for subid, delta in push["data"].items():
            assert delta, "empty deltas are never sent"
            self.trees[subid] = swarm_merge(self.trees[subid], delta)
        return push


@pytest.fixture
def world() -> World:
    return World(CONFIG, T0)


def test_commands_before_a_session_answer_session_lost(world) -> None:
    client = Client(world)
    frame = client.send("get", {"what": {"sport": ["id"]}})
    assert frame["code"] == CODE_SESSION_LOST and frame["msg"]
    assert client.send("get_market_type", {"sport_alias": "Soccer"})["code"] == CODE_SESSION_LOST
    client.session()
    assert client.send("get", {"what": {"sport": ["id"]}})["code"] == CODE_OK


def test_request_session_returns_a_fresh_string_sid(world) -> None:
    client = Client(world)
    first, second = client.session(), client.session()
    assert isinstance(first, str) and first and first != second


@pytest.mark.parametrize(
    ("text", "rid"),
    [
        ("{not json", None),
        ("[1, 2]", None),
        ('{"rid": "x", "params": {}}', "x"),
        ('{"command": "get", "rid": "y", "params": [1]}', "y"),
        ('{"command": "get", "rid": 7, "params": {"what": {"planet": ["id"]}}}', 7),
        ('{"command": "get", "rid": "z", "params": {"what": {"game": ["id"]}, "where": {"game": {"id": {"@regex": 1}}}}}', "z"),
        ('{"command": "get", "rid": "s", "params": {"source": "casino", "what": {"game": ["id"]}}}', "s"),
        ('{"command": "get", "rid": "t", "params": {"what": {"game": ["id"]}, "subscribe": "yes"}}', "t"),
    ],
)
def test_malformed_requests_get_bad_request_and_the_rid_back(world, text, rid) -> None:
    client = Client(world)
    client.session()
    (frame,) = client.raw(text)
    assert frame["code"] == CODE_BAD_REQUEST and frame["rid"] == rid and frame["msg"]
    assert client.send("get", {"what": {"sport": ["id"]}})["code"] == CODE_OK  # still usable


def test_unknown_commands_are_named_as_such(world) -> None:
    client = Client(world)
    assert client.send("make_coffee")["code"] == CODE_UNKNOWN_COMMAND
    client.session()
    frame = client.send("make_coffee")
    assert frame["code"] == CODE_UNKNOWN_COMMAND and "make_coffee" in frame["msg"]


def test_a_plain_get_answers_the_tree_once(world) -> None:
    client = Client(world)
    client.session()
    frame = client.send("get", {"source": "betting", "what": {"sport": ["id", "name"], "game": "@count"},
                                "where": {"game": {"type": 1}}})
    assert frame["code"] == CODE_OK and set(frame["data"]) == {"data"}
    counts = {s["name"]: s["game"] for s in frame["data"]["data"]["sport"].values()}
    assert sum(counts.values()) == len(world.game_ids(live=True))
    assert client.tick(T0 + 5) is None  # nothing subscribed, nothing pushed


def test_subscribed_clients_stay_in_sync_with_the_world(world, monkeypatch) -> None:
    """After every tick, each subscription's merged view equals a fresh evaluation: the incremental
    re-evaluation never misses a change, for every query the hub sends."""
    monkeypatch.setattr(protocol_module, "NOW_RESOLUTION", 0.0)
    client = Client(world)
    client.session()
    football = [g for g in world.game_ids(live=True) if world.game(g)["sport_id"] == 1]
    prematch = world.game_ids(live=False)
    competition = world.game(football[0])["competition_id"]
    queries = hub_queries(1, competition, [football[0], *prematch[:5]], "P1XP2")
    queries["8 prematch game"] = ({"game": [], "market": [], "event": []}, {"game": {"id": str(prematch[0])}})
    queries["count"] = ({"sport": ["id"], "region": "@count"}, {"game": {"is_blocked": 0}})
    subs = {client.subscribe(what, where): (name, parse_query(what, where)) for name, (what, where) in queries.items()}
    pushed: set[str] = set()
    for step in range(1, 161):
        now = T0 + step * 0.25
        push = client.tick(now)
        if push:
            pushed.update(push["data"])
        for subid, (name, query) in subs.items():
            assert client.trees[subid] == evaluate(query, world, now).tree, (name, step)
    names = {subs[s][0] for s in pushed}
    assert {"1 live counts", "2 live games", "4 live main odds", "8 single game"} <= names


def test_unsubscribe_stops_pushes(world) -> None:
    client = Client(world)
    client.session()
    keep = client.subscribe({"game": ["id", "text_info", "is_blocked"]}, {"game": {"type": 1}})
    drop = client.subscribe(*hub_queries(1, 0, [1], "P1XP2")["4 live main odds"])
    seen = set()
    for step in range(1, 41):
        push = client.tick(T0 + step * 0.25)
        seen.update(push["data"] if push else ())
    assert {keep, drop} <= seen  # several subids share one push frame
    assert client.send("unsubscribe", {"subid": drop})["code"] == CODE_OK
    for step in range(41, 81):
        push = client.tick(T0 + step * 0.25)
        assert push is None or drop not in push["data"]
    assert client.send("unsubscribe", {"subid": drop})["code"] == CODE_NO_SUCH_SUBSCRIPTION
    assert client.send("unsubscribe", {"subid": "nope"})["code"] == CODE_NO_SUCH_SUBSCRIPTION
    assert client.send("unsubscribe", {})["code"] == CODE_BAD_REQUEST


def test_an_expired_session_loses_its_subscriptions(world) -> None:
    client = Client(world)
    client.session()
    client.subscribe({"game": ["id", "text_info"]}, {"game": {"type": 1}})
    assert client.proto.expire_session() is True
    assert client.proto.subscription_count == 0
    for step in range(1, 21):
        assert client.tick(T0 + step * 0.25) is None
    assert client.send("get", {"what": {"sport": ["id"]}})["code"] == CODE_SESSION_LOST
    assert client.proto.expire_session() is False
    client.session()
    assert client.send("get", {"what": {"sport": ["id"]}})["code"] == CODE_OK


def test_subscriptions_are_limited_per_session(world) -> None:
    client = Client(world, max_subscriptions=2)
    client.session()
    client.subscribe({"sport": ["id"]}, {})
    client.subscribe({"sport": ["id"]}, {})
    frame = client.send("get", {"what": {"sport": ["id"]}, "subscribe": True})
    assert frame["code"] == CODE_TOO_MANY_SUBSCRIPTIONS
    assert client.send("get", {"what": {"sport": ["id"]}})["code"] == CODE_OK  # plain gets still work


def test_market_types_and_results_commands(world) -> None:
    client = Client(world)
    client.session()
    details = client.send("get_market_type", {"sport_alias": "Soccer"})["data"]["details"]
    assert details[0] == {"Id": details[0]["Id"], "Name": "Match Result", "Order": 1, "BasaltKind": "P1XP2"}
    assert client.send("get_market_type", {"sport_alias": "Quidditch"})["code"] == CODE_BAD_REQUEST
    assert client.send("get_market_type", {})["code"] == CODE_BAD_REQUEST

    window = {"from_date": int(T0 - 7 * 86400), "to_date": int(T0)}
    sports = client.send("get_active_competitions", window)["data"]
    assert isinstance(sports, list) and sports
    assert {"Id", "Name", "Alias", "Regions"} <= set(sports[0])
    region = sports[0]["Regions"][0]
    assert {"Id", "Name", "Competitions"} <= set(region) and {"Id", "Name"} <= set(region["Competitions"][0])

    frame = client.send("get_result_games", {"is_date_ts": 1, **window, "live": 0, "sport_id": sports[0]["Id"]})
    games = frame["data"]["games"]["game"]
    assert games and all(g["sport_id"] == sports[0]["Id"] for g in games)
    assert {"game_id", "team1_name", "team2_name", "date", "region_name", "competition_name", "scores"} <= set(games[0])
    assert all(window["from_date"] <= g["date"] < window["to_date"] for g in games)
    assert client.send("get_result_games", {"from_date": "x", "to_date": 1})["code"] == CODE_BAD_REQUEST

    lines = client.send("get_results", {"game_id": str(games[0]["game_id"])})["data"]["lines"]["line"]
    assert lines[0]["line_name"] in ("Match Result", "Match Winner")
    assert lines[0]["events"]["event_name"][0] in ("W1", "W2", "Draw")
    frame = client.send("get_results", {"game_id": "1"})  # no result for it: nothing settled
    assert frame["code"] == CODE_OK and frame["data"] == {"lines": {"line": []}}


def test_a_finished_game_shows_up_in_the_results(world) -> None:
    client = Client(world)
    client.session()
    live = set(world.game_ids(live=True))
    world.tick(T0 + 600)  # at time scale 30 plenty of games finish
    finished = [g for g in live if world.game(g) is None]
    assert finished
    lines = client.send("get_results", {"game_id": finished[0]}, now=T0 + 600)["data"]["lines"]["line"]
    assert lines
    record = world.history.get(finished[0])
    frame = client.send("get_result_games", {"from_date": record.date, "to_date": record.date + 1,
                                             "sport_id": record.sport.id}, now=T0 + 600)
    assert finished[0] in [g["game_id"] for g in frame["data"]["games"]["game"]]


NOT_NUMBERS = ["NaN", "nan", "Infinity", "-Infinity", "inf", "1" * 5000, "1e400", "x", "", 10**400, True, None,
               [], {}]


@pytest.mark.parametrize("value", NOT_NUMBERS, ids=lambda v: repr(v)[:20])
@pytest.mark.parametrize("command, key", [
    ("get_results", "game_id"),
    ("get_result_games", "sport_id"),
    ("get_result_games", "from_date"),
    ("get_active_competitions", "to_date"),
])
def test_a_parameter_that_is_not_a_finite_number_is_a_bad_request_not_a_crash(world, caplog, command, key,
                                                                               value) -> None:
    client = Client(world)
    client.session()
    params = {"from_date": int(T0 - 86400), "to_date": int(T0), "sport_id": 1, "game_id": 1, key: value}
    if key == "sport_id" and value in (None, ""):
        params[key] = "x"  # an absent sport_id means "every sport"
    with caplog.at_level("ERROR", logger=protocol_module.__name__):
        frame = client.send(command, params)
    assert frame["code"] == CODE_BAD_REQUEST, frame
    assert key in frame["msg"]
    assert caplog.records == []


def test_a_game_id_with_a_fraction_is_a_bad_request(world) -> None:
    client = Client(world)
    client.session()
    assert client.send("get_results", {"game_id": "1.5"})["code"] == CODE_BAD_REQUEST
    assert client.send("get_results", {"game_id": 7.0})["code"] == CODE_OK
