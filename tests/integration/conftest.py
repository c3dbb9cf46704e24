"""One shared server per test module (small simulated world) and an HTTP client for it."""

from __future__ import annotations

import httpx
import pytest_asyncio

from tests.support.feed import wait_for
from tests.support.server import running_server


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def srv():
    async with running_server() as server:
        await wait_for(lambda: server.hub.conn.connected, 15)
        # and health has heard so from the hub's reports (at most half a second later, docs/api.md F1)
        await wait_for(lambda: server.app.state.health.snapshot().hub_reports.upstream_connected, 5)
        yield server


@pytest_asyncio.fixture(loop_scope="module")
async def http(srv):
    async with httpx.AsyncClient(base_url=srv.base_url, timeout=30) as client:
        yield client
