"""The WebSocket adapter: serves the simulated Swarm feed with ``websockets``.

:class:`SwarmSimulator` owns the listening socket, one :class:`~.protocol.SwarmProtocol` per
client, and a supervised task that ticks the :class:`~.world.World` every ``push_interval`` and
sends each client its subscription deltas. All time comes from the injected :class:`Clock`. The same
server, at ``/tracker``, is the live-tracker feed (:class:`_TrackerFeed`, frames of
``oddsui.tracker_feed`` from :class:`~.tracker.MatchTracker`).

Each client has a bounded outgoing queue drained by its own writer task, so replies and pushes
keep their order and a slow client never stalls the others; a client whose queue overflows is
disconnected (counted in ``slow_disconnects``).

Fault hooks for tests: :meth:`drop_connections`, :meth:`stall_connections`, :meth:`expire_sessions`,
:meth:`broadcast_raw`, :meth:`pause` / :meth:`resume` (the world stands still),
and :meth:`stop` / :meth:`start` (the second start binds the same port again).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Self

from oddsui.tracker_feed import FeedError, encode_frame
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from backend.clock import SYSTEM_CLOCK, Clock

from .config import SimulatorConfig
from .protocol import ChangeIndex, IdSource, SwarmProtocol
from .tracker import MatchTracker
from .world import World

log = logging.getLogger(__name__)

CLOSE_TIMEOUT = 0.2  # seconds a closing handshake may take before the socket is dropped
HOOK_TIMEOUT = 1.0  # seconds the async fault hooks wait for their effect


class _Client:
    """One connected client: its protocol state and its ordered, bounded outgoing queue."""

    def __init__(self, ws: ServerConnection, protocol: SwarmProtocol | None, limit: int) -> None:
        self.ws = ws
        self.protocol = protocol  # None for a tracker-feed client
        self.queue: asyncio.Queue[str] = asyncio.Queue(maxsize=limit)
        self.writer: asyncio.Task[None] | None = None
        self.closed = asyncio.Event()  # set once the connection handler has finished
        self.stalled = False  # fault hook: the socket stays open but nothing is answered or pushed

    def offer(self, frame: str) -> bool:
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            return False
        return True

    async def write_loop(self) -> None:
        while True:
            frame = await self.queue.get()
            try:
                if frame == _CLOSE:
                    await self.ws.close(1000, "game over")
                    return
                await self.ws.send(frame)
            finally:
                self.queue.task_done()

    def abort(self) -> None:
        transport = self.ws.transport
        if transport is not None:
            transport.abort()


TRACKER_PATH = "/tracker"
TRACKER_KEEP = 120.0  # seconds a game's tracker outlives its last client (a reconnect continues it)
TRACKER_REQUEST_TIMEOUT = 30.0  # seconds a tracker client may take to send its subscription


class _TrackerFeed:
    """The live-tracker feed: one :class:`~.tracker.MatchTracker` per followed game, shared by its
    clients, so every client of a game sees the same frames.

    A client connects to ``/tracker`` and sends the subscription (``{"request": {"arg": {"submatch":
    {"id": "<gameId>", ...}}}}``); it gets the game's :class:`MatchState`, then every frame. A game that
    is not live gets a ``FeedError`` and the connection is closed. When the game ends, its clients get
    the ``MatchEnd`` and are closed.
    """

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self._games: dict[int, tuple[MatchTracker, set[_Client]]] = {}
        self._idle_since: dict[int, float] = {}

    @property
    def peers(self) -> list[_Client]:
        return [peer for _, peers in self._games.values() for peer in peers]

    @property
    def connection_count(self) -> int:
        return len(self.peers)

    async def serve(self, ws: ServerConnection, world: World, now: float) -> None:
        peer = _Client(ws, None, self.config.send_queue_limit)
        peer.writer = asyncio.create_task(peer.write_loop(), name="tracker-feed-writer")
        gid: int | None = None
        try:
            try:
                message = await asyncio.wait_for(ws.recv(), TRACKER_REQUEST_TIMEOUT)
            except TimeoutError:
                return
            gid = _requested_game(message)
            view = world.live_view(gid) if gid is not None else None
            if view is None:
                peer.offer(encode_frame(FeedError(message=f"game {gid} is not live")).decode())
                await peer.queue.join()
                await ws.close(1008, "not a live game")
                return
            entry = self._games.get(gid)
            if entry is None:
                tracker = MatchTracker(gid, view, now, self.config.seed, self.config.time_scale)
                entry = self._games[gid] = (tracker, set())
            tracker, peers = entry
            peers.add(peer)
            self._idle_since.pop(gid, None)
            peer.offer(encode_frame(tracker.state).decode())
            async for _ in ws:  # nothing more is expected; wait for the close
                pass
        except ConnectionClosed:
            pass
        finally:
            peer.writer.cancel()
            await asyncio.gather(peer.writer, return_exceptions=True)
            entry = self._games.get(gid) if gid is not None else None
            if entry is not None:
                entry[1].discard(peer)
            peer.closed.set()

    def step(self, world: World, now: float, deliver: Callable[[_Client, str], None]) -> None:
        """Advance every followed game's tracker and send its frames; forget idle or ended games."""
        for gid, (tracker, peers) in list(self._games.items()):
            view = world.live_view(gid)
            frames = tracker.step(view, now, None if view is not None else world.history.get(gid))
            if frames:
                texts = [encode_frame(frame).decode() for frame in frames]
                for peer in list(peers):
                    if not peer.stalled:
                        for text in texts:
                            deliver(peer, text)
            if tracker.ended:
                for peer in list(peers):
                    peer.offer(_CLOSE)
                del self._games[gid]
                self._idle_since.pop(gid, None)
            elif not peers:
                since = self._idle_since.setdefault(gid, now)
                if now - since >= TRACKER_KEEP:
                    del self._games[gid]
                    del self._idle_since[gid]


