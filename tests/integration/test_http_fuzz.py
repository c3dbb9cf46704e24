"""The HTTP fuzzer, kept in the suite for good: hypothesis-made requests against the real server.

``python -m backend`` runs in a child process (its real uvicorn Config, its whole log) and every
example is one request over a fresh connection on 127.0.0.1: any method, any path (every route,
odd ones, encoded and raw), every query parameter of every endpoint with any string (duplicates,
huge values, numbers that are not), and odd headers (``Last-Event-ID``, ``Origin``,
``If-None-Match``, huge or binary-ish values), or plain garbage bytes. For each:

* a well-formed request gets an answer: 2xx (a stream, or JSON where the API answers JSON), 304,
  or 4xx -- never a 5xx;
* a JSON error body parses and names the ``error``; every answer of the app says ``nosniff``;
* the server logs nothing at error level and no traceback (checked after every example, so
  hypothesis shrinks to the request that caused it); at the end it still serves.

``FUZZ_EXAMPLES`` sets the number of examples (default 400, a few seconds); e.g.
``FUZZ_EXAMPLES=5000 uv run --frozen pytest tests/integration/test_http_fuzz.py``.
"""

from __future__ import annotations

import json
import os
import socket
import string
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.support.process import REPO, BackendProcess, backend_process
from tests.support.rawhttp import NoResponse, RawConnection, RawResponse, request

pytestmark = [pytest.mark.timeout(900),
              pytest.mark.filterwarnings("ignore:Generating overly large repr")]  # a failing 40 KB header

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "400"))
ALLOWED_ORIGIN = "https://allowed.example"

# Every endpoint with the query parameters it reads (docs/api.md A, B), and the other paths we serve.
ENDPOINTS: dict[str, tuple[str, ...]] = {
    "/api/hierarchy": ("refresh",),
    "/api/health": (),
    "/api/warmup": (),
    "/metrics": (),
    "/api/game-stats": ("gameId",),
    "/api/fetch-all-sports": (),
    "/api/results/competitions": ("from", "to"),
    "/api/results/games/{}": ("from", "to"),
    "/api/results/game/{}": (),
    "/api/results/{}": (),
    "/api/counts-stream": (),
    "/api/live-stream": ("sportId", "sportName"),
    "/api/prematch-stream": ("sportId", "sportName"),
    "/api/live-game-stream": ("gameId",),
    "/api/competition-odds-stream": ("competitionId", "sportId", "sportName", "mode"),
    "/api/live-tracker": ("gameId",),
    "/api/{}": (),
    "/": (),
    "/boot.js": (),
    "/manifest.json": (),
    "/css/{}": (),
    "/css/app.css": (),
    "/pyodide/{}": (),
    "/pyodide/pyodide-lock.local.json": (),
    "/wheels/{}": (),
    "/worker/{}": (),
    "/{}": (),
}
# Weighted towards what gets deepest into the app: GETs of streams and of the results API.
TEMPLATES = sorted(ENDPOINTS) + 3 * [t for t in ENDPOINTS if t.endswith("-stream")] + 2 * [
    t for t in ENDPOINTS if t.startswith("/api/results/")]
METHODS = 6 * ["GET"] + ["HEAD", "HEAD", "OPTIONS", "POST", "PUT", "DELETE", "PATCH", "TRACE", "CONNECT", "BREW"]
PARAM_NAMES = sorted({p for params in ENDPOINTS.values() for p in params} | {"_", "x", ""})

# Strings a numeric, boolean or enum parameter might be given.
SPECIAL = ["", "0", "1", "-1", "7", "true", "live", "prematch", "NaN", "Infinity", "-Infinity", "1e308", "1e309",
           "0x1F", "1.5", " 1", "\u00b2", "\u0661", "\uff11", "9" * 15, "9" * 16, "1" * 5000, "%00", "..", "../..",
           "\x00", "\u202e", "\ud7ff", "a" * 300]
any_text = st.text(st.characters(codec="utf-8"), max_size=40)
values = st.one_of(st.sampled_from(SPECIAL), any_text, st.integers().map(str),
                   st.floats(allow_nan=True, allow_infinity=True).map(repr))
latin1 = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=60)


def encode(text: str, raw: bool) -> str:
    """Percent-encoded (UTF-8), or sent as it is where it is printable ASCII (broken escapes too)."""
    if raw and all(c in string.printable and c not in " \t\r\n\x0b\x0c#" for c in text):
        return text
    return quote(text, safe="")


