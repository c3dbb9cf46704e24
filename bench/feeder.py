"""The bench's upstream: a minimal Swarm feed for the hub, and an HTTP publisher for the peers.

Both push the same sequence of odds changes. Change ``seq`` sets the P1 price of the one live
game's main market to ``price_of(seq)`` (unique per seq), so a client that sees a price knows which
change it is and the latency is ``receipt time - sent_at[seq]`` (both ``time.monotonic()``, which
is one clock for every process on the machine).

:class:`SwarmFeeder` is a WebSocket server (library ``websockets``) that the real hub connects to
through ``SWARM_WS_URL``. It answers exactly what a live-stream group of sport 1 sends (see
``backend/hub/queries.py`` and ``backend/hub/groups.py``): ``request_session``; the hierarchy
``get``; ``get_market_type``; the live and prematch counts subscriptions; the live games
subscription; the live main-odds subscription; ``unsubscribe``. Its world is fixed and tiny: sport
1 "Football", one region, one competition, one live game whose main market (type ``P1XP2``) has
three events. Frames follow docs/api.md D: replies ``{"code":0,"rid":..,"data":{"subid":..,"data":TREE}}``
and pushes ``{"code":0,"rid":0,"data":{"<subid>":DELTA}}``.

:class:`HttpPublisher` POSTs the ``data:`` JSON of the hub's ``odds`` event for the same change,
byte for byte (:func:`odds_payload`), to a peer's publish URL over one keep-alive connection.

Run on its own (``python -m bench.feeder --port 9001 --rate 10``) it serves the feed and pushes a
change at the given rate for as long as it runs, which is handy for poking at a hub by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import logging
import time
from typing import Any, Protocol, Self

import msgspec
import websockets
from websockets.asyncio.server import Server, ServerConnection, serve

log = logging.getLogger(__name__)

SPORT_ID = 1
SPORT_NAME = "Football"
SPORT_ALIAS = "Soccer"
REGION_ID = 10
COMPETITION_ID = 100
GAME_ID = 1001
MARKET_ID = 5001
MARKET_TYPE = "P1XP2"
MARKETS_COUNT = 143
# (event id, type, name, order, price); the P1 price is replaced by price_of(seq).
EVENTS = [(7001, "P1", "W1", 0, None), (7002, "X", "X", 1, 3.4), (7003, "P2", "W2", 2, 4.2)]
P1_EVENT_ID = 7001
BASE_PRICE = 1000.5  # seq 0 is the price before the measured window; binary-exact, shortest repr

_encode = msgspec.json.Encoder().encode


def price_of(seq: int) -> float:
    return BASE_PRICE + seq


def seq_of(price: float) -> int:
    return round(price - BASE_PRICE)


def odds_payload(seq: int) -> bytes:
    """The ``data:`` JSON of the hub's live ``odds`` event for change ``seq`` (docs/api.md B2)."""
    odds = [{"label": label, "price": price_of(seq) if price is None else price, "blocked": False}
            for label, (_id, _type, _name, _order, price) in zip(("1", "X", "2"), EVENTS)]
    return _encode({"sportId": str(SPORT_ID),
                    "updates": [{"gameId": GAME_ID, "odds": odds, "markets_count": MARKETS_COUNT}]})


# -- the fixed world, as the trees a Swarm `get` returns -------------------------------------------

def _game() -> dict[str, Any]:
    return {"id": GAME_ID, "sport_id": SPORT_ID, "type": 1, "start_ts": 1_767_225_600,
            "team1_name": "Bench United", "team2_name": "Fanout City", "is_blocked": 0,
            "info": {"score1": "0", "score2": "0", "current_game_state": "set1", "current_game_time": "12"},
            "text_info": "12'", "markets_count": MARKETS_COUNT, "competition_id": COMPETITION_ID,
            "region_id": REGION_ID}


def games_tree() -> dict[str, Any]:
    return {"sport": {str(SPORT_ID): {"id": SPORT_ID, "name": SPORT_NAME, "region": {str(REGION_ID): {
        "id": REGION_ID, "name": "World", "competition": {str(COMPETITION_ID): {
            "id": COMPETITION_ID, "name": "Bench League", "game": {str(GAME_ID): _game()}}}}}}}}


def odds_tree(seq: int) -> dict[str, Any]:
    events = {str(eid): {"id": eid, "market_id": MARKET_ID, "type": etype, "type_1": etype, "name": name,
                         "order": order, "price": price_of(seq) if price is None else price, "base": None,
                         "is_blocked": 0}
              for eid, etype, name, order, price in EVENTS}
    market = {"id": MARKET_ID, "game_id": GAME_ID, "type": MARKET_TYPE, "order": 1, "is_blocked": 0,
              "display_key": "WINNER", "display_sub_key": "MATCH", "main_order": 1, "base": None,
              "event": events}
    return {"game": {str(GAME_ID): {"id": GAME_ID, "markets_count": MARKETS_COUNT,
                                    "market": {str(MARKET_ID): market}}}}


