"""The leader's side of fan-out: a group's frames go to the cluster once, through the store.

On the leader, a group's ``channel`` is a :class:`RelayChannel` instead of a local
:class:`~backend.hub.fanout.Channel`: the group publishes exactly as in single-process mode, and the
relay hands each frame -- encoded once, for every process of the cluster -- to the
:class:`Publisher`, which writes it to the group incarnation's stream with the lease token (the
store rejects it if the token is stale) and notifies every subscriber. The relay attaches the
group's late-joiner snapshot to a frame at most every ``SNAPSHOT_EVERY`` seconds or
``SNAPSHOT_FRAMES`` frames, taken right after that frame, so a late joiner anywhere gets a snapshot
and exactly the frames after it.

Frames are written in order per group (one writer, pipelined batches). If the store is unreachable,
frames are lost for the cluster; when it answers again, every relay that lost some publishes its
whole current state again (as after an upstream reconnect), so clients everywhere converge. A relay
with no incarnation to write to (no process wants the group) publishes nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from backend.clock import Clock

from .store import Fenced, Store, StoreError

log = logging.getLogger(__name__)

SNAPSHOT_EVERY = 0.5  # seconds
SNAPSHOT_FRAMES = 256
BATCH = 200  # publishes per pipeline


@dataclass(slots=True)
class _Item:
    relay: RelayChannel
    epoch: str
    frame: bytes | None
    snapshot: bytes | None


class Publisher:
    """The leader's one ordered writer to the store, for every relay of a service."""

    def __init__(self, store: Store, service: str, lease: str, token: Callable[[], int | None], *, maxlen: int,
                 on_fenced: Callable[[], None]) -> None:
        self.store = store
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

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"cluster-publisher-{self.service}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self._queue.clear()

    def put(self, item: _Item) -> None:
        self._queue.append(item)
        self._wake.set()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                batch, self._queue = self._queue[:BATCH], self._queue[BATCH:]
                await self._write(batch)

    async def _write(self, batch: list[_Item]) -> None:
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
            return
        fenced = False
        for item, result in zip(batch, results):
            if isinstance(result, Fenced):
                fenced = True
            elif isinstance(result, Exception):
                self.failed_total += 1
                item.relay.lost_some = True
            else:
                self.published_total += 1
        if not self.store_ok:
            log.info("cluster %s: the store answers again; publishing every group's state", self.service)
            self.store_ok = True
        if fenced:
            self.on_fenced()
            return
        for item in batch:
            if item.relay.lost_some:
                item.relay.resync()


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
        self._snapshot_at = -1e9
        self._frames_since = 0
        self.seq = 0

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
            self._snapshot_at = -1e9
            self.publish_snapshot()

    def publish_raw(self, event: str | None, data: bytes) -> bytes:
        from backend.hub.fanout import sse_event

        frame = sse_event(event, data)  # the id is the cluster's, added by every reader
        if self.epoch is not None and not self.closed:
            self._frames_since += 1
            self.publisher.put(_Item(self, self.epoch, frame, self._due_snapshot()))
        return frame

    def _due_snapshot(self) -> bytes | None:
        now = self.clock.monotonic()
        if now - self._snapshot_at < SNAPSHOT_EVERY and self._frames_since < SNAPSHOT_FRAMES:
            return None
        self._snapshot_at = now
        self._frames_since = 0
        return b"".join(self._snapshot()) if self._snapshot is not None else b""

    def publish_snapshot(self) -> None:
        if self.epoch is not None and not self.closed and self._snapshot is not None:
            self._snapshot_at = self.clock.monotonic()
            self._frames_since = 0
            self.publisher.put(_Item(self, self.epoch, None, b"".join(self._snapshot())))

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
