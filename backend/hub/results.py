"""The results API (docs/api.md A5-A7) and the two stub endpoints (A4).

Owns every path under ``/api/results/`` and ``/api/game-stats``, ``/api/fetch-all-sports``::

    GET /api/results/competitions?from=&to=     get_active_competitions
        -> {success, data, timestamp}
    GET /api/results/games/<sportId>?from=&to=  get_result_games
        -> {success, sportId, count, games, timestamp}
    GET /api/results/game/<gameId>              get_results
        -> {success, gameId, settlements, raw, timestamp}
    anything else under /api/results/           404 {"error":"Not found"}
    GET /api/game-stats                         200 {"error":"No stats available"}
    GET /api/fetch-all-sports                   200 {"count":0,"errors":["Not supported"]}

The original routes ``/api/results/`` by prefix, not by exact path, and takes an id from the last
path segment -- of the still percent-encoded path, as a Worker's ``URL.pathname`` is (inferred).
Litestar normalises paths (a trailing slash is lost, so ``/api/results/games/`` -- sport 0,
accepted -- would look like ``/api/results/games``). So one ASGI mount receives the whole prefix
and routes on ``raw_path`` itself (:func:`route`).

Who is at fault (docs/design.md principle 8)::

    client misuse   BadResultsRequest (a ValueError)  -> 400 {"success":false,"error":...}
    unknown path / non-GET                            -> 404 {"error":"Not found"}
    upstream        SwarmRequestError, or anything a request raised
                        -> 500 {"success":false,"error":"<command> failed: <msg>"}

Our deviations from the original: a ``from``/``to`` that is present but not a finite number is
a 400 (``from and to must be numbers``) instead of ``NaN``/``null`` being sent upstream, and a game
id that is not a positive integer (up to 15 ASCII digits) is a 400 (``gameId must be a positive
integer``) instead of a question the feed can only refuse (then a 500 that blamed the upstream).

The parsing and mapping helpers are pure functions, and :func:`route` (pure apart from the
upstream request) takes the hub-like source, the method, the raw path and the query, and returns a
:class:`Reply`, so it can be tested with a fake source and a :class:`~backend.clock.FakeClock`.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from litestar import Response, get
from litestar.handlers import asgi
from litestar.types import Receive, Scope, Send

from backend.clock import Clock, iso_utc
from backend.http import json_response, positive_int, query_params
from backend.settings import Settings
from backend.swarm.session import SwarmRequestError

log = logging.getLogger(__name__)

PREFIX = "/api/results/"
DAY = 86_400
NOT_FOUND = {"error": "Not found"}
NO_STORE = {"Cache-Control": "no-store"}

Number = int | float


class BadResultsRequest(ValueError):
    """The client sent something the results API cannot use; the message is the 400's ``error``."""


# -- pure helpers -----------------------------------------------------------------------------------

# JavaScript's StrWhiteSpaceChar: WhiteSpace (incl. every Zs and the BOM) and LineTerminator.
# Python's str.strip() differs (it strips U+001C..U+001F and keeps U+FEFF).
_JS_WHITESPACE = "\t\n\v\f\r \xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a" \
                 "\u2028\u2029\u202f\u205f\u3000\ufeff"
_JS_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
_JS_INFINITY = re.compile(r"([+-]?)Infinity")
_JS_RADIX = {"0x": 16, "0X": 16, "0o": 8, "0O": 8, "0b": 2, "0B": 2}
_JS_DIGITS = {16: re.compile(r"[0-9a-fA-F]+"), 8: re.compile(r"[0-7]+"), 2: re.compile(r"[01]+")}


def js_number(text: str) -> float:
    """``Number(text)`` as JavaScript computes it: NaN for anything that is not a numeric literal.

    Surrounding JS whitespace is ignored, an empty string is 0, ``Infinity`` and the unsigned
    ``0x``/``0o``/``0b`` forms are accepted; Python-only spellings (``inf``, ``nan``, ``1_000``,
    non-ASCII digits) are NaN, as in JS.
    """
    s = text.strip(_JS_WHITESPACE)
    if not s:
        return 0.0
    if _JS_DECIMAL.fullmatch(s):
        return float(s)  # overflow gives inf, as in JS
    if match := _JS_INFINITY.fullmatch(s):
        return -math.inf if match.group(1) == "-" else math.inf
    radix = _JS_RADIX.get(s[:2])
    if radix is not None and _JS_DIGITS[radix].fullmatch(s[2:]):
        try:
            return float(int(s[2:], radix))
        except OverflowError:
            return math.inf
    return math.nan


