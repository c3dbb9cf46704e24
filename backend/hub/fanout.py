"""SSE fan-out: encode once, write many (ARCHITECTURE principle 5).

A :class:`Channel` is one group's broadcast point. ``publish()`` serializes the event to SSE bytes
exactly once and hands the same ``bytes`` object to every subscribed :class:`SseClient`. Each
client buffers frames up to ``max_buffer`` bytes; its stream coroutine wakes, takes everything
pending as one chunk (one write per wake-up however many events arrived), and writes it. A client
whose buffer overflows is not allowed to hold memory or delay others: it is marked closed, counted
in ``dropped_slow``, and its stream ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import msgspec

_ENCODER = msgspec.json.Encoder()

# ":" + one space + 2048 spaces: pushes proxies (and some browsers) to start delivering at once.
PADDING = b":" + b" " * 2049 + b"\n\n"


def encode_json(value: Any) -> bytes:
    return _ENCODER.encode(value)


def sse_event(event: str, data: bytes) -> bytes:
    """One named SSE message; ``data`` must be single-line JSON (msgspec never emits newlines)."""
    return b"event: " + event.encode() + b"\ndata: " + data + b"\n\n"


def sse_comment(text: str) -> bytes:
    return b": " + text.encode() + b"\n\n"


class SseClient:
    __slots__ = ("_chunks", "_size", "_wakeup", "max_buffer", "closed", "close_reason")

    def __init__(self, max_buffer: int) -> None:
        self._chunks: list[bytes] = []
        self._size = 0
        self._wakeup = asyncio.Event()
        self.max_buffer = max_buffer
        self.closed = False
        self.close_reason: str | None = None

    def push(self, frame: bytes) -> bool:
        """Queue ``frame``; returns False (and closes the client) when its buffer would overflow."""
        if self.closed:
            return False
        if self._size + len(frame) > self.max_buffer:
            self.close("slow")
            return False
        self._chunks.append(frame)
        self._size += len(frame)
        self._wakeup.set()
        return True

    def take(self) -> bytes:
        """Everything pending, as one chunk; clears the buffer."""
        chunks, self._chunks, self._size = self._chunks, [], 0
        self._wakeup.clear()
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    @property
    def pending(self) -> int:
        return self._size

    async def wait(self, timeout: float) -> None:
        """Return when frames are pending, the client was closed, or ``timeout`` passed."""
        if self._chunks or self.closed:
            return
        try:
            await asyncio.wait_for(self._wakeup.wait(), timeout)
        except TimeoutError:
            pass

    def close(self, reason: str) -> None:
        if not self.closed:
            self.closed = True
            self.close_reason = reason
            self._wakeup.set()


class Channel:
    """The clients of one group and the frames they all share."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.clients: set[SseClient] = set()
        self.events_total = 0
        self.dropped_slow = 0

    def publish(self, event: str, payload: Any) -> bytes:
        return self.publish_raw(event, encode_json(payload))

    def publish_raw(self, event: str, data: bytes) -> bytes:
        frame = sse_event(event, data)
        self.broadcast(frame)
        return frame

    def broadcast(self, frame: bytes) -> None:
        self.events_total += 1
        slow = [c for c in self.clients if not c.push(frame)]
        for client in slow:
            self.clients.discard(client)
            if client.close_reason == "slow":
                self.dropped_slow += 1

    def close_all(self, reason: str) -> None:
        for client in self.clients:
            client.close(reason)
        self.clients.clear()


def join(frames: Iterable[bytes]) -> bytes:
    return b"".join(frames)