MOSTLY = st.sampled_from([True, True, True, True, False])

# What a parameter usually is, so that many requests get past validation into the streams.
LIKELY = {
    "sportId": st.integers(1, 40).map(str),
    "gameId": st.integers(1, 10**15 - 1).map(str),
    "competitionId": st.integers(1, 10**6).map(str),
    "mode": st.sampled_from(["live", "prematch"]),
    "refresh": st.just("true"),
    "from": st.integers(1_700_000_000, 1_800_000_000).map(str),
    "to": st.integers(1_700_000_000, 1_800_000_000).map(str),
    "sportName": any_text,
}


@st.composite
def targets(draw) -> str:
    template = draw(st.sampled_from(TEMPLATES))
    raw = draw(st.booleans())
    segment = draw(st.one_of(values, st.integers(1, 10**12).map(str)))
    path = template.format(encode(segment, raw)) if "{}" in template else template
    if not draw(MOSTLY):
        path = draw(st.sampled_from(["//", "/./", "/../", "/%2e%2e/", "/%2F", "//api/"])) + path.lstrip("/")
    own = ENDPOINTS[template]
    # (hypothesis favours small integers, so odds are drawn from lists, not from integer ranges)
    pairs = [(name, draw(LIKELY.get(name, values))) for name in own if draw(MOSTLY)]  # mostly valid
    for i, (name, _) in enumerate(pairs):
        if not draw(MOSTLY):
            pairs[i] = (name, draw(values))  # ... with one wrong value here and there
    pairs += draw(st.lists(st.tuples(st.one_of(st.sampled_from(list(own) or PARAM_NAMES),
                                               st.sampled_from(PARAM_NAMES), any_text), values), max_size=3))
    if pairs and draw(st.booleans()):
        pairs.append(pairs[0])  # a duplicate: the first value wins
    if not pairs:
        return path
    query = "&".join(f"{encode(k, raw)}={encode(v, raw)}" if draw(MOSTLY) else encode(k, raw)
                     for k, v in pairs)
    return f"{path}?{query}"


HEADER_VALUES = {
    "Last-Event-ID": st.one_of(latin1, st.sampled_from(["0-0", "x-1", "-", "\u00b2", "1-" + "9" * 5000]),
                               st.tuples(latin1, st.sampled_from(["", "\u00b2", "99999999", "1" * 400]))
                               .map(lambda t: f"{t[0]}-{t[1]}")),
    "Origin": st.one_of(st.just(ALLOWED_ORIGIN), st.just("null"), latin1),
    "If-None-Match": st.one_of(st.just("*"), st.just('W/"x", "y"'), latin1),
    "Accept": latin1,
    "Accept-Encoding": st.sampled_from(["gzip", "br", "identity;q=0", "*"]),
    "Range": st.sampled_from(["bytes=0-10", "bytes=-5", "bytes=9999999-", "bytes=a-b"]),
    "Cookie": latin1,
    "Content-Type": st.sampled_from(["application/json", "multipart/form-data; boundary=x", "text/plain"]),
    "X-Forwarded-For": latin1,
    "Expect": st.just("100-continue"),
    "Upgrade": st.sampled_from(["websocket", "h2c", "TLS/1.0"]),
    "Connection": st.sampled_from(["Upgrade", "close", "keep-alive", "Upgrade, HTTP2-Settings"]),
    "Sec-WebSocket-Key": st.just("dGhlIHNhbXBsZSBub25jZQ=="),
    "Transfer-Encoding": st.sampled_from(["chunked", "gzip, chunked", "identity"]),
    "X-Huge": st.integers(1_000, 40_000).map(lambda n: "h" * n),
}


