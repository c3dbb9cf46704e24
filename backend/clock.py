"""Time as a parameter (ARCHITECTURE principle 2).

Logic never reads the wall clock itself: adapters hold a :class:`Clock` and pass ``now`` values into
the sans-I/O cores. Two readings exist because they answer different questions:

* ``monotonic()`` -- seconds on a clock that never jumps; use it for timeouts, grace periods, leases
  and backoff.
* ``time()`` -- Unix epoch seconds; use it only where the protocol carries wall time (``start_ts``,
  ``@now`` filters, ``: ready <epoch-ms>`` comments, ISO timestamps in payloads).

:class:`FakeClock` advances only when told to, so tests drive every timer without sleeping.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time as _time
from collections.abc import Awaitable
from typing import Protocol, TypeVar

T = TypeVar("T")


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def time(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock. The only place in the backend that reads the system time."""

    def monotonic(self) -> float:
        return _time.monotonic()

    def time(self) -> float:
        return _time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class FakeClock:
    """A clock that moves only through :meth:`advance`.

    ``sleep()`` parks the caller until enough fake time has passed, so async adapters can be tested
    with virtual time too. ``time()`` is ``epoch + monotonic()``.
    """

    def __init__(self, start: float = 1000.0, epoch: float = 1_767_700_000.0) -> None:
        self._now = start
        self._epoch = epoch - start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def monotonic(self) -> float:
        return self._now

    def time(self) -> float:
        return self._epoch + self._now

    async def sleep(self, seconds: float) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + max(0.0, seconds), next(self._seq), fut))
        await fut

    def advance(self, seconds: float) -> None:
        """Move time forward and wake every sleeper whose deadline has passed."""
        if seconds < 0:
            raise ValueError("time only moves forward")
        self._now += seconds
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, fut = heapq.heappop(self._sleepers)
            if not fut.done():
                fut.set_result(None)


SYSTEM_CLOCK = SystemClock()


async def within(clock: Clock, seconds: float, awaitable: Awaitable[T]) -> T:
    """Await ``awaitable`` for at most ``seconds`` of ``clock`` time; raise TimeoutError after.

    Unlike ``asyncio.timeout`` this follows the injected clock, so a FakeClock drives it in tests.
    The awaitable is cancelled (and awaited) on timeout and when the caller is cancelled.
    """
    work = asyncio.ensure_future(awaitable)
    timer = asyncio.ensure_future(clock.sleep(seconds))
    try:
        await asyncio.wait({work, timer}, return_when=asyncio.FIRST_COMPLETED)
        if work.done():
            return work.result()
        raise TimeoutError
    finally:
        for task in (work, timer):
            if not task.done():
                task.cancel()
                try:
                    await task
                except BaseException:
                    pass
