"""The WebSocket adapter: serves the simulated Swarm feed with ``websockets``.

:class:`SwarmSimulator` owns the listening socket, one :class:`~.protocol.SwarmProtocol` per
client, and a supervised task that ticks the :class:`~.world.World` every ``push_interval`` and
sends each client its subscription deltas. All time comes from the injected :class:`Clock`.

Each client has a bounded outgoing queue drained by its own writer task, so replies and pushes
keep their order and a slow client never stalls the others; a client whose queue overflows is
disconnected (counted in ``slow_disconnects``).

Fault hooks for tests: :meth:`drop_connections`, :meth:`stall_connections`, :meth:`expire_sessions`,
:meth:`broadcast_raw`,
and :meth:`stop` / :meth:`start` (the second start binds the same port again).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Self

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from backend.clock import SYSTEM_CLOCK, Clock

from .config import SimulatorConfig
from .protocol import ChangeIndex, IdSource, SwarmProtocol
from .world import World

log = logging.getLogger(__name__)

CLOSE_TIMEOUT = 0.2  # seconds a closing handshake may take before the socket is dropped
HOOK_TIMEOUT = 1.0  # seconds the async fault hooks wait for their effect


class _Client:
    """One connected client: its protocol state and its ordered, bounded outgoing queue."""

    def __init__(self, ws: ServerConnection, protocol: SwarmProtocol, limit: int) -> None:
        self.ws = ws
        self.protocol = protocol
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
                await self.ws.send(frame)
            finally:
                self.queue.task_done()

    def abort(self) -> None:
        transport = self.ws.transport
        if transport is not None:
            transport.abort()


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
        self._loop: asyncio.Task[None] | None = None
        self.ticks = 0
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
        if not self._clients:
            return
        index = ChangeIndex.of(world, changes)
        for client in list(self._clients):
            if client.stalled:
                continue
            frame = client.protocol.collect_pushes(index, now)
            if frame is not None:
                self._deliver(client, frame)
                self.pushes_sent += 1

    # ------------------------------------------------------------------ clients

    async def _serve_client(self, ws: ServerConnection) -> None:
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
        """Cut every client socket without a closing handshake; returns how many were cut."""
        clients = list(self._clients)
        for client in clients:
            client.abort()
        if clients:
            await asyncio.wait([asyncio.ensure_future(c.closed.wait()) for c in clients], timeout=HOOK_TIMEOUT)
        return len(clients)

    def stall_connections(self) -> int:
        """Make every current connection go silent (open, but nothing answered or pushed), as a
        stalled network path would; new connections are served normally. Returns how many."""
        clients = list(self._clients)
        for client in clients:
            client.stalled = True
        return len(clients)

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