@st.composite
def header_lists(draw) -> list[tuple[str, str]]:
    names = draw(st.lists(st.sampled_from(sorted(HEADER_VALUES)), max_size=4, unique=True))
    headers = [(name, draw(HEADER_VALUES[name])) for name in names]
    if not draw(MOSTLY):
        headers.append((draw(st.text("abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=20)), draw(latin1)))
    return [(k, v.strip(" \t")) for k, v in headers]  # header values carry no surrounding blanks


@dataclass(frozen=True)
class Exchange:
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


exchanges = st.builds(Exchange, st.sampled_from(METHODS), targets(), header_lists(),
                      st.one_of(st.just(b""), st.just(b""), st.binary(max_size=64)))


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[BackendProcess]:
    static = REPO / "build" / "static"
    if not (static / "manifest.json").is_file():  # not built: a stand-in, or /manifest.json is a (right) 503
        static = tmp_path_factory.mktemp("static")
        for sub in ("pyodide", "wheels", "worker"):
            (static / sub).mkdir()
        (static / "manifest.json").write_text("{}")
    env = {"CORS_ALLOW_ORIGINS": ALLOWED_ORIGIN, "GROUP_GRACE": "1", "STATIC_DIR": str(static)}
    with backend_process(env) as process:
        yield process
        assert process.proc.poll() is None, "the server died"


def request_bytes(ex: Exchange) -> bytes:
    """The request; a body under ``Transfer-Encoding: chunked`` is sent chunked, as it says."""
    if "chunked" in (ex.header("Transfer-Encoding") or ""):
        chunked = (b"%x\r\n%s\r\n" % (len(ex.body), ex.body) if ex.body else b"") + b"0\r\n\r\n"
        return request(ex.method, ex.target, ex.headers) + chunked
    return request(ex.method, ex.target, ex.headers, ex.body)


def exchange(server: BackendProcess, data: bytes, method: str, framed: bool = True) -> RawResponse | None:
    """The response, or None if the server closed without one.

    After a HEAD on a connection that stays open, a second request on it must be answered with a
    clean status line: a HEAD answered with body bytes would show up there. (Only where the
    request's own framing is plain; an odd Transfer-Encoding may leave the server expecting more.)
    """
    with RawConnection(server.port, timeout=15) as conn:
        conn.send(data)
        try:
            response = conn.read_response(method)
        except NoResponse:
            return None
        if framed and method == "HEAD" and (response.header("connection") or "").lower() != "close":
            conn.send(request("GET", "/api/game-stats"))
            after = conn.read_response()
            assert after.status == 200, f"the HEAD sent a body? next answer: {after}"
        return response


def check_log(server: BackendProcess, since: int) -> None:
    errors = server.error_lines(since)
    assert errors == [], "the server logged:\n" + "\n".join(errors[:20])


def check_answer(ex: Exchange, response: RawResponse | None) -> None:
    assert response is not None, "no response to a well-formed request"
    assert response.status < 500, (response.status, response.body[:300])
    assert response.status in (200, 204, 304) or 400 <= response.status < 500, response.status
    if response.body == b"Invalid HTTP request received.":  # uvicorn's own, before any app code
        assert response.status == 400
        return
    assert response.header("x-content-type-options") == "nosniff", response.headers
    kind = response.header("content-type") or ""
    if ex.method == "HEAD" or response.stream or response.status in (204, 304):
        return
    if kind.startswith("application/json"):
        body = json.loads(response.body)
        if response.status >= 400:
            assert isinstance(body, dict) and isinstance(body.get("error"), str), body
    elif response.status >= 400:
        assert kind.startswith("text/plain") and response.body == b"Not found", (response.status, kind, response.body)


@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture])
@given(ex=exchanges)
def test_any_request_gets_a_4xx_or_a_stream_or_json_and_never_a_500_or_a_traceback(server, ex):
    since = len(server.log())
    response = exchange(server, request_bytes(ex), ex.method, framed=not ex.header("Transfer-Encoding"))
    event(f"status {response.status if response else None}{' stream' if response and response.stream else ''}")
    check_answer(ex, response)
    check_log(server, since)


@settings(max_examples=max(EXAMPLES // 6, 20), deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(garbage=st.one_of(
    st.binary(max_size=300),
    st.tuples(st.sampled_from([b"GET / HTTP/1.1\r\n", b"GET /api/health HTTP/1.1\r\nHost: x\r\n", b"\r\n",
                               b"GET /api/counts-stream HTTP/1.0\r\n\r\n"]), st.binary(max_size=200))
    .map(lambda t: t[0] + t[1]),
))
def test_garbage_bytes_get_a_400_or_a_closed_connection_and_nothing_is_logged(server, garbage):
    since = len(server.log())
    with RawConnection(server.port, timeout=15) as conn:
        conn.send(garbage)
        conn.sock.shutdown(socket.SHUT_WR)  # no more is coming: the server must not wait for it
        try:
            response = conn.read_response()
        except NoResponse:
            response = None
    if response is not None:
        assert response.status < 500, (response.status, response.body[:200])
    check_log(server, since)


def test_after_the_fuzzing_the_server_still_serves(server):
    with RawConnection(server.port) as conn:
        conn.send(request("GET", "/api/health"))
        assert conn.read_response().status == 200
    check_log(server, 0)
