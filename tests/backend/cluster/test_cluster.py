"""A cluster in one event loop: three processes (a dormant hub, an edge and a leadership each) on one
in-memory store, against the in-memory Swarm feed, on a FakeClock.

What must hold: every process serves a group's stream with the same ids and frames; a late joiner
anywhere gets the snapshot and exactly what followed; a Last-Event-ID from one process resumes
exactly on another; limits count across the cluster; when the leader goes, another takes over and
the streams carry on without a gap or a repeat; a former leader's writes are fenced; with the store
away the connected clients keep their streams and new groups are refused, and all recovers.
"""

from __future__ import annotations

import asyncio
import re

import pytest

from backend.clock import FakeClock
from backend.cluster.leader import Leadership
from backend.cluster.runtime import HUB_CODEC, ClusterOddsHub, ClusterReporter, hub_calls, hub_figures
from backend.cluster.store import MemoryStore
from backend.health.service import HealthService
from backend.hub.base import Unavailable
from backend.hub.fanout import Client
from backend.hub.registry import LimitExceeded
from backend.hub.service import OddsHub
from backend.hub.specs import GameSpec
from backend.settings import Settings
from tests.support.fake_feed import FakeFeed

# a message: its id (none in a late joiner's snapshot), its event name, its data (none in an id-only one)
MESSAGE = re.compile(rb"(?:id: (\S+)\n)?(?:event: (\w+)\n)?(?:data: ([^\n]*)\n)?\n")


def game_tree(params: dict) -> dict:
    gid = params["where"]["game"]["id"]
    return {"game": {str(gid): {"id": gid, "markets_count": 0, "market": {}}}}


class Reader:
    def __init__(self) -> None:
        self.received = bytearray()

    async def send(self, message: dict) -> None:
        self.received += message.get("body", b"")

    def ids(self) -> list[str]:
        """The ids of the events received."""
        return [m.group(1).decode() for m in MESSAGE.finditer(bytes(self.received)) if m.group(1) and m.group(3)]

    def stands(self) -> str | None:
        """The last id received, an id-only message's included (where a late joiner stands)."""
        ids = [m.group(1).decode() for m in MESSAGE.finditer(bytes(self.received)) if m.group(1)]
        return ids[-1] if ids else None

    def counts(self) -> list[int]:
        out = []
        for m in MESSAGE.finditer(bytes(self.received)):
            if m.group(2) == b"game":
                out.append(int(re.search(rb'"markets_count":(\d+)', m.group(3)).group(1)))
        return out


class Process:
    def __init__(self, cluster: Cluster, name: str) -> None:
        self.name = name
        self.hub = OddsHub(cluster.settings, cluster.clock, "ws://feed/", connector=cluster.feed.connect, dormant=True)
        self.edge = ClusterOddsHub(cluster.settings, cluster.store, name, cluster.clock)
        self.health = HealthService(cluster.clock, hub=self.edge)  # wired as runtime.start_cluster wires it
        self.hub.reporter = self.edge.reporter = self.health
        self.lead = Leadership(cluster.store, "hub", self.hub, HUB_CODEC, cluster.clock, name,
                               start_upstream=self.hub.start_upstream, stop_upstream=self.hub.stop_upstream,
                               handle_call=hub_calls(self.hub), metrics=hub_figures(self.hub))
        self.reporter = ClusterReporter(cluster.store, name, cluster.clock)
        self.reporter.edges["hub"] = self.edge
        self.reporter.leaderships["hub"] = self.lead
        self.tasks: list[asyncio.Task] = []

    async def start(self) -> None:
        await self.hub.__aenter__()
        await self.edge.__aenter__()
        self.tasks = [asyncio.create_task(self.lead.run()), asyncio.create_task(self.reporter.run())]

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks = []
        await self.edge.__aexit__(None, None, None)
        await self.hub.__aexit__(None, None, None)


