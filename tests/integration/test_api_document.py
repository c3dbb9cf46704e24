"""The OpenAPI document names exactly what the app serves, and real events fit its schemas."""

from __future__ import annotations

import msgspec
import pytest

from backend.app import STREAMS
from backend.hub import events, queries
from tests.support.feed import feed_get
from tests.support.sse import SseStream

pytestmark = pytest.mark.asyncio(loop_scope="module")

RESULTS_MOUNT = "/api/results"


def served_api_paths(app) -> set[str]:
    paths = {route.path for route in app.routes if route.path.startswith(("/api/", "/metrics"))}
    return paths | set(STREAMS)


async def test_the_document_lists_every_endpoint_the_app_serves_and_nothing_else(srv, http):
    response = await http.get("/schema/openapi.json")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    document = response.json()
    assert document["openapi"].startswith("3.1")
    documented = set(document["paths"])
    served = served_api_paths(srv.app)
    assert RESULTS_MOUNT in served  # one raw mount routes every results path itself
    assert documented - {p for p in documented if p.startswith(RESULTS_MOUNT + "/")} == served - {RESULTS_MOUNT}
    assert {p for p in documented if p.startswith(RESULTS_MOUNT + "/")} == {
        "/api/results/competitions", "/api/results/games/{sportId}", "/api/results/game/{gameId}"}
    for path in STREAMS:
        operation = document["paths"][path]["get"]
        assert set(operation["responses"]) >= {"200", "400", "429"}
        assert "text/event-stream" in operation["responses"]["200"]["content"]
        assert any(p["name"] == "Last-Event-ID" and p["in"] == "header" for p in operation["parameters"])
    live = {p["name"]: p for p in document["paths"]["/api/live-stream"]["get"]["parameters"]}
    assert live["sportId"]["required"] and live["sportId"]["in"] == "query"
    schemas = document["components"]["schemas"]
    assert set(schemas["LiveStreamEvents"]["properties"]) == {"counts", "prematch_counts", "games", "odds", "error"}


async def test_the_documented_metrics_content_type_is_the_one_sent(http):
    document = (await http.get("/schema/openapi.json")).json()
    documented = set(document["paths"]["/metrics"]["get"]["responses"]["200"]["content"])
    sent = (await http.get("/metrics")).headers["content-type"]
    assert documented == {sent} and sent.startswith("text/plain; version=")


async def test_the_ui_is_served_from_here_under_its_own_policy(http):
    page = await http.get("/schema")
    assert page.status_code == 200 and "<rapi-doc" in page.text and 'spec-url="/schema/openapi.json"' in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "https://" not in page.text  # nothing from elsewhere
    script = await http.get("/apidocs/rapidoc-min.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")


async def events_of(http, path: str, names: set[str], limit: int = 40) -> dict[str, list[bytes]]:
    got: dict[str, list[bytes]] = {}
    async with SseStream(http, path) as stream:
        for _ in range(limit):
            msg = await stream.next_event(timeout=20)
            got.setdefault(msg.event, []).append(msg.data.encode())
            if names <= set(got):
                break
    return got


@pytest.mark.parametrize("stream_events", [events.CountsStreamEvents, events.LiveStreamEvents,
                                           events.PrematchStreamEvents, events.GameStreamEvents,
                                           events.CompetitionStreamEvents])
async def test_real_events_fit_the_documented_schemas(srv, http, stream_events):
    what, where = queries.counts(live=True)
    tree = await feed_get(srv.simulator.url, what, where)
    sport = max(tree["sport"].values(), key=lambda s: len(s.get("game", {})))
    games = (await feed_get(srv.simulator.url, *queries.sport_games(sport["id"], live=True)))
    game = next(g for r in games["sport"][str(sport["id"])]["region"].values()
                for c in r["competition"].values() for g in c["game"].values())
    path, expected = {
        events.CountsStreamEvents: ("/api/counts-stream", {"live_counts", "prematch_counts"}),
        events.LiveStreamEvents: (f"/api/live-stream?sportId={sport['id']}", {"counts", "games", "odds"}),
        events.PrematchStreamEvents: (f"/api/prematch-stream?sportId={sport['id']}", {"games", "odds"}),
        events.GameStreamEvents: (f"/api/live-game-stream?gameId={game['id']}", {"game"}),
        events.CompetitionStreamEvents: (f"/api/competition-odds-stream?competitionId={game['competition_id']}"
                                         f"&sportId={sport['id']}&mode=live", {"odds"}),
    }[stream_events]
    got = await events_of(http, path, expected)
    assert expected <= set(got)
    types = {f.name: f.type for f in msgspec.structs.fields(stream_events)}
    for name, payloads in got.items():
        assert name in types, f"{name} is not documented for {path}"
        for data in payloads:
            msgspec.json.decode(data, type=types[name], strict=True)
