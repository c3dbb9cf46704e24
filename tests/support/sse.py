"""A small, strict SSE reader for tests: parses events off a real HTTP stream."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class SseMessage:
    event: str | None = None
    data: str | None = None
    id: str | None = None
    comments: list[str] = field(default_factory=list)

    def json(self) -> Any:
        assert self.data is not None, "not a data message"
        return json.loads(self.data)


class SseStream:
    """``async with SseStream(client, url) as s: msg = await s.next_event("odds")``."""

    def __init__(self, client: httpx.AsyncClient, url: str, headers: dict[str, str] | None = None) -> None:
        self._client = client
        self._url = url
        self._headers = headers or {}
        self._ctx: Any = None
        self.response: httpx.Response | None = None
        self._lines: Any = None
        self.comments: list[str] = []
        self.events: list[SseMessage] = []

    async def __aenter__(self) -> SseStream:
        self._ctx = self._client.stream("GET", self._url, headers=self._headers, timeout=httpx.Timeout(30, read=60))
        self.response = await self._ctx.__aenter__()
        self._lines = self.response.aiter_lines()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._ctx.__aexit__(*exc)

    async def next_message(self) -> SseMessage:
        msg = SseMessage()
        data_lines: list[str] = []
        async for line in self._lines:
            if line == "":
                if msg.event is None and not data_lines and msg.id is None:
                    if msg.comments:
                        self.comments.extend(msg.comments)
                        return msg
                    continue
                msg.data = "\n".join(data_lines) if data_lines else None
                self.events.append(msg)
                return msg
            if line.startswith(":"):
                msg.comments.append(line[1:].strip())
                continue
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "event":
                msg.event = value
            elif name == "data":
                data_lines.append(value)
            elif name == "id":
                msg.id = value
        raise EOFError("stream ended")

    async def next_event(self, *names: str, timeout: float = 15.0) -> SseMessage:
        """The next message with one of ``names`` (any data message if none given)."""

        async def find() -> SseMessage:
            while True:
                msg = await self.next_message()
                if msg.data is not None and (not names or msg.event in names):
                    return msg

        return await asyncio.wait_for(find(), timeout)
