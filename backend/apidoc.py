"""The OpenAPI document of the whole HTTP/SSE API, at ``/schema/openapi.json`` with a UI at ``/schema``.

The SSE streams bypass Litestar's router (``backend.app.OddsApp``) and the results API is one raw
ASGI mount, so the real handlers cannot describe themselves. Instead every endpoint has a typed
stub here -- its parameters, its responses and, for a stream, the schema of each event's payload
(the msgspec Structs of ``backend.hub.events``) -- and a separate Litestar app, never served, turns
the stubs into the document once. ``tests/integration/test_api_document.py`` checks that the
document names exactly the paths the app serves. The UI is RapiDoc from npm, served by us
(``scripts/build_assets.py`` puts it in ``<static_dir>/apidocs``): nothing comes from elsewhere.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any

import msgspec
from litestar import Litestar, Response, get
from litestar.datastructures import ResponseHeader
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.params import HeaderParameter, PathParameter, QueryParameter
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from backend.hub import events

TITLE = "Live odds browser API"
VERSION = "1"
SSE = "text/event-stream"

LAST_EVENT_ID = HeaderParameter(name="Last-Event-ID", required=False, description=(
    "Resume: the id of the last message received. The stream then starts with exactly the messages "
    "missed, or with a fresh snapshot when they are no longer kept. Anything else is a fresh start. "
    "The same id may be given as the `lastEventId` query parameter instead, for a client that cannot "
    "set headers (an EventSource opened by a page rendered at that id); the header wins when both are."))
ERRORS = {
    400: ResponseSpec(events.Error, description="A missing or invalid parameter, before the stream opens."),
    429: ResponseSpec(events.Error, description="A limit (clients, groups, upstream subscriptions) was reached; "
                                                "the `Retry-After` header says when to try again."),
}
STREAM_NOTE = (
    "\n\nServer-Sent Events. The stream opens with a 2 KiB padding comment, `retry: 2000` and "
    "`: ready <epoch-ms>`, then the late-joiner snapshot (or exactly what a `Last-Event-ID` missed). "
    "Every message has an `id:`; a heartbeat comment `: ping <ms>` comes every 15 s. The 200 schema "
    "lists the events: a message `event: <name>` carries `data:` with that property's JSON.")


def _stream(path: str, summary: str, description: str, **kwargs: Any):
    return get(path, summary=summary, description=description + STREAM_NOTE, media_type=SSE, tags=["streams"],
               responses=ERRORS, sync_to_thread=False, **kwargs)


@_stream("/api/counts-stream", "Live and prematch game counts per sport", "Counts change-only.")
def counts_stream(last_event_id: Annotated[str | None, LAST_EVENT_ID] = None) -> events.CountsStreamEvents:
    raise NotImplementedError


@_stream("/api/live-stream", "A sport's live games and their main odds",
         "The `games` list (whenever it changes), main-market `odds` of the games that changed, and the "
         "counts.")
def live_stream(
    sport_id: Annotated[str, QueryParameter(name="sportId", description="A sport id from /api/hierarchy.",
                                       pattern=r"^[0-9]{1,15}$")],
    sport_name: Annotated[str | None, QueryParameter(name="sportName", max_length=200, description=(
        "Accepted for compatibility and ignored: names come from the hierarchy."))] = None,
    last_event_id: Annotated[str | None, LAST_EVENT_ID] = None,
) -> events.LiveStreamEvents:
    raise NotImplementedError


@_stream("/api/prematch-stream", "A sport's prematch games and their main odds",
         "The `games` list (polled from the feed every 5 s) and main-market `odds`.")
def prematch_stream(
    sport_id: Annotated[str, QueryParameter(name="sportId", description="A sport id from /api/hierarchy.",
                                       pattern=r"^[0-9]{1,15}$")],
    sport_name: Annotated[str | None, QueryParameter(name="sportName", max_length=200,
                                                description="Accepted and ignored.")] = None,
    last_event_id: Annotated[str | None, LAST_EVENT_ID] = None,
) -> events.PrematchStreamEvents:
    raise NotImplementedError


@_stream("/api/live-game-stream", "One game with all its markets",
         "A `game` event with the whole game whenever anything in it changes: markets, score, clock, stats.")
def live_game_stream(
    game_id: Annotated[str, QueryParameter(name="gameId", pattern=r"^[0-9]{1,15}$")],
    last_event_id: Annotated[str | None, LAST_EVENT_ID] = None,
) -> events.GameStreamEvents:
    raise NotImplementedError


@_stream("/api/competition-odds-stream", "Main odds of every game of one competition",
         "The limit is checked before the parameters (429 before 400), as in the original.")
def competition_odds_stream(
    competition_id: Annotated[str, QueryParameter(name="competitionId", pattern=r"^[0-9]{1,15}$")],
    sport_id: Annotated[str, QueryParameter(name="sportId", pattern=r"^[0-9]{1,15}$")],
    mode: Annotated[str, QueryParameter(name="mode", pattern="^(live|prematch)$")],
    sport_name: Annotated[str | None, QueryParameter(name="sportName", max_length=200,
                                                description="Accepted and ignored.")] = None,
    last_event_id: Annotated[str | None, LAST_EVENT_ID] = None,
) -> events.CompetitionStreamEvents:
    raise NotImplementedError


@get("/api/live-tracker", summary="A live game as a match tracker follows it", media_type=SSE, tags=["streams"],
     sync_to_thread=False, description=(
         "One upstream tracker connection per game, opened with the game's first client and closed a grace "
         "period after its last. `ready` while the upstream socket is being opened; unnamed messages carry the "
         "feed's frames (the match state first -- score, period, clock, statistics, possession, ball, timeline -- "
         "then events and updates, each with `seq`); `end` once the game is over; `error` if the feed will not "
         "follow the game (the stream then ends). After an upstream loss the hub reconnects and sends the "
         "fresh state. Opens with `retry:` only (no padding); ids, resume and heartbeats as on every stream."),
     responses={**ERRORS, 503: ResponseSpec(events.Error, description="No tracker feed is configured.")})
def live_tracker(
    game_id: Annotated[str, QueryParameter(name="gameId", pattern=r"^[0-9]{1,15}$")],
    last_event_id: Annotated[str | None, LAST_EVENT_ID] = None,
) -> events.TrackerStreamEvents:
    raise NotImplementedError


@get("/api/hierarchy", summary="Sports, regions and competitions", tags=["catalog"], sync_to_thread=False,
     description="The feed's tree, `sport > region > competition`, each with `id`, `name`, `alias`, `order`; "
                 "cached 30 min (`cached`, `stale` flags at the top level).",
     responses={500: ResponseSpec(events.Error, description="No hierarchy could be loaded.")},
     response_headers=[ResponseHeader(name="Cache-Control", value="public, max-age=60, stale-while-revalidate=300",
                                      description="`no-store` with `refresh=true`")])
def hierarchy(refresh: Annotated[str | None, QueryParameter(
        description="Exactly `true` forces a reload from the feed.")] = None) -> dict[str, Any]:
    raise NotImplementedError


@get("/api/warmup", summary="Load the hierarchy now", tags=["catalog"], sync_to_thread=False,
     description="`{status: \"warmed\", hierarchy_loaded, timestamp}`.")
def warmup() -> dict[str, Any]:
    raise NotImplementedError


@get("/api/results/competitions", summary="Competitions with results in a time window", tags=["results"],
     sync_to_thread=False, responses={400: ResponseSpec(events.ResultsError), 500: ResponseSpec(events.ResultsError)})
def results_competitions(
    from_: Annotated[str | None, QueryParameter(name="from", description="Unix seconds; default: UTC midnight today.")]
    = None,
    to: Annotated[str | None, QueryParameter(description="Unix seconds; default: from + 86400.")] = None,
) -> events.ResultsCompetitions:
    raise NotImplementedError


@get("/api/results/games/{sportId:str}", summary="Finished games of a sport", tags=["results"],
     sync_to_thread=False, responses={400: ResponseSpec(events.ResultsError), 500: ResponseSpec(events.ResultsError)})
def results_games(
    sportId: Annotated[str, PathParameter(description="A sport id (an empty segment means 0).")],
    from_: Annotated[str | None, QueryParameter(name="from")] = None,
    to: Annotated[str | None, QueryParameter()] = None,
) -> events.ResultsGames:
    raise NotImplementedError


@get("/api/results/game/{gameId:str}", summary="A finished game's settlements", tags=["results"],
     sync_to_thread=False, responses={400: ResponseSpec(events.ResultsError), 500: ResponseSpec(events.ResultsError)})
def results_game(gameId: Annotated[str, PathParameter(description="A game id.")]) -> events.ResultsGame:
    raise NotImplementedError


@get("/api/game-stats", summary="Pre-match statistics of a game", tags=["results"], sync_to_thread=False,
     description="No statistics source exists: always `{\"error\": \"No stats available\"}`.")
def game_stats(game_id: Annotated[str | None, QueryParameter(name="gameId")] = None) -> events.Error:
    raise NotImplementedError


@get("/api/fetch-all-sports", summary="Bulk scrape (not supported)", tags=["results"], sync_to_thread=False,
     description="Always `{\"count\": 0, \"errors\": [\"Not supported\"]}`.")
def fetch_all_sports() -> dict[str, Any]:
    raise NotImplementedError


@get("/api/health", summary="Health of every service, with alerts", tags=["health"], sync_to_thread=False,
     description="`status`, `swarm_ws` (the odds hub's upstream and fan-out), `live_tracker`, uptime, cache "
                 "hit/miss, memory (RSS and the retained-bytes budget), upstream failure rate, groups and the "
                 "alerts firing. Field by field: docs/api.md.")
def health() -> dict[str, Any]:
    raise NotImplementedError


@get("/metrics", summary="The same figures in Prometheus text format", tags=["health"], sync_to_thread=False,
     media_type=CONTENT_TYPE_LATEST)  # exactly what /metrics sends (backend/health/prometheus.py)
def metrics() -> str:
    raise NotImplementedError


STUBS = [counts_stream, live_stream, prematch_stream, live_game_stream, competition_odds_stream, live_tracker,
         hierarchy, warmup,
         results_competitions, results_games, results_game, game_stats, fetch_all_sports, health, metrics]


@cache
def document() -> bytes:
    """The OpenAPI document (JSON), built once from the stubs."""
    app = Litestar(route_handlers=STUBS, openapi_config=OpenAPIConfig(
        title=TITLE, version=VERSION, path="/schema",
        description="The HTTP and Server-Sent Events API of the live odds browser: the original system's "
                    "API, name for name, with compatible extensions (ids and resume on every stream, "
                    "heartbeats, limits as 429 with Retry-After). Prose and examples: docs/api.md."))
    return msgspec.json.encode(app.openapi_schema.to_schema())


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">
<script type="module" src="/apidocs/rapidoc-min.js"></script></head>
<body><rapi-doc spec-url="/schema/openapi.json" render-style="read" show-header="false" allow-try="true"
 allow-authentication="false" allow-server-selection="false"
 regular-font="system-ui, sans-serif" mono-font="ui-monospace, monospace"></rapi-doc></body></html>
"""
PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")


def routes() -> list[Any]:
    """The two handlers the app serves: the document and its UI."""

    @get("/schema/openapi.json", include_in_schema=False, sync_to_thread=False, name="apidoc:json")
    def openapi_json() -> Response[bytes]:
        return Response(document(), media_type="application/json", headers={"Cache-Control": "no-cache"})

    @get("/schema", include_in_schema=False, sync_to_thread=False, name="apidoc:ui")
    def openapi_ui() -> Response[str]:
        return Response(PAGE.format(title=TITLE), media_type="text/html",
                        headers={"Cache-Control": "no-cache", "Content-Security-Policy": PAGE_CSP})

    return [openapi_json, openapi_ui]
