"""The naive peer: the SSE fan-out most Python code starts with, as a yardstick for the hub.

A raw ASGI app under uvicorn (uvloop + httptools, like the hub). Every ``GET`` is a stream client
with its own unbounded ``asyncio.Queue``; its request task loops ``await queue.get()`` then
``await send(...)``, one write per event. A second small task per client waits on ``receive()``
for the disconnect (uvicorn silently ignores writes to a closed connection, so without it a gone
client would be written to forever) and wakes the writer with a ``None``. ``POST /pub`` takes the
``data:`` JSON of one ``odds`` event, frames it once (``event: odds\\ndata: ...\\n\\n``) and puts the
same bytes in every queue. A new client first gets ``: ready`` and the last event, like the hub's
late-joiner snapshot. No ids, no heartbeats, no limits: that is the point.

``python -m bench.naive_peer --port 8790``
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

HEADERS = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache, no-transform"),
           (b"connection", b"keep-alive"), (b"x-accel-buffering", b"no")]


class NaiveFanout:
    def __init__(self) -> None:
        self.queues: set[asyncio.Queue[bytes | None]] = set()
        self.last: bytes = b""
        self.published = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if scope["method"] == "POST":
            await self._publish(receive, send)
        else:
            await self._stream(receive, send)

    async def _publish(self, receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        frame = b"event: odds\ndata: " + body + b"\n\n"
        self.last = frame
        self.published += 1
        for queue in self.queues:
            queue.put_nowait(frame)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def _stream(self, receive: Any, send: Any) -> None:
        queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.queues.add(queue)

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            queue.put_nowait(None)

        watcher = asyncio.create_task(watch())
        try:
            await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
            await send({"type": "http.response.body", "body": b": ready\n\n" + self.last, "more_body": True})
            while (frame := await queue.get()) is not None:
                await send({"type": "http.response.body", "body": frame, "more_body": True})
        finally:
            self.queues.discard(queue)
            watcher.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(description="naive Python SSE fan-out (bench peer)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8790)
    args = parser.parse_args()
    import uvicorn

    uvicorn.run(NaiveFanout(), host=args.host, port=args.port, loop="uvloop", http="httptools",
                lifespan="off", log_level="warning", access_log=False,
                timeout_keep_alive=3600)  # the publisher's connection idles while clients connect


if __name__ == "__main__":
    main()
