"""Helpers for integration tests: waiting on a condition, and asking the feed directly."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import connect


async def wait_for(predicate: Callable[[], Any], timeout: float = 10.0) -> None:
    """Poll ``predicate`` every 20 ms until it is truthy; TimeoutError after ``timeout`` seconds."""

    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), timeout)


async def feed_get(url: str, what: dict[str, Any], where: dict[str, Any]) -> dict[str, Any]:
    """Ask the Swarm feed at ``url`` directly, as a second, independent client."""
    async with connect(url) as ws:
        await ws.send(json.dumps({"command": "request_session", "params": {"site_id": 1}, "rid": "s"}))
        await ws.recv()
        await ws.send(json.dumps({"command": "get", "rid": "g",
                                  "params": {"source": "betting", "what": what, "where": where}}))
        reply = json.loads(await ws.recv())
        assert reply["code"] == 0, reply
        return reply["data"]["data"]
