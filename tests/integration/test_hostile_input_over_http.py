"""Hostile input over real HTTP: the client's mistakes are answered as the client's, never as a 500.

Numeric parameters and results ids (docs/api.md 0, "Ids in parameters"; A5-A7) and static file
names. Every test also checks that the server logged nothing at error level.
"""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest

from tests.support.logs import error_records
from tests.support.sse import SseStream

pytestmark = pytest.mark.asyncio(loop_scope="module")

# Digits that str.isdigit() (and partly int()) accept but a numeric parameter must not.
NOT_ASCII_DIGITS = {
    "superscript two": "\u00b2",
    "arabic-indic one": "\u0661",
    "fullwidth one": "\uff11",
    "devanagari forty-two": "\u096a\u0968",
    "5000 digits": "1" * 5000,
    "16 digits": "1" * 16,
}
NUMERIC_PARAMETERS = {
    "live sportId": "/api/live-stream?sportId={}",
    "prematch sportId": "/api/prematch-stream?sportId={}",
    "gameId": "/api/live-game-stream?gameId={}",
    "competitionId": "/api/competition-odds-stream?competitionId={}&sportId=1&mode=live",
    "competition sportId": "/api/competition-odds-stream?competitionId=1&sportId={}&mode=prematch",
}


async def head_of(http: httpx.AsyncClient, url: str, headers: dict | None = None) -> tuple[httpx.Response, bytes]:
    """The response and, unless it is a stream (then nothing is read), its body."""
    async with http.stream("GET", url, headers=headers, timeout=10) as response:
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            return response, b""
        return response, await response.aread()


@pytest.mark.parametrize("value", NOT_ASCII_DIGITS.values(), ids=NOT_ASCII_DIGITS.keys())
@pytest.mark.parametrize("template", NUMERIC_PARAMETERS.values(), ids=NUMERIC_PARAMETERS.keys())
async def test_a_numeric_parameter_that_is_not_ascii_digits_is_a_json_400_before_any_stream(srv, http, template,
                                                                                              value):
    with error_records() as errors:
        response, body = await head_of(http, template.format(quote(value)))
    assert response.status_code == 400, body[:200]
    assert response.headers["content-type"] == "application/json"
    assert "must be a positive integer" in httpx.Response(400, content=body).json()["error"]
    assert errors.lines() == []


async def test_the_largest_accepted_id_has_fifteen_digits(srv, http):
    response, _ = await head_of(http, "/api/live-game-stream?gameId=" + "9" * 15)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream"


async def counts_epoch(http: httpx.AsyncClient) -> str:
    async with SseStream(http, "/api/counts-stream") as stream:
        msg = await stream.next_message()
        while not msg.id:  # the snapshot's frames carry none; the id-only message after them does
            msg = await stream.next_message()
    assert "-" in msg.id
    return msg.id.rpartition("-")[0]


@pytest.mark.parametrize("seq", [
    "\u00b2", "\u00b9\u00b2", "1" * 5000, "-1", "+1", " 1", "1_0", "0x10", "",
])
async def test_a_malformed_last_event_id_gets_the_snapshot_and_the_stream_stays_open(srv, http, seq):
    epoch = await counts_epoch(http)
    with error_records() as errors:
        async with SseStream(http, "/api/counts-stream",
                             headers={"Last-Event-ID": f"{epoch}-{seq}".encode("latin-1")}) as stream:
            assert stream.response.status_code == 200
            snapshot = await stream.next_event("live_counts", "prematch_counts")
            assert snapshot.json()["total_games"] >= 0
            while True:  # the snapshot ends with an id-only message that moves the browser's last id
                msg = await stream.next_message()
                if msg.id and msg.data is None:
                    break
            assert msg.id.startswith(epoch + "-")
    assert errors.lines() == []


async def test_an_id_from_another_epoch_or_no_id_at_all_also_gets_the_snapshot(srv, http):
    for last_id in ("garbage", "0-0", "-", "x" * 4000):
        async with SseStream(http, "/api/counts-stream", headers={"Last-Event-ID": last_id}) as stream:
            await stream.next_event("live_counts", "prematch_counts")


# -- results ids (item 9) ---------------------------------------------------------------------------

BAD_GAME_IDS = ["abc", "-1", "0", "1.5", "1e3", "NaN", "Infinity", "9" * 5000,
                "..%2F..%2Fetc%2Fpasswd", "%2E%2E", "%00", "%C2%B2", "1%20"]


@pytest.mark.parametrize("game_id", BAD_GAME_IDS)
async def test_a_results_game_id_that_is_not_a_positive_integer_is_a_400_from_us(srv, http, game_id):
    with error_records() as errors:
        response = await http.get(f"/api/results/game/{game_id}")
    assert response.status_code == 400
    assert response.json() == {"success": False, "error": "gameId must be a positive integer"}
    assert errors.lines() == []


# -- static file names (item 10) -------------------------------------------------------------------

BAD_STATIC_PATHS = ["/css/app.css%00.txt", "/css/%00", "/css/" + "a" * 5000, "/css/" + "a" * 256 + ".css",
                    "/css/" + "d/" * 3000 + "app.css", "/pyodide/%00pyodide.mjs", "/worker/" + "w" * 5000]


@pytest.mark.parametrize("path", BAD_STATIC_PATHS, ids=lambda p: p[:30])
@pytest.mark.parametrize("if_none_match", [None, '"x"'])
async def test_a_static_path_no_file_can_have_is_a_404_and_nothing_is_logged(srv, http, path, if_none_match):
    headers = {"If-None-Match": if_none_match} if if_none_match else {}
    with error_records() as errors:
        response = await http.get(path, headers=headers)
    assert response.status_code == 404
    assert errors.lines() == []
