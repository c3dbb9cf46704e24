"""The edge: a process's clients, served from local replicas of the cluster's groups.

:class:`ClusterHub` is the :class:`~backend.hub.base.GroupHub` a cluster process serves a service's
streams with (the registry, grace period, channels, heartbeats and dead-client rules are the same
as in one process). What it adds:

* **admission across the cluster**: a client counts against the cluster's client limit (the other
  processes' counts, as they last reported them); a new group is admitted by the store under the
  cluster's per-kind limits and subscription budget, and gets the incarnation's epoch -- the prefix
  of its SSE ids on every process;
* **interest**: the store learns which groups this process serves (renewed every second, expiring
  with the process), which is what the leader runs upstream;
* **replicas** instead of real groups (:class:`ReplicaGroup`): a local channel whose frames come
  from the store, in sequence; a late joiner gets the group's snapshot and the frames after it, and
  a ``Last-Event-ID`` from any process resumes exactly, as far as the stream is kept.

If the store is away, connected clients keep their streams (they get nothing new until it returns;
then the gap is filled from the stream, or the leader resends the whole state), new groups are
refused with 503, and health says so.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Hashable
from typing import Any

import msgspec

from backend.clock import Clock, within
from backend.hub.base import BaseGroup, GroupHub, Spec, Unavailable, base36
from backend.hub.fanout import Channel, encode_json, sse_event
from backend.hub.registry import LimitExceeded

from .leader import METRICS_TTL, SNAPSHOT_CALL
from .relay import FRESH_FRAMES
from .specs import SpecCodec, key_text
from .store import Message, Store, StoreError

log = logging.getLogger(__name__)

INTEREST_TTL = 5.0  # seconds a process's interest outlives its last renewal
REFRESH_EVERY = 1.0
LOAD_TIMEOUT = 5.0
FIGURES_TTL = METRICS_TTL  # seconds the leader's figures are kept in the store, and trusted here
SNAPSHOT_WAIT = 2.0  # seconds a late joiner may wait for a fresh snapshot before it gets what there is
ERROR_PREFIX = b"event: error\n"


def process_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class ProcessInfo(msgspec.Struct, kw_only=True):
    """What a process tells the cluster about itself (every second, expiring with it)."""

    process: str
    clients: dict[str, int]  # per service
    groups: dict[str, int]
    leader: list[str]  # the services whose lease it holds
    rss_bytes: int = 0
    store_ok: bool = True


class ClusterHub(GroupHub):
    figures_type: type[msgspec.Struct] | None = None  # what the service's leader publishes for health

    def __init__(self, *, service: str, store: Store, process: str, codec: SpecCodec, clock: Clock,
                 max_clients: int, max_groups: dict[str, int], subscription_budget: int | None,
                 cluster_max_clients: int | None = None, preamble: bytes = b"", **options: Any) -> None:
        super().__init__(name=f"{service}-edge", clock=clock, rng=None, max_clients=max_clients,
                         max_groups=dict(max_groups), subscription_budget=subscription_budget, **options)
        self.service = service
        self.store = store
        self.process = process
        self.codec = codec
        # max_clients is this process's (its open-file limit may have lowered it); the cluster's is
        # the configured one, counted over every process
        self.cluster_max_clients = max_clients if cluster_max_clients is None else cluster_max_clients
        self.cluster_max_groups = dict(max_groups)
        self.cluster_budget = subscription_budget
        self._preamble = preamble
        self._epochs: dict[Hashable, str] = {}
        self._by_channel: dict[str, ReplicaGroup] = {}
        self.subscriber = store.subscriber(self._on_message)
        self.subscriber.on_reconnect = self._on_reconnect
        self.other_clients = 0  # the rest of the cluster's clients, as last reported
        self.leader_figures: Any = None  # what the leader last published of its upstream (figures_type)
        self._figures_at = -1e9
        self.store_ok = True
        self._refreshed_at = -1e9
        self._tasks: set[asyncio.Task[Any]] = set()
        # the registry's own limits count this process only; the cluster's are checked in admit()
        self.registry.max_groups = {}
        self.registry.subscription_budget = None

    def preamble(self) -> bytes:
        return self._preamble + self.retry_frame if self._preamble else self.retry_frame

    async def __aenter__(self) -> ClusterHub:
        self.start_reaper()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.shutdown_groups()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.subscriber.close()

    def spawn(self, coro: Any, name: str) -> None:
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def memory_figures(self) -> Any:
        """As a single process's, with the replicas' snapshots counted as cached payloads."""
        figures = super().memory_figures()
        snapshots = sum(len(g.snapshot) for g in self.groups.values()
                        if isinstance(g, ReplicaGroup) and g.snapshot is not None)
        return msgspec.structs.replace(figures, cache_bytes=figures.cache_bytes + snapshots)

    # -- admission ----------------------------------------------------------------------------------
    def check_client_limit(self) -> None:
        self.registry.check_client_limit()
        if self.registry.total_clients + self.other_clients >= self.cluster_max_clients:
            self.registry.rejected_total += 1
            raise LimitExceeded("Too many concurrent clients", retry_after=5)

    async def admit(self, spec: Spec) -> None:
        self.check_client_limit()
        if spec.key in self.groups:
            return
        self._epochs[spec.key] = await self._admission(spec, dry_run=False)

    async def check_admission(self, spec: Spec) -> None:
        """What :meth:`admit` would raise for ``spec`` (a ``HEAD``), the cluster's limits included,
        changing nothing."""
        self.check_client_limit()
        if spec.key not in self.groups:
            await self._admission(spec, dry_run=True)

    async def _admission(self, spec: Spec, dry_run: bool) -> str:
        key = key_text(spec.key)
        kind = type(spec).kind  # type: ignore[attr-defined]
        try:
            admission = await within(self.clock, 2.0, self.store.admit(
                self.service, key, self.codec.encode(spec), kind, spec.subscriptions,
                self.cluster_max_groups.get(kind), self.cluster_budget, self.process, INTEREST_TTL,
                base36(int(self.clock.time() * 1000)) + "." + uuid.uuid4().hex[:6], dry_run=dry_run))
        except (StoreError, TimeoutError) as exc:
            self.store_ok = False
            raise Unavailable(f"the cluster's store is unavailable ({exc or type(exc).__name__})") from None
        self.store_ok = True
        if not admission.ok:
            self.registry.rejected_total += 1
            what = f"{kind} groups" if admission.reason == "kind" else "upstream subscriptions"
            raise LimitExceeded(f"Too many concurrent {what}", retry_after=int(self.registry.grace) + 1)
        return admission.epoch

    def build_group(self, spec: Spec) -> BaseGroup:
        epoch = self._epochs.get(spec.key)
        if epoch is None:  # acquire() without admit(): only internal callers, never a client
            raise Unavailable("not admitted by the cluster")
        return ReplicaGroup(self, spec.key, key_text(spec.key), epoch)

    def new_channel(self, key: Hashable) -> Channel:
        return Channel(repr(key), self._epochs[key], clock=self.clock, stats=self.fanout_stats,
                       budget=self.budget, **self._channel_options)

    # -- following the store -------------------------------------------------------------------------
    def follow(self, group: ReplicaGroup) -> str:
        channel = self.store.channel(self.service, group.key_text, group.epoch)
        self._by_channel[channel] = group
        return channel

    def unfollow(self, group: ReplicaGroup) -> None:
        channel = self.store.channel(self.service, group.key_text, group.epoch)
        if self._by_channel.get(channel) is group:
            del self._by_channel[channel]
            self.spawn(self._quietly(self.subscriber.unsubscribe(channel)), "cluster-unsubscribe")
        if self._epochs.get(group.key) == group.epoch and self.groups.get(group.key) in (None, group):
            del self._epochs[group.key]

    def _on_message(self, channel: str, message: Message) -> None:
        group = self._by_channel.get(channel)
        if group is not None:
            group.receive(message)

    def _on_reconnect(self) -> None:
        for group in list(self._by_channel.values()):
            group.resync()

    async def _quietly(self, coro: Any) -> None:
        try:
            await coro
        except StoreError as exc:
            log.debug("cluster %s: %s", self.service, exc)

    def leave_later(self, group: ReplicaGroup) -> None:
        self.spawn(self._quietly(self.store.leave(self.service, group.key_text, self.process)), "cluster-leave")

    # -- periodic work ---------------------------------------------------------------------------------
    def on_tick(self) -> None:
        now = self.clock.monotonic()
        if now - self._refreshed_at < REFRESH_EVERY:
            return
        self._refreshed_at = now
        self.spawn(self._refresh(), "cluster-refresh")

    async def _refresh(self) -> None:
        replicas = {g.key_text: g for g in self.groups.values() if isinstance(g, ReplicaGroup) and g.failed is None}
        try:
            lost = await self.store.refresh(self.service, [(k, g.epoch) for k, g in replicas.items()], self.process,
                                            INTEREST_TTL)
            for key in lost:
                group = replicas[key]
                if self.groups.get(group.key) is group:
                    group.incarnation_lost("the cluster no longer has it")
            if self.figures_type is not None:
                data = await self.store.get(f"{self.service}:leader")
                self.leader_figures = msgspec.json.decode(data, type=self.figures_type) if data else None
                self._figures_at = self.clock.monotonic()
            self.store_ok = True
        except StoreError as exc:
            if self.store_ok:
                log.warning("cluster %s: the store is unreachable (%s); serving what we have", self.service, exc)
            self.store_ok = False
            if self.clock.monotonic() - self._figures_at > FIGURES_TTL:
                self.leader_figures = None  # as old as the leader's own copy in the store: unknown now


class ReplicaGroup(BaseGroup):
    """A group served here, its frames coming from the store (see the module docstring)."""

    kind = "replica"

    def __init__(self, ctx: ClusterHub, key: Hashable, key_text: str, epoch: str) -> None:
        super().__init__(ctx, key)
        self.ctx: ClusterHub = ctx
        self.key_text = key_text
        self.epoch = epoch
        self.snapshot: bytes | None = None
        self.snapshot_seq = 0
        self._loaded = asyncio.Event()
        self._pending: list[Message] = []
        self._repairing = False
        self._fetching: asyncio.Future[None] | None = None
        self.gaps_filled = 0
        self.resets = 0
        self.snapshots_fetched = 0

    @property
    def service(self) -> str:
        return self.ctx.service

    def start(self) -> None:
        self.spawn(self._load(initial=True), "replica-load")

    async def ready(self) -> None:
        """Before a client is served: the replica is loaded, and its snapshot recent enough that a late
        joiner gets at most about ``FRESH_FRAMES`` frames after it (else a fresh one is fetched)."""
        if not self._loaded.is_set():
            try:
                await within(self.ctx.clock, LOAD_TIMEOUT, self._loaded.wait())
            except TimeoutError:
                log.warning("replica %s: not loaded after %gs; serving what there is", self.key_text, LOAD_TIMEOUT)
                return
        if self._snapshot_stale():
            if self._fetching is None or self._fetching.done():
                self._fetching = asyncio.ensure_future(self._fetch_snapshot())
            await asyncio.shield(self._fetching)

    def _snapshot_stale(self) -> bool:
        ring = self.channel.ring
        if self.snapshot is None:
            return ring.seq > FRESH_FRAMES or not ring.covers(0)  # else the whole history is short enough
        return not ring.covers(self.snapshot_seq) or ring.seq - self.snapshot_seq > FRESH_FRAMES

    async def _fetch_snapshot(self) -> None:
        """Ask the leader for a fresh snapshot, read it, and wait until the frames it includes are here."""
        ctx, clock = self.ctx, self.ctx.clock
        request = SNAPSHOT_CALL + f"{self.key_text} {self.epoch}".encode()
        try:
            await within(clock, SNAPSHOT_WAIT, ctx.store.call(self.service, request, SNAPSHOT_WAIT))
            meta = await within(clock, SNAPSHOT_WAIT, ctx.store.meta(self.service, self.key_text, self.epoch))
        except (StoreError, TimeoutError) as exc:
            log.info("replica %s: no fresh snapshot (%s); serving what there is", self.key_text, exc)
            return
        self.snapshots_fetched += 1
        if meta.snapshot is not None and meta.snapshot_seq >= self.snapshot_seq:
            self.snapshot, self.snapshot_seq = meta.snapshot, meta.snapshot_seq
        waited = 0.0
        while self.channel.ring.seq < self.snapshot_seq and waited < SNAPSHOT_WAIT and not self.closed:
            await clock.sleep(0.005)  # the frames it includes are on their way by pub/sub
            waited += 0.005

    async def _load(self, initial: bool) -> None:
        """Subscribe, then read the incarnation's kept frames and snapshot; later messages queue
        meanwhile. While the store is away it tries again (the clients keep what they have)."""
        store = self.ctx.store
        if initial:
            await self.ctx.subscriber.subscribe(self.ctx.follow(self))
        delay = 0.25
        while True:
            try:
                meta = await store.meta(self.service, self.key_text, self.epoch)
                frames = await store.frames(self.service, self.key_text, self.epoch, meta.first - 1)
                break
            except StoreError as exc:
                if self.closed:
                    return
                log.debug("replica %s: cannot load (%s); again in %gs", self.key_text, exc, delay)
                await self.ctx.clock.sleep(delay)
                delay = min(2.0, delay * 2)
        if self.closed:
            return
        ring = self.channel.ring
        if not initial and meta.seq < ring.seq:  # the store knows less than we served: it lost the stream
            self._repairing = False
            self.incarnation_lost("the store's stream went back")
            return
        if initial or not frames or frames[0][0] > ring.seq + 1:
            if not initial:
                self.resets += 1  # what we had is not continued by what is kept: start over there
            ring.reset(frames[0][0] - 1 if frames else meta.seq)
        for seq, body in frames:
            if seq == ring.seq + 1:
                self._append(body)
        if meta.snapshot is not None and meta.snapshot_seq >= self.snapshot_seq:
            self.snapshot, self.snapshot_seq = meta.snapshot, meta.snapshot_seq
        pending, self._pending = self._pending, []
        self._repairing = False
        self._loaded.set()
        for message in pending:
            self.receive(message)

    def receive(self, message: Message) -> None:
        if self.closed:
            return
        if not self._loaded.is_set() or self._repairing:
            self._pending.append(message)
            return
        ring = self.channel.ring
        if message.seq <= ring.seq:
            return  # already have it
        if message.seq != ring.seq + 1:
            self._pending.append(message)
            self._repair()
            return
        self._append(message.data)

    def incarnation_lost(self, why: str) -> None:
        """The store has forgotten this incarnation (every process's interest expired while it was
        away, or it restarted empty): nothing will ever continue these ids. End the streams -- each
        browser reconnects with its Last-Event-ID, gets a new incarnation's snapshot and goes on --
        and let the key be admitted afresh."""
        if self.closed:
            return
        log.info("replica %s: the incarnation %s is lost (%s); its %d clients reconnect", self.key_text, self.epoch,
                 why, len(self.channel.clients))
        self.resets += 1
        self.failed = "incarnation lost"
        self.channel.close_all("incarnation lost")
        self.ctx.retire(self)

    def _append(self, body: bytes) -> None:
        self.channel.publish_body(body)
        if body.startswith(ERROR_PREFIX):
            self._fail_from_upstream(body)

    def _fail_from_upstream(self, body: bytes) -> None:
        """The leader's group failed: its error is on its way to every client; end the streams here."""
        try:
            message = msgspec.json.decode(body.split(b"data: ", 1)[1].strip()).get("error", "failed")
        except (msgspec.DecodeError, IndexError, AttributeError):
            message = "failed"
        self.failed = str(message)
        self.channel.close_all("group failed")
        self.ctx.leave_later(self)
        self.ctx.retire(self)

    def _repair(self) -> None:
        if self._repairing:
            return
        self._repairing = True
        self.gaps_filled += 1
        self.spawn(self._load(initial=False), "replica-repair")

    def resync(self) -> None:
        """After a lost subscription: fill whatever was missed."""
        if self._loaded.is_set() and not self.closed:
            self._repair()

    def late_joiner_frames(self) -> list[bytes]:
        frames = super().late_joiner_frames()
        if frames:
            return frames
        ring = self.channel.ring
        if self.snapshot is not None and self.snapshot_seq <= ring.seq:
            after = ring.after(self.snapshot_seq)
            if after is None:  # (only when no fresh snapshot could be had: the state is that old)
                log.info("replica %s: serving a snapshot %d frames old", self.key_text, ring.seq - self.snapshot_seq)
            return [self.snapshot, after] if after else [self.snapshot]
        if ring.covers(0):
            return [ring.after(0) or b""]  # no snapshot yet: the whole history is here
        return [self.snapshot] if self.snapshot is not None else []

    def release_upstream(self) -> None:
        self.ctx.unfollow(self)

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            if self.failed is None:
                self.ctx.leave_later(self)


__all__ = ["ClusterHub", "ProcessInfo", "ReplicaGroup", "encode_json", "process_id", "sse_event"]
