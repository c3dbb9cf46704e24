"""A real cluster: redis-server, one feed simulator and three ``python -m backend`` processes.

Every process serves the same sport's stream with the same ids and the same bytes; ``kill -9`` of
the process that leads the upstream loses nothing: the clients of the other processes carry on
without a gap or a repeat, and a client of the killed one resumes on another process with its
Last-Event-ID exactly where it was. The launcher (``python -m backend.cluster``) brings up one
cluster behind one port, replaces a process that dies and leaves nothing behind when stopped.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest

from backend.cluster.launch import BackendProcess, RedisProcess, SimulatorProcess, free_port, member_env
from backend.settings import Settings
from bench.chaos import Fold, feed_views

REPO = Path(__file__).resolve().parents[2]
SMALL_WORLD = {"SIM_LIVE_GAMES": "40", "SIM_PREMATCH_GAMES": "200", "SIM_PRICE_CHANGES_PER_SECOND": "300",
               "LOG_LEVEL": "WARNING"}


class Member:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.log_path = log
        self._log = log.open("wb")
        self.backend = BackendProcess({**env, "HOST": "127.0.0.1", "PORT": str(self.port)}, stdout=self._log.fileno())

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.backend.proc is not None
        return self.backend.proc.pid

    def kill(self) -> None:
        os.killpg(self.pid, signal.SIGKILL)
        assert self.backend.proc is not None
        self.backend.proc.wait(10)

    def close(self) -> None:
        self.backend.stop()
        self._log.close()


@contextmanager
def cluster(n: int) -> Iterator[tuple[list[Member], RedisProcess, SimulatorProcess]]:
    settings = Settings.from_env(SMALL_WORLD)
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="cluster-") as logs:
        redis = RedisProcess().start()
        stack.callback(redis.stop)
        feed = SimulatorProcess(settings).start()
        stack.callback(feed.stop)
        env = member_env({**os.environ, **SMALL_WORLD}, redis_url=redis.url, swarm_url=feed.url,
                         tracker_url=feed.tracker_url)
        members = [Member(env, Path(logs) / f"member{i}.log") for i in range(n)]
        for m in members:
            m.backend.start()
            stack.callback(m.close)
        try:
            wait_for_cluster(members, n)
            yield members, redis, feed
        except BaseException:
            for m in members:
                print(f"--- {m.log_path.name} ---\n{m.log_path.read_text(errors='replace')[-3000:]}", file=sys.stderr)
            raise


def health(url: str) -> dict | None:
    try:
        response = httpx.get(url + "/api/health", timeout=5)
    except httpx.HTTPError:
        return None
    return response.json() if response.status_code == 200 else None


def wait_for_cluster(members: list[Member], n: int, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reports = [health(m.url) for m in members]
        if all(r is not None and len(r["cluster"]["processes"]) == n and r["cluster"]["leaders"].get("hub")
               and (r["swarm_ws"] or {}).get("connected") for r in reports):
            return
        for m in members:
            assert m.backend.exit_code is None, f"member on {m.port} exited"
        time.sleep(0.3)
    raise TimeoutError("the cluster did not form")


def leader_of(members: list[Member]) -> Member:
    report = health(members[0].url)
    assert report is not None
    holder = report["cluster"]["leaders"]["hub"]  # "<host>:<pid>:<nonce>"
    pid = int(holder.split(":")[1])
    return next(m for m in members if m.pid == pid)


class Recorder:
    """One browser's view of a stream: every (id, event, data) it got, across reconnects."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.items: list[tuple[str | None, str, str | None]] = []  # every message: (id, event, data)
        self.messages: list[tuple[str, str, str]] = []  # the events: the messages with an id and data
        self.connects = 0
        self.task: asyncio.Task | None = None
        self.ended = asyncio.Event()

    def ids(self) -> list[str]:
        return [m[0] for m in self.messages]

    async def run(self, http: httpx.AsyncClient, reconnect_to: list[str] | None = None,
                  forever: bool = False) -> None:
        """Read the stream; when it breaks, reconnect (to the next URL of ``reconnect_to``, or to
        the same one for ever) with the last id, as an EventSource does."""
        urls = [self.url, *(reconnect_to or [])]
        while forever and len(urls) < 1000:
            urls.append(self.url)
        for url in urls:
            headers = {"Last-Event-ID": self.messages[-1][0]} if self.messages else {}
            try:
                async with http.stream("GET", url, headers=headers, timeout=httpx.Timeout(10, read=30)) as response:
                    assert response.status_code == 200, response.status_code
                    self.connects += 1
                    await self._read(response)
            except (httpx.HTTPError, EOFError):
                pass
            self.url = url
            if forever:
                await asyncio.sleep(0.5)
        self.ended.set()

    async def _read(self, response: httpx.Response) -> None:
        event, data, mid = "message", [], None
        async for line in response.aiter_lines():
            if line == "":
                if mid is not None or data:
                    self.items.append((mid, event, "\n".join(data) if data else None))
                if mid is not None and data:
                    self.messages.append((mid, event, "\n".join(data)))
                event, data, mid = "message", [], None
            elif line.startswith("id:"):
                mid = line[3:].strip()
            elif line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))