def odds_delta(seq: int) -> dict[str, Any]:
    return {"game": {str(GAME_ID): {"market": {str(MARKET_ID): {"event": {str(P1_EVENT_ID): {
        "price": price_of(seq)}}}}}}}


def counts_tree(live: bool) -> dict[str, Any]:
    if not live:
        return {"sport": {}}
    return {"sport": {str(SPORT_ID): {"id": SPORT_ID, "name": SPORT_NAME, "game": {str(GAME_ID): {"id": GAME_ID}}}}}


def hierarchy_tree() -> dict[str, Any]:
    return {"sport": {str(SPORT_ID): {"id": SPORT_ID, "name": SPORT_NAME, "alias": SPORT_ALIAS, "order": 1,
                                      "region": {str(REGION_ID): {"id": REGION_ID, "name": "World", "alias": "World",
                                                                  "order": 1, "competition": {str(COMPETITION_ID): {
                                                                      "id": COMPETITION_ID, "name": "Bench League",
                                                                      "alias": "Bench League", "order": 1}}}}}}}


def classify_get(what: dict[str, Any], where: dict[str, Any]) -> str:
    """Which of the hub's queries a ``get`` is: odds, games, counts-live, counts-prematch, hierarchy."""
    if "event" in what:
        return "odds"
    if "game" in what and "region" in what:
        return "games" if (where.get("game") or {}).get("type") == 1 else "games-prematch"
    if "game" in what:
        return "counts-live" if (where.get("game") or {}).get("type") == 1 else "counts-prematch"
    if "sport" in what:
        return "hierarchy"
    return "other"


# -- publishers --------------------------------------------------------------------------------

class Publisher(Protocol):
    sent_at: dict[int, float]
    """``time.monotonic()`` just before change ``seq`` left the publisher."""

    async def publish(self, seq: int) -> None:
        """Send change ``seq`` now, without waiting for the server to act on it."""
        ...

    async def flush(self, timeout: float = 10.0) -> None:
        """Wait until the server has taken every change so far (where the protocol says so)."""
        ...


class _FeedConnection:
    def __init__(self, ws: ServerConnection) -> None:
        self.ws = ws
        self.subs: dict[str, str] = {}  # subid -> query kind


