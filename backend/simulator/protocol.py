"""The Swarm protocol for one client connection, sans-I/O.

:class:`SwarmProtocol` owns a connection's session and subscriptions. The adapter feeds it each
request text with the current time (:meth:`SwarmProtocol.receive`) and sends the reply frames it
returns; after each world tick it calls :meth:`SwarmProtocol.collect_pushes` with the tick's
:class:`ChangeIndex` and sends the push frame, if any. Nothing here touches a socket or a clock.

Errors, each answered as ``{"code": <code>, "rid": <rid>, "msg": "..."}`` on a connection that stays
open (codes from :mod:`backend.swarm.messages`). The client's mistakes are :class:`RequestError` s
(each subclass carries its code) or :class:`~.query.QueryError` s; anything else raised while
handling a request is the simulator's own bug:

* ``CODE_BAD_REQUEST`` -- not JSON, not an object, no command, bad params, malformed what/where;
* ``CODE_UNKNOWN_COMMAND`` -- a command this feed does not know;
* ``CODE_SESSION_LOST`` -- any command but ``request_session`` without a live session;
* ``CODE_NO_SUCH_SUBSCRIPTION`` -- unsubscribing a subid this session does not hold;
* ``CODE_TOO_MANY_SUBSCRIPTIONS`` -- past ``max_subscriptions`` live subscriptions;
* ``CODE_INTERNAL`` -- a bug in the simulator (logged).
"""

from __future__ import annotations

import itertools
import logging
import math
import random
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from backend.swarm.messages import (
    CODE_BAD_REQUEST,
    CODE_INTERNAL,
    CODE_NO_SUCH_SUBSCRIPTION,
    CODE_OK,
    CODE_SESSION_LOST,
    CODE_TOO_MANY_SUBSCRIPTIONS,
    CODE_UNKNOWN_COMMAND,
)

from .diff import diff
from .query import COMPETITION, GAME, SPORT, Memo, Query, QueryError, evaluate, parse_query
from .world import World, WorldChanges

log = logging.getLogger(__name__)

NOW_RESOLUTION = 1.0  # seconds between re-evaluations of a time-dependent (@now) subscription
_ENCODER = msgspec.json.Encoder()


class RequestError(Exception):
    """A request the client got wrong: answered with :attr:`code` and the message, never fatal."""

    code = CODE_BAD_REQUEST


class BadParams(RequestError):
    """The request's params are missing or of the wrong type."""


class TooManySubscriptions(RequestError):
    code = CODE_TOO_MANY_SUBSCRIPTIONS


class NoSuchSubscription(RequestError):
    code = CODE_NO_SUCH_SUBSCRIPTION


class IncomingRequest(msgspec.Struct):
    """A request frame as this feed accepts it (``rid`` is echoed back as it came)."""

    command: str
    params: dict[str, Any] | None = None
    rid: str | int | float | None = None


def encode(frame: Mapping[str, Any]) -> str:
    return _ENCODER.encode(frame).decode()


def reply(rid: Any, data: Any) -> str:
    return encode({"code": CODE_OK, "rid": rid, "data": data})


def error(rid: Any, code: int, msg: str) -> str:
    return encode({"code": code, "rid": rid, "msg": msg})