def fold(items: list[tuple[str | None, str, str | None]], until: str) -> dict:
    """What a browser shows once it stands at id ``until``: the games list and each listed game's
    main odds. A late joiner's opening (the snapshot, without ids) comes before the id-only message
    that says where it stands; an odds snapshot (its ids strings) replaces what was known."""
    games: list[str] = []
    odds: dict[str, tuple] = {}
    last = seqs([until])[0]
    assert until in (i[0] for i in items), f"{until} never came"
    for mid, event, data in items:
        if mid is not None and seqs([mid])[0] > last:
            break
        if data is None:
            continue
        payload = json.loads(data)
        if event == "games":
            games = sorted(str(g["id"]) for g in payload["data"])
        elif event == "odds":
            if any(isinstance(u["gameId"], str) for u in payload["updates"]):
                odds = {}
            for u in payload["updates"]:
                odds[str(u["gameId"])] = (json.dumps(u["odds"]), u.get("markets_count"))
    return {"games": games, "odds": {g: v for g, v in odds.items() if g in games and v[0] != "null"}}


async def opening_view(http: httpx.AsyncClient, url: str) -> dict:
    """What a browser arriving now is shown: its opening (a snapshot, and on a replica the frames
    after it) folded up to the id-only message that says where it stands."""
    recorder = Recorder(url)
    task = asyncio.create_task(recorder.run(http))
    try:
        await wait(lambda: any(mid is not None and data is None for mid, _, data in recorder.items), 15,
                   "no opening")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    fold = Fold()
    for mid, event, data in recorder.items:
        if data is None:
            if mid is not None:
                break
            continue
        fold.take(event, data)
    return fold.view()


def seqs(ids: list[str]) -> list[int]:
    return [int(i.rsplit("-", 1)[1]) for i in ids]


def epochs_in_order(recorder: Recorder) -> list[str]:
    out: list[str] = []
    for i in recorder.ids():
        epoch = i.rsplit("-", 1)[0]
        if not out or out[-1] != epoch:
            out.append(epoch)
    return out


def assert_gapless_per_epoch(recorder: Recorder) -> None:
    by_epoch: dict[str, list[int]] = {}
    for i in recorder.ids():
        epoch, seq = i.rsplit("-", 1)
        by_epoch.setdefault(epoch, []).append(int(seq))
    assert len(by_epoch) == len(epochs_in_order(recorder)), "an epoch came back after another"
    for got in by_epoch.values():
        assert got == list(range(got[0], got[0] + len(got))), "a gap or a repeat"


def assert_gapless(recorder: Recorder) -> None:
    epochs = {i.rsplit("-", 1)[0] for i in recorder.ids()}
    assert len(epochs) == 1, f"the stream's epoch changed: {epochs}"
    got = seqs(recorder.ids())
    assert got == list(range(got[0], got[0] + len(got))), "a gap or a repeat"