_CLOSE = "\x00close"  # queued after a game's last frame: the writer closes the connection there


def _requested_game(message: str | bytes) -> int | None:
    try:
        request = json.loads(message)
        game = request["request"]["arg"]["submatch"]["id"]
    except (ValueError, TypeError, KeyError):
        return None
    text = str(game)
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 15 else None


class SwarmSimulator:
    """The embedded Swarm feed. ``async with SwarmSimulator(cfg, clock) as sim:`` then ``sim.url``.

    The world is generated on first use (``world`` or ``start()``) at the clock's current time and
    survives ``stop()``/``start()``, so a restarted feed carries on where it was.
    """

    def __init__(self, config: SimulatorConfig | None = None, clock: Clock = SYSTEM_CLOCK) -> None:
        self.config = config if config is not None else SimulatorConfig()
        self._clock = clock
        self._world: World | None = None
        self._ids = IdSource(self.config.seed)
        self._server: Server | None = None
        self._port: int | None = None
        self._clients: set[_Client] = set()
        self._tracker = _TrackerFeed(self.config)
        self._loop: asyncio.Task[None] | None = None
        self.ticks = 0
        self.paused = False  # fault hook: the world stands still (nothing moves, nothing is pushed)
        self.pushes_sent = 0
        self.loop_errors = 0
        self.slow_disconnects = 0

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ properties

    @property
    def world(self) -> World:
        if self._world is None:
            self._world = World(self.config, self._clock.time())
        return self._world

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the simulator has not been started")
        return self._port

    @property
    def url(self) -> str:
        """``ws://127.0.0.1:<port>/`` (the configured host unless it is a wildcard)."""
        host = self.config.host if self.config.host not in ("", "0.0.0.0", "::") else "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"ws://{host}:{self.port}/"

    @property
    def tracker_url(self) -> str:
        """The live-tracker feed: ``ws://127.0.0.1:<port>/tracker`` (same server, its own path)."""
        return self.url + TRACKER_PATH.lstrip("/")

    @property
    def tracker_connections(self) -> int:
        return self._tracker.connection_count

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def connection_count(self) -> int:
        return len(self._clients)

    @property
    def session_count(self) -> int:
        return sum(1 for c in self._clients if c.protocol.session_id is not None)

    @property
    def subscription_count(self) -> int:
        return sum(c.protocol.subscription_count for c in self._clients)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Bind (the same port as before on a restart) and start ticking. Idempotent."""
        if self._server is not None:
            return
        _ = self.world  # generate it before accepting anyone
        port = self._port if self._port is not None else self.config.port
        self._server = await serve(
            self._serve_client, self.config.host, port, close_timeout=CLOSE_TIMEOUT, compression=None,
            max_size=1 << 20,
        )
        self._port = self._server.sockets[0].getsockname()[1]
        self._loop = asyncio.create_task(self._run(), name="swarm-simulator-loop")
        self._loop.add_done_callback(self._loop_ended)
        log.info("Swarm simulator listening on %s", self.url)

    async def stop(self) -> None:
        """Stop ticking, close every client and the listening socket. Idempotent, under a second."""
        server, self._server = self._server, None
        loop, self._loop = self._loop, None
        if loop is not None:
            loop.cancel()
            await asyncio.gather(loop, return_exceptions=True)
        if server is None:
            return
        server.close(close_connections=True)
        try:
            await asyncio.wait_for(server.wait_closed(), HOOK_TIMEOUT / 2)
        except TimeoutError:
            for client in list(self._clients):
                client.abort()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.wait_closed(), HOOK_TIMEOUT / 4)
        log.info("Swarm simulator stopped")

    def _loop_ended(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("Swarm simulator loop died", exc_info=task.exception())

    async def _run(self) -> None:
        interval = self.config.push_interval
        while True:
            await self._clock.sleep(interval)
            if self.paused:
                continue
            try:
                self.step()
            except Exception:  # keep the feed alive; the failure is logged and counted
                self.loop_errors += 1
                log.exception("Swarm simulator tick failed")

    def step(self) -> None:
        """One tick at the clock's time: advance the world and queue every client's push frame."""
        now = self._clock.time()
        world = self.world
        world.tick(now)
        self.ticks += 1
        changes = world.drain_changes()
        self._tracker.step(world, now, self._deliver)
        if not self._clients:
            return
        index = ChangeIndex.of(world, changes)
        for client in list(self._clients):
            if client.stalled:
                continue
            assert client.protocol is not None
            frame = client.protocol.collect_pushes(index, now)
            if frame is not None:
                self._deliver(client, frame)
                self.pushes_sent += 1

    # ------------------------------------------------------------------ clients

    async def _serve_client(self, ws: ServerConnection) -> None:
        if ws.request is not None and ws.request.path.split("?", 1)[0] == TRACKER_PATH:
            await self._tracker.serve(ws, self.world, self._clock.time())
            return
        protocol = SwarmProtocol(self.world, self._ids, max_subscriptions=self.config.max_subscriptions_per_session)
        client = _Client(ws, protocol, self.config.send_queue_limit)
        client.writer = asyncio.create_task(client.write_loop(), name="swarm-simulator-writer")
        self._clients.add(client)
        try:
            async for message in ws:
                if client.stalled:
                    continue
                for frame in protocol.receive(message, self._clock.time()):
                    self._deliver(client, frame)
        except ConnectionClosed:
            pass
        finally:
            self._clients.discard(client)
            client.writer.cancel()
            await asyncio.gather(client.writer, return_exceptions=True)
            client.closed.set()

    def _deliver(self, client: _Client, frame: str) -> None:
        if client.offer(frame):
            return
        self.slow_disconnects += 1
        log.warning("Swarm simulator dropping a client with %d frames queued", client.queue.qsize())
        client.abort()

    # ------------------------------------------------------------------ fault hooks

    async def drop_connections(self) -> int:
        """Cut every client socket (tracker feed included) without a closing handshake; returns how many."""
        clients = [*self._clients, *self._tracker.peers]
        for client in clients:
            client.abort()
        if clients:
            await asyncio.wait([asyncio.ensure_future(c.closed.wait()) for c in clients], timeout=HOOK_TIMEOUT)
        return len(clients)

    def stall_connections(self) -> int:
        """Make every current connection go silent (open, but nothing answered or pushed), as a
        stalled network path would; new connections are served normally. Returns how many."""
        clients = [*self._clients, *self._tracker.peers]
        for client in clients:
            client.stalled = True
        return len(clients)

    def pause(self) -> None:
        """Freeze the world: no tick, so nothing changes and nothing is pushed, while every request is
        still answered from the frozen world (a tool can then compare a client's view with the feed's).
        On :meth:`resume` the world catches up with the clock (what was due meanwhile happens at once)."""
        self.paused = True

    def resume(self) -> None:
        self.paused = False

    def subscription_ids(self) -> list[str]:
        """The subids of every live subscription on every connection (for tests that push by hand)."""
        return [subid for client in self._clients for subid in client.protocol.subscription_ids]

    def expire_sessions(self) -> int:
        """End every session (and its subscriptions); returns how many sessions there were."""
        return sum(1 for client in list(self._clients) if client.protocol.expire_session())

    async def broadcast_raw(self, text: str) -> int:
        """Send ``text`` verbatim, as one text frame, to every client; returns the client count."""
        clients = list(self._clients)
        for client in clients:
            self._deliver(client, text)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(c.queue.join() for c in clients)), HOOK_TIMEOUT)
        return len(clients)
