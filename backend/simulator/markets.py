"""Which markets a game offers, and the Swarm view of them (the game's *book*).

A sport's market list is a fixed, ordered tuple of :class:`MarketTemplate` s (main market first,
then the featured main lines, then alternatives, periods, specials). A game with ``markets_count``
N offers exactly the first N templates of its sport. Everything that differs between games --
lines around the game's expected score, probabilities, prices, suspensions -- is applied when a
field is read: a game's :class:`GameBook` hands out :class:`MarketNode` / :class:`EventNode` views
that compute Swarm fields on access, so nothing per market is stored but the model prices of the
markets someone looked at (and the prices that moved off them, which the game owns).

Ids are derived, never stored: market id = game id * 1000 + template index, event id = market id
* 100 + event position. Prices are addressed by a flat event index (``template.event_offset +
position``) in the game's price overrides.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from .catalog import SportProfile, period_name
from .pricing import DECIDED, Outlook, SetsOutlook, SetsSnapshot, price_for

MAX_MARKETS = 150
MIN_MARKETS = 20
MARKET_ID_FACTOR = 1000
EVENT_ID_FACTOR = 100

GROUPS = {  # group name -> (group id, group order)
    "Main": (1, 1),
    "Totals": (2, 2),
    "Handicaps": (3, 3),
    "Periods": (4, 4),
    "Correct Score": (5, 5),
    "Team Totals": (6, 6),
    "Specials": (7, 7),
    "Corners": (8, 8),
    "Cards": (9, 9),
    "Shots": (10, 10),
    "Outright": (11, 1),
    "Head to Head": (12, 2),
}
PLURAL_PERIODS = {
    "Half": "Halves", "Quarter": "Quarters", "Period": "Periods", "Inning": "Innings", "Innings": "Innings",
    "Set": "Sets", "Map": "Maps", "Frame": "Frames", "Game": "Games",
}
MARKET_TYPE_NAMES = {
    "P1XP2": "Match Result", "P1P2": "Match Winner", "1X12X2": "Double Chance", "DrawNoBet": "Draw No Bet",
    "OverUnder": "Total", "Handicap": "Handicap", "Team1OverUnder": "Team 1 Total",
    "Team2OverUnder": "Team 2 Total", "BothTeamsToScore": "Both Teams To Score", "OddEven": "Total Odd/Even",
    "CorrectScore": "Correct Score", "HalfTimeFullTime": "Half Time / Full Time", "WinningMargin": "Winning Margin",
    "ExactTotal": "Exact Total", "NextGoal": "Next to Score", "PeriodP1XP2": "Period Result",
    "PeriodP1P2": "Period Winner", "PeriodOverUnder": "Period Total", "PeriodHandicap": "Period Handicap",
    "CorrectSetScore": "Correct Set Score", "SetsOverUnder": "Total Sets", "SetsHandicap": "Sets Handicap",
    "Outright": "Outright Winner", "OutrightTop": "Top Finish", "HeadToHead": "Head to Head",
}


@dataclass(frozen=True, slots=True)
class EventTemplate:
    type: str  # "P1", "X", "P2", "Over", "Under", "Home", "Away", ...
    type_1: str
    name: str  # may hold {line}, {home}, {away} or {team} placeholders
    base_sign: int  # event base = base_sign * market line; 0 means no base
    display_column: int
    order: int
    home_value: int | None = None
    away_value: int | None = None
    static: dict[str, Any] = field(default_factory=dict, compare=False)  # the fields no game changes

    def __post_init__(self) -> None:
        self.static.update(type_1=self.type_1, type=self.type, display_column=self.display_column, order=self.order)
        if self.home_value is not None:
            self.static.update(home_value=self.home_value, away_value=self.away_value)


@dataclass(frozen=True, slots=True)
class MarketTemplate:
    index: int
    type: str
    name: str  # may hold a {line} placeholder
    family: str  # how pricing.* prices it
    display_key: str
    display_sub_key: str
    group: str
    col_count: int
    main_order: int
    events: tuple[EventTemplate, ...]
    outcomes: tuple[tuple[int, ...], ...]  # pricing parameters, one per event
    event_offset: int
    scope: int = 0  # 0 the match, p the p-th period or set
    line_kind: str | None = None
    line_rel: float = 0.0
    param: int = 0  # stat index or top-k
    static: dict[str, Any] = field(default_factory=dict, compare=False)  # the fields no game changes

    def __post_init__(self) -> None:
        group_id, group_order = GROUPS.get(self.group, (4, 4))
        express = self.index % 7 + 1
        self.static.update(
            group_id=group_id, group_name=self.group, group_order=group_order, type=self.type,
            name_template=self.name.replace("{line}", "{h}").replace("{home}", "{h}"), sequence=self.scope,
            point_sequence=0, order=self.index + 1, display_key=self.display_key,
            display_sub_key=self.display_sub_key, col_count=self.col_count, express_id=express, extra_info={},
            cashout=1 if self.index < 40 else 0, is_new=0, has_early_payout=1 if self.index == 0 else 0,
            prematch_express_id=express, main_order=self.main_order,
        )

    @property
    def market_type_name(self) -> str:
        return MARKET_TYPE_NAMES.get(self.type, self.type)


@dataclass(frozen=True, slots=True)
class SportMarkets:
    """A sport's (or an outright's) ordered market templates."""

    templates: tuple[MarketTemplate, ...]

    @property
    def max_markets(self) -> int:
        return min(MAX_MARKETS, len(self.templates))

    def types(self) -> dict[str, MarketTemplate]:
        """Each market type offered, with its first template, in order of first appearance."""
        seen: dict[str, MarketTemplate] = {}
        for t in self.templates[: self.max_markets]:
            seen.setdefault(t.type, t)
        return seen


def market_type_details(*catalogs: SportMarkets) -> list[dict[str, Any]]:
    """``get_market_type`` details over the given catalogs: each type once, by first appearance,
    so the first one (Order 1) is the main type of the first catalog."""
    seen: dict[str, MarketTemplate] = {}
    for catalog in catalogs:
        for kind, t in catalog.types().items():
            seen.setdefault(kind, t)
    return [
        {"Id": _stable_type_id(kind), "Name": t.market_type_name, "Order": order, "BasaltKind": kind}
        for order, (kind, t) in enumerate(seen.items(), start=1)
    ]


def _stable_type_id(kind: str) -> int:
    value = 0
    for ch in kind:
        value = (value * 131 + ord(ch)) % 1_000_003
    return value


def _fmt(line: float) -> str:
    return f"{line:g}"


def _signed(line: float) -> str:
    return f"{line:+g}" if line else "0"


@dataclass
class _Builder:
    """Accumulates templates, numbering them and their events as it goes."""

    templates: list[MarketTemplate] = field(default_factory=list)
    offset: int = 0

    def add(
        self,
        type: str,
        name: str,
        family: str,
        display_key: str,
        events: list[EventTemplate],
        outcomes: Sequence[tuple[int, ...]] | None = None,
        *,
        sub_key: str = "MATCH",
        group: str = "Main",
        col_count: int | None = None,
        main_order: int = 1,
        scope: int = 0,
        line_kind: str | None = None,
        line_rel: float = 0.0,
        param: int = 0,
    ) -> None:
        self.templates.append(
            MarketTemplate(
                index=len(self.templates), type=type, name=name, family=family, display_key=display_key,
                display_sub_key=sub_key, group=group, col_count=col_count or len(events),
                main_order=main_order, events=tuple(events),
                outcomes=tuple(outcomes or [() for _ in events]), event_offset=self.offset, scope=scope,
                line_kind=line_kind, line_rel=line_rel, param=param,
            )
        )
        self.offset += len(events)

    @staticmethod
    def lines(rels: range, step: float, add_one: Callable[[float, int], None], skip_main: bool = False) -> None:
        """Add one market per line ``rel`` (in steps from the game's centre), main line first."""
        ordered = sorted(rels, key=lambda r: (abs(r), r))
        for rank, rel in enumerate(ordered, start=1):
            if skip_main and rel == 0:
                continue
            add_one(rel * step, rank)

    def build(self) -> SportMarkets:
        return SportMarkets(tuple(self.templates))


def _winner_events(three_way: bool) -> list[EventTemplate]:
    if three_way:
        return [
            EventTemplate("P1", "W1", "W1", 0, 1, 0),
            EventTemplate("X", "X", "Draw", 0, 2, 1),
            EventTemplate("P2", "W2", "W2", 0, 3, 2),
        ]
    return [EventTemplate("P1", "W1", "W1", 0, 1, 0), EventTemplate("P2", "W2", "W2", 0, 2, 1)]


def _over_under() -> list[EventTemplate]:
    return [
        EventTemplate("Over", "Over", "Over ({line})", 1, 1, 0),
        EventTemplate("Under", "Under", "Under ({line})", 1, 2, 1),
    ]


def _home_away() -> list[EventTemplate]:
    return [
        EventTemplate("Home", "Home", "W1 ({home})", 1, 1, 0),
        EventTemplate("Away", "Away", "W2 ({away})", -1, 2, 1),
    ]


def _yes_no(first: str = "Yes", second: str = "No") -> list[EventTemplate]:
    return [EventTemplate(first, first, first, 0, 1, 0), EventTemplate(second, second, second, 0, 2, 1)]


def _add_total(b: _Builder, kind: str, type: str, title: str, *, sub_key: str, group: str, scope: int = 0,
               family: str = "total", param: int = 0) -> Callable[[float, int], None]:
    def add(rel: float, rank: int) -> None:
        b.add(type, f"{title} ({{line}})", family, "TOTALS", _over_under(), sub_key=sub_key, group=group,
              main_order=rank, scope=scope, line_kind=kind, line_rel=rel, param=param)
    return add


def _add_handicap(b: _Builder, kind: str, type: str, title: str, *, sub_key: str, group: str, scope: int = 0,
                   family: str = "handicap", param: int = 0) -> Callable[[float, int], None]:
    def add(rel: float, rank: int) -> None:
        b.add(type, f"{title} ({{home}})", family, "HANDICAP", _home_away(), sub_key=sub_key, group=group,
              main_order=rank, scope=scope, line_kind=kind, line_rel=rel, param=param)
    return add


def _timed_markets(p: SportProfile) -> SportMarkets:
    b = _Builder()
    poisson = p.score_model == "poisson"
    noun = p.score_noun
    step = p.total_step
    periods_group = PLURAL_PERIODS.get(p.period_noun, "Periods")
    winner_type = "P1XP2" if p.three_way else "P1P2"
    b.add(winner_type, "Match Result" if p.three_way else "Match Winner",
          "winner3" if p.three_way else "winner2", "WINNER", _winner_events(p.three_way))
    total_rels = range(-2, 6) if poisson else range(-10, 11)
    hcp_rels = range(-3, 4) if poisson else range(-10, 11)
    add_total = _add_total(b, "total", "OverUnder", f"Total {noun}", sub_key="MATCH", group="Totals")
    add_hcp = _add_handicap(b, "handicap", "Handicap", "Handicap", sub_key="MATCH", group="Handicaps")
    add_total(0.0, 1)
    add_hcp(0.0, 1)
    if p.three_way:
        b.add("1X12X2", "Double Chance", "double", "DOUBLECHANCE", [
            EventTemplate("1X", "1X", "1X", 0, 1, 0), EventTemplate("12", "12", "12", 0, 2, 1),
            EventTemplate("X2", "X2", "X2", 0, 3, 2)])
        b.add("DrawNoBet", "Draw No Bet", "dnb", "DRAWNOBET", _winner_events(False))
    if poisson and not p.alternate_batting:
        b.add("BothTeamsToScore", "Both Teams To Score", "btts", "BOTHTEAMSTOSCORE", _yes_no())
        b.add("NextGoal", "Next to Score", "next_goal", "NEXTGOAL", [
            EventTemplate("Team1", "Team1", "W1", 0, 1, 0), EventTemplate("None", "None", "None", 0, 2, 1),
            EventTemplate("Team2", "Team2", "W2", 0, 3, 2)])
    if not p.alternate_batting:
        for period in range(1, p.periods + 1):
            title = period_name(p, period)
            b.add("PeriodP1XP2", f"{title} Result", "winner3", "WINNER", _winner_events(True),
                  sub_key="PERIOD", group=periods_group, scope=period)
    b.lines(total_rels, step, add_total, skip_main=True)
    b.lines(hcp_rels, step, add_hcp, skip_main=True)
    team_rels = range(-1, 4) if poisson else range(-4, 5)
    for team in (1, 2):
        b.lines(team_rels, step, _add_total(
            b, f"team{team}", f"Team{team}OverUnder", f"Team {team} Total {noun}", sub_key="TEAM",
            group="Team Totals", family=f"team{team}_total"))
    b.add("OddEven", f"Total {noun} Odd/Even", "odd_even", "ODD/EVEN", _yes_no("Odd", "Even"), group="Specials")
    if poisson:
        scores = [(a, c) for a in range(5) for c in range(5)]
        ordered = [s for s in scores if s[0] > s[1]] + [s for s in scores if s[0] == s[1]] + [s for s in scores if s[0] < s[1]]
        b.add("CorrectScore", "Correct Score", "correct", "CORRECT SCORE", [
            EventTemplate(f"{a}-{c}", f"{a}-{c}", f"{a}:{c}", 0, 1 if a > c else 2 if a == c else 3, i, a, c)
            for i, (a, c) in enumerate(ordered)], [tuple(s) for s in ordered], group="Correct Score", col_count=3)
        if p.three_way and p.periods == 2:
            pairs = [(i, j) for i in (1, 0, -1) for j in (1, 0, -1)]
            label = {1: "W1", 0: "Draw", -1: "W2"}
            b.add("HalfTimeFullTime", "Half Time / Full Time", "htft", "HALFTIME FULLTIME", [
                EventTemplate(f"{label[i]}{label[j]}", f"{label[i]}/{label[j]}", f"{label[i]}/{label[j]}", 0,
                              k % 3 + 1, k) for k, (i, j) in enumerate(pairs)], pairs, group="Specials", col_count=3)
        exact = [(k,) for k in range(7)]
        b.add("ExactTotal", f"Exact Total {noun}", "exact_total", "EXACT TOTAL", [
            EventTemplate(f"Exact{k}", str(k), f"{k}+" if k == 6 else str(k), 0, k % 4 + 1, k) for (k,) in exact],
            exact, group="Specials", col_count=4)
    w = p.margin_band
    bands: list[tuple[int, int, int]] = [(1, 1, w), (1, w + 1, 2 * w), (1, 2 * w + 1, 999)]
    if p.three_way:
        bands.append((0, 0, 0))
    bands += [(2, 1, w), (2, w + 1, 2 * w), (2, 2 * w + 1, 999)]

    def band_name(side: int, lo: int, hi: int) -> str:
        if side == 0:
            return "Draw"
        span = f"{lo}+" if hi >= 999 else (str(lo) if lo == hi else f"{lo}-{hi}")
        return f"W{side} by {span}"

    b.add("WinningMargin", "Winning Margin", "margin", "WINNING MARGIN", [
        EventTemplate(f"Margin{i}", band_name(*band), band_name(*band), 0, 1 if band[0] == 1 else 2 if band[0] == 0 else 3, i)
        for i, band in enumerate(bands)], list(bands), group="Specials", col_count=3)
    period_total_rels = range(-1, 2) if poisson else range(-3, 4)
    for period in range(1, p.periods + 1):
        title = period_name(p, period)
        b.lines(period_total_rels, step, _add_total(
            b, f"ptotal{period}", "PeriodOverUnder", f"{title} Total {noun}", sub_key="PERIOD",
            group=periods_group, scope=period))
        if not p.alternate_batting:
            b.lines(range(-2, 3) if poisson else range(-3, 4), step, _add_handicap(
                b, f"phcp{period}", "PeriodHandicap", f"{title} Handicap", sub_key="PERIOD",
                group=periods_group, scope=period))
    for index, stat in enumerate(p.stats):
        group = stat.label if stat.label in GROUPS else "Specials"
        sub = stat.key.upper()
        b.lines(range(-4, 5), 1.0, _add_total(
            b, f"stat{index}", f"{stat.market_type}OverUnder", f"Total {stat.label}", sub_key=sub, group=group,
            family="stat_total", param=index))
        b.lines(range(-3, 4), 1.0, _add_handicap(
            b, f"stathcp{index}", f"{stat.market_type}Handicap", f"{stat.label} Handicap", sub_key=sub,
            group=group, family="stat_handicap", param=index))
        for team in (1, 2):
            b.lines(range(-2, 3), 1.0, _add_total(
                b, f"stat{index}team{team}", f"Team{team}{stat.market_type}OverUnder",
                f"Team {team} {stat.label}", sub_key=sub, group=group, family=f"stat_team{team}_total",
                param=index))
    return b.build()


def _sets_markets(p: SportProfile) -> SportMarkets:
    b = _Builder()
    k = p.sets_to_win
    noun = p.score_noun
    periods_group = PLURAL_PERIODS.get(p.period_noun, "Sets")
    b.add("P1P2", "Match Winner", "winner2", "WINNER", _winner_events(False))
    sets_total_lines = [x + 0.5 for x in range(k, 2 * k - 1)]
    sets_hcp_lines = sorted({s * (x + 0.5) for x in range(1, k) for s in (-1, 1)}, key=lambda v: (abs(v), v))
    point_rank = 0 if p.point_markets else 1

    def add_sets_total(line: float, rank: int) -> None:
        b.add("SetsOverUnder", f"Total {PLURAL_PERIODS.get(p.period_noun, 'Sets')} ({{line}})", "sets_total",
              "TOTALS", _over_under(), main_order=rank + 1 - point_rank, group="Totals",
              line_kind="fixed", line_rel=line)

    def add_sets_hcp(line: float, rank: int) -> None:
        b.add("SetsHandicap", f"{p.period_noun} Handicap ({{home}})", "sets_handicap", "HANDICAP", _home_away(),
              main_order=rank + 1 - point_rank, group="Handicaps", line_kind="fixed", line_rel=line)

    add_total = _add_total(b, "total", "OverUnder", f"Total {noun}", sub_key="MATCH", group="Totals")
    add_hcp = _add_handicap(b, "handicap", "Handicap", f"{noun} Handicap", sub_key="MATCH", group="Handicaps")
    if p.point_markets:
        add_total(0.0, 1)
        add_hcp(0.0, 1)
    else:
        add_sets_total(sets_total_lines[len(sets_total_lines) // 2], 1)
        add_sets_hcp(sets_hcp_lines[0], 1)
    finals = [(k, j) for j in range(k)] + [(j, k) for j in reversed(range(k))]
    b.add("CorrectSetScore", "Correct Score", "set_score", "CORRECT SCORE", [
        EventTemplate(f"{a}-{c}", f"{a}-{c}", f"{a}:{c}", 0, 1 if a > c else 2, i, a, c)
        for i, (a, c) in enumerate(finals)], list(finals), group="Correct Score", col_count=2)
    for period in range(1, p.max_periods + 1):
        b.add("PeriodP1P2", f"{period_name(p, period)} Winner", "winner2", "WINNER", _winner_events(False),
              sub_key="PERIOD", group=periods_group, scope=period)
    main_sets_total = sets_total_lines[len(sets_total_lines) // 2] if not p.point_markets else None
    for rank, line in enumerate(sets_total_lines, start=2):
        if line != main_sets_total:
            add_sets_total(line, rank)
    for rank, line in enumerate(sets_hcp_lines, start=2):
        if p.point_markets or line != sets_hcp_lines[0]:
            add_sets_hcp(line, rank)
    if not p.point_markets:
        return b.build()
    b.lines(range(-5, 6), p.total_step, add_total, skip_main=True)
    b.lines(range(-5, 6), p.total_step, add_hcp, skip_main=True)
    for team in (1, 2):
        b.lines(range(-2, 3), p.total_step, _add_total(
            b, f"team{team}", f"Team{team}OverUnder", f"Team {team} Total {noun}", sub_key="TEAM",
            group="Team Totals", family=f"team{team}_total"))
    b.add("OddEven", f"Total {noun} Odd/Even", "odd_even", "ODD/EVEN", _yes_no("Odd", "Even"), group="Specials")
    for period in range(1, p.max_periods + 1):
        title = period_name(p, period)
        b.lines(range(-2, 3), 1.0, _add_total(
            b, f"ptotal{period}", "PeriodOverUnder", f"{title} Total {noun}", sub_key="PERIOD",
            group=periods_group, scope=period))
        b.lines(range(-2, 3), 1.0, _add_handicap(
            b, f"phcp{period}", "PeriodHandicap", f"{title} {noun} Handicap", sub_key="PERIOD",
            group=periods_group, scope=period))
    return b.build()


@lru_cache(maxsize=64)
def sport_markets(profile: SportProfile) -> SportMarkets:
    """The ordered market templates of a sport (cached: they never change)."""
    return _timed_markets(profile) if profile.kind == "timed" else _sets_markets(profile)


@lru_cache(maxsize=64)
def outright_markets(teams: int) -> SportMarkets:
    """Templates of an outright game over a competition of ``teams`` teams."""
    b = _Builder()
    everyone = list(range(teams))

    def team_events() -> list[EventTemplate]:
        return [EventTemplate(f"Team{i}", f"Team{i}", "{team}", 0, 1, i) for i in everyone]

    b.add("Outright", "Winner", "outright_winner", "WINNER", team_events(), [(i,) for i in everyone],
          sub_key="OUTRIGHT", group="Outright", col_count=1)
    for top in range(2, teams):
        b.add("OutrightTop", f"Top {top} Finish", "outright_top", "OUTRIGHT", team_events(),
              [(i,) for i in everyone], sub_key="OUTRIGHT", group="Outright", col_count=1, main_order=top,
              param=top)
    for i in range(teams):
        for j in range(i + 1, teams):
            b.add("HeadToHead", "Head to Head", "h2h", "HEADTOHEAD", [
                EventTemplate("Team1", "W1", "{team}", 0, 1, 0), EventTemplate("Team2", "W2", "{team}", 0, 2, 1)],
                [(i, j), (j, i)], sub_key="OUTRIGHT", group="Head to Head", main_order=len(b.templates))
            if len(b.templates) >= MAX_MARKETS:
                return b.build()
    return b.build()


def line_centres(profile: SportProfile, strength: tuple[float, float]) -> dict[str, float]:
    """Each line family's main line for a game (half-lines, so no pushes).

    ``strength`` is (mu1, mu2) for timed sports and (point_p, 0) for set sports.
    """

    def half(x: float, at_least: float = 0.5) -> float:
        return max(math.floor(x) + 0.5, at_least)

    centres: dict[str, float] = {"fixed": 0.0}
    step = profile.total_step
    if profile.kind == "timed":
        mu1, mu2 = strength
        poisson = profile.score_model == "poisson"
        centres["total"] = half(mu1 + mu2, 0.5 + (2 if poisson else 10) * step)
        centres["handicap"] = math.floor(mu2 - mu1) + 0.5
        for team, mu in ((1, mu1), (2, mu2)):
            centres[f"team{team}"] = half(mu, 0.5 + (1 if poisson else 4) * step)
        for period in range(1, profile.periods + 1):
            if profile.alternate_batting:
                expected = mu1 if period % 2 else mu2
                diff = 0.0
            else:
                expected, diff = (mu1 + mu2) / profile.periods, (mu1 - mu2) / profile.periods
            centres[f"ptotal{period}"] = half(expected, 0.5 + (1 if poisson else 3) * step)
            centres[f"phcp{period}"] = math.floor(-diff) + 0.5
        share = mu1 / (mu1 + mu2)
        for index, stat in enumerate(profile.stats):
            centres[f"stat{index}"] = half(2 * stat.mean, 4.5)
            centres[f"stathcp{index}"] = math.floor(-2 * stat.mean * (2 * share - 1)) + 0.5
            centres[f"stat{index}team1"] = half(2 * stat.mean * share, 2.5)
            centres[f"stat{index}team2"] = half(2 * stat.mean * (1 - share), 2.5)
        return centres
    point_p = strength[0]
    fresh = SetsOutlook(profile, point_p, SetsSnapshot())
    sets = sum((a + b) * p for (a, b), p in fresh.final_sets().items())
    edge = 2 * point_p - 1
    centres["total"] = half(sets * profile.points_per_set, 0.5 + 5 * step)
    centres["handicap"] = math.floor(-sets * profile.points_per_set * edge) + 0.5
    for team, share in ((1, point_p), (2, 1 - point_p)):
        centres[f"team{team}"] = half(sets * profile.points_per_set * share, 0.5 + 2 * step)
    for period in range(1, profile.max_periods + 1):
        centres[f"ptotal{period}"] = half(profile.points_per_set, 2.5)
        centres[f"phcp{period}"] = math.floor(-profile.points_per_set * edge) + 0.5
    return centres


def market_line(template: MarketTemplate, centres: Mapping[str, float]) -> float | None:
    if template.line_kind is None:
        return None
    return centres[template.line_kind] + template.line_rel


def market_probabilities(template: MarketTemplate, outlook: Outlook, line: float | None) -> list[float]:
    return outlook.probabilities(template.family, template.scope, line, template.outcomes, template.param)


MARKET_FIELDS = (
    "id", "game_id", "group_id", "group_name", "group_order", "type", "name_template", "sequence", "point_sequence",
    "name", "order", "display_key", "display_sub_key", "col_count", "express_id", "extra_info", "cashout", "is_new",
    "has_early_payout", "prematch_express_id", "main_order", "base", "is_blocked",
)
EVENT_FIELDS = (
    "id", "market_id", "type_1", "type", "price", "name", "base", "home_value", "away_value", "display_column",
    "order", "is_blocked",
)
_NOPE: Any = object()


@dataclass(frozen=True, slots=True)
class Priced:
    """A market's model view at the game's current pricing snapshot."""

    prices: tuple[float, ...]
    probabilities: tuple[float, ...]
    decided: bool  # one outcome is (nearly) certain: the market is shown suspended


class GameBook:
    """A game's markets and events, read through lightweight views (see :class:`MarketNode`).

    Nothing Swarm-shaped is stored: views compute fields from the template, the game's line
    centres and its live price state on access. Only the model prices of markets someone looked at
    are cached, until the game is re-priced (:meth:`invalidate`).
    """

    __slots__ = (
        "_outlook",
        "_priced",
        "blocked",
        "centres",
        "game_id",
        "margin",
        "overrides",
        "team_names",
        "templates",
    )

    def __init__(
        self,
        game_id: int,
        templates: tuple[MarketTemplate, ...],
        centres: Mapping[str, float],
        margin: float,
        outlook: Callable[[], Outlook],
        overrides: Mapping[int, float],
        blocked: Mapping[int, float],
        team_names: tuple[str, ...] = (),
    ) -> None:
        self.game_id = game_id
        self.templates = templates  # exactly the game's markets, by index
        self.centres = centres
        self.margin = margin
        self.overrides = overrides  # flat event index -> price moved off the model (owned by the game)
        self.blocked = blocked  # suspended template indexes (owned by the game)
        self.team_names = team_names  # outright events name the competition's teams
        self._outlook = outlook
        self._priced: dict[int, Priced] = {}

    def invalidate(self) -> None:
        """Forget cached model prices; call after the game's pricing snapshot changed."""
        self._priced.clear()

    def priced(self, index: int) -> Priced:
        found = self._priced.get(index)
        if found is None:
            t = self.templates[index]
            probs = market_probabilities(t, self._outlook(), self.line(t))
            overround = self.margin * (1.0 + 0.1 * (len(probs) - 2))
            found = Priced(tuple(price_for(p, overround) for p in probs), tuple(probs),
                           max(probs) > 1.0 - DECIDED / 2)
            self._priced[index] = found
        return found

    def baseline_price(self, index: int, pos: int) -> float:
        return self.priced(index).prices[pos]

    def price(self, t: MarketTemplate, pos: int) -> float:
        moved = self.overrides.get(t.event_offset + pos)
        return moved if moved is not None else self.priced(t.index).prices[pos]

    def line(self, t: MarketTemplate) -> float | None:
        return market_line(t, self.centres)

    def market_id(self, t: MarketTemplate) -> int:
        return self.game_id * MARKET_ID_FACTOR + t.index

    def market_blocked(self, t: MarketTemplate) -> int:
        return 1 if (t.index in self.blocked or self.priced(t.index).decided) else 0

    def market_name(self, t: MarketTemplate) -> str:
        return t.name.format(**_placeholders(self.line(t), None, ())) if "{" in t.name else t.name

    def event_name(self, t: MarketTemplate, pos: int) -> str:
        name = t.events[pos].name
        if "{" not in name:
            return name
        outcome = t.outcomes[pos]
        return name.format(**_placeholders(self.line(t), outcome[0] if outcome else None, self.team_names))

    def event_base(self, t: MarketTemplate, pos: int) -> float | None:
        sign = t.events[pos].base_sign
        line = self.line(t)
        return sign * line if (sign and line is not None) else None

    def markets(self) -> list[MarketNode]:
        return [MarketNode(self, t) for t in self.templates]

    def market(self, index: int) -> MarketNode | None:
        return MarketNode(self, self.templates[index]) if 0 <= index < len(self.templates) else None

    def events(self, index: int) -> list[EventNode]:
        if not 0 <= index < len(self.templates):
            return []
        t = self.templates[index]
        return [EventNode(self, t, pos) for pos in range(len(t.events))]


_MARKET_DYNAMIC: dict[str, Callable[[GameBook, MarketTemplate], Any]] = {
    "id": GameBook.market_id,
    "game_id": lambda book, t: book.game_id,
    "name": GameBook.market_name,
    "base": GameBook.line,
    "is_blocked": GameBook.market_blocked,
}
_EVENT_DYNAMIC: dict[str, Callable[[GameBook, MarketTemplate, int], Any]] = {
    "id": lambda book, t, pos: book.market_id(t) * EVENT_ID_FACTOR + pos,
    "market_id": lambda book, t, pos: book.market_id(t),
    "price": GameBook.price,
    "name": GameBook.event_name,
    "base": GameBook.event_base,
    "is_blocked": lambda book, t, pos: 1 if book.priced(t.index).probabilities[pos] < DECIDED / 10 else 0,
}


class _ComputedNode(Mapping[str, Any]):
    """A read-only mapping whose ``get`` computes values; subclasses define ``get`` and iteration."""

    __slots__ = ()

    def get(self, key: str, default: Any = None) -> Any:
        raise NotImplementedError

    def __getitem__(self, key: str) -> Any:
        value = self.get(key, _NOPE)
        if value is _NOPE:
            raise KeyError(key)
        return value


class MarketNode(_ComputedNode):
    """A read-only Swarm market dict computed on access (cheap to create, nothing stored)."""

    __slots__ = ("_book", "_t")

    def __init__(self, book: GameBook, template: MarketTemplate) -> None:
        self._book = book
        self._t = template

    def get(self, key: str, default: Any = None) -> Any:
        value = self._t.static.get(key, _NOPE)
        if value is not _NOPE:
            return value
        getter = _MARKET_DYNAMIC.get(key)
        return default if getter is None else getter(self._book, self._t)

    def __contains__(self, key: object) -> bool:
        return key in self._t.static or key in _MARKET_DYNAMIC

    def __iter__(self) -> Iterator[str]:
        return iter(MARKET_FIELDS)

    def __len__(self) -> int:
        return len(MARKET_FIELDS)


class EventNode(_ComputedNode):
    """A read-only Swarm event dict computed on access."""

    __slots__ = ("_book", "_pos", "_t")

    def __init__(self, book: GameBook, template: MarketTemplate, pos: int) -> None:
        self._book = book
        self._t = template
        self._pos = pos

    def get(self, key: str, default: Any = None) -> Any:
        value = self._t.events[self._pos].static.get(key, _NOPE)
        if value is not _NOPE:
            return value
        getter = _EVENT_DYNAMIC.get(key)
        return default if getter is None else getter(self._book, self._t, self._pos)

    def __contains__(self, key: object) -> bool:
        return key in self._t.events[self._pos].static or key in _EVENT_DYNAMIC

    def __iter__(self) -> Iterator[str]:
        static = self._t.events[self._pos].static
        return (f for f in EVENT_FIELDS if f in static or f in _EVENT_DYNAMIC)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _placeholders(line: float | None, team: int | None, team_names: tuple[str, ...]) -> dict[str, str]:
    words = {"line": "", "home": "", "away": "", "team": ""}
    if line is not None:
        words["line"] = _fmt(line)
        words["home"] = _signed(line)
        words["away"] = _signed(-line)
    if team is not None and team < len(team_names):
        words["team"] = team_names[team]
    return words
