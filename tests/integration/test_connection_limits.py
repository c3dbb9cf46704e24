"""Connection limits over real sockets (docs/api.md 0, "Connections and request limits"): request
head size and deadline, keep-alive, and none of them touching a long-lived SSE stream.

The server runs with the Config of ``python -m backend`` (``backend.server.uvicorn_config``) and
short deadlines so the tests do not wait long.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest
import pytest_asyncio

from tests.support.feed import wait_for
from tests.support.logs import error_records
from tests.support.rawhttp import RawConnection, request
from tests.support.server import running_server

pytestmark = pytest.mark.asyncio(loop_scope="module")

HEAD_TIMEOUT = 0.6
KEEP_ALIVE = 0.4
HEAD_LIMIT = 16 * 1024
ALLOWED_ORIGIN = "https://ui.example"


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def port():
    async with running_server(request_head_timeout=HEAD_TIMEOUT, keep_alive_timeout=KEEP_ALIVE,
                              max_request_head_bytes=HEAD_LIMIT, heartbeat_interval=0.2,
                              cors_allow_origins=(ALLOWED_ORIGIN,)) as server:
        await wait_for(lambda: server.hub.conn.connected, 15)
        with error_records() as errors:
            yield server.server.servers[0].sockets[0].getsockname()[1]
        assert errors.lines() == []


def in_thread(fn):
    """Run a blocking socket scenario off the event loop the server runs on."""
    async def run(*args):
        return await asyncio.to_thread(fn, *args)
    return run


def has_the_apps_headers(response, origin: str = "*") -> bool:
    """The security and CORS headers every app response has (docs/api.md 0)."""
    return (response.header("x-content-type-options") == "nosniff"
            and response.header("referrer-policy") == "no-referrer"
            and response.header("access-control-allow-origin") == origin
            and response.header("access-control-allow-methods") == "GET,POST,OPTIONS"
            and (origin == "*" or response.header("vary") == "Origin"))


@in_thread
def oversized_head(port: int, header_bytes: int, split: bool, origin: str | None = None):
    with RawConnection(port) as conn:
        data = request("GET", "/api/health", [*([("Origin", origin)] if origin else []),
                                               ("X-Filler", "a" * header_bytes)])
        if split:  # arrives in many reads: the count, not the parser, must stop it
            for i in range(0, len(data), 1000):
                if not conn.send(data[i:i + 1000]):
                    break
        else:
            conn.send(data)
        response = conn.read_response()
        return response, conn.closed_by_server(5)


@pytest.mark.parametrize("split", [False, True], ids=["one write", "many writes"])
async def test_a_request_head_over_the_limit_is_a_431_and_the_connection_is_closed(port, split):
    response, closed = await oversized_head(port, HEAD_LIMIT + 100, split)
    assert response.status == 431
    assert response.header("content-type") == "application/json"
    assert "exceeds" in json.loads(response.body)["error"]
    assert has_the_apps_headers(response)
    assert closed


@pytest.mark.parametrize("origin, echoed", [(ALLOWED_ORIGIN, ALLOWED_ORIGIN), ("https://elsewhere.example", "*")])
async def test_a_431_has_the_cors_headers_the_app_would_send_that_origin(port, origin, echoed):
    response, _ = await oversized_head(port, HEAD_LIMIT + 100, False, origin)
    assert response.status == 431 and has_the_apps_headers(response, echoed)


@in_thread
def oversized_and_malformed(port: int):
    with RawConnection(port) as conn:
        # The parser judges Transfer-Encoding only after the head, which the size has refused by then.
        conn.send(request("HEAD", "/", [("Transfer-Encoding", "identity"), ("X-Filler", "a" * (HEAD_LIMIT - 40))]))
        response = conn.read_response()
        closed = conn.closed_by_server(5)
        return response, closed, conn.buf


async def test_a_refused_head_that_is_also_malformed_gets_one_answer_and_nothing_is_logged(port):
    with error_records() as errors:
        response, closed, after = await oversized_and_malformed(port)
    assert response.status == 431 and closed
    assert after == b""  # no second answer (uvicorn's 400) behind the 431
    assert errors.lines() == []


async def test_a_request_head_just_under_the_limit_is_served(port):
    response, _ = await oversized_head(port, HEAD_LIMIT - 500, False)
    assert response.status == 200 and json.loads(response.body)["status"] == "ok"


@in_thread
def endless_header(port: int, megabytes: int):
    with RawConnection(port) as conn:
        conn.send(b"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Endless: ")
        sent = 0
        chunk = b"a" * 65536
        while sent < megabytes * 1024 * 1024 and conn.send(chunk):
            sent += len(chunk)
        return conn.read_response(), sent


async def test_a_header_that_never_ends_is_cut_off_near_the_limit(port):
    response, sent = await endless_header(port, 64)
    assert response.status == 431
    assert sent < 8 * 1024 * 1024  # refused long before the 64 MB were taken


@in_thread
def silent(port: int):
    with RawConnection(port) as conn:
        started = time.monotonic()
        closed = conn.closed_by_server(HEAD_TIMEOUT + 3)
        return closed, time.monotonic() - started, conn.buf


async def test_a_connection_that_never_sends_a_request_is_closed_after_the_head_timeout(port):
    closed, after, got = await silent(port)
    assert closed and got == b""
    assert HEAD_TIMEOUT * 0.8 <= after < HEAD_TIMEOUT + 2


@in_thread
def slowloris(port: int):
    with RawConnection(port) as conn:
        started = time.monotonic()
        conn.send(b"GET /api/health HTTP/1.1\r\nHost: x\r\nOrigin: " + ALLOWED_ORIGIN.encode() + b"\r\n")
        for _ in range(int((HEAD_TIMEOUT + 3) / 0.1)):  # one header byte every 100 ms: never done in time
            if not conn.send(b"X"):
                break
            time.sleep(0.1)
            if conn.buf or conn.closed_by_server(0.001):
                break
        return conn.read_response(), time.monotonic() - started


async def test_a_head_trickling_in_gets_408_at_the_head_timeout(port):
    response, after = await slowloris(port)
    assert response.status == 408 and response.header("content-type") == "application/json"
    assert "not received within" in json.loads(response.body)["error"]
    assert has_the_apps_headers(response, ALLOWED_ORIGIN)
    assert after < HEAD_TIMEOUT + 2


@in_thread
def idle_after_a_request(port: int):
    with RawConnection(port) as conn:
        conn.send(request("GET", "/api/health"))
        first = conn.read_response()
        time.sleep(HEAD_TIMEOUT / 3)  # within keep-alive: a second request is served
        conn.send(request("GET", "/api/warmup"))
        second = conn.read_response()
        started = time.monotonic()
        closed = conn.closed_by_server(KEEP_ALIVE + 3)
        return first, second, closed, time.monotonic() - started


async def test_a_kept_alive_connection_serves_requests_and_is_closed_when_idle(port):
    first, second, closed, after = await idle_after_a_request(port)
    assert first.status == 200 and second.status == 200
    assert closed and after < KEEP_ALIVE + 2


@in_thread
def pipelined(port: int):
    with RawConnection(port) as conn:
        conn.send(request("GET", "/api/health") + request("GET", "/api/game-stats") + request("GET", "/boot.js"))
        return [conn.read_response().status for _ in range(3)]


async def test_pipelined_requests_are_each_answered(port):
    assert await pipelined(port) == [200, 200, 200]


@in_thread
def long_stream(port: int, seconds: float):
    with RawConnection(port) as conn:
        conn.send(request("GET", "/api/counts-stream"))
        response = conn.read_response()
        pings = 0
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            conn.buf = b""
            if not conn._more():
                return response, pings, False
            pings += conn.buf.count(b": ping ")
        return response, pings, True


async def test_an_open_stream_outlives_every_connection_deadline(port):
    response, pings, open_still = await long_stream(port, HEAD_TIMEOUT + KEEP_ALIVE + 1)
    assert response.status == 200 and response.stream
    assert open_still and pings >= 3