class Cluster:
    def __init__(self, n: int = 3, **settings) -> None:
        self.clock = FakeClock()
        self.store = MemoryStore(self.clock)
        self.feed = FakeFeed(snapshot=game_tree)
        self.settings = Settings(group_grace=2.0, **settings)
        self.processes = [Process(self, f"p{i}") for i in range(n)]
        self.leases: list = []  # the clients' holds on their groups

    async def __aenter__(self) -> Cluster:
        for p in self.processes:
            await p.start()
        await self.run_until(lambda: self.leader() is not None and self.feed.socket is not None
                             and self.leader().hub.conn.connected)
        return self

    async def __aexit__(self, *exc) -> None:
        for p in self.processes:
            await p.stop()

    def leader(self) -> Process | None:
        leaders = [p for p in self.processes if p.lead.keeper.holding]
        assert len(leaders) <= 1, "two leaders at once"
        return leaders[0] if leaders else None

    async def run_until(self, predicate, limit: float = 30.0) -> None:
        await self.clock.run_until(predicate, limit=limit, step=0.1)

    async def open(self, process: Process, spec, last_event_id: str | None = None) -> tuple[Reader, Client]:
        edge = process.edge
        await edge.admit(spec)
        lease, group = edge.acquire(spec)
        await self._ready(group)
        reader = Reader()
        client, body = group.channel._opening(reader.send, b"", last_event_id, group.late_joiner_frames)
        await reader.send({"body": body})
        group.channel.attach(client)
        self.leases.append(lease)
        return reader, client

    async def _ready(self, group) -> None:
        waiting = asyncio.ensure_future(group.ready())
        await self.run_until(waiting.done)
        await waiting

    def push(self, game: int, markets: int) -> None:
        subid = next(sub for sub, tree in self.feed.subscriptions.items() if str(game) in tree.get("game", {}))
        self.feed.socket.push(subid, {"game": {str(game): {"markets_count": markets}}})


async def test_every_process_serves_the_same_frames_and_a_resume_works_anywhere():
    async with Cluster() as c:
        spec = GameSpec("7")
        a, _ = await c.open(c.processes[0], spec)
        b, _ = await c.open(c.processes[1], spec)
        await c.run_until(lambda: len(a.ids()) >= 1 and len(b.ids()) >= 1)
        for n in range(1, 6):
            c.push(7, n)
            await c.run_until(lambda n=n: a.counts()[-1:] == [n] and b.counts()[-1:] == [n])
        assert a.ids() == b.ids() and a.counts() == b.counts() == [0, 1, 2, 3, 4, 5]
        epoch = a.ids()[0].rsplit("-", 1)[0]
        assert all(i.startswith(epoch + "-") for i in a.ids())
        # a late joiner on the third process: the snapshot and the id of where it stands
        late, _ = await c.open(c.processes[2], spec)
        assert late.counts()[-1] == 5 and late.stands() == a.ids()[-1]
        # a client of process 0 resumes on process 2 from an id it got: exactly what it missed
        resumed, _ = await c.open(c.processes[2], spec, last_event_id=a.ids()[2])
        assert resumed.ids() == a.ids()[3:] and resumed.counts() == [3, 4, 5]


async def test_group_and_client_limits_count_across_the_cluster():
    async with Cluster(max_game_groups=2, max_clients=3) as c:
        await c.open(c.processes[0], GameSpec("1"))
        await c.open(c.processes[1], GameSpec("2"))
        with pytest.raises(LimitExceeded, match="game groups"):
            await c.processes[2].edge.admit(GameSpec("3"))
        await c.open(c.processes[2], GameSpec("1"))  # an existing group is no new group
        await c.run_until(lambda: c.processes[0].edge.other_clients == 2, limit=5)
        with pytest.raises(LimitExceeded, match="clients"):
            await c.processes[0].edge.admit(GameSpec("2"))


async def test_a_head_is_refused_by_the_clusters_limits_and_takes_nothing():
    async with Cluster(max_game_groups=1, max_clients=3) as c:
        edge = c.processes[1].edge
        await edge.check_admission(GameSpec("1"))  # would be admitted ...
        assert not await c.store.wanted("hub") and not edge.groups  # ... and nothing was taken
        await c.open(c.processes[0], GameSpec("1"))
        await edge.check_admission(GameSpec("1"))  # joining another process's group is fine
        with pytest.raises(LimitExceeded, match="game groups"):
            await edge.check_admission(GameSpec("2"))
        c.store.down = True
        with pytest.raises(Unavailable):
            await edge.check_admission(GameSpec("2"))
        c.store.down = False


