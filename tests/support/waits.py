"""Helpers for tests of the upstream connections (odds feed and tracker) against scripted peers on
127.0.0.1: the sockets are real, every timer is on a FakeClock."""

from __future__ import annotations

import asyncio
from typing import Any


async def until(predicate: Any, limit: float = 5.0) -> None:
    """Wait for real I/O (never for a timer: those are on the fake clock) until ``predicate()`` holds."""
    loop = asyncio.get_running_loop()
    end = loop.time() + limit
    while not predicate():
        if loop.time() > end:
            raise TimeoutError("the sockets did not get there")
        await asyncio.sleep(0.002)


def recorded_delays(conn: Any) -> list[float]:
    """The backoff delays ``conn`` asks for, in order (its ``backoff`` schedule itself unchanged)."""
    delays: list[float] = []
    choose = conn.backoff.next_delay

    def record() -> float:
        delays.append(choose())
        return delays[-1]

    conn.backoff.next_delay = record
    return delays


async def stop(task: asyncio.Task[Any]) -> None:
    """Cancel ``task`` and wait until it has finished."""
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def ride_backoffs(conn: Any, clock: Any, times: int) -> list[float]:
    """Run ``conn`` until it has asked for ``times`` backoff delays, each waited out on the fake
    ``clock`` as soon as it is asked for; then stop it. Returns the delays, in order."""
    delays = recorded_delays(conn)
    task = asyncio.create_task(conn.run())
    try:
        for n in range(times):
            await until(lambda n=n: len(delays) > n)
            clock.advance(delays[-1])
    finally:
        await stop(task)
    return delays
