"""The simulated betting world: hierarchy, games, live play, prices and results (pure).

:class:`World` owns every piece of feed state. It is built from a :class:`SimulatorConfig` and a
start time, and only changes in :meth:`World.tick`, which takes the current epoch time from the
caller and never reads a clock. Same seed + same sequence of ``tick(now)`` calls => same state:
dynamics are a discrete-event simulation over one seeded generator, processed strictly in event
time order, so the state at a given time does not even depend on how often ``tick`` is called.

What moves, and how:

* **Prices**: a Poisson process (``price_changes_per_second``) picks a game (live games weighted by
  ``live_price_share``), a market (the main one often) and an event, and moves its price a
  mean-reverting random step around the model price. Goals, finished periods and sets re-price
  the whole game from its live state.
* **Suspensions**: another Poisson process suspends a random market (or, less often, a whole game)
  for a few seconds. Goals in low-scoring sports suspend the game briefly too.
* **Live play**: timed games advance a minute clock (scaled by ``time_scale``), score through a
  Poisson process and count corners/cards; set games play point by point. ``info``, ``text_info``,
  ``stats`` and ``live_events`` always agree with the score.
* **Lifecycle**: a prematch game goes live at its ``start_ts`` (and a new prematch game is created
  in its place), a live game finishes after its match length, leaves the tree and enters the
  results history.

Markets are not stored as dicts: a game keeps its parameters, its suspensions and the prices that
moved off the model, and its :class:`~.markets.GameBook` computes Swarm fields from them on access.
Reading markets therefore never changes the world's state.

The world is also the :class:`~.query.TreeSource` the query engine walks, and records which games
changed (:meth:`World.drain_changes`) so subscriptions can be re-evaluated incrementally.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
import zlib
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .catalog import (
    CLUB_SUFFIXES,
    COUNTRIES,
    COUNTRY_BY_NAME,
    ESPORTS_ADJECTIVES,
    ESPORTS_NOUNS,
    FIRST_INITIALS,
    FOOTBALL_COMPETITIONS,
    GENERIC_COMPETITIONS,
    NICKNAMES,
    OTHER_COMPETITIONS,
    REGION_ID_BASE,
    SHIRT_COLORS,
    SURNAMES,
    Country,
    SportProfile,
    included_sports,
)
from .config import SimulatorConfig
from .markets import (
    EVENT_ID_FACTOR,
    MARKET_ID_FACTOR,
    MIN_MARKETS,
    GameBook,
    SportMarkets,
    line_centres,
    market_type_details,
    outright_markets,
    sport_markets,
)
from .pricing import (
    Outlook,
    OutrightOutlook,
    SetsOutlook,
    SetsSnapshot,
    TimedOutlook,
    TimedSnapshot,
    jitter_price,
)
from .query import COMPETITION, EVENT, GAME, MARKET, REGION, SPORT
from .results import FinishedGame, ResultsHistory

DAY = 86_400.0
FIRST_GAME_ID = 20_000_001
FIRST_HISTORY_ID = 10_000_001
FIRST_COMPETITION_ID = 2001
MAX_PREMATCH_HORIZON = 7 * DAY
LIVE_EVENTS_KEPT = 20
OUTRIGHT_TYPES_TEAMS = 12  # any competition size lists every outright market type
GOAL_SUSPENSION = 6.0  # seconds a low-scoring game stays suspended after a goal
MIN_REPRICE_GAP = 20.0  # seconds between re-prices of high-scoring games

# kinds of scheduled events; the heap orders by (time, sequence)
PRICE, BLOCK, START, CLOCK, SCORE, STAT, POINT, UNBLOCK_GAME, UNBLOCK_MARKET = range(9)


@dataclass(frozen=True, slots=True)
class WorldChanges:
    """What changed since the last drain.

    ``games``: games whose own fields changed, or that appeared or disappeared.
    ``markets``: games whose markets or events changed (prices, suspensions, re-pricing).
    """

    games: frozenset[int] = frozenset()
    markets: frozenset[int] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.games or self.markets)


@dataclass(slots=True)
class Competition:
    id: int
    sport: SportProfile
    region_id: int
    country: Country
    node: dict[str, Any]
    teams: tuple[str, ...]
    games: dict[int, dict[str, Any]] = field(default_factory=dict)  # id -> game node, ascending


@dataclass(slots=True)
class LiveTimed:
    period: int
    period_minute: int  # minutes played in the current period, stoppage time included
    added: tuple[int, ...]  # stoppage minutes per period
    scores: list[tuple[int, int]]  # per started period
    stat_counts: list[tuple[int, int]]  # per StatSpec


@dataclass(slots=True)
class LiveSets:
    sets: list[tuple[int, int]]
    current: tuple[int, int]


@dataclass(frozen=True, slots=True)
class LiveView:
    """A read-only look at one live game: its sport, Swarm node, live state and team strengths.

    The objects are the world's own; callers read them and never change them."""

    profile: SportProfile
    node: Mapping[str, Any]
    live: LiveTimed | LiveSets
    strength: tuple[float, float]