class IdSource:
    """Session ids and subids, unique per server and reproducible from the seed."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(f"ids:{seed}")
        self._subids = itertools.count(1)

    def session_id(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def subscription_id(self) -> str:
        return str(100_000 + next(self._subids))


@dataclass(slots=True)
class _Group:
    """Changed games with their current paths, grouped for quick lookup by id hints."""

    ids: frozenset[int]
    by_game: dict[int, tuple[int, ...]] = field(default_factory=dict)
    by_sport: dict[int, list[tuple[int, ...]]] = field(default_factory=dict)
    by_competition: dict[int, list[tuple[int, ...]]] = field(default_factory=dict)

    @classmethod
    def of(cls, world: World, ids: frozenset[int]) -> _Group:
        group = cls(ids)
        for gid in ids:
            path = world.locate(GAME, gid)
            if path is None:
                continue  # removed: only subscriptions that held it care, and they know it
            group.by_game[gid] = path
            group.by_sport.setdefault(path[SPORT], []).append(path)
            group.by_competition.setdefault(path[COMPETITION], []).append(path)
        return group

    def candidates(self, query: Query) -> Iterable[tuple[int, ...]]:
        """Paths of changed games that could match ``query``, narrowed by its id hints."""
        hints = query.id_hints
        if GAME in hints:
            return [self.by_game[g] for g in hints[GAME] if g in self.by_game]
        if COMPETITION in hints:
            return [p for c in hints[COMPETITION] for p in self.by_competition.get(c, ())]
        if SPORT in hints:
            return [p for s in hints[SPORT] for p in self.by_sport.get(s, ())]
        return self.by_game.values()


@dataclass(slots=True)
class ChangeIndex:
    """One tick's changes, indexed once and shared by every connection's push computation."""

    games: _Group  # game fields changed, or the game appeared or left
    any: _Group  # the above plus games whose markets changed

    @classmethod
    def of(cls, world: World, changes: WorldChanges) -> ChangeIndex:
        return cls(_Group.of(world, changes.games), _Group.of(world, changes.games | changes.markets))


@dataclass(slots=True)
class Subscription:
    subid: str
    query: Query
    tree: dict[str, Any]  # the last tree the client has (it never changes once stored)
    games: frozenset[int] | None  # games included in ``tree``
    evaluated_at: float
    memo: Memo | None  # lets the next evaluation reuse unchanged game and market nodes


class SwarmProtocol:
    """A connection's Swarm state machine: no session -> session (with subscriptions).

    Feed it requests with :meth:`receive`; after every world tick ask :meth:`collect_pushes` for the
    push frame to send. :meth:`expire_session` drops the session, as a feed restart would.
    """

    def __init__(self, world: World, ids: IdSource, *, max_subscriptions: int = 2000) -> None:
        self._world = world
        self._ids = ids
        self._max_subscriptions = max_subscriptions
        self._session: str | None = None
        self._subs: dict[str, Subscription] = {}
        self._handlers: dict[str, Callable[[dict[str, Any], float], Any]] = {
            "get": self._get,
            "unsubscribe": self._unsubscribe,
            "get_market_type": self._get_market_type,
            "get_active_competitions": self._get_active_competitions,
            "get_result_games": self._get_result_games,
            "get_results": self._get_results,
        }

    @property
    def session_id(self) -> str | None:
        return self._session

    @property
    def subscription_count(self) -> int:
        return len(self._subs)

    @property
    def subscription_ids(self) -> list[str]:
        return list(self._subs)

    def expire_session(self) -> bool:
        """Forget the session and its subscriptions; later commands answer CODE_SESSION_LOST."""
        had = self._session is not None
        self._session = None
        self._subs.clear()
        return had

    def receive(self, text: str | bytes, now: float) -> list[str]:
        """Handle one request frame at epoch time ``now``; returns the frames to send back."""
        try:
            message = msgspec.json.decode(text)
        except msgspec.DecodeError:
            return [error(None, CODE_BAD_REQUEST, "request is not valid JSON")]
        if not isinstance(message, dict):
            return [error(None, CODE_BAD_REQUEST, "request must be a JSON object")]
        rid = message.get("rid")
        if isinstance(rid, (dict, list)):
            rid = None
        try:
            request = msgspec.convert(message, IncomingRequest)
        except msgspec.ValidationError as exc:
            return [error(rid, CODE_BAD_REQUEST, f"malformed request: {exc}")]
        command, params = request.command, request.params or {}
        if not command:
            return [error(rid, CODE_BAD_REQUEST, "request has no command")]
        if command == "request_session":
            return [reply(rid, self._request_session(params))]
        handler = self._handlers.get(command)
        if handler is None:
            return [error(rid, CODE_UNKNOWN_COMMAND, f"unknown command {command!r}")]
        if self._session is None:
            return [error(rid, CODE_SESSION_LOST, "no session: send request_session first")]
        try:
            return [reply(rid, handler(params, now))]
        except QueryError as exc:
            return [error(rid, CODE_BAD_REQUEST, str(exc))]
        except RequestError as exc:
            return [error(rid, exc.code, str(exc))]
        except Exception:
            log.exception("simulator failed on %s", command)
            return [error(rid, CODE_INTERNAL, f"internal error handling {command}")]

    def collect_pushes(self, changes: ChangeIndex, now: float) -> str | None:
        """The push frame carrying every subscription's delta since the client's last view.

        Only subscriptions the changes can affect are re-evaluated. Returns None when nothing the
        client sees changed.
        """
        deltas: dict[str, Any] = {}
        for sub in self._subs.values():
            if not self._needs_update(sub, changes, now):
                continue
            result = evaluate(sub.query, self._world, now, sub.memo)
            delta = diff(sub.tree, result.tree)
            sub.tree, sub.games, sub.evaluated_at, sub.memo = result.tree, result.games, now, result.memo
            if delta is not None:
                deltas[sub.subid] = delta
        if not deltas:
            return None
        return encode({"code": CODE_OK, "rid": 0, "data": deltas})

    def _needs_update(self, sub: Subscription, changes: ChangeIndex, now: float) -> bool:
        query = sub.query
        if query.uses_now and now - sub.evaluated_at >= NOW_RESOLUTION:
            return True
        if query.deepest < GAME:
            return False  # sports, regions and competitions never change
        group = changes.games if query.deepest == GAME else changes.any
        if not group.ids:
            return False
        if sub.games and not group.ids.isdisjoint(sub.games):
            return True
        return any(query.game_may_match(self._world, path, now) for path in group.candidates(query))

    # ------------------------------------------------------------------ commands

    def _request_session(self, params: dict[str, Any]) -> dict[str, Any]:
        self._subs.clear()  # a new session starts without subscriptions
        self._session = self._ids.session_id()
        return {"sid": self._session}

    def _get(self, params: dict[str, Any], now: float) -> dict[str, Any]:
        source = params.get("source", "betting")
        if source != "betting":
            raise BadParams(f"unknown source {source!r}")
        query = parse_query(params.get("what"), params.get("where"))
        subscribe = params.get("subscribe", False)
        if not isinstance(subscribe, bool):
            raise BadParams("subscribe must be true or false")
        if subscribe and len(self._subs) >= self._max_subscriptions:
            raise TooManySubscriptions(f"at most {self._max_subscriptions} subscriptions per session")
        result = evaluate(query, self._world, now, {} if subscribe else None)
        if not subscribe:
            return {"data": result.tree}
        subid = self._ids.subscription_id()
        self._subs[subid] = Subscription(subid, query, result.tree, result.games, now, result.memo)
        return {"subid": subid, "data": result.tree}

    def _unsubscribe(self, params: dict[str, Any], now: float) -> dict[str, Any]:
        subid = params.get("subid")
        if not isinstance(subid, (str, int)) or isinstance(subid, bool):
            raise BadParams("unsubscribe needs a subid")
        if self._subs.pop(str(subid), None) is None:
            raise NoSuchSubscription(f"no subscription {subid}")
        return {}

    def _get_market_type(self, params: dict[str, Any], now: float) -> dict[str, Any]:
        alias = params.get("sport_alias")
        if not isinstance(alias, str):
            raise BadParams("get_market_type needs a sport_alias")
        details = self._world.market_types(alias)
        if details is None:
            raise BadParams(f"unknown sport_alias {alias!r}")
        return {"details": details}

    def _get_active_competitions(self, params: dict[str, Any], now: float) -> list[dict[str, Any]]:
        start = _number(params, "from_date")
        end = _number(params, "to_date")
        return self._world.history.active_competitions(start, end)

    def _get_result_games(self, params: dict[str, Any], now: float) -> dict[str, Any]:
        start = _number(params, "from_date")
        end = _number(params, "to_date")
        sport = params.get("sport_id")
        sport_id = int(_number(params, "sport_id")) if sport not in (None, "", 0, "0") else None
        if params.get("live") not in (None, 0, "0", False):
            return {"games": {"game": []}}  # this feed keeps no live results
        games = self._world.history.between(start, end, sport_id)
        return {"games": {"game": [g.listing() for g in games]}}

    def _get_results(self, params: dict[str, Any], now: float) -> dict[str, Any]:
        record = self._world.history.get(_integer(params, "game_id"))
        # A game this feed has no result for (unknown, not finished yet) has nothing settled.
        return {"lines": {"line": record.settlements() if record is not None else []}}


MAX_NUMBER_TEXT = 64  # longest numeric string a request may carry ("1" * 5000 is not a date)


def _number(params: Mapping[str, Any], key: str) -> float:
    """``params[key]`` as a finite float: a JSON number or a numeric string, else :class:`BadParams`.

    NaN, infinities, integers too large for a float and over-long strings are the client's mistake,
    answered like any other bad parameter (never an exception out of the handler).
    """
    value = params.get(key)
    number: float | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:  # a JSON integer of hundreds of digits
            number = None
    elif isinstance(value, str) and len(value) <= MAX_NUMBER_TEXT:
        try:
            number = float(value)
        except ValueError:
            number = None
    if number is None or not math.isfinite(number):
        raise BadParams(f"{key} must be a finite number")
    return number


def _integer(params: Mapping[str, Any], key: str) -> int:
    """``params[key]`` as an integer (``12``, ``12.0`` or ``"12"``), else :class:`BadParams`."""
    number = _number(params, key)
    if not number.is_integer():
        raise BadParams(f"{key} must be an integer")
    return int(number)
