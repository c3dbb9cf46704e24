"""Results API helpers and routing (docs/api.md A5-A7), with a fake upstream and a fake clock."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.clock import FakeClock, iso_utc
from backend.hub import results as r
from backend.settings import Settings
from backend.swarm.session import SwarmRequestError

# 2026-01-06T12:00:00Z
NOON = 1_767_700_800.0
MIDNIGHT = 1_767_657_600

EPOCHS = st.floats(min_value=0, max_value=4_102_444_800, allow_nan=False)  # 1970 .. 2100


# -- js_number ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("", 0), ("  ", 0), ("0", 0), ("42", 42), ("-3", -3), ("+7", 7), ("1.5", 1.5), (".5", 0.5), ("5.", 5),
    ("1e3", 1000), ("1E-2", 0.01), (" \t12\n", 12), ("\ufeff8\u3000", 8), ("0x1F", 31), ("0o17", 15),
    ("0b101", 5), ("Infinity", math.inf), ("-Infinity", -math.inf), ("1e999", math.inf),
])
def test_js_number_parses_what_javascript_number_accepts(text, expected):
    assert r.js_number(text) == expected


@pytest.mark.parametrize("text", [
    "abc", "1a", "inf", "nan", "NaN", "infinity", "1_000", "0x", "-0x10", "0xG", "1e", "e5", ".", "--1",
    "\u0661", "1 2", "\x1c1",
])
def test_js_number_is_nan_for_what_javascript_number_rejects(text):
    assert math.isnan(r.js_number(text))


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_js_number_reads_back_any_float_python_writes(value):
    assert r.js_number(repr(value)) == value


@given(st.integers(min_value=-(10**30), max_value=10**30))
def test_js_number_reads_back_any_integer(value):
    assert r.js_number(str(value)) == float(value)


@given(st.text())
def test_js_number_never_raises(text):
    assert isinstance(r.js_number(text), float)


@given(st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1))
def test_json_number_writes_integral_values_as_ints(value):
    out = r.json_number(float(value))
    assert type(out) is int and out == value


def test_json_number_keeps_fractions():
    assert r.json_number(1.5) == 1.5 and type(r.json_number(1.5)) is float


# -- dates -------------------------------------------------------------------------------------------

def test_utc_midnight_and_iso_utc_examples():
    assert r.utc_midnight(NOON) == MIDNIGHT
    assert iso_utc(NOON) == "2026-01-06T12:00:00.000Z"
    assert iso_utc(NOON + 0.0456) == "2026-01-06T12:00:00.045Z"
    assert iso_utc(0) == "1970-01-01T00:00:00.000Z"


@given(EPOCHS)
def test_utc_midnight_is_the_start_of_the_utc_day(now):
    midnight = r.utc_midnight(now)
    assert isinstance(midnight, int) and midnight % 86_400 == 0
    assert 0 <= now - midnight < 86_400
    day = datetime.fromtimestamp(midnight, UTC)
    assert (day.hour, day.minute, day.second) == (0, 0, 0)
    # whole seconds: fromtimestamp rounds to the microsecond, which can cross midnight
    assert day.date() == datetime.fromtimestamp(math.floor(now), UTC).date()


@given(EPOCHS)
def test_iso_utc_is_javascript_to_iso_string(now):
    text = iso_utc(now)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", text)
    parsed = datetime.fromisoformat(text)
    assert round(parsed.timestamp() * 1000) == math.floor(now * 1000)


@given(EPOCHS)
def test_results_window_defaults_to_the_utc_day_of_now(now):
    start, end = r.results_window(None, None, now)
    assert start == r.utc_midnight(now) and end == start + 86_400
    assert r.results_window("", "", now) == (start, end)  # an empty value counts as absent
    assert all(type(v) is int for v in (start, end))


@given(EPOCHS, st.integers(min_value=0, max_value=4_102_444_800))
def test_results_window_default_to_follows_a_given_from(now, start):
    assert r.results_window(str(start), None, now) == (start, start + 86_400)


@given(EPOCHS, st.integers(min_value=0, max_value=2**40), st.integers(min_value=0, max_value=2**40))
def test_results_window_passes_given_values_through_as_numbers(now, start, end):
    assert r.results_window(str(start), str(end), now) == (start, end)
    assert r.results_window(None, str(end), now) == (r.utc_midnight(now), end)


@pytest.mark.parametrize("start, end", [
    ("abc", None), (None, "x"), ("Infinity", "1"), ("1", "1e999"), ("NaN", "")])
def test_results_window_rejects_values_that_are_not_finite_numbers(start, end):
    with pytest.raises(r.BadResultsRequest, match="^from and to must be numbers$"):
        r.results_window(start, end, NOON)


# -- sport id, games, settlements, errors ----------------------------------------------------------------

@pytest.mark.parametrize("segment, expected", [
    ("1", 1), ("", 0), ("007", 7), ("2.5", 2.5), ("-4", -4), ("0x10", 16)])
def test_sport_id_is_the_segment_as_a_javascript_number(segment, expected):
    got = r.parse_sport_id(segment)
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize("segment", ["abc", "Infinity", "1e400", "%31", "1x"])
def test_sport_id_that_is_not_finite_is_invalid(segment):
    with pytest.raises(r.BadResultsRequest, match="^Invalid sportId$"):
        r.parse_sport_id(segment)


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=10)


@given(st.lists(st.dictionaries(st.text(max_size=4), JSONISH, max_size=3), max_size=5))
def test_result_games_are_games_game_when_it_is_an_array(games):
    assert r.result_games({"games": {"game": games}}) is games


@given(JSONISH)
def test_result_games_are_empty_unless_games_game_is_an_array(data):
    got = r.result_games(data)
    games = data.get("games") if isinstance(data, dict) else None
    if isinstance(games, dict) and isinstance(games.get("game"), list):
        assert got is games["game"]
    else:
        assert got == []


def test_settlements_map_each_line_to_its_market_and_winners():
    data = {"lines": {"line": [
        {"line_name": "Match Result", "events": {"event_name": ["W1"]}},
        {"line_name": "Double Chance", "events": {"event_name": ["1X", "12"]}},
        {"line_name": "Correct Score", "events": {"event_name": "2:1"}},  # a collapsed one-element array
        {"line_name": "Void", "events": {}},
        {"line_name": "Odd", "events": None},
        {"events": {"event_name": None}},
    ]}}
    assert r.settlements(data) == [
        {"market": "Match Result", "winners": ["W1"]},
        {"market": "Double Chance", "winners": ["1X", "12"]},
        {"market": "Correct Score", "winners": ["2:1"]},
        {"market": "Void", "winners": []},
        {"market": "Odd", "winners": []},
        {"market": None, "winners": []},
    ]


def test_settlements_accept_a_lone_line_and_ignore_junk():
    assert r.settlements({"lines": {"line": {"line_name": "M", "events": {"event_name": ["X"]}}}}) == [
        {"market": "M", "winners": ["X"]}]
    assert r.settlements({"lines": {"line": [1, "x", None]}}) == []
    for data in (None, [], {}, {"lines": None}, {"lines": {"line": None}}, {"lines": []}):
        assert r.settlements(data) == []


@given(JSONISH)
def test_settlement_winners_are_always_a_list(data):
    for entry in r.settlements(data):
        assert set(entry) == {"market", "winners"} and isinstance(entry["winners"], list)


EVENTS = st.fixed_dictionaries({}, optional={"event_name": JSONISH})
LINES = st.lists(st.fixed_dictionaries({"line_name": st.text(max_size=8), "events": EVENTS}), max_size=6)


@given(LINES)
def test_settlements_keep_one_entry_per_line_in_order(lines):
    out = r.settlements({"lines": {"line": lines}})
    assert [s["market"] for s in out] == [line["line_name"] for line in lines]
    for line, entry in zip(lines, out):
        names = line["events"].get("event_name")
        expected = [] if names is None else names if isinstance(names, list) else [names]
        assert entry["winners"] == expected


@given(st.sampled_from(["get_results", "get_result_games"]), st.text(min_size=1))
def test_upstream_error_names_the_command_exactly_once(command, message):
    prefixed = r.upstream_error(command, SwarmRequestError(f"{command} failed: {message}"))
    assert prefixed == f"{command} failed: {message}"
    bare = r.upstream_error(command, SwarmRequestError(message))
    assert bare.startswith(f"{command} failed: ") and bare.endswith(message)


# -- routing against a fake upstream ------------------------------------------------------------------

@dataclass
class FakeUpstream:
    replies: dict[str, Any] = field(default_factory=dict)
    clock: FakeClock = field(default_factory=lambda: FakeClock(start=0.0, epoch=NOON))
    settings: Settings = field(default_factory=Settings)
    calls: list[tuple[str, dict[str, Any], float]] = field(default_factory=list)

    async def request(self, command: str, params: dict[str, Any], timeout: float = 20.0) -> Any:
        self.calls.append((command, params, timeout))
        reply = self.replies[command]
        if isinstance(reply, BaseException):
            raise reply
        return reply


COMPETITIONS = [{"Id": 1, "Name": "Football", "Regions": []}]
GAMES = {"games": {"game": [{"game_id": 5, "team1_name": "A", "team2_name": "B", "date": MIDNIGHT + 60,
                             "region_name": "R", "competition_name": "C", "scores": "1:0 (1:0, 0:0)"}]}}
LINES_REPLY = {"lines": {"line": [{"line_name": "Match Result", "events": {"event_name": ["W1"]}}]}}


async def test_competitions_ask_for_today_by_default_and_echo_the_data():
    up = FakeUpstream({"get_active_competitions": COMPETITIONS})
    reply = await r.route(up, "GET", "/api/results/competitions", {})
    assert reply == r.Reply(200, {"success": True, "data": COMPETITIONS,
                                  "timestamp": "2026-01-06T12:00:00.000Z"})
    assert up.calls == [("get_active_competitions", {"from_date": MIDNIGHT, "to_date": MIDNIGHT + 86_400},
                         up.settings.swarm_request_timeout)]


async def test_competitions_pass_a_given_window_through():
    up = FakeUpstream({"get_active_competitions": []})
    await r.route(up, "GET", "/api/results/competitions", {"from": "100", "to": "250.5"})
    assert up.calls[0][1] == {"from_date": 100, "to_date": 250.5}


async def test_the_timestamp_follows_the_clock():
    up = FakeUpstream({"get_active_competitions": []})
    up.clock.advance(3600.25)
    reply = await r.route(up, "GET", "/api/results/competitions", {})
    assert reply.body["timestamp"] == "2026-01-06T13:00:00.250Z"


async def test_games_ask_for_one_sport_and_count_what_came_back():
    up = FakeUpstream({"get_result_games": GAMES})
    reply = await r.route(up, "GET", "/api/results/games/1", {"from": "10", "to": "20"})
    assert reply.status == 200
    assert reply.body == {"success": True, "sportId": 1, "count": 1, "games": GAMES["games"]["game"],
                          "timestamp": "2026-01-06T12:00:00.000Z"}
    assert up.calls[0][:2] == ("get_result_games", {
        "is_date_ts": 1, "from_date": 10, "to_date": 20, "live": 0, "sport_id": 1})


async def test_an_empty_sport_segment_is_sport_zero():
    up = FakeUpstream({"get_result_games": {"games": {}}})
    reply = await r.route(up, "GET", "/api/results/games/", {})
    assert reply.status == 200 and reply.body["sportId"] == 0 and reply.body["games"] == []
    assert up.calls[0][1]["sport_id"] == 0


async def test_the_sport_id_is_the_last_segment():
    up = FakeUpstream({"get_result_games": GAMES})
    reply = await r.route(up, "GET", "/api/results/games/9/3", {})
    assert reply.body["sportId"] == 3


async def test_a_game_s_settlements_and_raw_reply():
    up = FakeUpstream({"get_results": LINES_REPLY})
    reply = await r.route(up, "GET", "/api/results/game/123", {})
    assert reply == r.Reply(200, {"success": True, "gameId": "123",
                                  "settlements": [{"market": "Match Result", "winners": ["W1"]}],
                                  "raw": LINES_REPLY, "timestamp": "2026-01-06T12:00:00.000Z"})
    assert up.calls[0][:2] == ("get_results", {"game_id": "123"})  # a string, as the original sends it


@pytest.mark.parametrize("path, query, error", [
    ("/api/results/game/", {}, "gameId is required"),
    ("/api/results/game/abc", {}, "gameId must be a positive integer"),
    ("/api/results/game/-1", {}, "gameId must be a positive integer"),
    ("/api/results/game/0", {}, "gameId must be a positive integer"),
    ("/api/results/game/..%2F..%2Fetc%2Fpasswd", {}, "gameId must be a positive integer"),
    ("/api/results/game/%C2%B2", {}, "gameId must be a positive integer"),
    ("/api/results/game/" + "9" * 5000, {}, "gameId must be a positive integer"),
    ("/api/results/games/abc", {}, "Invalid sportId"),
    ("/api/results/games/abc", {"from": "x"}, "Invalid sportId"),
    ("/api/results/games/1", {"from": "x"}, "from and to must be numbers"),
    ("/api/results/competitions", {"to": "Infinity"}, "from and to must be numbers"),
])
async def test_client_mistakes_are_a_400_without_asking_upstream(path, query, error):
    up = FakeUpstream()
    assert await r.route(up, "GET", path, query) == r.Reply(400, {"success": False, "error": error})
    assert up.calls == []


@pytest.mark.parametrize("path", [
    "/api/results/", "/api/results/nope", "/api/results/games", "/api/results/game",
    "/api/results/competitions/", "/api/results/Competitions", "/api/results/gamesx/1",
])
async def test_other_results_paths_are_a_json_404(path):
    assert await r.route(FakeUpstream(), "GET", path, {}) == r.Reply(404, {"error": "Not found"})


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "HEAD"])
async def test_only_get_is_served(method):
    reply = await r.route(FakeUpstream(), method, "/api/results/competitions", {})
    assert reply == r.Reply(404, {"error": "Not found"})


@pytest.mark.parametrize("path", ["/api/results", "/api/resultsx", "/api/resultscompetitions"])
async def test_paths_outside_the_prefix_get_the_plain_404(path):
    assert await r.route(FakeUpstream(), "GET", path, {}) == r.Reply(404, "Not found", plain_text=True)


@pytest.mark.parametrize("path, command", [
    ("/api/results/competitions", "get_active_competitions"),
    ("/api/results/games/1", "get_result_games"),
    ("/api/results/game/1", "get_results"),
])
@pytest.mark.parametrize("exc, message", [
    (SwarmRequestError("{command} failed: no results", 3), "no results"),  # non-zero code (hub-prefixed)
    (SwarmRequestError("Swarm request {command} timed out"), "Swarm request {command} timed out"),
    (SwarmRequestError("Swarm WebSocket closed"), "Swarm WebSocket closed"),
    (RuntimeError("boom"), "boom"),
])
async def test_upstream_failures_are_a_500_naming_the_command(path, command, exc, message):
    exc = type(exc)(*(a.format(command=command) if isinstance(a, str) else a for a in exc.args))
    up = FakeUpstream({command: exc})
    reply = await r.route(up, "GET", path, {})
    expected = f"{command} failed: {message.format(command=command)}"
    assert reply == r.Reply(500, {"success": False, "error": expected})