@dataclass(slots=True)
class GameState:
    """One game: its public Swarm node plus everything needed to price and play it."""

    node: dict[str, Any]
    profile: SportProfile
    competition: Competition
    catalog: SportMarkets
    count: int  # markets_count: the game offers catalog.templates[:count]
    strength: tuple[float, float]  # (mu1, mu2) timed; (point_p, 0) sets
    centres: dict[str, float]
    margin: float
    outright: tuple[float, ...] | None = None  # team strengths of an outright game
    overrides: dict[int, float] = field(default_factory=dict)  # flat event index -> moved price
    blocked: dict[int, float] = field(default_factory=dict)  # template index -> suspended until
    blocked_until: float = 0.0
    snapshot: TimedSnapshot | SetsSnapshot | None = None
    outlook_cache: Outlook | None = None
    live: LiveTimed | LiveSets | None = None
    last_reprice: float = 0.0
    version: int = 0  # changes with any change to the game or its markets
    price_epoch: int = 0  # changes when the whole game is re-priced
    market_versions: dict[int, int] = field(default_factory=dict)  # template index -> last change
    book: GameBook = field(init=False)

    def __post_init__(self) -> None:
        self.book = GameBook(
            self.id, self.catalog.templates[: self.count], self.centres, self.margin, self.outlook,
            self.overrides, self.blocked, self.competition.teams,
        )

    @property
    def id(self) -> int:
        return int(self.node["id"])

    def outlook(self) -> Outlook:
        if self.outlook_cache is None:
            if self.outright is not None:
                self.outlook_cache = OutrightOutlook(self.outright)
            elif self.profile.kind == "timed":
                timed = self.snapshot if isinstance(self.snapshot, TimedSnapshot) else TimedSnapshot()
                self.outlook_cache = TimedOutlook(self.profile, self.strength[0], self.strength[1], timed)
            else:
                sets = self.snapshot if isinstance(self.snapshot, SetsSnapshot) else SetsSnapshot()
                self.outlook_cache = SetsOutlook(self.profile, self.strength[0], sets)
        return self.outlook_cache


def _alias(name: str) -> str:
    return "".join(ch for ch in name.title() if ch.isalnum())


def _team_id(sport_id: int, name: str) -> int:
    return 100_000 + zlib.crc32(f"{sport_id}:{name}".encode()) % 9_000_000


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 40:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def _points(rng: random.Random, profile: SportProfile) -> int:
    values = [v for v, _ in profile.points]
    weights = [w for _, w in profile.points]
    return rng.choices(values, weights)[0]


def _set_over(profile: SportProfile, a: int, b: int) -> bool:
    lead = abs(a - b)
    top = max(a, b)
    return (top >= profile.set_target and lead >= profile.win_by) or (profile.set_cap > 0 and top >= profile.set_cap)


