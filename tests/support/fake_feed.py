"""An in-memory Swarm feed for hub tests: a ``connector`` for SwarmConnection, no sockets.

It answers ``request_session``, subscribes (or refuses them, as told), ``unsubscribe`` and plain
``get`` (an empty tree unless ``get_data`` says otherwise), keeps the subscriptions of each
connection, and can push deltas to them. Use it with a FakeClock: nothing here waits for time.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from typing import Any

from websockets.exceptions import ConnectionClosedOK

from backend.swarm.messages import CODE_TOO_MANY_SUBSCRIPTIONS

_END = object()


class FakeSocket:
    def __init__(self, feed: FakeFeed) -> None:
        self.feed = feed
        self.incoming: asyncio.Queue[object] = asyncio.Queue()
        self.closed = False
        self.subs: dict[str, dict[str, Any]] = {}  # subid -> its current tree

    async def send(self, data: Any, text: bool = True) -> None:
        if self.closed:
            raise ConnectionClosedOK(None, None)
        msg = json.loads(data)
        command, rid, params = msg["command"], msg["rid"], msg.get("params") or {}
        feed = self.feed
        if command == "request_session":
            self.reply({"code": 0, "rid": rid, "data": {"sid": f"sid{next(feed.ids)}"}})
        elif command == "get" and params.get("subscribe"):
            if feed.refuse_subscribes > 0:
                feed.refuse_subscribes -= 1
                self.reply({"code": CODE_TOO_MANY_SUBSCRIPTIONS, "rid": rid, "msg": "refused"})
                return
            subid = str(next(feed.ids))
            tree = feed.snapshot(params)
            self.subs[subid] = tree
            self.reply({"code": 0, "rid": rid, "data": {"subid": subid, "data": tree}})
        elif command == "get":
            self.reply({"code": 0, "rid": rid, "data": {"data": feed.get_data(params)}})
        elif command == "unsubscribe":
            self.subs.pop(str(params.get("subid")), None)
            self.reply({"code": 0, "rid": rid, "data": {}})
        else:
            self.reply({"code": 3, "rid": rid, "msg": "unknown command"})

    def reply(self, frame: dict[str, Any]) -> None:
        self.incoming.put_nowait(json.dumps(frame))

    def push(self, subid: str, delta: dict[str, Any]) -> None:
        self.incoming.put_nowait(json.dumps({"code": 0, "rid": 0, "data": {subid: delta}}))

    def __aiter__(self) -> FakeSocket:
        return self

    async def __anext__(self) -> Any:
        item = await self.incoming.get()
        if item is _END:
            raise StopAsyncIteration
        return item

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.incoming.put_nowait(_END)


class FakeFeed:
    def __init__(self, snapshot: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
                 get_data: Callable[[dict[str, Any]], Any] | None = None) -> None:
        self.ids = itertools.count(1)
        self.sockets: list[FakeSocket] = []
        self.refuse_subscribes = 0
        self.snapshot = snapshot or (lambda params: {})
        self.get_data = get_data or (lambda params: {})

    async def connect(self, url: str) -> FakeSocket:
        sock = FakeSocket(self)
        self.sockets.append(sock)
        return sock

    @property
    def socket(self) -> FakeSocket | None:
        open_ = [s for s in self.sockets if not s.closed]
        return open_[-1] if open_ else None

    @property
    def subscriptions(self) -> dict[str, dict[str, Any]]:
        sock = self.socket
        return sock.subs if sock is not None else {}


class FakeTrackerSocket:
    """One tracker-feed connection: answers the subscription with the game's state (or an error)."""

    def __init__(self, feed: FakeTrackerFeed) -> None:
        self.feed = feed
        self.incoming: asyncio.Queue[object] = asyncio.Queue()
        self.closed = False
        self.game_id: str | None = None

    async def send(self, data: Any, text: bool = True) -> None:
        if self.closed:
            raise ConnectionClosedOK(None, None)
        request = json.loads(data)
        self.game_id = str(request["request"]["arg"]["submatch"]["id"])
        game = self.feed.games.get(self.game_id)
        if game is None:
            self.incoming.put_nowait(json.dumps({"type": "error", "message": f"game {self.game_id} is not live"}))
        else:
            self.incoming.put_nowait(game.state_text())

    def push(self, text: str) -> None:
        self.incoming.put_nowait(text)

    def __aiter__(self) -> FakeTrackerSocket:
        return self

    async def __anext__(self) -> Any:
        item = await self.incoming.get()
        if item is _END:
            raise StopAsyncIteration
        return item

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.incoming.put_nowait(_END)


class FakeTrackerGame:
    def __init__(self, game_id: str) -> None:
        from oddsui.tracker_feed import MatchState, Score, Teams

        self.state = MatchState(game_id=game_id, seq=0, sport="football", teams=Teams("A", "B"), score=Score())

    def state_text(self) -> str:
        from oddsui.tracker_feed import encode_frame

        return encode_frame(self.state).decode()

    def next_goal(self) -> str:
        from oddsui.tracker_feed import MatchEvent, Score, apply, encode_frame

        frame = MatchEvent(game_id=self.state.game_id, seq=self.state.seq + 1, kind="goal", team="home",
                           score=Score(self.state.score.home + 1, self.state.score.away))
        self.state = apply(self.state, frame)
        return encode_frame(frame).decode()


class FakeTrackerFeed:
    """A tracker feed in memory: ``games`` it follows, the sockets clients opened, and pushes."""

    def __init__(self, games: list[str] = ()) -> None:
        self.games = {g: FakeTrackerGame(g) for g in games}
        self.sockets: list[FakeTrackerSocket] = []
        self.refuse_connections = False

    async def connect(self, url: str) -> FakeTrackerSocket:
        if self.refuse_connections:
            raise ConnectionRefusedError("refused")
        sock = FakeTrackerSocket(self)
        self.sockets.append(sock)
        return sock

    def open_sockets(self, game_id: str | None = None) -> list[FakeTrackerSocket]:
        return [s for s in self.sockets if not s.closed and (game_id is None or s.game_id == game_id)]

    def goal(self, game_id: str) -> None:
        text = self.games[game_id].next_goal()
        for sock in self.open_sockets(game_id):
            sock.push(text)