def json_number(value: float) -> Number:
    """``value`` as JSON.stringify would write it: integral values without a fraction."""
    if math.isfinite(value) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def utc_midnight(epoch: float) -> int:
    """The start of the UTC day containing ``epoch`` (Unix time has no leap seconds)."""
    return math.floor(epoch / DAY) * DAY


def results_window(from_text: str | None, to_text: str | None, now: float) -> tuple[Number, Number]:
    """``(from_date, to_date)`` in Unix seconds for a results query.

    An absent or empty ``from`` is UTC midnight of ``now``; an absent or empty ``to`` is
    ``from + 86400``. A value that is present but not a finite number raises
    :class:`BadResultsRequest` (our deviation: the original sent NaN upstream).
    """

    def given(text: str | None) -> float | None:
        if text is None or text == "":
            return None
        value = js_number(text)
        if not math.isfinite(value):
            raise BadResultsRequest("from and to must be numbers")
        return value

    start, end = given(from_text), given(to_text)
    if start is None:
        start = float(utc_midnight(now))
    if end is None:
        end = start + DAY
    return json_number(start), json_number(end)


def parse_sport_id(segment: str) -> Number:
    """The sport id from the last path segment, via ``Number``: an empty segment is 0."""
    value = js_number(segment)
    if not math.isfinite(value):
        raise BadResultsRequest("Invalid sportId")
    return json_number(value)


def result_games(data: Any) -> list[Any]:
    """``data.games.game`` when it is an array, else ``[]`` (docs/api.md A6)."""
    games = data.get("games") if isinstance(data, Mapping) else None
    game = games.get("game") if isinstance(games, Mapping) else None
    return game if isinstance(game, list) else []


def winners_of(events: Any) -> list[Any]:
    """``events.event_name ?? []``, always as an array (the UI spreads it).

    A single name (a feed that collapses one-element arrays) becomes a one-element list.
    """
    names = events.get("event_name") if isinstance(events, Mapping) else None
    if names is None:
        return []
    return list(names) if isinstance(names, list) else [names]


def settlements(data: Any) -> list[dict[str, Any]]:
    """Map ``data.lines.line[]`` to ``[{market: line_name, winners: [...]}]`` (docs/api.md A7).

    A lone line object (not wrapped in an array) counts as one line; entries that are not objects
    are skipped; a missing ``line_name`` is ``null``.
    """
    lines = data.get("lines") if isinstance(data, Mapping) else None
    line = lines.get("line") if isinstance(lines, Mapping) else None
    if isinstance(line, Mapping):
        line = [line]
    if not isinstance(line, list):
        return []
    return [{"market": entry.get("line_name"), "winners": winners_of(entry.get("events"))}
            for entry in line if isinstance(entry, Mapping)]


def upstream_error(command: str, exc: BaseException) -> str:
    """``"<command> failed: <msg>"``, without doubling the prefix the hub already puts on
    non-zero-code replies (``OddsHub.request`` raises ``"<command> failed: <msg>"`` for those)."""
    message = str(exc) or type(exc).__name__
    prefix = f"{command} failed: "
    return message if message.startswith(prefix) else prefix + message


def last_segment(path: str) -> str:
    return path.rsplit("/", 1)[-1]


# -- routing (pure apart from the upstream request) -----------------------------------------------

class ResultsSource(Protocol):
    """What the results routes need from the hub (``OddsHub`` satisfies it)."""

    clock: Clock
    settings: Settings

    async def request(self, command: str, params: dict[str, Any], timeout: float = ...) -> Any: ...


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: Any
    plain_text: bool = False  # the app-wide 404 for paths outside the /api/results/ prefix


async def route(source: ResultsSource, method: str, path: str, query: Mapping[str, str]) -> Reply:
    """The reply to ``method path?query``; ``path`` is the raw (percent-encoded) request path."""
    if not path.startswith(PREFIX):  # "/api/results" or "/api/resultsX": not ours, as in the original
        return Reply(404, "Not found", plain_text=True)
    if method != "GET":
        return Reply(404, NOT_FOUND)
    rest = path[len(PREFIX):]
    try:
        if rest == "competitions":
            return await _competitions(source, query)
        if rest.startswith("games/"):
            return await _games(source, last_segment(rest), query)
        if rest.startswith("game/"):
            return await _game(source, last_segment(rest))
    except BadResultsRequest as exc:
        return Reply(400, {"success": False, "error": str(exc)})
    return Reply(404, NOT_FOUND)