async def wait(predicate, timeout: float, what: str, detail=None) -> None:
    """Poll ``predicate`` until it holds; past ``timeout`` raise, saying ``what`` (and ``detail()``:
    what was seen last, when given)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(what if detail is None else f"{what}; last seen: {detail()}")
        await asyncio.sleep(0.1)


async def a_live_sport(http: httpx.AsyncClient, base: str) -> str:
    sports = (await http.get(base + "/api/hierarchy")).json()["sport"]
    return str(min(int(k) for k in sports))


@pytest.mark.timeout(240)
async def test_a_killed_leader_loses_no_event_on_any_process():
    with cluster(3) as (members, _redis, feed):
        leader = leader_of(members)
        others = [m for m in members if m is not leader]
        async with httpx.AsyncClient() as http:
            sport = await a_live_sport(http, members[0].url)
            path = f"/api/live-stream?sportId={sport}"
            followers = [Recorder(m.url + path) for m in others]
            moved = Recorder(leader.url + path)  # a browser of the process that will be killed
            tasks = [asyncio.create_task(r.run(http)) for r in followers]
            tasks.append(asyncio.create_task(moved.run(http, reconnect_to=[others[0].url + path])))
            recorders = [*followers, moved]
            await wait(lambda: all(len(r.messages) >= 12 for r in recorders), 60, "streams did not flow")
            # and one live game's tracker, followed from both processes that stay
            games = next(json.loads(d) for _, e, d in followers[0].messages if e == "games")["data"]
            tracked = f"/api/live-tracker?gameId={games[0]['id']}"
            trackers = [Recorder(m.url + tracked) for m in others]
            tasks += [asyncio.create_task(r.run(http)) for r in trackers]
            recorders += trackers
            await wait(lambda: all(len(r.messages) >= 3 for r in trackers), 30, "the tracker did not flow")
            for r in trackers:  # on every process, as from one: ready, then the match state
                first = [(event, data) for _, event, data in r.items if data is not None][:2]
                assert first[0][0] == "ready" and json.loads(first[0][1]) == {"gameId": str(games[0]["id"])}, first
                assert first[1][0] == "message" and json.loads(first[1][1])["type"] == "state", first

            # one stream, one history: the same id is the same event with the same data everywhere
            by_id: dict[str, tuple[str, str]] = {}
            for r in recorders:
                for mid, event, data in r.messages:
                    assert by_id.setdefault(mid, (event, data)) == (event, data), f"{mid} differs between processes"

            leader.kill()
            killed_at = [len(r.messages) for r in followers + trackers]
            await wait(lambda: moved.connects == 2 and all(len(r.messages) > n + 3 for r, n in zip(followers + trackers,
                       killed_at)) and len(moved.messages) > 20, 60, "streams did not carry on after the takeover")
            for r in recorders:
                assert_gapless(r)
            # every browser converges to the state a browser arriving now is given
            late = Recorder(others[1].url + path)
            tasks.append(asyncio.create_task(late.run(http)))
            await wait(lambda: any(d is None for _, _, d in late.items), 15, "no opening for a late joiner")
            stand = next(mid for mid, _, d in late.items if d is None)  # the id-only message: where it stands
            await wait(lambda: all(stand in r.ids() for r in [*followers, moved]), 15, "not every browser got there")
            now = fold(late.items, stand)
            assert now["games"] and now["odds"]
            for r in [*followers, moved]:
                assert fold(r.items, stand) == now
            # ... and what every process shows is the feed's own state: with the simulator frozen,
            # a browser arriving now is shown exactly what the feed says
            os.kill(feed.proc.pid, signal.SIGUSR1)
            try:
                for _ in range(6):  # what was in flight when it froze lands first
                    await asyncio.sleep(1.0)
                    view = await opening_view(http, others[1].url + path)
                    problems = (await feed_views(feed.url, {path: view}))[path]
                    if not problems:
                        break
                assert view.get("games") and problems == [], problems
            finally:
                os.kill(feed.proc.pid, signal.SIGUSR2)
            after = health(others[0].url)
            assert after is not None and after["cluster"]["leaders"]["hub"] not in (None, "")
            assert int(after["cluster"]["leaders"]["hub"].split(":")[1]) != leader.pid
            # health on a process that does not hold a feed's leadership speaks for that feed's
            # upstream (as its leader last published it: every second). After the kill the two
            # survivors race for each lease on its own, so one may lead both feeds, or each one.
            def not_leading(name: str) -> dict | None:
                for h in map(health, (m.url for m in others)):
                    if h and not any(name in p["leader"] for p in h["cluster"]["processes"]
                                     if p["process"] == h["cluster"]["process"]):
                        return h
                return None

            def quiet_sees_upstreams() -> bool:
                odds, tracker = not_leading("hub"), not_leading("tracker")
                return bool(odds and (odds["swarm_ws"] or {}).get("connected")
                            and odds["upstream"]["odds_feed"]["connected"]
                            and tracker and tracker["upstream"].get("tracker_feed", {}).get("connected", 0) >= 1)

            await wait(quiet_sees_upstreams, 10, "health of a non-leader does not show the leaders' upstreams",
                       lambda: [{k: v for k, v in (h or {}).items() if k in ("swarm_ws", "upstream", "cluster")}
                                for h in map(health, (m.url for m in others))])
            quiet = not_leading("tracker")
            assert quiet["live_tracker"]["active_games"] >= 1 and quiet["live_tracker"]["active_sse_clients"] >= 2
            assert quiet["live_tracker"]["connect_attempts_total"] >= 1  # the tracker leader's connections
            # the fan-out figures are this process's own: the moved browser resumed on others[0]
            fanout = health(others[0].url)["swarm_ws"]
            assert fanout["resumed_total"] >= 1 and fanout["writes_total"] > 0 and fanout["clients"] >= 2
            # and /metrics on it shows the cluster: who leads, every process's clients
            quiet_url = next(m.url for m in others if health(m.url)["cluster"]["process"] == quiet["cluster"]["process"])
            metrics = (await http.get(quiet_url + "/metrics")).text
            new_leader = quiet["cluster"]["leaders"]["hub"]
            assert f'odds_cluster_leader{{process="{new_leader}",service="hub"}} 1.0' in metrics
            assert 'odds_cluster_is_leader{service="hub"} 0.0' in metrics
            assert "odds_cluster_store_up 1.0" in metrics
            for p in quiet["cluster"]["processes"]:
                assert f'odds_cluster_process_clients{{process="{p["process"]}",service="hub"}}' in metrics
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            # the moved browser saw every id the others saw from where it joined on
            first = moved.ids()[0]
            for r in followers:
                common = [i for i in r.ids() if seqs([i])[0] >= seqs([first])[0]]
                assert moved.ids()[:len(common)] == common[:len(moved.ids())]


@pytest.mark.timeout(180)
async def test_redis_going_away_and_coming_back_empty_loses_no_browser():
    with cluster(2) as (members, redis, _feed):
        async with httpx.AsyncClient() as http:
            sport = await a_live_sport(http, members[0].url)
            readers = [Recorder(m.url + f"/api/live-stream?sportId={sport}") for m in members]
            tasks = [asyncio.create_task(r.run(http, forever=True)) for r in readers]
            await wait(lambda: all(len(r.messages) >= 5 for r in readers), 60, "streams did not flow")
            redis.stop()
            # every process says so, and serves what it has: the streams stay open
            await wait(lambda: all((h := health(m.url)) and not h["cluster"]["store_ok"]
                                   and "cluster_store" in {a["name"] for a in h["alerts"]} for m in members),
                       15, "health does not show the store away")
            assert all(r.connects == 1 for r in readers)
            redis.start()  # the same port, nothing in it
            # the streams of the forgotten incarnation end; the browsers come back to a new one
            await wait(lambda: all(r.connects >= 2 and len(epochs_in_order(r)) == 2 for r in readers)
                       and readers[0].ids()[-1:] == readers[1].ids()[-1:], 60, "the browsers did not recover")
            first, second = epochs_in_order(readers[0])
            await wait(lambda: all(len([i for i in r.ids() if i.startswith(second)]) >= 5 for r in readers), 30,
                       "the new incarnation does not flow")
            for r in readers:
                assert epochs_in_order(r) == [first, second]
                assert_gapless_per_epoch(r)
            await wait(lambda: all((h := health(m.url)) and h["cluster"]["store_ok"]
                                   and "cluster_store" not in {a["name"] for a in h["alerts"]} for m in members),
                       15, "health does not show the store back")
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


@pytest.mark.timeout(180)
def test_the_launcher_runs_a_cluster_behind_one_port_and_replaces_a_process_that_dies():
    port = free_port()
    env = {**os.environ, **SMALL_WORLD, "PORT": str(port), "HOST": "127.0.0.1"}
    env.pop("REDIS_URL", None)
    env.pop("SWARM_WS_URL", None)
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen([sys.executable, "-m", "backend.cluster", "--processes", "2"], cwd=REPO, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"

    def processes() -> set[str]:
        seen: set[str] = set()
        for _ in range(8):  # connections are spread between the processes: ask a few times
            report = health(base)
            if report is not None:
                seen |= {p["process"] for p in report["cluster"]["processes"]}
        return seen

    def until(predicate, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            assert proc.poll() is None, "the launcher exited"
            if time.monotonic() > deadline:
                log.seek(0)
                raise TimeoutError(f"{what}\n{log.read().decode(errors='replace')[-3000:]}")
            time.sleep(0.3)

    try:
        until(lambda: len(processes()) == 2, 90, "the cluster did not form")
        answered_by = set()
        for _ in range(20):
            with httpx.Client() as fresh:  # a new connection each time: the kernel picks a process
                answered_by.add(fresh.get(base + "/api/health", timeout=5).json()["cluster"]["process"])
        assert len(answered_by) == 2, "one port, but not both processes behind it"
        victim = sorted(processes())[0]
        os.kill(int(victim.split(":")[1]), signal.SIGKILL)
        until(lambda: victim not in processes() and len(processes()) == 2, 60, "the dead process was not replaced")
        members = {int(p.split(":")[1]) for p in processes()}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        code = proc.wait(40)
    assert code == 0
    log.seek(0)
    output = log.read().decode(errors="replace")
    assert f"Odds browser cluster: http://localhost:{port}/" in output
    assert "Traceback" not in output
    # nothing is left behind: the members, the feed and Redis are gone
    redis_port = int(output.split("Redis at redis://127.0.0.1:")[1].split("/")[0])
    feed_port = int(output.split("feed at ws://127.0.0.1:")[1].split("/")[0])
    for pid in members:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    for p in (port, redis_port, feed_port):
        with pytest.raises(OSError), socket.create_connection(("127.0.0.1", p), timeout=1):
            pass