class World:
    """The whole feed state. Read it through the TreeSource methods; change it only by ``tick``."""

    def __init__(self, config: SimulatorConfig, now: float) -> None:
        self.config = config
        self._now = now
        self._seed = config.seed
        self._rng = random.Random(f"dynamics:{config.seed}")
        self._heap: list[tuple[float, int, int, int, int]] = []
        self._seq = itertools.count()
        self._next_game_id = FIRST_GAME_ID
        self._changed_games: set[int] = set()
        self._changed_markets: set[int] = set()
        self._versions = itertools.count(1)
        self._games: dict[int, GameState] = {}
        self._live: list[int] = []
        self._prematch: list[int] = []
        self._slot: dict[int, int] = {}  # game id -> position in its _live/_prematch list
        self.history = ResultsHistory(retention=(config.history_days + 1) * DAY)

        gen = random.Random(f"world:{config.seed}")
        self.sports: tuple[SportProfile, ...] = included_sports(config.sports, config.extra_sports)
        self._sport_by_alias = {s.alias.lower(): s for s in self.sports}
        self._sport_nodes = [
            {"id": s.id, "name": s.name, "alias": s.alias, "order": s.order, "type": s.type} for s in self.sports
        ]
        self._sport_node_by_id = {n["id"]: n for n in self._sport_nodes}
        self._regions: dict[int, list[dict[str, Any]]] = {}
        self._competitions: dict[int, Competition] = {}
        self._comps_at: dict[tuple[int, int], list[Competition]] = {}
        self._comps_of_sport: dict[int, list[Competition]] = {}
        self._build_hierarchy(gen)
        self._weights = [s.weight for s in self.sports]
        self.prematch_horizon = self._horizon()
        # long matches pile up in play: start with the sport mix the live list settles into
        live_weights = [s.weight * s.expected_live_seconds() for s in self.sports]
        for _ in range(config.live_games):
            self._create_game(self._pick_competition(gen, live_weights), now, live_since=now)
        for _ in range(config.prematch_games):
            start = now + min(120.0, 0.05 * self.prematch_horizon) + gen.random() * self.prematch_horizon
            self._create_game(self._pick_competition(gen), start, outright=gen.random() < 0.01)
        self._generate_history(gen, now)
        self._schedule_process(PRICE, now, config.price_changes_per_second)
        self._schedule_process(BLOCK, now, config.block_changes_per_second)
        self._changed_games.clear()
        self._changed_markets.clear()

    # ------------------------------------------------------------------ generation

    def _build_hierarchy(self, gen: random.Random) -> None:
        next_id = FIRST_COMPETITION_ID
        for sport in self.sports:
            regions: list[dict[str, Any]] = []
            self._comps_of_sport[sport.id] = []
            for country_name in sorted(sport.regions, key=lambda n: COUNTRIES.index(COUNTRY_BY_NAME[n])):
                country = COUNTRY_BY_NAME[country_name]
                region_id = REGION_ID_BASE + COUNTRIES.index(country)
                regions.append({"id": region_id, "name": country.name, "alias": country.alias, "order": len(regions) + 1})
                comps: list[Competition] = []
                for order, name in enumerate(self._competition_names(gen, sport, country), start=1):
                    node = {"id": next_id, "name": name, "alias": _alias(name), "order": order}
                    comp = Competition(next_id, sport, region_id, country, node, self._teams(gen, sport, country))
                    self._competitions[next_id] = comp
                    comps.append(comp)
                    next_id += 1
                self._comps_at[(sport.id, region_id)] = comps
                self._comps_of_sport[sport.id].extend(comps)
            self._regions[sport.id] = regions

    @staticmethod
    def _competition_names(gen: random.Random, sport: SportProfile, country: Country) -> list[str]:
        if sport.name in ("Football", "Virtual Football") and country.name in FOOTBALL_COMPETITIONS:
            return list(FOOTBALL_COMPETITIONS[country.name])
        known = OTHER_COMPETITIONS.get(sport.name, {}).get(country.name)
        if known:
            return list(known)
        patterns = GENERIC_COMPETITIONS[sport.team_style]
        chosen = patterns[: 1 + gen.randrange(len(patterns))]
        city = gen.choice(country.cities)
        names = [p.format(country=country.name, city=city, region=country.name) for p in chosen]
        if sport.team_style == "club":
            names = [n.replace("Super League", f"{sport.name} League") if i == 0 else n for i, n in enumerate(names)]
        return list(dict.fromkeys(names))

    @staticmethod
    def _teams(gen: random.Random, sport: SportProfile, country: Country) -> tuple[str, ...]:
        size = gen.randint(12, 20)
        names: set[str] = set()
        while len(names) < size:
            if sport.team_style == "club":
                city = gen.choice(country.cities)
                style = gen.random()
                if style < 0.45:
                    names.add(f"{city} {gen.choice(CLUB_SUFFIXES)}")
                elif style < 0.7:
                    names.add(f"{gen.choice(CLUB_SUFFIXES)} {city}")
                else:
                    names.add(f"{city} {gen.choice(NICKNAMES)}")
            elif sport.team_style == "esports":
                names.add(f"{gen.choice(ESPORTS_ADJECTIVES)} {gen.choice(ESPORTS_NOUNS)}")
            elif sport.team_style == "pair":
                names.add(f"{gen.choice(SURNAMES)}/{gen.choice(SURNAMES)}")
            else:
                names.add(f"{gen.choice(FIRST_INITIALS)}. {gen.choice(SURNAMES)}")
        return tuple(sorted(names))

    def _horizon(self) -> float:
        """How far ahead prematch games start, so that as many go live as finish."""
        total = sum(self._weights)
        mean_live = sum(s.weight * s.expected_live_seconds() for s in self.sports) / total / self.config.time_scale
        if self.config.live_games <= 0:
            return MAX_PREMATCH_HORIZON
        horizon = self.config.prematch_games * mean_live / self.config.live_games
        return min(max(horizon, 60.0), MAX_PREMATCH_HORIZON)

    def _pick_competition(self, rng: random.Random, weights: Sequence[float] | None = None) -> Competition:
        sport = rng.choices(self.sports, weights or self._weights)[0]
        comps = self._comps_of_sport[sport.id]
        return comps[rng.randrange(len(comps))]

    def _create_game(
        self, comp: Competition, start: float, *, live_since: float | None = None, outright: bool = False
    ) -> GameState:
        """Create a game in ``comp``; its own parameters come from a generator seeded by its id.

        With ``live_since`` the game is live from the start, placed part-way through its match.
        """
        gid = self._next_game_id
        self._next_game_id += 1
        grng = random.Random(f"game:{self._seed}:{gid}")
        sport = comp.sport
        country = comp.country
        neutral = grng.random() < 0.05
        margin = grng.uniform(0.03, 0.06)
        colours = grng.sample(SHIRT_COLORS, 2)
        if outright:
            catalog = outright_markets(len(comp.teams))
            strengths = tuple(grng.gauss(0, 0.6) for _ in comp.teams)
            strength: tuple[float, float] = (0.0, 0.0)
            team1, team2 = f"{comp.node['name']} - Winner", ""
        else:
            catalog = sport_markets(sport)
            strengths = None
            team1, team2 = grng.sample(comp.teams, 2)
            if sport.kind == "timed":
                spread = 0.35 if sport.score_model == "poisson" else 0.08
                s = grng.gauss(0.0, spread) + (0.0 if neutral else 0.05)
                strength = (sport.mean_score * math.exp(s / 2), sport.mean_score * math.exp(-s / 2))
            else:
                strength = (min(max(0.5 + grng.gauss(0.0, sport.point_spread), 0.3), 0.7), 0.0)
        most = catalog.max_markets
        least = min(MIN_MARKETS, most)
        count = grng.randint(max(least, most // 2), most) if live_since is not None else grng.randint(least, most)
        prematch_type = 2 if grng.random() < 0.2 else 0
        node: dict[str, Any] = {
            "id": gid,
            "sport_id": sport.id,
            "region_id": comp.region_id,
            "competition_id": comp.id,
            "type": prematch_type,
            "start_ts": int(start),
            "team1_name": team1,
            "team2_name": team2,
            "is_blocked": 0,
            "info": self._prematch_info(colours),
            "text_info": "",
            "stats": {},
            "markets_count": count,
            "visible_in_prematch": 1 if grng.random() < 0.97 else 0,
            "is_stat_available": 1 if grng.random() < 0.6 else 0,
            "show_type": "OUTRIGHT" if outright else "",
            "sport_alias": sport.alias,
            "region_alias": country.alias,
            "match_length": sport.match_length,
            "live_events": [],
            "add_info_name": "",
            "is_neutral_venue": neutral,
            "game_number": grng.randint(1000, 99999),
            "_parent_id": comp.id,
        }
        if not outright:
            node["team1_id"] = _team_id(sport.id, team1)
            node["team2_id"] = _team_id(sport.id, team2)
        if grng.random() < 0.7:
            node["sportcast_id"] = grng.randint(10_000_000, 99_999_999)
        game = GameState(
            node=node, profile=sport, competition=comp, catalog=catalog, count=count, strength=strength,
            centres=line_centres(sport, strength) if not outright else {"fixed": 0.0}, margin=margin,
            outright=strengths,
        )
        self._games[gid] = game
        comp.games[gid] = node
        self._touch_game(game)
        if live_since is None:
            self._index_add(self._prematch, gid)
            self._schedule(start, START, gid)
        else:
            self._index_add(self._live, gid)
            self._start_live(game, live_since, grng, initial=True)
        return game

    @staticmethod
    def _prematch_info(colours: Sequence[str]) -> dict[str, Any]:
        return {
            "current_game_state": "notstarted",
            "current_game_time": "",
            "score1": "0",
            "score2": "0",
            "shirt1_color": colours[0],
            "shirt2_color": colours[1],
            "add_minutes": "",
        }

    def _generate_history(self, gen: random.Random, now: float) -> None:
        cfg = self.config
        total = cfg.history_days * cfg.history_games_per_day
        if total == 0:
            return
        span = cfg.history_days * DAY
        records: list[FinishedGame] = []
        for i in range(total):
            comp = self._pick_competition(gen)
            sport = comp.sport
            team1, team2 = gen.sample(comp.teams, 2)
            duration = sport.expected_live_seconds()
            date = int(now - span + gen.random() * max(span - duration, 1.0))
            if sport.kind == "timed":
                s = gen.gauss(0.0, 0.35 if sport.score_model == "poisson" else 0.08)
                mu = (sport.mean_score * math.exp(s / 2), sport.mean_score * math.exp(-s / 2))
                periods = self._simulate_timed(gen, sport, mu, sport.match_minutes)
                if not sport.three_way:
                    periods = self._decide(gen, periods)
            else:
                p = min(max(0.5 + gen.gauss(0.0, sport.point_spread), 0.3), 0.7)
                sets, _ = self._simulate_sets(gen, sport, p, budget=None)
                periods = sets
            country = comp.country
            records.append(FinishedGame(
                FIRST_HISTORY_ID + i, sport, comp.region_id, country.name, comp.id, comp.node["name"],
                team1, team2, date, tuple(periods),
            ))
        for record in sorted(records, key=lambda r: (r.date, r.game_id)):
            self.history.add(record, now)

    # ------------------------------------------------------------------ play simulation helpers

    @staticmethod
    def _simulate_timed(
        rng: random.Random, sport: SportProfile, mu: tuple[float, float], minutes: float
    ) -> list[tuple[int, int]]:
        """Per-period scores after ``minutes`` of play (the current period partly played)."""
        per_event = sport.mean_points_per_event
        scores: list[tuple[int, int]] = []
        for period in range(1, sport.periods + 1):
            played = min(max(minutes - (period - 1) * sport.period_minutes, 0.0), sport.period_minutes)
            if period > 1 and played <= 0:
                break
            share = played / sport.match_minutes
            pair = []
            for team in (0, 1):
                if sport.alternate_batting:
                    lam = mu[team] * played / sport.period_minutes / per_event if (period - 1) % 2 == team else 0.0
                else:
                    lam = mu[team] * share / per_event
                pair.append(sum(_points(rng, sport) for _ in range(_poisson(rng, lam))))
            scores.append((pair[0], pair[1]))
        return scores

    @staticmethod
    def _decide(rng: random.Random, periods: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """Sports without draws settle a tie in overtime: one more score for someone."""
        s1 = sum(a for a, _ in periods)
        s2 = sum(b for _, b in periods)
        if s1 != s2:
            return periods
        a, b = periods[-1]
        periods[-1] = (a + 1, b) if rng.random() < 0.5 else (a, b + 1)
        return periods

    @staticmethod
    def _simulate_sets(
        rng: random.Random, sport: SportProfile, point_p: float, budget: int | None
    ) -> tuple[list[tuple[int, int]], tuple[int, int]]:
        """Play points until the match ends, or (with a budget) until the budget is spent while the
        match is still open."""
        sets: list[tuple[int, int]] = []
        a = b = 0
        played = 0
        while budget is None or played < budget:
            na, nb = (a + 1, b) if rng.random() < point_p else (a, b + 1)
            if _set_over(sport, na, nb):
                won1 = sum(1 for x, y in sets if x > y) + (na > nb)
                won2 = len(sets) + 1 - won1
                if max(won1, won2) >= sport.sets_to_win:
                    if budget is not None:
                        break  # keep an initial live game open
                    sets.append((na, nb))
                    return sets, (0, 0)
                sets.append((na, nb))
                a = b = 0
            else:
                a, b = na, nb
            played += 1
        return sets, (a, b)

    # ------------------------------------------------------------------ scheduling

    def _schedule(self, at: float, kind: int, gid: int = 0, arg: int = 0) -> None:
        heapq.heappush(self._heap, (at, next(self._seq), kind, gid, arg))

    def _schedule_process(self, kind: int, now: float, rate: float) -> None:
        if rate > 0:
            self._schedule(now + self._rng.expovariate(rate), kind)

    def _index_add(self, index: list[int], gid: int) -> None:
        """Add to the live or prematch list (a list, so a seeded draw can pick by position)."""
        self._slot[gid] = len(index)
        index.append(gid)

    def _index_remove(self, index: list[int], gid: int) -> None:
        pos = self._slot.pop(gid)
        last = index.pop()
        if last != gid:
            index[pos] = last
            self._slot[last] = pos

    # ------------------------------------------------------------------ public: time

    @property
    def now(self) -> float:
        return self._now

    def tick(self, now: float) -> int:
        """Process everything scheduled up to ``now`` (epoch seconds); returns the events handled.

        Time never goes back: an earlier ``now`` is ignored. Call :meth:`drain_changes` afterwards
        to learn which games changed.
        """
        if now < self._now:
            return 0
        self._now = now
        handled = 0
        heap = self._heap
        while heap and heap[0][0] <= now:
            at, _, kind, gid, arg = heapq.heappop(heap)
            self._handle(kind, at, gid, arg)
            handled += 1
        return handled

    def drain_changes(self) -> WorldChanges:
        """Games changed since the previous drain (then forget them)."""
        changes = WorldChanges(frozenset(self._changed_games), frozenset(self._changed_markets))
        self._changed_games.clear()
        self._changed_markets.clear()
        return changes

    def _handle(self, kind: int, at: float, gid: int, arg: int) -> None:
        if kind == PRICE:
            self._move_price(at)
            self._schedule_process(PRICE, at, self.config.price_changes_per_second)
            return
        if kind == BLOCK:
            self._suspend_something(at)
            self._schedule_process(BLOCK, at, self.config.block_changes_per_second)
            return
        game = self._games.get(gid)
        if game is None:
            return  # the game has left the world since this was scheduled
        if kind == START:
            if game.live is None:
                self._on_start(game, at)
        elif kind == CLOCK:
            self._on_clock(game, at)
        elif kind == SCORE:
            self._on_score(game, at)
        elif kind == STAT:
            self._on_stat(game, at)
        elif kind == POINT:
            self._on_point(game, at)
        elif kind == UNBLOCK_GAME:
            if at >= game.blocked_until and game.node["is_blocked"]:
                self._set_fields(game, is_blocked=0)
        elif kind == UNBLOCK_MARKET:
            until = game.blocked.get(arg)
            if until is not None and at >= until:
                del game.blocked[arg]
                self._touch_market(game, arg)

    # ------------------------------------------------------------------ dynamics

    def _pick_game(self, u: float, a: float, live_share: float) -> GameState | None:
        live, prematch = self._live, self._prematch
        pool = live if (u < live_share and live) or not prematch else prematch
        if not pool:
            return None
        return self._games[pool[min(int(a * len(pool)), len(pool) - 1)]]

    def _move_price(self, at: float) -> None:
        r = self._rng
        # a fixed number of draws per move keeps the sequence independent of the branch taken
        u, a, v, w, e, shock = r.random(), r.random(), r.random(), r.random(), r.random(), r.gauss(0.0, 1.0)
        game = self._pick_game(u, a, self.config.live_price_share)
        if game is None:
            return
        index = 0 if v < 0.35 else min(int(w * game.count), game.count - 1)
        if game.node["is_blocked"] or index in game.blocked:
            return  # suspended markets do not move
        template = game.catalog.templates[index]
        pos = min(int(e * len(template.events)), len(template.events) - 1)
        baseline = game.book.baseline_price(index, pos)
        flat = template.event_offset + pos
        old = game.overrides.get(flat, baseline)
        new = jitter_price(old, baseline, shock)
        if new == old:
            return
        game.overrides[flat] = new
        self._touch_market(game, index)

    def _suspend_something(self, at: float) -> None:
        r = self._rng
        u, a, v, w, d = r.random(), r.random(), r.random(), r.random(), r.random()
        game = self._pick_game(u, a, 0.6)
        if game is None:
            return
        if v < 0.15:
            self._suspend_game(game, at, at + 3.0 + d * 20.0)
            return
        index = min(int(w * game.count), game.count - 1)
        until = at + 5.0 + d * 40.0
        game.blocked[index] = max(until, game.blocked.get(index, 0.0))
        self._touch_market(game, index)
        self._schedule(until, UNBLOCK_MARKET, game.id, index)

    def _suspend_game(self, game: GameState, at: float, until: float) -> None:
        game.blocked_until = max(game.blocked_until, until)
        self._set_fields(game, is_blocked=1)
        self._schedule(until, UNBLOCK_GAME, game.id)

    def _touch_market(self, game: GameState, index: int | None) -> None:
        """Record a change to one market (``index``) or to all of them (None)."""
        version = next(self._versions)
        game.version = version
        if index is None:
            game.price_epoch += 1
            game.market_versions.clear()
        else:
            game.market_versions[index] = version
        self._changed_markets.add(game.id)

    def _touch_game(self, game: GameState) -> None:
        game.version = next(self._versions)
        self._changed_games.add(game.id)

    def _reprice(self, game: GameState, at: float) -> None:
        """Re-price every market of a game from its current live state."""
        live = game.live
        if isinstance(live, LiveTimed):
            minutes = game.profile.period_minutes
            left = max(0.0, 1.0 - live.period_minute / minutes)
            game.snapshot = TimedSnapshot(live.period, left, tuple(live.scores), tuple(live.stat_counts))
        elif isinstance(live, LiveSets):
            game.snapshot = SetsSnapshot(tuple(live.sets), live.current)
        game.outlook_cache = None
        game.overrides.clear()
        game.book.invalidate()
        game.last_reprice = at
        self._touch_market(game, None)

    # ------------------------------------------------------------------ live play

    def _on_start(self, game: GameState, at: float) -> None:
        self._index_remove(self._prematch, game.id)
        if game.outright is not None:
            self._remove_game(game)  # outrights are settled off-screen
        else:
            self._index_add(self._live, game.id)
            self._start_live(game, at, None, initial=False)
        self._spawn_prematch(at)

    def _spawn_prematch(self, at: float) -> None:
        if len(self._prematch) >= self.config.prematch_games:
            return
        r = self._rng
        comp = self._pick_competition(r)
        start = at + self.prematch_horizon * (0.5 + r.random())
        self._create_game(comp, min(start, at + MAX_PREMATCH_HORIZON), outright=r.random() < 0.01)

    def _start_live(self, game: GameState, now: float, rng: random.Random | None, *, initial: bool) -> None:
        """Turn a game live at ``now``. An initial live game is placed part-way through its match
        using ``rng`` (its own generator); a game reaching its start time kicks off."""
        sport = game.profile
        ts = self.config.time_scale
        r = rng if rng is not None else self._rng
        if sport.kind == "timed":
            added = tuple(
                (r.randint(1, 4) if p < sport.periods else r.randint(2, 7)) if sport.added_time else 0
                for p in range(1, sport.periods + 1)
            )
            played = int(r.uniform(0.02, 0.95) * sport.match_minutes) if initial else 0
            period = min(played // sport.period_minutes + 1, sport.periods)
            period_minute = played - (period - 1) * sport.period_minutes
            scores = self._simulate_timed(r, sport, game.strength, played) if initial else [(0, 0)]
            while len(scores) < period:
                scores.append((0, 0))
            stat_counts = []
            share = game.strength[0] / (game.strength[0] + game.strength[1])
            for stat in sport.stats:
                lam = 2 * stat.mean * played / sport.match_minutes
                stat_counts.append((_poisson(r, lam * share), _poisson(r, lam * (1 - share))) if initial else (0, 0))
            game.live = LiveTimed(period, period_minute, added, scores, stat_counts)
            kickoff = now - played * 60.0 / ts
            minute = 60.0 / ts
            self._schedule(now + minute * (r.random() if initial else 1.0), CLOCK, game.id)
            self._schedule(now + r.expovariate(self._score_rate(game)), SCORE, game.id)
            if sport.stats:
                self._schedule(now + r.expovariate(self._stat_rate(game)), STAT, game.id)
        else:
            budget = int(r.uniform(0.02, 0.9) * sport.expected_live_seconds() / sport.point_seconds) if initial else 0
            sets, current = self._simulate_sets(r, sport, game.strength[0], budget) if initial else ([], (0, 0))
            game.live = LiveSets(sets, current)
            points = sum(a + b for a, b in sets) + sum(current)
            kickoff = now - points * sport.point_seconds / ts
            self._schedule(now + r.expovariate(ts / sport.point_seconds), POINT, game.id)
        start_ts = int(kickoff) if initial else game.node["start_ts"]
        self._set_fields(game, type=1, visible_in_prematch=0, is_stat_available=1, start_ts=start_ts)
        self._refresh_live_fields(game)
        self._reprice(game, now)

    def _score_rate(self, game: GameState) -> float:
        """Scoring events per real second."""
        sport = game.profile
        per_minute = (game.strength[0] + game.strength[1]) / sport.mean_points_per_event / sport.match_minutes
        return per_minute * self.config.time_scale / 60.0

    def _stat_rate(self, game: GameState) -> float:
        sport = game.profile
        per_minute = sum(2 * s.mean for s in sport.stats) / sport.match_minutes
        return per_minute * self.config.time_scale / 60.0

    def _on_clock(self, game: GameState, at: float) -> None:
        live = game.live
        if not isinstance(live, LiveTimed):
            return
        sport = game.profile
        live.period_minute += 1
        if live.period_minute >= sport.period_minutes + live.added[live.period - 1]:
            if live.period >= sport.periods:
                self._finish(game, at)
                return
            live.period += 1
            live.period_minute = 0
            live.scores.append((0, 0))
            self._reprice(game, at)
        elif live.period_minute % 10 == 0:
            self._reprice(game, at)
        self._refresh_live_fields(game)
        self._schedule(at + 60.0 / self.config.time_scale, CLOCK, game.id)

    def _on_score(self, game: GameState, at: float) -> None:
        live = game.live
        if not isinstance(live, LiveTimed):
            return
        sport = game.profile
        r = self._rng
        u = r.random()
        points = _points(r, sport)
        if sport.alternate_batting:
            side = (live.period - 1) % 2
        else:
            side = 0 if u < game.strength[0] / (game.strength[0] + game.strength[1]) else 1
        a, b = live.scores[-1]
        live.scores[-1] = (a + points, b) if side == 0 else (a, b + points)
        kind = "goal" if sport.score_model == "poisson" else "score"
        self._add_live_event(game, kind, side, points)
        if sport.score_model == "poisson":
            self._suspend_game(game, at, at + GOAL_SUSPENSION)
            self._reprice(game, at)
        elif at - game.last_reprice >= MIN_REPRICE_GAP:
            self._reprice(game, at)
        self._refresh_live_fields(game)
        self._schedule(at + r.expovariate(self._score_rate(game)), SCORE, game.id)

    def _on_stat(self, game: GameState, at: float) -> None:
        live = game.live
        if not isinstance(live, LiveTimed):
            return
        sport = game.profile
        r = self._rng
        index = r.choices(range(len(sport.stats)), [s.mean for s in sport.stats])[0]
        share = game.strength[0] / (game.strength[0] + game.strength[1])
        side = 0 if r.random() < share else 1
        a, b = live.stat_counts[index]
        live.stat_counts[index] = (a + 1, b) if side == 0 else (a, b + 1)
        self._add_live_event(game, sport.stats[index].key, side, 1)
        self._refresh_live_fields(game)
        self._schedule(at + r.expovariate(self._stat_rate(game)), STAT, game.id)

    def _on_point(self, game: GameState, at: float) -> None:
        live = game.live
        if not isinstance(live, LiveSets):
            return
        sport = game.profile
        r = self._rng
        a, b = live.current
        a, b = (a + 1, b) if r.random() < game.strength[0] else (a, b + 1)
        if _set_over(sport, a, b):
            live.sets.append((a, b))
            live.current = (0, 0)
            self._add_live_event(game, "set_won", 0 if a > b else 1, 1)
            won1 = sum(1 for x, y in live.sets if x > y)
            if max(won1, len(live.sets) - won1) >= sport.sets_to_win:
                self._finish(game, at)
                return
            self._reprice(game, at)
        else:
            live.current = (a, b)
            if at - game.last_reprice >= MIN_REPRICE_GAP:
                self._reprice(game, at)
        self._refresh_live_fields(game)
        self._schedule(at + r.expovariate(self.config.time_scale / sport.point_seconds), POINT, game.id)

    def _add_live_event(self, game: GameState, kind: str, side: int, value: int) -> None:
        info = game.node["info"]
        event = {
            "event_type": kind,
            "team": f"team{side + 1}",
            "value": value,
            "time": info.get("current_game_time", ""),
            "period": info.get("current_game_state", ""),
        }
        events = [*game.node["live_events"], event][-LIVE_EVENTS_KEPT:]
        self._set_fields(game, live_events=events, last_event=dict(event))

    def _refresh_live_fields(self, game: GameState) -> None:
        """Recompute info, text_info and stats from the live state (new objects, never mutated)."""
        live = game.live
        sport = game.profile
        old = game.node["info"]
        shirts = {"shirt1_color": old["shirt1_color"], "shirt2_color": old["shirt2_color"]}
        if isinstance(live, LiveTimed):
            s1 = sum(a for a, _ in live.scores)
            s2 = sum(b for _, b in live.scores)
            in_period = min(live.period_minute, sport.period_minutes)
            minute = (live.period - 1) * sport.period_minutes + in_period
            extra = live.period_minute - sport.period_minutes
            add = str(extra) if extra > 0 else ""
            info = {"current_game_state": f"set{live.period}", "current_game_time": str(minute),
                    "score1": str(s1), "score2": str(s2), **shirts, "add_minutes": add}
            done = live.scores[: live.period - 1]
            periods = f" ({', '.join(f'{a}:{b}' for a, b in done)})" if done else ""
            clock = f"{minute}+{add}`" if add else f"{minute}`"
            text = f"{s1}:{s2}{periods} {clock}"
            stats: dict[str, Any] = {
                f"score_set{i}": {"team1_value": a, "team2_value": b} for i, (a, b) in enumerate(live.scores, start=1)
            }
            for spec, (a, b) in zip(sport.stats, live.stat_counts, strict=True):
                stats[spec.key] = {"team1_value": a, "team2_value": b}
        elif isinstance(live, LiveSets):
            won1 = sum(1 for a, b in live.sets if a > b)
            won2 = len(live.sets) - won1
            all_sets = [*live.sets, live.current]
            info = {"current_game_state": f"set{len(live.sets) + 1}", "current_game_time": "",
                    "score1": str(won1), "score2": str(won2), **shirts, "add_minutes": ""}
            text = f"{won1}:{won2} ({', '.join(f'{a}:{b}' for a, b in all_sets)})"
            stats = {f"score_set{i}": {"team1_value": a, "team2_value": b} for i, (a, b) in enumerate(all_sets, start=1)}
        else:
            return
        self._set_fields(game, info=info, text_info=text, stats=stats)

    def _set_fields(self, game: GameState, **fields: Any) -> None:
        node = game.node
        changed = False
        for name, value in fields.items():
            if node.get(name, _ABSENT) != value:
                node[name] = value
                changed = True
        if changed:
            self._touch_game(game)

    def _finish(self, game: GameState, at: float) -> None:
        live = game.live
        sport = game.profile
        if isinstance(live, LiveTimed):
            periods = list(live.scores)
            if not sport.three_way:
                periods = self._decide(self._rng, periods)
        elif isinstance(live, LiveSets):
            periods = list(live.sets)
        else:
            periods = []
        comp = game.competition
        node = game.node
        self.history.add(FinishedGame(
            game.id, sport, comp.region_id, comp.country.name, comp.id, comp.node["name"],
            node["team1_name"], node["team2_name"], int(node["start_ts"]), tuple(periods),
        ), at)
        self._index_remove(self._live, game.id)
        self._remove_game(game)

    def _remove_game(self, game: GameState) -> None:
        gid = game.id
        del self._games[gid]
        del game.competition.games[gid]
        self._changed_games.add(gid)
        self._changed_markets.discard(gid)

    # ------------------------------------------------------------------ TreeSource

    def children(self, level: int, path: tuple[int, ...]) -> Iterable[Mapping[str, Any]]:
        if level == SPORT:
            return self._sport_nodes
        if level == REGION:
            return self._regions.get(path[0], ())
        if level == COMPETITION:
            return [c.node for c in self._comps_at.get((path[0], path[1]), ())]
        if level == GAME:
            comp = self._competitions.get(path[2])
            return comp.games.values() if comp is not None else ()
        game = self._games.get(path[GAME])
        if game is None:
            return ()
        if level == MARKET:
            return game.book.markets()
        return game.book.events(path[MARKET] % MARKET_ID_FACTOR)

    def locate(self, level: int, node_id: int) -> tuple[int, ...] | None:
        if level == COMPETITION:
            comp = self._competitions.get(node_id)
            return (comp.sport.id, comp.region_id, comp.id) if comp is not None else None
        if level == GAME:
            game = self._games.get(node_id)
            if game is None:
                return None
            return (game.profile.id, game.competition.region_id, game.competition.id, node_id)
        if level == MARKET:
            gid, index = divmod(node_id, MARKET_ID_FACTOR)
            game_path = self.locate(GAME, gid)
            if game_path is None or index >= self._games[gid].count:
                return None
            return (*game_path, node_id)
        if level == EVENT:
            mid, pos = divmod(node_id, EVENT_ID_FACTOR)
            market_path = self.locate(MARKET, mid)
            if market_path is None:
                return None
            template = self._games[market_path[GAME]].catalog.templates[mid % MARKET_ID_FACTOR]
            return (*market_path, node_id) if pos < len(template.events) else None
        return None

    def version(self, level: int, path: tuple[int, ...]) -> Hashable | None:
        """Changes whenever the game (level GAME) or market (level MARKET) at ``path`` changes."""
        game = self._games.get(path[GAME]) if len(path) > GAME else None
        if game is None:
            return None
        if level == GAME:
            return game.version
        if level == MARKET:
            index = path[MARKET] % MARKET_ID_FACTOR
            return (game.price_epoch, game.market_versions.get(index, 0))
        return None

    def node_at(self, path: tuple[int, ...]) -> Mapping[str, Any] | None:
        level = len(path) - 1
        if level == SPORT:
            return self._sport_node_by_id.get(path[0])
        if level == REGION:
            return next((r for r in self._regions.get(path[0], ()) if r["id"] == path[1]), None)
        if level == COMPETITION:
            comp = self._competitions.get(path[2])
            ok = comp is not None and comp.sport.id == path[0] and comp.region_id == path[1]
            return comp.node if ok and comp is not None else None
        if level == GAME:
            comp = self._competitions.get(path[2])
            return comp.games.get(path[3]) if comp is not None else None
        if self.node_at(path[: GAME + 1]) is None:
            return None
        book = self._games[path[GAME]].book
        gid, index = divmod(path[MARKET], MARKET_ID_FACTOR)
        market = book.market(index) if gid == path[GAME] else None
        if market is None or level == MARKET:
            return market
        mid, pos = divmod(path[EVENT], EVENT_ID_FACTOR)
        events = book.events(index) if mid == path[MARKET] else []
        return events[pos] if 0 <= pos < len(events) else None

    # ------------------------------------------------------------------ lookups

    def game(self, game_id: int) -> Mapping[str, Any] | None:
        state = self._games.get(game_id)
        return state.node if state is not None else None

    def live_view(self, game_id: int) -> LiveView | None:
        """How a live game stands (for the tracker feed), or None if it is not live (or gone)."""
        state = self._games.get(game_id)
        if state is None or state.live is None:
            return None
        return LiveView(state.profile, state.node, state.live, state.strength)

    def book(self, game_id: int) -> GameBook | None:
        """The game's markets (views computed on access), or None if the game is gone."""
        state = self._games.get(game_id)
        return state.book if state is not None else None

    def game_ids(self, *, live: bool) -> list[int]:
        return sorted(self._live if live else self._prematch)

    @property
    def game_count(self) -> int:
        return len(self._games)

    def sport_by_alias(self, alias: str) -> SportProfile | None:
        return self._sport_by_alias.get(alias.lower())

    def market_types(self, sport_alias: str) -> list[dict[str, Any]] | None:
        """``get_market_type`` details for a sport (its match markets, then the outright ones any
        competition of it may offer), or None for an unknown alias."""
        sport = self.sport_by_alias(sport_alias)
        if sport is None:
            return None
        return market_type_details(sport_markets(sport), outright_markets(OUTRIGHT_TYPES_TEAMS))


_ABSENT: Any = object()