async def _ask(source: ResultsSource, command: str, params: dict[str, Any]) -> tuple[bool, Any]:
    """``(True, data)`` or ``(False, error message)``; an upstream failure is never raised."""
    try:
        return True, await source.request(command, params, source.settings.swarm_request_timeout)
    except SwarmRequestError as exc:
        message = upstream_error(command, exc)
        log.warning("%s", message)
        return False, message
    except Exception as exc:  # a bug or an unexpected reply: still the upstream call's failure
        message = upstream_error(command, exc)
        log.exception("%s", message)
        return False, message


def _failed(message: str) -> Reply:
    return Reply(500, {"success": False, "error": message})


async def _competitions(source: ResultsSource, query: Mapping[str, str]) -> Reply:
    start, end = results_window(query.get("from"), query.get("to"), source.clock.time())
    ok, data = await _ask(source, "get_active_competitions", {"from_date": start, "to_date": end})
    if not ok:
        return _failed(data)
    return Reply(200, {"success": True, "data": data, "timestamp": iso_utc(source.clock.time())})


async def _games(source: ResultsSource, segment: str, query: Mapping[str, str]) -> Reply:
    sport_id = parse_sport_id(segment)
    start, end = results_window(query.get("from"), query.get("to"), source.clock.time())
    ok, data = await _ask(source, "get_result_games", {
        "is_date_ts": 1, "from_date": start, "to_date": end, "live": 0, "sport_id": sport_id})
    if not ok:
        return _failed(data)
    games = result_games(data)
    return Reply(200, {"success": True, "sportId": sport_id, "count": len(games), "games": games,
                       "timestamp": iso_utc(source.clock.time())})


async def _game(source: ResultsSource, game_id: str) -> Reply:
    if not game_id:
        raise BadResultsRequest("gameId is required")
    if positive_int(game_id) is None:  # the feed's ids are positive integers; anything else is ours to refuse
        raise BadResultsRequest("gameId must be a positive integer")
    ok, data = await _ask(source, "get_results", {"game_id": game_id})
    if not ok:
        return _failed(data)
    return Reply(200, {"success": True, "gameId": game_id, "settlements": settlements(data), "raw": data,
                       "timestamp": iso_utc(source.clock.time())})


# -- ASGI adapter -----------------------------------------------------------------------------------

def raw_request_path(scope: Scope) -> str:
    """The path as sent (percent-encoded, trailing slash kept), like ``URL.pathname`` in a Worker.

    The mount rewrites ``scope["path"]`` to the normalised remainder plus a ``/``, so it is only a
    lossy fallback (a trailing slash is lost) for a server that sends no ``raw_path``; uvicorn
    and Litestar's test client always send it.
    """
    raw = scope.get("raw_path")
    if raw:
        return raw.decode("latin-1").split("?", 1)[0]
    return "/api/results" + str(scope.get("path", "/")).rstrip("/")


@asgi("/api/results", is_mount=True, copy_scope=True)
async def results(scope: Scope, receive: Receive, send: Send) -> None:
    reply = await route(scope["app"].state.hub, scope["method"], raw_request_path(scope), query_params(scope))
    if reply.plain_text:
        body = str(reply.body).encode()
        await send({"type": "http.response.start", "status": reply.status, "headers": [
            (b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
    else:
        await json_response(send, reply.status, reply.body)


@get("/api/game-stats")
async def game_stats() -> Response[Any]:
    """Stub (docs/api.md A4): no stats source exists; the UI shows "No stats available"."""
    return Response({"error": "No stats available"}, headers=NO_STORE)


@get("/api/fetch-all-sports")
async def fetch_all_sports() -> Response[Any]:
    """Stub (docs/api.md A4): bulk scraping is not supported; the UI toasts "Scraped 0 sports. 1 errors."."""
    return Response({"count": 0, "errors": ["Not supported"]}, headers=NO_STORE)


ROUTES = [results, game_stats, fetch_all_sports]