async def test_each_process_keeps_its_own_client_limit_inside_the_clusters():
    """A process whose open files allow fewer clients than the cluster's limit refuses past its
    own; the cluster's limit still counts every process."""
    c = Cluster(max_clients=4)
    small = c.processes[0]
    small.edge = ClusterOddsHub(Settings(group_grace=2.0, max_clients=1), c.store, "p0", c.clock,
                                cluster_max_clients=4)
    small.reporter.edges["hub"] = small.edge
    async with c:
        await c.open(small, GameSpec("1"))
        with pytest.raises(LimitExceeded, match="clients"):
            await small.edge.admit(GameSpec("1"))  # its own limit: one
        await c.open(c.processes[1], GameSpec("1"))
        await c.open(c.processes[1], GameSpec("1"))
        await c.open(c.processes[2], GameSpec("1"))
        await c.run_until(lambda: c.processes[2].edge.other_clients == 3, limit=5)
        with pytest.raises(LimitExceeded, match="clients"):
            await c.processes[2].edge.admit(GameSpec("1"))  # the cluster's: four in all


async def test_when_the_leader_dies_another_takes_over_and_streams_carry_on_without_a_gap():
    async with Cluster() as c:
        spec = GameSpec("9")
        first = c.leader()
        followers = [p for p in c.processes if p is not first]
        readers = [(await c.open(p, spec))[0] for p in followers]
        await c.run_until(lambda: all(r.ids() for r in readers))
        c.push(9, 1)
        await c.run_until(lambda: all(r.counts()[-1:] == [1] for r in readers))
        await first.stop()  # dies: no lease release, no goodbye
        await c.run_until(lambda: c.leader() is not None and c.leader() is not first and c.feed.subscriptions
                          and c.leader().hub.conn.connected, limit=30)
        c.push(9, 2)
        await c.run_until(lambda: all(r.counts()[-1:] == [2] for r in readers), limit=10)
        for r in readers:
            seqs = [int(i.rsplit("-", 1)[1]) for i in r.ids()]
            assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # no gap, no repeat
        assert readers[0].ids() == readers[1].ids()
        assert readers[0].counts()[-1] == 2 and c.leader().lead.takeovers == 1


class Unrenewable:
    """A store through which a lease cannot be renewed (the rest of the store works)."""

    def __init__(self, store) -> None:
        self.store = store

    async def renew_lease(self, *args):
        from backend.cluster.store import StoreError

        raise StoreError("partitioned")

    def __getattr__(self, name):
        return getattr(self.store, name)


async def test_a_leader_cut_off_from_its_lease_steps_down_before_another_takes_over():
    async with Cluster() as c:
        first = c.leader()
        reader, _ = await c.open(next(p for p in c.processes if p is not first), GameSpec("3"))
        await c.run_until(lambda: reader.ids())
        first.lead.keeper.store = Unrenewable(c.store)
        # c.leader() asserts at every step that there are never two leaders
        await c.run_until(lambda: c.leader() is not None and c.leader() is not first, limit=15)
        assert first.lead.keeper.lost_total == 1 and not first.hub.groups
        await c.run_until(lambda: c.feed.subscriptions and c.leader().hub.conn.connected, limit=10)
        c.push(3, 1)
        await c.run_until(lambda: reader.counts()[-1:] == [1], limit=10)
        seqs = [int(i.rsplit("-", 1)[1]) for i in reader.ids()]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))


async def test_a_former_leader_that_missed_losing_its_lease_is_fenced_on_its_next_write():
    async with Cluster() as c:
        first = c.leader()
        reader, _ = await c.open(next(p for p in c.processes if p is not first), GameSpec("4"))
        await c.run_until(lambda: reader.ids())
        old_socket = c.feed.socket
        # as if paused: it cannot renew, and it believes it holds the lease for ever
        first.lead.keeper.store = Unrenewable(c.store)
        first.lead.keeper.valid_until = float("inf")
        second = None

        def taken_over() -> bool:
            nonlocal second
            second = next((p for p in c.processes if p is not first and p.lead.leading), None)
            return second is not None and second.hub.conn.connected and bool(c.feed.subscriptions)

        await c.run_until(taken_over, limit=20)
        assert first.lead.leading  # it has not noticed
        before = reader.ids()
        old_subid = next(iter(old_socket.subs))
        old_socket.push(old_subid, {"game": {"4": {"markets_count": 99}}})  # the old leader's upstream moves
        # its write was fenced: it steps down and lets its upstream go
        await c.run_until(lambda: not first.lead.leading and old_socket.closed, limit=5)
        assert first.lead.keeper.lost_total == 1
        assert 99 not in reader.counts() and reader.ids()[:len(before)] == before
        c.push(4, 5)
        await c.run_until(lambda: reader.counts()[-1:] == [5], limit=10)
        seqs = [int(i.rsplit("-", 1)[1]) for i in reader.ids()]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))


