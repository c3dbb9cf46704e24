"""The group machinery every streaming service shares: groups, the hub that holds them, serving a stream.

Both long-lived streaming services -- the odds hub (``service.py``) and the live tracker
(``backend/tracker/``) -- are a :class:`GroupHub` of :class:`BaseGroup` s: a group per stream key,
created by a typed spec when its first client arrives, kept while clients hold leases on it (the
sans-I/O :class:`~.registry.GroupRegistry`), torn down a grace period after the last one leaves,
and serving its clients through one :class:`~.fanout.Channel`. The hub's reaper task drops stuck
clients, sends heartbeats and closes expired groups; :func:`serve_stream` is the one code path from
an SSE request to a group's channel and back. What differs per service is only what its groups do
upstream.

Groups see their hub only as a :class:`GroupHost` (plus whatever narrower context the service adds).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, ClassVar, Protocol

from backend.clock import Clock, iso_utc, within
from backend.http import CORS_HEADERS_KEY, NO_STORE, RAW_SEND_KEY, json_response, query_params

from .fanout import Channel, FanoutStats, MemoryBudget, Receive, Retained, Send, encode_json, sse_comment, sse_event
from .registry import GroupRegistry, Lease, LimitExceeded

log = logging.getLogger(__name__)

CLOSE_TIMEOUT = 2.0  # seconds one group's close may take before it is abandoned

SSE_HEADERS = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache, no-transform"),
    (b"connection", b"keep-alive"),
    (b"x-accel-buffering", b"no"),
]


def base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


class Unavailable(Exception):
    """A service cannot take a new stream right now (e.g. the cluster's store is away): 503."""

    def __init__(self, message: str, retry_after: int = 2) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class GroupHost(Protocol):
    """What any group may ask of the service holding it."""

    clock: Clock

    def new_channel(self, key: Hashable) -> Channel: ...

    def retained(self) -> Retained: ...

    def group_failed(self, group: BaseGroup, message: str) -> None: ...


class BaseGroup:
    """One stream key's state: its channel, the tasks it owns, and how it ends.

    Subclasses do the upstream work in :meth:`run` (or :meth:`start`) and give it back in
    :meth:`release_upstream`. A task that raises one of :attr:`expected_errors` fails the group with
    that message; any other exception is logged and fails it as an internal error.
    """

    kind = "group"
    expected_errors: ClassVar[tuple[type[BaseException], ...]] = ()

    def __init__(self, ctx: GroupHost, key: Hashable) -> None:
        self.ctx = ctx
        self.key = key
        self.channel: Channel = ctx.new_channel(key)
        self.channel.bind(self.late_joiner_frames)  # a relay (cluster mode) snapshots through it
        self.retained = ctx.retained()  # the bytes of our cached payloads, against the service's budget
        self._tasks: set[asyncio.Task[Any]] = set()
        self.closed = False
        self.failed: str | None = None

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> None:
        self.spawn(self.run(), f"{self.kind}-run")

    async def run(self) -> None:
        """The group's upstream work; override."""

    def release_upstream(self) -> None:
        """Give back what the group holds upstream (subscriptions, connections); override."""

    async def ready(self) -> None:
        """Wait until the group can serve a client (a cluster replica loads its state first)."""

    def spawn(self, coro: Awaitable[Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled() or task.exception() is None:
            return
        exc = task.exception()
        if isinstance(exc, self.expected_errors):
            self.fail(str(exc))
        else:
            log.error("group %r task %s failed", self.key, task.get_name(), exc_info=exc)
            self.fail("internal error")

    async def close(self) -> None:
        """Release everything; every step runs even if an earlier one raised."""
        self.closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            try:
                await task
            except BaseException as exc:
                if not isinstance(exc, (asyncio.CancelledError, Exception)):
                    raise
        try:
            self.release_upstream()
        except Exception:
            log.exception("group %r: releasing upstream failed; continuing", self.key)
        try:
            self.channel.release()
        finally:
            self.retained.release()

    def fail(self, message: str) -> None:
        """The group cannot serve: send ``error``, end every client's stream, let the host free the key."""
        if self.closed or self.failed is not None:
            return
        self.failed = message
        log.warning("group %r failed: %s", self.key, message)
        self.emit_error(message)
        try:
            self.release_upstream()
        except Exception:
            log.exception("group %r: releasing upstream failed; continuing", self.key)
        self.channel.close_all("group failed")
        self.ctx.group_failed(self, message)

    # -- emission ---------------------------------------------------------------------------------
    def late_joiner_frames(self) -> list[bytes]:
        if self.failed is not None:
            return [sse_event("error", encode_json({"error": self.failed}))]
        return []

    def emit(self, event: str, payload: Any) -> bytes:
        """Publish ``payload`` as ``event``; returns its JSON bytes (to cache for late joiners)."""
        data = encode_json(payload)
        self.channel.publish_raw(event, data)
        return data

    def emit_error(self, message: str) -> None:
        self.emit("error", {"error": message})

    def now_iso(self) -> str:
        return iso_utc(self.ctx.clock.time())


class Spec(Protocol):
    """A typed stream request: its group key, the upstream subscriptions a new group of it costs,
    and how to build that group. A spec whose new group holds other groups as it starts (a live
    sport group holds the counts group) names their specs in a ``holds`` attribute, so that
    :meth:`GroupHub.check_admission` can tell what building it would meet."""

    @property
    def key(self) -> Hashable: ...

    @property
    def subscriptions(self) -> int: ...

    def build(self, ctx: Any) -> BaseGroup: ...


class GroupHub:
    """A streaming service's groups: the registry, the reaper, channels, the memory budget.

    ``acquire(spec)`` / ``release(lease)`` are what routes use. Subclasses build their groups with
    ``spec.build(self)``, so the subclass itself is the groups' context.
    """

    def __init__(self, *, name: str, clock: Clock, rng: random.Random | None, grace: float, max_clients: int,
                 max_groups: dict[str, int], subscription_budget: int | None, memory_budget: int,
                 heartbeat_interval: float, write_timeout: float, replay_frames: int, replay_bytes: int,
                 sse_retry_ms: int) -> None:
        self.name = name
        self.clock = clock
        self.rng = rng or random.Random()
        self.registry = GroupRegistry(grace=grace, max_clients=max_clients, max_groups=max_groups,
                                      subscription_budget=subscription_budget)
        self.groups: dict[Hashable, BaseGroup] = {}
        self.budget = MemoryBudget(memory_budget)
        self.fanout_stats = FanoutStats()
        self.groups_failed = 0
        self.heartbeat_interval = heartbeat_interval
        self._channel_options = dict(write_timeout=write_timeout, ring_frames=replay_frames, ring_bytes=replay_bytes)
        self.retry_frame = b"retry: " + str(sse_retry_ms).encode() + b"\n\n"
        self.started_at = clock.monotonic()
        self.epoch = base36(int(clock.time() * 1000))  # a restarted server never reuses event ids
        self._channel_counter = 0
        self._closing: set[asyncio.Task[None]] = set()
        self._reaper: asyncio.Task[None] | None = None
        # Cluster mode, on the leader: the channels its groups publish through (relays to the cluster).
        self.channel_factory: Callable[[Hashable], Any] | None = None

    # -- lifecycle ------------------------------------------------------------------------------------
    def start_reaper(self) -> None:
        self._reaper = asyncio.create_task(self._reap_forever(), name=f"{self.name}-reaper")

    def close_streams(self, reason: str = "shutdown") -> None:
        """End every open SSE stream now (their cleanup runs in their own tasks)."""
        for group in self.groups.values():
            group.channel.close_all(reason)

    async def shutdown_groups(self) -> None:
        """Stop the reaper, forget every group and close them all (each bounded in time)."""
        self.close_streams("shutdown")
        reaper, self._reaper = self._reaper, None
        if reaper is not None:
            reaper.cancel()
            try:
                await reaper
            except asyncio.CancelledError:
                pass
            except Exception:
                log.exception("%s reaper failed during shutdown", self.name)
        self.drop_all_groups()
        await self.idle()

    def drop_all_groups(self) -> None:
        """Forget and close every group now, keeping the service running (a cluster leader stepping down)."""
        self.registry.drain()
        groups, self.groups = list(self.groups.values()), {}
        for group in groups:
            self._close_later(group)

    async def _reap_forever(self) -> None:
        """Every half second: tear down expired groups, drop stuck clients, send due heartbeats."""
        next_heartbeat = self.clock.monotonic() + self.heartbeat_interval
        while True:
            await self.clock.sleep(0.5)
            try:
                self.reap()
                self.check_stuck()
                if self.clock.monotonic() >= next_heartbeat:
                    next_heartbeat = self.clock.monotonic() + self.heartbeat_interval
                    self.heartbeat()
                self.on_tick()
            except Exception:  # the reaper must outlive any bug in what it calls
                log.exception("%s reaper round failed", self.name)

    def check_stuck(self) -> None:
        """Drop every client whose write stayed blocked past the write timeout, in every group.

        Its own frame, not the reaper's: a loop variable in the reaper's never-ending frame kept the
        last group it looked at alive after that group was closed (found by ``bench.soak``)."""
        for group in list(self.groups.values()):
            group.channel.check_stuck()

    def on_tick(self) -> None:
        """Called by the reaper every half second; override for periodic work."""

    def heartbeat(self) -> None:
        """``: ping <ms>`` to every client of every group (one encoded frame for all)."""
        frame = sse_comment(f"ping {int(self.clock.time() * 1000)}")
        for group in list(self.groups.values()):
            group.channel.heartbeat(frame)

    def reap(self) -> list[Hashable]:
        """Start closing every group whose grace period has ended; returns their keys."""
        expired = self.registry.tick(self.clock.monotonic())
        for key in expired:
            group = self.groups.pop(key, None)
            if group is not None:
                self._close_later(group)
        return expired

    def _close_later(self, group: BaseGroup) -> None:
        """Close ``group`` in a task of its own, bounded in time: one slow close never holds up others."""
        task = asyncio.ensure_future(self._close(group))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _close(self, group: BaseGroup) -> None:
        try:
            await within(self.clock, CLOSE_TIMEOUT, group.close())
        except TimeoutError:
            log.error("closing group %r took over %gs; abandoned", group.key, CLOSE_TIMEOUT)
        except Exception:
            log.exception("closing group %r failed; it is gone from the registry anyway", group.key)

    async def idle(self) -> None:
        """Wait until every group close started so far has finished (for tests and shutdown)."""
        while self._closing:
            await asyncio.wait(list(self._closing))

    # -- what every group may ask ---------------------------------------------------------------------
    def new_channel(self, key: Hashable) -> Channel:
        if self.channel_factory is not None:
            return self.channel_factory(key)
        self._channel_counter += 1
        return Channel(repr(key), f"{self.epoch}.{base36(self._channel_counter)}", clock=self.clock,
                       stats=self.fanout_stats, budget=self.budget, **self._channel_options)

    def retained(self) -> Retained:
        return Retained(self.budget)

    def group_failed(self, group: BaseGroup, message: str) -> None:
        """A group gave up: free its key now (the next client gets a new group) and close it."""
        self.groups_failed += 1
        self.retire(group)

    # -- groups for routes --------------------------------------------------------------------------
    def check_client_limit(self) -> None:
        """Raise :class:`~.registry.LimitExceeded` if one more client would be over the client limit."""
        self.registry.check_client_limit()

    async def check_admission(self, spec: Spec) -> None:
        """Raise the :class:`~.registry.LimitExceeded` that :meth:`admit` and :meth:`acquire` would
        raise for ``spec`` (the client limit, then for a new group the group and subscription
        limits, its holds' too), building, creating and holding nothing: what a ``HEAD`` answers.
        (A cluster edge asks the store the same question without changing it.)"""
        self.check_client_limit()
        holds = tuple((held.key, held.subscriptions) for held in getattr(spec, "holds", ()))
        self.registry.check_group(spec.key, cost=spec.subscriptions, holds=holds)

    async def admit(self, spec: Spec) -> None:
        """Anything asynchronous to check before :meth:`acquire` (the cluster's admission); raises
        :class:`~.registry.LimitExceeded`. Nothing to do for one process."""

    def acquire(self, spec: Spec) -> tuple[Lease, BaseGroup]:
        """Take a client lease on the group ``spec`` names, creating the group if needed.

        Raises :class:`~.registry.LimitExceeded`. The caller must :meth:`release` the lease.
        """
        return self.ensure(spec)

    def release(self, lease: Lease) -> None:
        """Give a lease back; the last one starts the group's grace period."""
        self.registry.release(lease, self.clock.monotonic())

    def ensure(self, spec: Spec, internal: bool = False) -> tuple[Lease, BaseGroup]:
        key = spec.key
        lease, created = self.registry.acquire(key, self.clock.monotonic(), internal=internal,
                                               cost=spec.subscriptions)
        group = self.groups.get(key)
        if group is not None and not created:
            return lease, group
        group = None
        try:
            group = self.build_group(spec)
            self.groups[key] = group
            group.start()
        except BaseException as exc:
            if group is not None and isinstance(exc, group.expected_errors):
                group.fail(str(exc))  # e.g. the subscription cap: the group fails, its client hears why
                return lease, group
            self.groups.pop(key, None)
            self.registry.release(lease, self.clock.monotonic())
            self.registry.retire(key)
            if group is not None:
                self._close_later(group)
            raise
        return lease, group

    def preamble(self) -> bytes:
        """What every stream of this service opens with (before its snapshot or resume)."""
        return self.retry_frame

    CLIENT_BYTES = 9_500  # an idle SSE client (bench.fanout measures 9-10 KiB): an estimate, for health

    def memory_figures(self) -> Any:
        """What this service retains, for health: replay and cached payloads exactly, clients estimated."""
        from backend.health.snapshot import ServiceMemory

        budget, clients = self.budget, self.registry.total_clients
        return ServiceMemory(budget_bytes=budget.limit, replay_bytes=budget.ring_bytes, cache_bytes=budget.cache_bytes,
                             clients=clients, client_bytes=clients * self.CLIENT_BYTES,
                             replay_frames_trimmed_total=budget.trimmed_frames)

    def build_group(self, spec: Spec) -> BaseGroup:
        """The group serving ``spec`` here (a cluster edge builds a replica instead)."""
        return spec.build(self)

    def retire(self, group: BaseGroup) -> None:
        """Free ``group``'s key now and close it (no error sent: the caller has said what it had to)."""
        if self.groups.get(group.key) is group:
            del self.groups[group.key]
            self.registry.retire(group.key)
        self._close_later(group)

    def clients_by_group(self) -> dict[Hashable, int]:
        return {key: self.registry.clients(key) for key in self.groups}


RESUME_QUERY = "lastEventId"  # the query form of Last-Event-ID (docs/api.md 0, "Event ids and resume")


def last_event_id(scope: Any) -> str | None:
    """The id a client resumes from: its ``Last-Event-ID`` header, else the ``lastEventId`` query
    parameter. An EventSource cannot set the header on its first request, so a page that was
    rendered at an id (the server-rendered first view) names it in the URL; when that EventSource
    later reconnects by itself, its header (a newer id) wins over the URL's."""
    for name, value in scope.get("headers", ()):
        if name == b"last-event-id":
            return value.decode("latin-1")
    return query_params(scope).get(RESUME_QUERY) or None


async def serve_stream(scope: Any, receive: Receive, *, service: str, parse: Callable[[dict[str, str]], Any],
                       limit_first: bool = False) -> None:
    """Serve one SSE request from start to end (errors as JSON 400/429 before the stream opens).

    ``service`` names the GroupHub on the app's state (``"hub"``, ``"tracker"``; absent: 503);
    ``parse`` turns the query into a spec or the 400 message; ``limit_first`` checks the client
    limit before the parameters. A ``HEAD`` gets the status and headers the ``GET`` would get (503,
    400, 429 with ``Retry-After``, or 200 with the SSE headers) from the same checks, made by
    :meth:`GroupHub.check_admission` without creating or joining a group, and no stream. The
    group's channel owns the client from the response start on (``Channel.serve``); the lease is
    given back in a ``finally`` that runs whatever happens -- a disconnect, a dropped client, a
    failed group, shutdown. (Bound with ``functools.partial`` per path, so an open stream's call
    chain has no frame more than it needs: each is memory held per idle client.)
    """
    send: Send = scope[RAW_SEND_KEY]
    hub: GroupHub | None = getattr(scope["app"].state, service, None)
    if hub is None:
        await json_response(send, 503, {"error": f"the {service} service is not running"},
                            [*NO_STORE, *scope.get(CORS_HEADERS_KEY, [])])
        return
    try:
        if limit_first:
            hub.check_client_limit()
        spec = parse(query_params(scope))
        if isinstance(spec, str):
            await json_response(send, 400, {"error": spec}, [*NO_STORE, *scope.get(CORS_HEADERS_KEY, [])])
            return
        if scope["method"] == "HEAD":  # what a GET would start with, without building or joining a group
            await hub.check_admission(spec)
            await send({"type": "http.response.start", "status": 200,
                        "headers": [*SSE_HEADERS, *scope.get(CORS_HEADERS_KEY, [])]})
            await send({"type": "http.response.body", "body": b""})
            return
        await hub.admit(spec)
        lease, group = hub.acquire(spec)
    except (LimitExceeded, Unavailable) as exc:
        status = 429 if isinstance(exc, LimitExceeded) else 503
        await json_response(send, status, {"error": str(exc)}, [(b"retry-after", str(exc.retry_after).encode()),
                                                                *NO_STORE, *scope.get(CORS_HEADERS_KEY, [])])
        return
    del spec
    try:
        await group.ready()
        await group.channel.serve(send, receive, [*SSE_HEADERS, *scope.get(CORS_HEADERS_KEY, [])], hub.preamble(),
                                  last_event_id(scope), group.late_joiner_frames)
    finally:
        hub.release(lease)
