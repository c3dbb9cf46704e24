"""The leader's side of fan-out: a group's frames go to the cluster once, through the store.

On the leader, a group's ``channel`` is a :class:`RelayChannel` instead of a local
:class:`~backend.hub.fanout.Channel`: the group publishes exactly as in single-process mode, and the
relay hands each frame -- encoded once, for every process of the cluster -- to the
:class:`Publisher`, which writes it to the group incarnation's stream with the lease token (the
store rejects it if the token is stale) and notifies every subscriber.

Snapshots (the group's late-joiner frames, its whole state: the big item) are stored, never
broadcast, and taken only when needed: when the relay starts writing to an incarnation, every
``SNAPSHOT_FRAMES`` frames (so the kept stream always reaches back to the stored snapshot), and when
an edge asks for a fresh one because a late joiner arrived and its own is more than
``FRESH_FRAMES`` frames old (:meth:`RelayChannel.fresh_snapshot`, answered once the snapshot is
written; requests while one is recent share it). A late joiner anywhere gets a snapshot and exactly
the frames after it.

Frames are written in order per group (one writer, pipelined batches). If the store is unreachable,
frames are lost for the cluster; the publisher tries again every ``RETRY_EVERY`` seconds, and once
the store answers, every relay that lost some publishes its whole current state again (as after an
upstream reconnect), so clients everywhere converge even if the group has nothing new to say. A
relay with no incarnation to write to (no process wants the group) publishes nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from backend.clock import Clock, within

from .store import Fenced, Store, StoreError

log = logging.getLogger(__name__)

SNAPSHOT_FRAMES = 512  # a stored snapshot at least this often (the stream keeps 2048 frames)
FRESH_FRAMES = 64  # a late joiner is given at most about this many frames after its snapshot
BATCH = 200  # publishes per pipeline
RETRY_EVERY = 1.0  # seconds between attempts to resend lost state while the store is away


@dataclass(slots=True)
class _Item:
    relay: RelayChannel
    epoch: str
    frame: bytes | None
    snapshot: bytes | None
    written: asyncio.Future[bool] | None = None  # set once the item is in the store (or is not)


class Publisher:
    """The leader's one ordered writer to the store, for every relay of a service."""

    def __init__(self, store: Store, service: str, lease: str, token: Callable[[], int | None], *, maxlen: int,
                 on_fenced: Callable[[], None], clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self.service = service
        self.lease = lease
        self.token = token
        self.maxlen = maxlen
        self.on_fenced = on_fenced
        self._queue: list[_Item] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.published_total = 0
        self.failed_total = 0
        self.store_ok = True
        self._lost: set[RelayChannel] = set()  # relays whose state must be sent again

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"cluster-publisher-{self.service}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        for item in self._queue:
            _settle(item, False)
        self._queue.clear()
        self._lost.clear()

    def put(self, item: _Item) -> None:
        self._queue.append(item)
        self._wake.set()

    async def _run(self) -> None:
        while True:
            if self._lost and not self._queue:  # the store was away: try again now and then
                try:
                    await within(self.clock, RETRY_EVERY, self._wake.wait())
                except TimeoutError:
                    self._resend_lost()
            else:
                await self._wake.wait()
            self._wake.clear()
            while self._queue:
                batch, self._queue = self._queue[:BATCH], self._queue[BATCH:]
                await self._write(batch)

    def _resend_lost(self) -> None:
        lost, self._lost = self._lost, set()
        for relay in lost:
            relay.resync()

    async def _write(self, batch: list[_Item]) -> None:
        try:
            await self._write_batch(batch)
        finally:
            for item in batch:
                _settle(item, False)  # (those written were settled True already)

    async def _write_batch(self, batch: list[_Item]) -> None:
        token = self.token()
        if token is None:
            return  # not the holder (any more): nothing goes out
        try:
            results = await self.store.publish_many(self.service, self.lease, token, self.maxlen, [
                (item.relay.key, item.epoch, item.frame, item.snapshot) for item in batch])
        except StoreError as exc:
            self.failed_total += len(batch)
            if self.store_ok:
                log.warning("cluster %s: the store is unreachable (%s); frames are lost until it returns",
                            self.service, exc)
            self.store_ok = False
            for item in batch:
                item.relay.lost_some = True
                self._lost.add(item.relay)
            return
        fenced = False
        for item, result in zip(batch, results):
            if isinstance(result, Fenced):
                fenced = True
            elif isinstance(result, Exception):
                self.failed_total += 1
                item.relay.lost_some = True
                self._lost.add(item.relay)
            else:
                self.published_total += 1
                _settle(item, True)
        if fenced:
            self.on_fenced()
            return
        if not self.store_ok:
            log.info("cluster %s: the store answers again; publishing every group's state", self.service)
            self.store_ok = True
        self._resend_lost()


def _settle(item: _Item, written: bool) -> None:
    if item.written is not None and not item.written.done():
        item.written.set_result(written)


class RelayChannel:
    """A leader group's channel: what it publishes goes to the cluster (see the module docstring)."""

    def __init__(self, key: str, publisher: Publisher, clock: Clock) -> None:
        self.key = key
        self.publisher = publisher
        self.clock = clock
        self.epoch: str | None = None
        self.closed = False
        self.lost_some = False
        self.clients: dict[object, None] = {}  # never any: clients are served by the edges
        self._snapshot: Callable[[], list[bytes]] | None = None
        self._frames_since = 0  # frames published since the last snapshot was queued
        self._last_snapshot: asyncio.Future[bool] | None = None
        self.snapshots_total = 0

    def bind(self, snapshot: Callable[[], list[bytes]]) -> None:
        """The group's late-joiner frames (called when a snapshot is due)."""
        self._snapshot = snapshot

    def target(self, epoch: str | None) -> None:
        """Write to this incarnation from now on (None: nobody wants the group, write nothing); a new
        one gets the group's current state at once."""
        if epoch == self.epoch:
            return
        self.epoch = epoch
        if epoch is not None:
            self.publish_snapshot()

    def publish_raw(self, event: str | None, data: bytes) -> bytes:
        from backend.hub.fanout import sse_event

        frame = sse_event(event, data)  # the id is the cluster's, added by every reader
        if self.epoch is not None and not self.closed:
            self._frames_since += 1
            due = self._frames_since >= SNAPSHOT_FRAMES
            self.publisher.put(_Item(self, self.epoch, frame, self._take_snapshot() if due else None))
        return frame

    def _take_snapshot(self) -> bytes:
        self._frames_since = 0
        self.snapshots_total += 1
        return b"".join(self._snapshot()) if self._snapshot is not None else b""

    def publish_snapshot(self) -> asyncio.Future[bool] | None:
        """Store the group's current state as the incarnation's snapshot (after every frame so far);
        the future says when it is written."""
        if self.epoch is None or self.closed or self._snapshot is None:
            return None
        written: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.publisher.put(_Item(self, self.epoch, None, self._take_snapshot(), written))
        self._last_snapshot = written
        return written

    async def fresh_snapshot(self, epoch: str) -> bool:
        """An edge's late joiner needs a recent snapshot of ``epoch``: make sure one is stored (at
        most ``FRESH_FRAMES / 2`` frames old), and return once it is. False if this relay does not
        write that incarnation (any more) or the store refused the write."""
        if epoch != self.epoch or self.closed:
            return False
        last = self._last_snapshot
        failed = last is not None and last.done() and (last.cancelled() or not last.result())
        if last is not None and not failed and self._frames_since <= FRESH_FRAMES // 2:
            return await asyncio.shield(last)
        written = self.publish_snapshot()
        return await written if written is not None else False

    def resync(self) -> None:
        """After lost frames: send the whole current state again, as frames, to every client."""
        self.lost_some = False
        if self.epoch is None or self.closed or self._snapshot is None:
            return
        for frame in self._snapshot():
            self.publisher.put(_Item(self, self.epoch, frame, None))
        self.publish_snapshot()

    # what the group machinery may call on a channel; a relay has no clients of its own
    def close_all(self, reason: str) -> None:
        self.closed = True

    def release(self) -> None:
        self.closed = True

    def heartbeat(self, frame: bytes) -> None:
        pass

    def check_stuck(self) -> int:
        return 0