class SwarmFeeder:
    """A Swarm WebSocket server with the fixed world above. Use as ``async with``."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.seq = 0
        self.sent_at: dict[int, float] = {}
        self.commands: list[str] = []  # every command received, with the get kind: "get:odds"...
        self._conns: set[_FeedConnection] = set()
        self._subids = itertools.count(1)
        self._server: Server | None = None

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}/"

    async def __aenter__(self) -> Self:
        self._server = await serve(self._serve, self.host, self.port, max_size=None)
        self.port = self._server.sockets[0].getsockname()[1] if self.port == 0 else self.port
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def odds_subscriptions(self) -> int:
        return sum(kind == "odds" for conn in self._conns for kind in conn.subs.values())

    async def _serve(self, ws: ServerConnection) -> None:
        conn = _FeedConnection(ws)
        self._conns.add(conn)
        try:
            async for message in ws:
                try:
                    request = json.loads(message)
                    reply = self._answer(conn, request)
                except Exception as exc:
                    log.warning("feeder: cannot answer %r: %s", message[:200], exc)
                    reply = {"code": 2, "rid": None, "msg": str(exc)}
                await ws.send(_encode(reply).decode())
        except websockets.ConnectionClosed:
            pass
        finally:
            self._conns.discard(conn)

    def _answer(self, conn: _FeedConnection, request: dict[str, Any]) -> dict[str, Any]:
        command = request.get("command")
        rid = request.get("rid")
        params = request.get("params") or {}
        if command == "request_session":
            self.commands.append(command)
            return {"code": 0, "rid": rid, "data": {"sid": f"bench-{next(self._subids)}"}}
        if command == "get_market_type":
            self.commands.append(command)
            return {"code": 0, "rid": rid, "data": {"details": [{"BasaltKind": MARKET_TYPE, "Order": 1}]}}
        if command == "unsubscribe":
            self.commands.append(command)
            conn.subs.pop(str(params.get("subid")), None)
            return {"code": 0, "rid": rid, "data": {}}
        if command == "get":
            kind = classify_get(params.get("what") or {}, params.get("where") or {})
            self.commands.append(f"get:{kind}")
            tree = {
                "odds": lambda: odds_tree(self.seq),
                "games": games_tree,
                "games-prematch": lambda: {"sport": {}},
                "counts-live": lambda: counts_tree(True),
                "counts-prematch": lambda: counts_tree(False),
                "hierarchy": hierarchy_tree,
            }.get(kind, dict)()
            if not params.get("subscribe"):
                return {"code": 0, "rid": rid, "data": {"data": tree}}
            subid = str(next(self._subids))
            conn.subs[subid] = kind
            return {"code": 0, "rid": rid, "data": {"subid": subid, "data": tree}}
        self.commands.append(str(command))
        return {"code": 3, "rid": rid, "msg": f"unknown command {command!r}"}

    async def publish(self, seq: int) -> None:
        """Push change ``seq`` to every odds subscription (one frame per connection)."""
        self.seq = seq
        delta = odds_delta(seq)
        frames = []
        for conn in list(self._conns):
            subids = [s for s, kind in conn.subs.items() if kind == "odds"]
            if subids:
                frames.append((conn, _encode({"code": 0, "rid": 0, "data": {s: delta for s in subids}}).decode()))
        if not frames:
            log.warning("feeder: change %d has no odds subscription to go to", seq)
        self.sent_at[seq] = time.monotonic()
        for conn, frame in frames:
            try:
                await conn.ws.send(frame)
            except websockets.ConnectionClosed:
                pass

    async def flush(self, timeout: float = 10.0) -> None:
        """Pushes have no acknowledgement in Swarm: nothing to wait for."""


class HttpPublisher:
    """POSTs :func:`odds_payload` to ``http://host:port{path}`` on one keep-alive connection.

    Requests are pipelined: :meth:`publish` writes and returns at once, and a reader task takes the
    responses in order. Waiting for each response would let a saturated server pace its own
    publisher (and so hide its backlog); a Swarm feed does not wait for the hub either.
    """

    def __init__(self, host: str, port: int, path: str) -> None:
        self.host = host
        self.port = port
        self.path = path
        self.sent_at: dict[int, float] = {}
        self.statuses: dict[int, int] = {}
        self.sent = 0
        self.answered = 0
        self.error: str | None = None
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._responses: asyncio.Task[None] | None = None
        self._progress = asyncio.Event()

    async def publish(self, seq: int) -> None:
        body = odds_payload(seq)
        head = (f"POST {self.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
        if self._responses is not None and self._responses.done():  # the server closed an idle connection
            await self.close()
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
            self._responses = asyncio.create_task(self._read_responses(self._reader))
        self.sent_at[seq] = time.monotonic()
        self._writer.write(head + body)
        self.sent += 1
        await self._writer.drain()

    async def flush(self, timeout: float = 10.0) -> None:
        """Wait until every request so far has its response; raise if one was not 2xx."""
        async with asyncio.timeout(timeout):
            while self.answered < self.sent and self.error is None:
                self._progress.clear()
                await self._progress.wait()
        bad = {s: n for s, n in self.statuses.items() if not 200 <= s < 300}
        if self.error or bad:
            raise RuntimeError(f"publishing to {self.path} failed: {self.error or bad}")

    async def close(self) -> None:
        if self._responses is not None:
            self._responses.cancel()
        if self._writer is not None:
            self._writer.close()
            try:
                await self._writer.wait_closed()
            except OSError:
                pass
        self._reader = self._writer = self._responses = None

    async def _read_responses(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                status = await read_response(reader)
                self.statuses[status] = self.statuses.get(status, 0) + 1
                self.answered += 1
                self._progress.set()
        except asyncio.IncompleteReadError as exc:
            if exc.partial or self.answered < self.sent:
                self.error = f"connection closed with {self.sent - self.answered} publish(es) unanswered"
            self._progress.set()
        except (OSError, ValueError) as exc:
            self.error = f"{type(exc).__name__}: {exc}"
            self._progress.set()



async def read_response(reader: asyncio.StreamReader) -> int:
    """Read one HTTP/1.1 response (head and body) from ``reader``; return its status."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif status not in (204, 304):
        await reader.readexactly(int(headers.get("content-length", "0")))
    return status


async def _main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=9001)
    parser.add_argument("--rate", type=float, default=10.0, help="changes per second (0: none)")
    args = parser.parse_args()
    async with SwarmFeeder(port=args.port) as feeder:
        print(f"Swarm bench feed at {feeder.url}; SWARM_WS_URL={feeder.url} python -m backend", flush=True)
        for seq in itertools.count(1):
            if args.rate <= 0:
                await asyncio.Event().wait()
            await asyncio.sleep(1 / args.rate)
            await feeder.publish(seq)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    try:
        asyncio.run(_main())
    except KeyboardInterrupt:
        pass
