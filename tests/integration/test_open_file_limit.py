"""A server whose open-file limit is below its client limit (issue 6 item 6): stream clients get
429 + Retry-After, and every other request an answer, before file descriptors run out.

``python -m backend`` runs in a child process with a soft RLIMIT_NOFILE of 256 and the default
``FD_RESERVE`` of 128, so at most 128 stream clients fit.
"""

from __future__ import annotations

import json

import pytest

from backend.settings import Settings
from tests.support.process import backend_process
from tests.support.rawhttp import NoResponse, RawConnection, request

pytestmark = pytest.mark.timeout(120)

OPEN_FILES = 256
STREAM_CLIENTS = OPEN_FILES - Settings().fd_reserve


def test_with_few_file_descriptors_stream_clients_get_429_and_every_request_an_answer():
    with backend_process(open_files=OPEN_FILES) as server:
        conns: list[RawConnection] = []
        try:
            for _ in range(STREAM_CLIENTS):
                conn = RawConnection(server.port)
                conns.append(conn)
                conn.send(request("GET", "/api/counts-stream"))
                assert conn.read_response().status == 200
            conn = RawConnection(server.port)
            conns.append(conn)
            conn.send(request("GET", "/api/counts-stream"))
            refused = conn.read_response()
            assert refused.status == 429
            assert int(refused.header("retry-after")) > 0 and json.loads(refused.body)["error"]

            # More connections than there are descriptors left: each gets an answer (uvicorn's 503
            # once the connection cap is reached), none is accepted and then left without one.
            statuses = []
            for _ in range(OPEN_FILES):
                conn = RawConnection(server.port)
                conns.append(conn)
                conn.send(request("GET", "/api/health"))
                try:
                    statuses.append(conn.read_response().status)
                except (NoResponse, TimeoutError) as exc:
                    statuses.append(repr(exc))
            assert set(statuses) <= {200, 503}, statuses
            assert 503 in statuses
        finally:
            for conn in conns:
                conn.close()
        log = server.log()
        assert f"SSE client limit lowered from 10000 to {STREAM_CLIENTS}" in log
        assert log.count("SSE client limit lowered") == 1
        assert server.error_lines() == []
