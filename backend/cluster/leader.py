"""The leader: the one process running a service's upstream for the whole cluster.

Every process runs a :class:`Leadership` per service. It waits for the service's lease
(:class:`~.lease.LeaseKeeper`); while it holds it, it

* makes the service's groups publish through relays (:class:`~.relay.RelayChannel`, one ordered
  :class:`~.relay.Publisher`, every write fenced by the lease token);
* **reconciles** every half second: each group some process wants (and that has not failed in this
  incarnation) is held with an internal lease -- so the service builds it, subscribes upstream and
  keeps it -- and its relay writes to the wanted incarnation; a group nobody wants any more is let go
  (the service closes it after its grace period) and its stream is dropped;
* starts the service's upstream (the Swarm connection; tracker sockets belong to their groups);
* answers the edges' **calls**: a fresh snapshot of a group for a late joiner (any service), and
  the service's own (``handle_call``: the hub's hierarchy and results); publishes its **metrics**.

When the lease is lost -- or a write is fenced, which means another process holds it -- it stops at
once: no more writes, every group closed, the upstream stopped. The next holder resubscribes and
its first snapshot of each group reaches every client.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

from backend.clock import Clock
from backend.hub.base import GroupHub
from backend.hub.registry import Lease

from .lease import LeaseKeeper
from .relay import Publisher, RelayChannel
from .specs import SpecCodec, key_text
from .store import Store, StoreError

log = logging.getLogger(__name__)

RECONCILE_EVERY = 0.5
METRICS_EVERY = 1.0
METRICS_TTL = 5.0  # a dead leader's figures vanish with it
SNAPSHOT_CALL = b"snapshot "  # an edge's call for a fresh snapshot: b"snapshot <key text> <epoch>"


class Leadership:
    def __init__(self, store: Store, service_name: str, service: GroupHub, codec: SpecCodec, clock: Clock,
                 process: str, *, lease_ttl: float = 5.0, maxlen: int = 2048,
                 start_upstream: Callable[[], None] | None = None,
                 stop_upstream: Callable[[], Awaitable[None]] | None = None,
                 handle_call: Callable[[bytes], Awaitable[bytes]] | None = None,
                 metrics: Callable[[], bytes] | None = None) -> None:
        self.store = store
        self.name = service_name
        self.service = service
        self.codec = codec
        self.clock = clock
        self.process = process
        self.keeper = LeaseKeeper(store, service_name, process, clock, ttl=lease_ttl,
                                  on_acquired=self._acquired, on_lost=self._lost)
        self.publisher = Publisher(store, service_name, service_name, self._token, maxlen=maxlen,
                                   on_fenced=self._fenced, clock=clock)
        self._start_upstream = start_upstream
        self._stop_upstream = stop_upstream
        self._handle_call = handle_call
        self._metrics = metrics
        self.held: dict[Hashable, tuple[Lease, str]] = {}  # key -> (internal lease, epoch)
        self._failed: set[tuple[Hashable, str]] = set()
        self._wanted_keys: set[str] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.leading = False
        self.takeovers = 0
        self._stepping_down: asyncio.Task[Any] | None = None

    # -- lifecycle ------------------------------------------------------------------------------------
    async def run(self) -> None:
        keeper = asyncio.create_task(self.keeper.run(), name=f"lease-{self.name}")
        try:
            while True:
                await self.clock.sleep(RECONCILE_EVERY)
                if self.leading:
                    try:
                        await self.reconcile()
                    except Exception:
                        log.exception("cluster %s: reconcile failed", self.name)
        finally:
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)
            await self._step_down()

    def _token(self) -> int | None:
        return self.keeper.token if self.keeper.holding else None

    def _acquired(self, token: int) -> None:
        stepping_down = self._stepping_down
        if stepping_down is not None and not stepping_down.done():
            # lost and taken again at once (e.g. Redis restarted empty): lead only once the step-down
            # is over, or it would stop what this start begins
            self._spawn(self._start_after(stepping_down), "cluster-start")
            return
        self._start()

    async def _start_after(self, stepping_down: asyncio.Future[Any]) -> None:
        await asyncio.gather(stepping_down, return_exceptions=True)
        if self.keeper.holding:
            self._start()

    def _start(self) -> None:
        self.leading = True
        self.takeovers += 1
        self.service.channel_factory = lambda key: RelayChannel(key_text(key), self.publisher, self.clock)
        self.publisher.start()
        if self._start_upstream is not None:
            self._start_upstream()
        self._spawn(self._serve_calls(), "cluster-calls")
        self._spawn(self._publish_metrics(), "cluster-metrics")
        self._spawn(self.reconcile(), "cluster-reconcile")

    def _lost(self) -> None:
        self.leading = False
        self._stepping_down = self._spawn(self._step_down(), "cluster-step-down")

    def _fenced(self) -> None:
        log.warning("cluster %s: a write was fenced: another process holds the lease", self.name)
        self.keeper._lose("fenced")

    async def _step_down(self) -> None:
        self.leading = False
        for task in list(self._tasks):
            if task is not asyncio.current_task():
                task.cancel()
        self.held.clear()
        self._failed.clear()
        self.service.drop_all_groups()
        self.service.channel_factory = None
        await self.publisher.stop()
        if self._stop_upstream is not None:
            try:
                await self._stop_upstream()
            except Exception:
                log.exception("cluster %s: stopping the upstream failed", self.name)
        await self.service.idle()

    def _spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- reconciling --------------------------------------------------------------------------------
    async def reconcile(self) -> None:
        """Hold exactly the groups the cluster wants (see the module docstring)."""
        try:
            wanted = await self.store.wanted(self.name)
        except StoreError as exc:
            log.debug("cluster %s: cannot read the wanted groups: %s", self.name, exc)
            return
        if not self.leading:
            return
        self._wanted_keys = set(wanted)
        desired: dict[Hashable, tuple[Any, str]] = {}
        for text, entry in wanted.items():
            try:
                spec = self.codec.decode(entry.spec)
            except (KeyError, TypeError, ValueError):
                log.warning("cluster %s: cannot read the spec of %s", self.name, text)
                continue
            desired[spec.key] = (spec, entry.epoch)
        service = self.service
        for key, (lease, epoch) in list(self.held.items()):
            group = service.groups.get(key)
            if group is None or group.failed is not None:  # it failed (its clients were told): not again
                self._failed.add((key, epoch))
            if key not in desired or desired[key][1] != epoch or (key, epoch) in self._failed:
                del self.held[key]
                service.release(lease)
                if group is not None and key not in desired:
                    channel = group.channel
                    if isinstance(channel, RelayChannel):
                        channel.target(None)
                if key not in desired or desired[key][1] != epoch:
                    self._spawn(self._drop(key, epoch), "cluster-drop")
        for key, (spec, epoch) in desired.items():
            if key in self.held or (key, epoch) in self._failed:
                continue
            try:
                lease, group = service.ensure(spec, internal=True)
            except Exception as exc:  # e.g. a limit of the service itself: the edges' clients time out
                log.warning("cluster %s: cannot run %s: %s", self.name, key_text(key), exc)
                self._failed.add((key, epoch))
                continue
            self.held[key] = (lease, epoch)
            channel = group.channel
            if isinstance(channel, RelayChannel):
                channel.target(epoch)

    async def _drop(self, key: Hashable, epoch: str) -> None:
        try:
            await self.store.drop(self.name, key_text(key), epoch)
        except StoreError:
            pass  # it ages out with nobody reading it

    # -- calls and metrics --------------------------------------------------------------------------
    async def _serve_calls(self) -> None:
        while self.leading:
            try:
                item = await self.store.next_call(self.name, 1.0)
            except StoreError:
                await self.clock.sleep(0.5)
                continue
            if item is not None:
                self._spawn(self._answer(*item), "cluster-call")

    async def _answer(self, reply_to: str, request: bytes) -> None:
        try:
            if request.startswith(SNAPSHOT_CALL):
                response = await self._fresh_snapshot(request[len(SNAPSHOT_CALL):])
            elif self._handle_call is not None:
                response = await self._handle_call(request)
            else:
                response = b'{"ok":false,"error":"no such call"}'
        except Exception:
            log.exception("cluster %s: a call failed", self.name)
            response = b'{"ok":false,"error":"internal error"}'
        try:
            await self.store.reply(reply_to, response)
        except StoreError:
            pass  # the caller times out

    async def _fresh_snapshot(self, request: bytes) -> bytes:
        """``<key text> <epoch>``: store a recent snapshot of that incarnation, answer once written."""
        text, _, epoch = request.decode().rpartition(" ")
        for key, (_lease, held_epoch) in self.held.items():
            if held_epoch == epoch and key_text(key) == text:
                group = self.service.groups.get(key)
                channel = group.channel if group is not None else None
                if isinstance(channel, RelayChannel) and await channel.fresh_snapshot(epoch):
                    return b'{"ok":true}'
                break
        return b'{"ok":false}'

    async def _publish_metrics(self) -> None:
        if self._metrics is None:
            return
        while self.leading:
            try:
                await self.store.put(f"{self.name}:leader", self._metrics(), METRICS_TTL)
            except StoreError:
                pass
            except Exception:
                log.exception("cluster %s: leader metrics failed", self.name)
            await self.clock.sleep(METRICS_EVERY)