async def test_with_the_store_away_clients_keep_their_streams_new_groups_wait_and_all_recovers():
    async with Cluster() as c:
        reader, _ = await c.open(c.processes[1], GameSpec("5"))
        await c.run_until(lambda: reader.ids())
        c.store.down = True
        with pytest.raises(Unavailable):
            await c.processes[2].edge.admit(GameSpec("6"))
        c.push(5, 1)
        c.clock.advance(1.0)
        await asyncio.sleep(0)
        assert c.processes[1].edge.groups  # the connected client still has its group and stream
        c.store.down = False
        await c.run_until(lambda: reader.counts()[-1:] == [1], limit=15)
        seqs = [int(i.rsplit("-", 1)[1]) for i in reader.ids()]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
        other, _ = await c.open(c.processes[2], GameSpec("6"))
        await c.run_until(lambda: other.ids(), limit=10)


async def test_feed_requests_of_any_process_are_answered_by_the_leader():
    async with Cluster() as c:
        follower = next(p for p in c.processes if p is not c.leader())
        call = asyncio.ensure_future(follower.edge.request("get", {"source": "betting", "what": {"sport": ["id"]},
                                                                   "where": {}}, 5.0))
        await c.run_until(call.done, limit=10)
        assert call.result() == {}


async def away_past_every_lease(c: Cluster) -> None:
    c.store.down = True
    c.clock.advance(12.0)  # every lease and every interest expires meanwhile
    await c.run_until(lambda: not any(p.lead.keeper.holding for p in c.processes), limit=5)
    c.store.down = False


@pytest.mark.parametrize("outage", ["restarted empty", "away past every lease"])
async def test_when_the_store_forgets_a_stream_its_clients_reconnect_to_a_new_one(outage):
    async with Cluster() as c:
        readers = [await c.open(p, GameSpec("8")) for p in c.processes[1:]]
        await c.run_until(lambda: all(r.ids() for r, _ in readers))
        c.push(8, 1)
        await c.run_until(lambda: all(r.counts()[-1:] == [1] for r, _ in readers))
        old_epoch = readers[0][0].ids()[-1].rsplit("-", 1)[0]
        if outage == "restarted empty":
            c.store.flush()
        else:
            await away_past_every_lease(c)
            await c.store.wanted("hub")  # the first to look (a leader reconciling) forgets the expired groups
        # the streams end (nothing could continue their ids) ...
        await c.run_until(lambda: all(client.closed for _, client in readers), limit=15)
        assert all(not p.edge.groups for p in c.processes[1:])
        # ... and the browsers come back with their Last-Event-ID: a new incarnation's snapshot
        again = [await c.open(p, GameSpec("8"), last_event_id=r.ids()[-1]) for p, (r, _) in
                 zip(c.processes[1:], readers)]
        await c.run_until(lambda: all(r.counts() for r, _ in again), limit=15)
        new_epochs = {r.ids()[0].rsplit("-", 1)[0] for r, _ in again}
        assert len(new_epochs) == 1 and old_epoch not in new_epochs
        await c.run_until(lambda: c.feed.subscriptions and any(p.lead.leading for p in c.processes), limit=15)
        c.push(8, 2)
        await c.run_until(lambda: all(r.counts()[-1:] == [2] for r, _ in again), limit=10)
        assert again[0][0].ids() == again[1][0].ids()


async def test_when_the_store_comes_back_before_it_forgot_a_stream_the_stream_goes_on():
    async with Cluster() as c:
        reader, client = await c.open(c.processes[1], GameSpec("2"))
        await c.run_until(lambda: reader.ids())
        await away_past_every_lease(c)
        for p in c.processes:
            await p.edge._refresh()  # the edges renew their interest before a leader looks
        await c.run_until(lambda: c.feed.subscriptions and any(p.lead.leading for p in c.processes), limit=15)
        c.push(2, 4)
        await c.run_until(lambda: reader.counts()[-1:] == [4], limit=10)
        assert not client.closed
        seqs = [int(i.rsplit("-", 1)[1]) for i in reader.ids()]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # the same incarnation, no gap


