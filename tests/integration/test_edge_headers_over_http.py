"""Headers a production server sends, and HEAD wherever GET is answered
(docs/api.md 0, "Routing and methods", "Security headers", "CORS").

``nosniff`` and ``Referrer-Policy`` on every response (SSE and errors too), a Content-Security-Policy
that allows only this origin (plus compiling Pyodide's wasm) on everything outside the API, and
CORS still ``*`` without credentials on the public API (docs/api.md 0, "CORS").
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.support.sse import SseStream

pytestmark = pytest.mark.asyncio(loop_scope="module")

PAGE_PATHS = ["/", "/boot.js", "/css/app.css", "/manifest.json", "/pyodide/pyodide.mjs", "/nope", "/css/nope.css"]
API_PATHS = [
    "/api/health", "/api/hierarchy", "/api/warmup", "/api/game-stats", "/api/fetch-all-sports",
    "/api/results/competitions", "/api/results/game/abc", "/api/results/nope", "/api/nope", "/metrics",
    "/api/live-stream", "/api/live-stream?sportId=abc", "/api/live-game-stream?gameId=%C2%B2",
    "/api/competition-odds-stream?competitionId=1&sportId=1&mode=neither",
]
STREAM_PATHS = [
    "/api/counts-stream", "/api/live-stream?sportId=1", "/api/prematch-stream?sportId=1",
    "/api/live-game-stream?gameId=1", "/api/competition-odds-stream?competitionId=1&sportId=1&mode=live",
]


def csp_directives(response: httpx.Response) -> dict[str, list[str]]:
    policy = response.headers["content-security-policy"]
    return {name: values for name, *values in (part.split() for part in policy.split(";") if part.strip())}


async def open_stream_headers(http: httpx.AsyncClient, path: str, method: str = "GET") -> httpx.Response:
    async with http.stream(method, path, timeout=10) as response:
        return response


@pytest.mark.parametrize("path", PAGE_PATHS + API_PATHS)
async def test_every_response_forbids_sniffing_and_sends_no_referrer(http, path):
    response = await http.get(path)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


@pytest.mark.parametrize("path", STREAM_PATHS)
async def test_streams_forbid_sniffing_too(http, path):
    response = await open_stream_headers(http, path)
    assert response.status_code == 200 and response.headers["content-type"] == "text/event-stream"
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_options_and_431_forbid_sniffing_too(http):
    assert (await http.options("/api/health")).headers["x-content-type-options"] == "nosniff"
    big = await http.get("/api/health", headers={"X-Filler": "a" * 70_000})
    assert big.status_code == 431 and big.headers["x-content-type-options"] == "nosniff"
    assert big.headers["referrer-policy"] == "no-referrer" and big.headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize("path", PAGE_PATHS)
async def test_the_page_and_its_files_allow_only_this_origin_and_wasm_compilation(http, path):
    directives = csp_directives(await http.get(path))
    assert directives["default-src"] == ["'none'"]
    assert directives["script-src"] == ["'self'", "'wasm-unsafe-eval'"]
    assert directives["worker-src"] == ["'self'"]
    assert directives["connect-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["base-uri"] == ["'none'"] and directives["form-action"] == ["'none'"]
    for name, values in directives.items():
        for value in values:  # nothing from elsewhere, no string-to-code
            assert value in ("'self'", "'none'", "'wasm-unsafe-eval'", "data:", "'unsafe-inline'"), (name, value)
            assert value != "'unsafe-inline'" or name == "style-src-attr", name


async def test_the_public_api_keeps_cors_star_without_credentials(http):
    for path in ("/api/health", "/api/nope"):
        response = await http.get(path, headers={"Origin": "https://elsewhere.example"})
        assert response.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in response.headers
    stream = await open_stream_headers(http, "/api/counts-stream")
    assert stream.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in stream.headers


@pytest.mark.parametrize("path", PAGE_PATHS + API_PATHS)
async def test_head_answers_what_get_answers_without_a_body(http, path):
    got = await http.get(path)
    head = await http.head(path)
    assert head.status_code == got.status_code
    assert head.content == b""
    assert head.headers.get("content-type") == got.headers.get("content-type")
    # bodies that change from one request to the next: figures, and the page (rendered from live state)
    live = ("/", "/api/health", "/metrics", "/api/warmup", "/api/hierarchy")
    if "content-length" in got.headers and path not in live:
        assert head.headers["content-length"] == got.headers["content-length"]  # bodies that do not change


@pytest.mark.parametrize("path", STREAM_PATHS)
async def test_head_on_a_stream_gets_its_headers_and_no_stream(srv, http, path):
    clients = srv.hub.registry.total_clients
    for _ in range(2):  # the same kept-alive connection: the first HEAD was completed
        head = await asyncio.wait_for(http.head(path), 5)
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-type"] == "text/event-stream"
        assert head.headers["x-content-type-options"] == "nosniff"
    assert srv.hub.registry.total_clients == clients


async def test_head_on_a_stream_with_a_bad_query_is_its_400(http):
    head = await http.head("/api/live-stream?sportId=x")
    assert head.status_code == 400 and head.content == b""
    assert head.headers["content-type"] == "application/json"


async def test_a_stream_still_streams_with_the_new_headers(http):
    async with SseStream(http, "/api/counts-stream") as stream:
        await stream.next_event("live_counts", "prematch_counts")
