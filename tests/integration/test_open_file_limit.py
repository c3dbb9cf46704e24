"""A server whose open-file limit is below its client limits (docs/api.md 0, "Connections and
request limits"): stream clients of
the odds hub and of the live tracker get 429 + Retry-After, and every other request an answer,
before file descriptors run out.

``python -m backend`` runs in a child process with a soft RLIMIT_NOFILE of 256 and the default
``FD_RESERVE`` of 128, so at most 128 stream clients fit: the hub's and the tracker's share them,
64 each (``client_limits``).
"""

from __future__ import annotations

import asyncio
import json

import pytest

from backend.hub import queries
from backend.settings import Settings
from tests.support.feed import feed_get
from tests.support.process import backend_process, free_port
from tests.support.rawhttp import NoResponse, RawConnection, request

pytestmark = pytest.mark.timeout(120)

OPEN_FILES = 256
STREAM_CLIENTS = OPEN_FILES - Settings().fd_reserve
HUB_CLIENTS = TRACKER_CLIENTS = STREAM_CLIENTS // 2


def a_live_game(sim_port: int) -> int:
    tree = asyncio.run(feed_get(f"ws://127.0.0.1:{sim_port}", *queries.counts(live=True)))
    return min(int(game) for sport in tree["sport"].values() for game in sport.get("game", {}))


def test_with_few_file_descriptors_stream_clients_get_429_and_every_request_an_answer():
    sim_port = free_port()
    with backend_process(env={"SIM_PORT": str(sim_port)}, open_files=OPEN_FILES) as server:
        conns: list[RawConnection] = []
        tracker_path = f"/api/live-tracker?gameId={a_live_game(sim_port)}"
        try:
            for path, clients, opening in (("/api/counts-stream", HUB_CLIENTS, b": ready "),
                                           (tracker_path, TRACKER_CLIENTS, b"retry: ")):
                for _ in range(clients):
                    conn = RawConnection(server.port)
                    conns.append(conn)
                    conn.send(request("GET", path))
                    assert conn.read_response(stream_opening=opening).status == 200
                conn = RawConnection(server.port)
                conns.append(conn)
                conn.send(request("GET", path))
                refused = conn.read_response()
                assert refused.status == 429, path
                assert int(refused.header("retry-after")) > 0 and json.loads(refused.body)["error"]

            # More connections than there are descriptors left: each gets an answer (a 503 once the
            # connection cap is reached), none is accepted and then left without one.
            statuses, refusals = [], []
            for _ in range(OPEN_FILES):
                conn = RawConnection(server.port)
                conns.append(conn)
                conn.send(request("GET", "/api/health"))
                try:
                    response = conn.read_response()
                except (NoResponse, TimeoutError) as exc:
                    statuses.append(repr(exc))
                    continue
                statuses.append(response.status)
                if response.status == 503:
                    refusals.append(response)
            assert set(statuses) <= {200, 503}, statuses
            assert refusals
            for refused in refusals:  # answered with the app's headers, not uvicorn's bare text
                assert refused.header("content-type") == "application/json" and json.loads(refused.body)["error"]
                assert refused.header("x-content-type-options") == "nosniff"
                assert refused.header("referrer-policy") == "no-referrer"
                assert refused.header("access-control-allow-origin") == "*"
        finally:
            for conn in conns:
                conn.close()
        log = server.log()
        assert f"SSE client limit lowered from 10000 to {HUB_CLIENTS}" in log
        assert f"live-tracker client limit lowered from 10000 to {TRACKER_CLIENTS}" in log
        assert log.count("client limit lowered") == 2
        assert server.error_lines() == []
