"""Encode once, bounded buffers, slow clients dropped and counted."""

from __future__ import annotations

import asyncio

from backend.hub.fanout import PADDING, Channel, SseClient, sse_comment, sse_event


def test_frames_are_exact_sse():
    assert sse_event("odds", b'{"a":1}') == b'event: odds\ndata: {"a":1}\n\n'
    assert sse_comment("ready 5") == b": ready 5\n\n"
    assert PADDING == b": " + b" " * 2048 + b"\n\n"


def test_every_client_gets_the_same_bytes_object():
    ch = Channel("x")
    clients = [SseClient(10_000) for _ in range(3)]
    ch.clients.update(clients)
    frame = ch.publish("odds", {"sportId": "1"})
    assert all(c.take() is frame for c in clients)


def test_pending_frames_coalesce_into_one_chunk():
    c = SseClient(10_000)
    c.push(b"a")
    c.push(b"b")
    assert c.pending == 2 and c.take() == b"ab" and c.pending == 0


def test_an_overflowing_client_is_dropped_and_counted_without_affecting_others():
    ch = Channel("x")
    slow, fast = SseClient(100), SseClient(10_000)
    ch.clients.update([slow, fast])
    for _ in range(10):
        ch.publish_raw("e", b"x" * 20)
        fast.take()
    assert slow.closed and slow.close_reason == "slow"
    assert slow not in ch.clients and fast in ch.clients
    assert ch.dropped_slow == 1
    assert slow.pending <= 100


async def test_wait_wakes_on_push_and_on_close():
    c = SseClient(100)
    waiter = asyncio.create_task(c.wait(10))
    await asyncio.sleep(0)
    c.push(b"x")
    await asyncio.wait_for(waiter, 1)
    c.take()
    waiter = asyncio.create_task(c.wait(10))
    await asyncio.sleep(0)
    c.close("left")
    await asyncio.wait_for(waiter, 1)
    assert c.closed
