"""Time as a parameter (docs/design.md principle 2).

Logic never reads the wall clock itself: adapters hold a :class:`Clock` and pass ``now`` values into
the sans-I/O cores. Two readings exist because they answer different questions:

* ``monotonic()`` -- seconds on a clock that never jumps; use it for timeouts, grace periods, leases
  and backoff.
* ``time()`` -- Unix epoch seconds; use it only where the protocol carries wall time (``start_ts``,
  ``@now`` filters, ``: ready <epoch-ms>`` comments, ISO timestamps in payloads).

Every wait goes through the clock too: ``sleep()``, ``call_later()`` and :func:`within` (a timeout on
an awaitable). :class:`FakeClock` advances only when told to, so tests drive every timer, grace
period and backoff without waiting in real time.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import time as _time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Protocol, TypeVar

T = TypeVar("T")


class Timer(Protocol):
    """What ``call_later`` returns: cancel it to stop the callback (idempotent)."""

    def cancel(self) -> None: ...


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def time(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...

    def call_later(self, seconds: float, callback: Callable[[], object]) -> Timer: ...


class SystemClock:
    """The real clock. The only place in the backend that reads the system time."""

    def monotonic(self) -> float:
        return _time.monotonic()

    def time(self) -> float:
        return _time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    def call_later(self, seconds: float, callback: Callable[[], object]) -> Timer:
        return asyncio.get_running_loop().call_later(max(0.0, seconds), callback)


class _FakeTimer:
    __slots__ = ("callback", "cancelled")

    def __init__(self, callback: Callable[[], object]) -> None:
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeClock:
    """A clock that moves only through :meth:`advance`.

    ``sleep()`` parks the caller and ``call_later()`` keeps the callback until enough fake time has
    passed. ``time()`` is ``epoch + monotonic()``. ``slept`` records every sleep asked for, in order,
    so a test can check a backoff schedule without waiting for it.
    """

    def __init__(self, start: float = 1000.0, epoch: float = 1_767_700_000.0) -> None:
        self._now = start
        self._epoch = epoch - start
        self._due: list[tuple[float, int, asyncio.Future[None] | _FakeTimer]] = []
        self._seq = itertools.count()
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self._now

    def time(self) -> float:
        return self._epoch + self._now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._due, (self._now + max(0.0, seconds), next(self._seq), fut))
        await fut

    def call_later(self, seconds: float, callback: Callable[[], object]) -> Timer:
        timer = _FakeTimer(callback)
        heapq.heappush(self._due, (self._now + max(0.0, seconds), next(self._seq), timer))
        return timer

    def next_deadline(self) -> float | None:
        """When the earliest pending sleep or timer is due (None if nothing waits)."""
        while self._due and _done(self._due[0][2]):
            heapq.heappop(self._due)
        return self._due[0][0] if self._due else None

    def advance(self, seconds: float) -> None:
        """Move time forward; wake every sleeper and run every timer whose deadline has passed."""
        if seconds < 0:
            raise ValueError("time only moves forward")
        self._now += seconds
        while self._due and self._due[0][0] <= self._now:
            _, _, item = heapq.heappop(self._due)
            if isinstance(item, _FakeTimer):
                if not item.cancelled:
                    item.cancelled = True
                    item.callback()
            elif not item.done():
                item.set_result(None)

    def advance_to_next(self) -> bool:
        """Jump to the earliest deadline and fire it; False if nothing was waiting."""
        deadline = self.next_deadline()
        if deadline is None:
            return False
        self.advance(max(0.0, deadline - self._now))
        return True

    async def run_until(self, predicate: Callable[[], object], *, limit: float = 3600.0,
                        step: float | None = None) -> None:
        """Let the loop run and move fake time on until ``predicate()`` holds.

        Each round yields to the event loop (real I/O may complete), then, if the predicate is still
        false, advances to the next deadline (or by ``step`` when given). Raises TimeoutError after
        ``limit`` seconds of fake time, or when nothing is left to wait for.
        """
        end = self._now + limit
        idle_rounds = 0
        while True:
            for _ in range(5):
                await asyncio.sleep(0)
            if predicate():
                return
            if self._now >= end:
                raise TimeoutError(f"condition not met within {limit} s of fake time")
            if step is not None:
                self.advance(step)
                continue
            if self.advance_to_next():
                idle_rounds = 0
                continue
            idle_rounds += 1  # nothing on the clock: real I/O may still be on its way
            if idle_rounds > 200:
                raise TimeoutError("nothing left to wait for and the condition is still false")
            await asyncio.sleep(0.005)


def _done(item: asyncio.Future[None] | _FakeTimer) -> bool:
    return item.cancelled if isinstance(item, _FakeTimer) else item.done()


SYSTEM_CLOCK = SystemClock()


async def within(clock: Clock, seconds: float, awaitable: Awaitable[T]) -> T:
    """Await ``awaitable`` for at most ``seconds`` of ``clock`` time; raise TimeoutError after.

    Unlike ``asyncio.timeout`` this follows the injected clock, so a FakeClock drives it in tests.
    The awaitable is cancelled (and awaited) on timeout and when the caller is cancelled. A cancel
    of the caller that lands while the awaitable is still winding down is the caller's: it is
    raised, never swallowed with the awaitable's own CancelledError.
    """
    work = asyncio.ensure_future(awaitable)
    timer = asyncio.ensure_future(clock.sleep(seconds))
    try:
        await asyncio.wait({work, timer}, return_when=asyncio.FIRST_COMPLETED)
        if work.done():
            return work.result()
        raise TimeoutError
    finally:
        pending = {task for task in (work, timer) if not task.done()}
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)  # raises only if the caller itself is cancelled meanwhile
        for task in (work, timer):
            if task.done() and not task.cancelled():
                task.exception()  # seen: a failure nobody waits for any more is not "never retrieved"


def iso_utc(epoch: float) -> str:
    """``new Date(epoch * 1000).toISOString()``: UTC, millisecond precision, ``Z`` suffix."""
    ms = math.floor(epoch * 1000)
    seconds, millis = divmod(ms, 1000)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{millis:03d}Z"
