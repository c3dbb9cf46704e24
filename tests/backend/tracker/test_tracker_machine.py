"""The live tracker's groups as a state machine on a fake clock, against an in-memory tracker feed.

Clients come and go, the feed drops sockets and refuses connections for a while, goals happen, time
passes. Properties: a game's upstream socket opens with its first client and closes a grace period
after its last; a dropped socket is replaced (full-jitter backoff, 30 s connect timeout) and every
client then gets the feed's fresh state; a client that stays connected receives every goal exactly
once and in order, with SSE ids that never skip; an unknown game fails cleanly; and when everyone
has left, no group and no socket is left.
"""

from __future__ import annotations

import asyncio
import re

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from oddsui.tracker_feed import MatchEvent, MatchState, decode_frame

from backend.clock import FakeClock
from backend.hub.fanout import Client
from backend.lifecycle import ConnState
from backend.settings import Settings
from backend.tracker.groups import TrackerGroup, TrackerSpec
from backend.tracker.service import TrackerService
from tests.support.fake_feed import FakeTrackerFeed

GRACE = 5.0
GAMES = st.sampled_from(["1", "2", "3"])
MESSAGE = re.compile(rb"(?:id: (\S+)\n)?(?:event: (\w+)\n)?data: ([^\n]*)\n\n")


class Reader:
    """An attached SSE client: what it received, parsed."""

    def __init__(self) -> None:
        self.received = bytearray()

    async def send(self, message: dict) -> None:
        self.received += message.get("body", b"")

    def messages(self) -> list[tuple[str | None, str | None, bytes]]:
        return [(m.group(1) and m.group(1).decode(), m.group(2) and m.group(2).decode(), m.group(3))
                for m in MESSAGE.finditer(bytes(self.received))]


class TrackerMachine(RuleBasedStateMachine):
    @initialize()
    def setup(self):
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.clock = FakeClock()
        self.feed = FakeTrackerFeed(["1", "2"])  # game 3 is not live
        settings_ = Settings(group_grace=GRACE, tracker_connect_timeout=30.0, swarm_backoff_base=0.5,
                             swarm_backoff_cap=4.0)
        self.service = TrackerService(settings_, self.clock, "ws://tracker/", connector=self.feed.connect)
        self.loop.run_until_complete(self.service.__aenter__())
        self.clients: list[tuple[object, TrackerGroup, Client, Reader]] = []
        self.settle()

    def settle(self, rounds: int = 30) -> None:
        for _ in range(rounds):
            self.loop.run_until_complete(asyncio.sleep(0))

    def pass_time(self, seconds: float) -> None:
        end = self.clock.monotonic() + seconds
        while self.clock.monotonic() < end:
            self.clock.advance(min(0.5, end - self.clock.monotonic()))
            self.settle(10)

    def teardown(self):
        if not hasattr(self, "service"):
            return
        try:
            for lease, group, client, _ in self.clients:
                group.channel.detach(client)
                self.service.release(lease)
            self.clients.clear()
            self.pass_time(GRACE + 1.0)
            self.loop.run_until_complete(self.service.idle())
            self.settle()
            assert not self.service.groups and len(self.service.registry) == 0
            assert self.feed.open_sockets() == []
        finally:
            self.loop.run_until_complete(self.service.__aexit__(None, None, None))
            self.loop.close()
            asyncio.set_event_loop(None)

    @rule(game=GAMES)
    def a_client_opens(self, game):
        lease, group = self.service.acquire(TrackerSpec(game))
        reader = Reader()
        client = Client(reader.send, group.channel.seq)
        opening = b"".join([*group.late_joiner_frames()])
        self.loop.run_until_complete(reader.send({"body": opening}))
        group.channel.attach(client)
        self.clients.append((lease, group, client, reader))
        self.settle()

    @precondition(lambda self: self.clients)
    @rule(data=st.data())
    def a_client_leaves(self, data):
        lease, group, client, _ = self.clients.pop(data.draw(st.integers(0, len(self.clients) - 1)))
        group.channel.detach(client)
        self.service.release(lease)
        self.settle()

    @rule(game=st.sampled_from(["1", "2"]))
    def a_goal(self, game):
        self.feed.goal(game)
        self.settle()

    @rule(game=st.sampled_from(["1", "2"]))
    def the_feed_drops_the_socket(self, game):
        for sock in self.feed.open_sockets(game):
            self.loop.run_until_complete(sock.close())
        self.settle()

    @rule(refuse=st.booleans())
    def the_feed_refuses_connections(self, refuse):
        self.feed.refuse_connections = refuse

    @rule(dt=st.sampled_from([0.5, 2.0, 6.0, 31.0]))
    def time_passes(self, dt):
        self.pass_time(dt)

    @invariant()
    def one_socket_per_connected_game_and_none_without_a_group(self):
        if not hasattr(self, "service"):
            return
        for game in ("1", "2"):
            socks = self.feed.open_sockets(game)
            group = self.service.groups.get(("tracker", game))
            assert len(socks) <= 1
            if group is None:
                assert socks == []
            elif isinstance(group, TrackerGroup) and group.connection is not None \
                    and group.connection.state is ConnState.LIVE:
                assert len(socks) == 1

    @invariant()
    def connected_clients_get_every_goal_once_in_order_and_ids_never_skip(self):
        if not hasattr(self, "service"):
            return
        for _, _group, client, reader in self.clients:
            if client.closed:
                continue
            messages = reader.messages()
            seqs = [int(i.rsplit("-", 1)[1]) for i, _, _ in messages if i is not None]
            assert seqs == list(range(seqs[0], seqs[0] + len(seqs))) if seqs else True
            goals, last_state = [], None
            for _, event, data in messages:
                if event is None:
                    frame = decode_frame(data)
                    if isinstance(frame, MatchState):
                        last_state = frame.score.home
                        goals = [g for g in goals if g <= last_state]
                    elif isinstance(frame, MatchEvent) and frame.kind == "goal":
                        goals.append(frame.score.home)
            assert goals == sorted(set(goals))  # no goal twice, none out of order

    @invariant()
    def an_unknown_game_fails_cleanly(self):
        if not hasattr(self, "service"):
            return
        for _, group, client, reader in self.clients:
            if group.game_id == "3":
                assert self.service.groups.get(group.key) is not group or group.failed is None
                if group.failed is not None:  # once the feed could answer: an error, then the stream ends
                    assert b"event: error" in reader.received and client.closed
                assert b"data: {\"type\":\"state\"" not in reader.received


TestTracker = TrackerMachine.TestCase
TestTracker.settings = settings(max_examples=40, stateful_step_count=30, deadline=None)
