"""``within``: a timeout on the injected clock that never swallows its caller's cancellation."""

from __future__ import annotations

import asyncio

import pytest

from backend.clock import FakeClock, within


async def settle(rounds: int = 10) -> None:
    for _ in range(rounds):
        await asyncio.sleep(0)


async def test_a_cancel_that_lands_while_the_timed_out_work_winds_down_is_not_swallowed():
    clock = FakeClock()
    wound_down = asyncio.Event()

    async def slow_to_stop() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            await wound_down.wait()  # its cleanup takes a moment

    async def caller() -> str:
        try:
            await within(clock, 1.0, slow_to_stop())
        except TimeoutError:
            return "timed out"  # a loop around within() would go on for good (a group close would hang)
        return "done"

    task = asyncio.ensure_future(caller())
    await settle()
    clock.advance(1.0)  # the timeout: within() cancels the work and waits for it to end
    await settle()
    task.cancel()  # the caller is cancelled while that wait is on
    wound_down.set()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_the_result_or_the_timeout_as_before():
    clock = FakeClock()

    async def answer() -> int:
        await clock.sleep(0.5)
        return 42

    task = asyncio.ensure_future(within(clock, 1.0, answer()))
    await settle()
    clock.advance(0.5)
    assert await task == 42
    never = asyncio.ensure_future(within(clock, 1.0, asyncio.Event().wait()))
    await settle()
    clock.advance(1.0)
    with pytest.raises(TimeoutError):
        await never
