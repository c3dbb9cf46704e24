"""A ``HEAD`` on a stream answers exactly what the ``GET`` would, and takes nothing (docs/api.md 0).

Both streaming services run for real (the odds hub against the in-memory Swarm feed, the live
tracker against the in-memory tracker feed) on a FakeClock, with small limits, behind the app's own
dispatch (``OddsApp``). Clients open streams and leave and time passes; before every ``GET`` the same
request is sent as a ``HEAD``. Properties: the ``HEAD`` gets the status and headers the ``GET`` then
gets -- 400, 429 with ``Retry-After``, 200 with the SSE headers -- and leaves no group, lease, client
or upstream socket or subscription behind.
"""

from __future__ import annotations

import asyncio

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule
from litestar.datastructures import State

from backend.app import OddsApp
from backend.clock import FakeClock
from backend.hub.service import OddsHub
from backend.settings import Settings
from backend.tracker.service import TrackerService
from tests.support.fake_feed import FakeFeed, FakeTrackerFeed

GRACE = 5.0
PATHS = st.sampled_from([
    "/api/counts-stream", "/api/live-stream?sportId=1", "/api/live-stream?sportId=2",
    "/api/prematch-stream?sportId=1", "/api/live-game-stream?gameId=1", "/api/live-game-stream?gameId=2",
    "/api/live-game-stream?gameId=3", "/api/competition-odds-stream?competitionId=5&sportId=1&mode=live",
    "/api/competition-odds-stream?competitionId=5&sportId=1&mode=x", "/api/live-stream?sportId=x",
    "/api/live-tracker?gameId=1", "/api/live-tracker?gameId=2", "/api/live-tracker?gameId=3",
    "/api/live-tracker?gameId=4", "/api/live-tracker",
])


class Response:
    def __init__(self) -> None:
        self.start: tuple[int, list[tuple[bytes, bytes]]] | None = None
        self.body = bytearray()

    async def send(self, message: dict) -> None:
        if message["type"] == "http.response.start":
            assert self.start is None
            self.start = (message["status"], list(message["headers"]))
        else:
            self.body += message.get("body", b"")


class HeadMachine(RuleBasedStateMachine):
    @initialize()
    def setup(self):
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.clock = FakeClock()
        self.feed = FakeFeed()
        self.tracker_feed = FakeTrackerFeed(["1", "2", "3"])
        options = Settings(group_grace=GRACE, max_clients=5, max_game_groups=2, max_subscriptions=6,
                           tracker_max_clients=3, tracker_max_games=2)
        self.hub = OddsHub(options, self.clock, "ws://feed/", connector=self.feed.connect)
        self.tracker = TrackerService(options, self.clock, "ws://tracker/", connector=self.tracker_feed.connect)
        self.loop.run_until_complete(self.hub.__aenter__())
        self.loop.run_until_complete(self.tracker.__aenter__())
        self.app = OddsApp(route_handlers=[], state=State({"hub": self.hub, "tracker": self.tracker}))
        self.open: list[tuple[asyncio.Task[None], asyncio.Event]] = []
        self.settle()

    def settle(self, rounds: int = 40) -> None:
        for _ in range(rounds):
            self.loop.run_until_complete(asyncio.sleep(0))

    def teardown(self):
        if not hasattr(self, "hub"):
            return
        try:
            for _, leave in self.open:
                leave.set()
            self.settle()
        finally:
            self.loop.run_until_complete(self.tracker.__aexit__(None, None, None))
            self.loop.run_until_complete(self.hub.__aexit__(None, None, None))
            self.loop.close()
            asyncio.set_event_loop(None)

    def held(self) -> tuple:
        """Everything a request could take: groups, leases, clients, upstream sockets and subscriptions."""
        hub, tracker = self.hub, self.tracker
        return (sorted(map(repr, hub.groups)), len(hub.registry), hub.registry.total_clients,
                hub.registry.subscriptions_reserved, hub.conn.core.subscription_count, len(self.feed.sockets),
                sorted(map(repr, tracker.groups)), len(tracker.registry), tracker.registry.total_clients,
                len(self.tracker_feed.sockets))

    def request(self, method: str, path: str) -> tuple[Response, asyncio.Task[None], asyncio.Event]:
        target, _, query = path.partition("?")
        scope = {"type": "http", "method": method, "path": target, "query_string": query.encode(),
                 "headers": [(b"origin", b"https://elsewhere.example")]}
        response, leave = Response(), asyncio.Event()

        async def receive() -> dict:
            await leave.wait()
            return {"type": "http.disconnect"}

        task = self.loop.create_task(self.app(scope, receive, response.send))
        self.settle()
        assert response.start is not None, f"{method} {path} got no answer"
        return response, task, leave

    @rule(path=PATHS)
    def a_client_asks(self, path):
        before = self.held()
        head, task, _ = self.request("HEAD", path)
        assert task.done() and task.exception() is None and head.body == b""
        assert self.held() == before  # nothing created, joined or opened
        got, task, leave = self.request("GET", path)
        assert head.start == got.start  # the same status, the same headers
        if task.done():
            assert got.start[0] != 200 or b"event: error" in got.body
        else:
            self.open.append((task, leave))

    @precondition(lambda self: self.open)
    @rule(data=st.data())
    def a_client_leaves(self, data):
        task, leave = self.open.pop(data.draw(st.integers(0, len(self.open) - 1)))
        leave.set()
        self.settle()
        assert task.done()

    @rule(dt=st.sampled_from([0.5, 2.0, 6.0]))
    def time_passes(self, dt):
        end = self.clock.monotonic() + dt
        while self.clock.monotonic() < end:
            self.clock.advance(min(0.5, end - self.clock.monotonic()))
            self.settle(10)


TestHead = HeadMachine.TestCase
TestHead.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)


async def test_head_without_the_service_is_its_503():
    app = OddsApp(route_handlers=[], state=State({"hub": None, "tracker": None}))
    answers = []
    for method in ("HEAD", "GET"):
        response = Response()
        scope = {"type": "http", "method": method, "path": "/api/live-tracker", "query_string": b"gameId=1",
                 "headers": []}
        await app(scope, lambda: asyncio.sleep(3600), response.send)
        answers.append(response.start)
    assert answers[0] == answers[1] and answers[0][0] == 503