async def test_snapshots_are_taken_when_a_late_joiner_needs_one_and_shared():
    from backend.cluster.relay import FRESH_FRAMES

    async with Cluster() as c:
        first = await c.open(c.processes[0], GameSpec("6"))
        await c.run_until(lambda: first[0].ids())
        relay = c.leader().hub.groups[GameSpec("6").key].channel
        taken = relay.snapshots_total  # the incarnation's first state
        for n in range(1, 3 * FRESH_FRAMES):
            c.push(6, n)
        await c.run_until(lambda: first[0].counts()[-1:] == [3 * FRESH_FRAMES - 1], limit=10)
        assert relay.snapshots_total == taken  # nobody joined: no snapshot was taken
        late, _ = await c.open(c.processes[2], GameSpec("6"))
        assert relay.snapshots_total == taken + 1
        # the late joiner's opening: a recent snapshot, at most a few frames after it, where the others are
        assert late.counts()[-1] == 3 * FRESH_FRAMES - 1 and late.stands() == first[0].ids()[-1]
        assert len(late.ids()) <= FRESH_FRAMES // 2
        again, _ = await c.open(c.processes[1], GameSpec("6"))  # at once: the same snapshot serves
        assert relay.snapshots_total == taken + 1 and again.stands() == first[0].ids()[-1]
        assert again.counts()[-1] == 3 * FRESH_FRAMES - 1
        assert c.processes[2].edge.groups[GameSpec("6").key].snapshots_fetched == 1


async def test_a_leader_that_loses_its_lease_and_takes_it_again_at_once_leads_with_its_upstream():
    async with Cluster(n=1) as c:
        only = c.processes[0]
        reader, _ = await c.open(only, GameSpec("5"))
        await c.run_until(lambda: reader.ids())
        c.store.flush()  # the lease is gone: the next renewal fails and the same process takes it again
        await c.run_until(lambda: only.lead.keeper.lost_total == 1 and only.lead.keeper.acquired_total == 2)
        again, _ = await c.open(only, GameSpec("5"))  # the old incarnation ended; its browser came back
        await c.run_until(lambda: only.lead.leading and only.hub.conn.connected and c.feed.subscriptions, limit=15)
        c.push(5, 3)
        await c.run_until(lambda: again.counts()[-1:] == [3], limit=10)
        assert only.lead.leading and only.hub.conn.connected


async def test_every_edge_speaks_for_the_leaders_upstream_only_while_it_hears_from_it():
    async with Cluster() as c:
        edge = next(p for p in c.processes if p is not c.leader()).edge
        reader, _ = await c.open(next(p for p in c.processes if p.edge is edge), GameSpec("3"))
        await c.run_until(lambda: edge.swarm_ws(None) is not None and edge.swarm_ws(None).connected, limit=5)
        swarm = edge.swarm_ws(None)
        assert swarm.clients == 1 and swarm.groups == 1 and swarm.snapshots_total == 1  # this process's fan-out
        assert swarm.by_endpoint["game"].clients == 1
        health = next(p for p in c.processes if p.edge is edge).health
        await c.run_until(lambda: health.snapshot().upstream["odds_feed"].connected == 1, limit=2)
        reports = health.snapshot().hub_reports  # its own dormant hub's lease and its edge's
        assert reports.reporting and reports.leases == 2 and reports.clients == 1 and reports.upstream_connected
        assert health.snapshot().alerts == []
        c.store.down = True
        await c.run_until(lambda: edge.swarm_ws(None) is None, limit=10)  # not "connected" from old news
        assert not edge.odds_connected
        await c.run_until(lambda: not health.snapshot().hub_reports.upstream_connected, limit=1)  # its edge said so
        snap = health.snapshot()
        assert snap.upstream == {} and snap.hub_reports.reporting  # still reporting: no figures, not connected
        assert "upstream_disconnected" in {a.name for a in snap.alerts}
        c.store.down = False
        await c.run_until(lambda: edge.swarm_ws(None) is not None and edge.swarm_ws(None).connected, limit=15)
        await c.run_until(lambda: health.snapshot().upstream["odds_feed"].connected == 1, limit=1)
        leader = c.leader()
        assert leader.health.snapshot().hub_reports.upstream_connected  # the leader's own hub says so too


async def test_a_frame_lost_while_the_store_was_away_reaches_the_clients_when_it_is_back():
    async with Cluster() as c:
        reader, _ = await c.open(c.processes[1], GameSpec("4"))
        await c.run_until(lambda: reader.ids())
        publisher = c.leader().lead.publisher
        c.store.down = True
        c.push(4, 7)  # the group's only change: lost on its way to the store
        await c.run_until(lambda: publisher.failed_total > 0, limit=2, )
        c.store.down = False  # ... and the leader keeps its lease (the outage was short)
        await c.run_until(lambda: reader.counts()[-1:] == [7], limit=5)  # no later frame brings it
