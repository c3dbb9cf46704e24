"""The results API and stubs over real sockets: simulator --WebSocket--> hub --HTTP--> test client.

One server (the small simulated world, with its generated 7-day results history) serves every
test in this module. Explicit windows are used wherever the test needs results to exist: the
default window (today, UTC) may be nearly empty just after midnight.
"""

from __future__ import annotations

import re
import time

import httpx
import pytest

pytestmark = pytest.mark.asyncio(loop_scope="module")

ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
WEEK = 7 * 86_400
UI_GAME_FIELDS = {"game_id", "team1_name", "team2_name", "date", "region_name", "competition_name", "scores"}


def last_week() -> dict[str, int]:
    now = int(time.time())
    return {"from": now - WEEK - 86_400, "to": now + 60}


def assert_json(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["access-control-allow-origin"] == "*"
    return response.json()


async def sport_with_results(http) -> tuple[int, str]:
    """A hierarchy sport id whose name the results competitions list, as the UI matches them."""
    body = assert_json(await http.get("/api/results/competitions", params=last_week()), 200)
    named = {s["Name"].lower() for s in body["data"]}
    hierarchy = (await http.get("/api/hierarchy")).json()["sport"]
    with_results = sorted((s for s in hierarchy.values() if s["name"].lower() in named),
                          key=lambda s: (s["name"] != "Football", int(s["id"])))  # Football if it has any
    return int(with_results[0]["id"]), with_results[0]["name"]


async def test_competitions_are_sports_with_names_the_hierarchy_knows(http):
    body = assert_json(await http.get("/api/results/competitions", params=last_week()), 200)
    assert body["success"] is True and ISO.fullmatch(body["timestamp"])
    sports = body["data"]
    assert isinstance(sports, list) and len(sports) >= 5
    assert all(isinstance(s["Name"], str) and s["Name"] for s in sports)
    hierarchy = {s["name"].lower() for s in (await http.get("/api/hierarchy")).json()["sport"].values()}
    # The UI matches these to sidebar sports by lowercased name. The feed also reports results for
    # sports the hierarchy filters out (virtual ones); the UI simply has no row for them.
    assert len({s["Name"].lower() for s in sports} & hierarchy) >= 5


async def test_competitions_default_to_the_current_utc_day(http):
    for _ in range(5):  # a game finishing (or midnight passing) between the calls changes the answer
        midnight = int(time.time()) // 86_400 * 86_400
        window = {"from": midnight, "to": midnight + 86_400}
        before = (await http.get("/api/results/competitions", params=window)).json()["data"]
        default = assert_json(await http.get("/api/results/competitions"), 200)["data"]
        after = (await http.get("/api/results/competitions", params=window)).json()["data"]
        if before == after:
            assert default == before
            return
    pytest.fail("the results kept changing")


async def test_games_of_a_sport_carry_every_field_the_ui_reads(http):
    sport_id, _ = await sport_with_results(http)
    window = last_week()
    body = assert_json(await http.get(f"/api/results/games/{sport_id}", params=window), 200)
    assert body["success"] is True and body["sportId"] == sport_id and ISO.fullmatch(body["timestamp"])
    games = body["games"]
    assert body["count"] == len(games) > 0
    for game in games:
        assert UI_GAME_FIELDS <= set(game)
        assert isinstance(game["game_id"], int)
        assert isinstance(game["date"], int) and window["from"] <= game["date"] < window["to"]
        assert all(isinstance(game[k], str) and game[k]
                   for k in ("team1_name", "team2_name", "region_name", "competition_name", "scores"))
        assert re.fullmatch(r"\d+:\d+( \(.*\))?", game["scores"])


async def test_a_finished_game_has_settlements_with_winner_lists(http):
    sport_id, name = await sport_with_results(http)
    games = (await http.get(f"/api/results/games/{sport_id}", params=last_week())).json()["games"]
    game_id = str(games[-1]["game_id"])
    body = assert_json(await http.get(f"/api/results/game/{game_id}"), 200)
    assert body["success"] is True and body["gameId"] == game_id and ISO.fullmatch(body["timestamp"])
    settlements = body["settlements"]
    assert settlements and len(settlements) == len(body["raw"]["lines"]["line"])
    for entry in settlements:
        assert set(entry) == {"market", "winners"}
        assert isinstance(entry["market"], str) and entry["market"]
        assert isinstance(entry["winners"], list) and entry["winners"]
        assert all(isinstance(w, str) for w in entry["winners"])
    if name == "Football":  # a three-way market settles with two winners
        double = next(e for e in settlements if e["market"] == "Double Chance")
        assert len(double["winners"]) == 2


async def test_an_empty_sport_segment_is_sport_zero_and_accepted(http):
    body = assert_json(await http.get("/api/results/games/", params=last_week()), 200)
    assert body["success"] is True and body["sportId"] == 0 and body["count"] == len(body["games"])


@pytest.mark.parametrize("path, error", [
    ("/api/results/games/abc", "Invalid sportId"),
    ("/api/results/games/Infinity", "Invalid sportId"),
    ("/api/results/game/", "gameId is required"),
    ("/api/results/competitions?from=abc", "from and to must be numbers"),
    ("/api/results/competitions?from=1&to=1e999", "from and to must be numbers"),
    ("/api/results/games/1?to=soon", "from and to must be numbers"),
])
async def test_bad_requests_are_a_json_400(http, path, error):
    assert assert_json(await http.get(path), 400) == {"success": False, "error": error}


async def test_a_game_the_feed_has_no_result_for_has_no_settlements(http):
    body = assert_json(await http.get("/api/results/game/999999999"), 200)
    assert body["success"] is True and body["gameId"] == "999999999" and body["settlements"] == []


@pytest.mark.parametrize("path", [
    "/api/results/", "/api/results/nope", "/api/results/games", "/api/results/competitions/x",
])
async def test_other_results_paths_are_a_json_404(http, path):
    assert assert_json(await http.get(path), 404) == {"error": "Not found"}


async def test_non_get_is_a_json_404_and_outside_the_prefix_is_plain(http):
    assert assert_json(await http.post("/api/results/competitions"), 404) == {"error": "Not found"}
    plain = await http.get("/api/results")
    assert plain.status_code == 404 and plain.text == "Not found"
    assert plain.headers["access-control-allow-origin"] == "*"
    options = await http.options("/api/results/competitions")
    assert options.status_code == 204 and options.content == b""


async def test_stubs(http):
    assert assert_json(await http.get("/api/game-stats?gameId=123"), 200) == {"error": "No stats available"}
    assert assert_json(await http.get("/api/game-stats"), 200) == {"error": "No stats available"}
    stub = assert_json(await http.get("/api/fetch-all-sports"), 200)
    assert stub == {"count": 0, "errors": ["Not supported"]}
    post = await http.post("/api/fetch-all-sports")
    assert post.status_code == 404 and post.json() == {"error": "Not found"}
