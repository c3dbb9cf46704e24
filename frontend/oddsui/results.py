"""Results mode (docs/api.md A5-A7): finished games by date, sport and competition, and a
game's settlements.

* pure shaping: ``date_window`` (today, yesterday, the last 7 days, in local days sent as Unix
  seconds), ``results_sports`` (the sidebar: sports with results, in the hierarchy's order),
  ``group_results`` (region -> competition -> games, newest first), ``settlement_rows`` (one row per
  market, its winners merged) and the markup of each;
* :class:`ResultsMode`, the controller: one scope (its fetch tasks) made when the mode is entered
  and closed when it is left; answers that come back after the choice changed are dropped (each
  request carries the generation it was made for).

A results row is a button (``aria-expanded``) that shows its settlements below it, loaded on the
first open. No feed text reaches the DOM as HTML (``markup``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from .display import start_text
from .markup import Markup, join, tag
from .messages import ResultGame, ResultsCompetitions, ResultsGame, ResultsGames
from .parsing import ParserService
from .ports import DomPort, Platform
from .scope import Scope

__all__ = [
    "COMPETITIONS_URL",
    "GAMES_URL",
    "RANGES",
    "SETTLEMENTS_URL",
    "ResultSportItem",
    "ResultsMode",
    "date_window",
    "group_results",
    "results_html",
    "results_sports",
    "settlement_rows",
    "settlements_html",
]

COMPETITIONS_URL = "/api/results/competitions"
GAMES_URL = "/api/results/games/"
SETTLEMENTS_URL = "/api/results/game/"
RANGES = (("today", "Today"), ("yesterday", "Yesterday"), ("week", "Last 7 days"))
DAY_S = 86400


def date_window(key: str, now_ms: float, offset_minutes: int) -> tuple[int, int]:
    """(from, to) in Unix seconds for a range of local days (the original sends local midnights)."""
    offset_s = offset_minutes * 60
    local_now = int(now_ms // 1000) + offset_s
    midnight = (local_now // DAY_S) * DAY_S - offset_s  # today's local midnight, as UTC seconds
    if key == "yesterday":
        return midnight - DAY_S, midnight
    if key == "week":
        return midnight - 6 * DAY_S, midnight + DAY_S
    return midnight, midnight + DAY_S


@dataclass(frozen=True)
class ResultSportItem:
    id: str
    name: str
    competitions: int


def results_sports(payload: ResultsCompetitions | None, order_of: Mapping[str, float],
                   id_of_name: Mapping[str, str]) -> list[ResultSportItem]:
    """Sports with results, in the hierarchy's order (``order_of`` by sport id), then by name."""
    if payload is None or not payload.data:
        return []
    items: dict[str, ResultSportItem] = {}
    for sport in payload.data:
        name = str(sport.Name) if sport.Name is not None else ""
        sport_id = str(sport.Id) if sport.Id is not None else id_of_name.get(name.lower(), "")
        if not sport_id or sport_id in items:
            continue
        competitions = sum(len(r.Competitions or []) for r in sport.Regions or [])
        items[sport_id] = ResultSportItem(sport_id, name or f"Sport {sport_id}", competitions)
    return sorted(items.values(), key=lambda s: (order_of.get(s.id, 999.0), s.name.lower(), s.id))


@dataclass
class ResultCompetitionGroup:
    name: str
    games: list[ResultGame] = field(default_factory=list)


@dataclass
class ResultRegionGroup:
    name: str
    competitions: list[ResultCompetitionGroup] = field(default_factory=list)


def _date(game: ResultGame) -> float:
    value = game.date
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0.0
    return float(value)


def group_results(games: Sequence[ResultGame]) -> list[ResultRegionGroup]:
    """Region -> competition -> games, newest game first; groups in the order of their newest game."""
    ordered = sorted(games, key=_date, reverse=True)
    regions: dict[str, ResultRegionGroup] = {}
    comps: dict[tuple[str, str], ResultCompetitionGroup] = {}
    for game in ordered:
        region_name = str(game.region_name).strip() if isinstance(game.region_name, str) and game.region_name.strip() else "Other"
        comp_name = (str(game.competition_name).strip()
                     if isinstance(game.competition_name, str) and game.competition_name.strip() else "Other")
        region = regions.get(region_name)
        if region is None:
            region = regions[region_name] = ResultRegionGroup(region_name)
        comp = comps.get((region_name, comp_name))
        if comp is None:
            comp = comps[(region_name, comp_name)] = ResultCompetitionGroup(comp_name)
            region.competitions.append(comp)
        comp.games.append(game)
    return list(regions.values())


def settlement_rows(payload: ResultsGame | None) -> list[tuple[str, list[str]]]:
    """One row per market (in the order they came), with every winner of it."""
    if payload is None or not payload.settlements:
        return []
    rows: dict[str, list[str]] = {}
    for entry in payload.settlements:
        market = str(entry.market) if entry.market is not None else "Market"
        winners = rows.setdefault(market, [])
        for winner in entry.winners or []:
            text = str(winner)
            if text not in winners:
                winners.append(text)
    return list(rows.items())


def _game_id(game: ResultGame) -> str:
    return "" if game.game_id is None else str(game.game_id)


def _row_html(game: ResultGame, utc_offset: Callable[[float], int], expanded: bool) -> Markup:
    gid = _game_id(game)
    ts = _date(game)
    day, hour = start_text(ts, utc_offset(ts)) if ts else ("", "")
    team1 = str(game.team1_name) if game.team1_name is not None else "Team 1"
    team2 = str(game.team2_name) if game.team2_name is not None else "Team 2"
    scores = str(game.scores) if game.scores is not None else "-"
    panel = f"settle-{gid}"
    return tag("li", {"class": "result-row", "data-result-id": gid},
               tag("button", {"type": "button", "class": "result-open", "data-result-game": gid,
                              "aria-expanded": "true" if expanded else "false", "aria-controls": panel},
                   tag("span", {"class": "r-when"}, tag("span", {"class": "r-date"}, day),
                       tag("span", {"class": "r-time"}, hour)),
                   tag("span", {"class": "r-teams"}, tag("span", {"class": "r-team"}, team1),
                       tag("span", {"class": "r-score"}, scores), tag("span", {"class": "r-team r-team2"}, team2)),
                   tag("span", {"class": "chevron", "aria-hidden": "true"})),
               tag("div", {"class": "settlements", "id": panel, "data-settle": gid, "hidden": not expanded}))


def results_html(groups: Sequence[ResultRegionGroup], utc_offset: Callable[[float], int],
                 expanded: set[str]) -> Markup:
    parts = []
    for region in groups:
        comps = [tag("div", {"class": "rcomp"}, tag("h3", {"class": "rcomp-title"}, comp.name),
                     tag("ul", {"class": "result-list", "aria-label": comp.name},
                         *(_row_html(g, utc_offset, _game_id(g) in expanded) for g in comp.games)))
                 for comp in region.competitions]
        parts.append(tag("section", {"class": "rregion"}, tag("h2", {"class": "rregion-title"}, region.name), *comps))
    return join(parts)


def settlements_html(rows: Sequence[tuple[str, list[str]]] | None, error: str | None = None) -> Markup:
    if error:
        return tag("p", {"class": "muted"}, f"Could not load settlements: {error}")
    if rows is None:
        return tag("p", {"class": "muted"}, "Loading settlements\u2026")
    if not rows:
        return tag("p", {"class": "muted"}, "No settlements for this game.")
    return tag("table", {"class": "settle-table"},
               tag("caption", {"class": "sr-only"}, "Settlements"),
               tag("thead", None, tag("tr", None, tag("th", {"scope": "col"}, "Market"),
                                      tag("th", {"scope": "col"}, "Winner"))),
               tag("tbody", None, *(tag("tr", None, tag("th", {"scope": "row"}, market),
                                        tag("td", None, ", ".join(winners) or "-")) for market, winners in rows)))


def dates_html(active: str) -> Markup:
    return join(tag("button", {"type": "button", "class": "chip-btn" + (" active" if key == active else ""),
                               "data-range": key, "aria-pressed": "true" if key == active else "false"}, label)
                for key, label in RANGES)


class _Target:
    """An event-like holder so ``DomPort.closest_attr`` can look up from a node (the focused one)."""

    __slots__ = ("target",)

    def __init__(self, target: Any) -> None:
        self.target = target


class ResultsMode:
    """Results while the mode is shown: its scope owns every fetch; ``close()`` ends it."""

    def __init__(self, parent: Scope, dom: DomPort, nodes: Mapping[str, Any], *, parser: ParserService,
                 schedule: Callable[[Any, Callable[[], None]], None], utc_offset: Callable[[float], int],
                 on_sports: Callable[[], None], on_error: Callable[[str], None],
                 on_loading: Callable[[bool, str], None]) -> None:
        self.scope = parent.child("results")
        self.platform: Platform = parent.platform
        self.dom = dom
        self.nodes = nodes
        self._schedule = schedule
        self.utc_offset = utc_offset
        self._on_sports = on_sports
        self._on_error = on_error
        self._on_loading = on_loading
        self.range = "today"
        self.sport_id: str | None = None
        self.competitions: ResultsCompetitions | None = None
        self.games: ResultsGames | None = None
        self.games_error: str | None = None
        self.expanded: set[str] = set()
        self.settlements: dict[str, list[tuple[str, list[str]]] | str] = {}
        self._generation = 0
        self._html: str | None = None
        self.loading = False
        self._dates_built = False  # the date buttons exist (built once, then only pressed or not)
        self.scope.defer(self._reset_dom, kind="dom", label="results view")
        # Its answers are parsed like stream messages (a week of results is over 100 KB: the worker),
        # in order; closing the mode drops what is still queued.
        self.channel = parser.channel(self.scope, "results")

    # ---------------------------------------------------------------- actions

    def start(self, sport_id: str | None) -> None:
        self.sport_id = sport_id
        self.scope.listen(self.nodes["results"], "click", self._on_click, label="results")
        self.scope.listen(self.nodes["results-dates"], "click", self._on_dates, label="results dates")
        self._load_all()

    def close(self) -> None:
        self.scope.close()

    def window(self) -> tuple[int, int]:
        return date_window(self.range, self.platform.wall_ms(), self.utc_offset(self.platform.wall_ms() / 1000))

    def set_range(self, key: str) -> None:
        if key == self.range or key not in dict(RANGES) or self.scope.closed:
            return
        self.range = key
        self._load_all()

    def select_sport(self, sport_id: str) -> None:
        if self.scope.closed:
            return
        self.sport_id = sport_id
        self._load_games()

    def refresh(self) -> None:
        if not self.scope.closed:
            self._load_all()

    def toggle(self, game_id: str) -> None:
        if self.scope.closed:
            return
        opened = game_id not in self.expanded
        if opened:
            self.expanded.add(game_id)
        else:
            self.expanded.discard(game_id)
        button = self.dom.find(self.nodes["results"], f'[data-result-game="{game_id}"]')
        panel = self.dom.find(self.nodes["results"], f'[data-settle="{game_id}"]')
        if button is not None:
            self.dom.set_attr(button, "aria-expanded", "true" if opened else "false")
        if panel is not None:
            self.dom.set_hidden(panel, not opened)
            if opened:
                self._fill_settlements(game_id, panel)
        if opened and game_id not in self.settlements:
            self.scope.task(self._load_settlements(game_id, self._generation), label="settlements")

    def _on_click(self, event: Any) -> None:
        game_id = self.dom.closest_attr(event, "[data-result-game]", "data-result-game")
        if game_id:
            self.toggle(game_id)

    def _on_dates(self, event: Any) -> None:
        key = self.dom.closest_attr(event, "[data-range]", "data-range")
        if key:
            self.set_range(key)

    # ---------------------------------------------------------------- loading

    def _load_all(self) -> None:
        self._generation += 1
        self.games = None
        self.games_error = None
        self.expanded = set()
        self.settlements = {}
        self.scope.task(self._load_competitions(self._generation), label="results competitions")
        if self.sport_id is not None:
            self.scope.task(self._load_games_task(self._generation), label="results games")
        self._render_soon()

    def _load_games(self) -> None:
        self._generation += 1
        self.games = None
        self.games_error = None
        self.expanded = set()
        self.settlements = {}
        self.scope.task(self._load_games_task(self._generation), label="results games")
        self._render_soon()

    async def _fetch(self, url: str, kind: str, generation: int, done: Callable[[Any], None],
                     failed: Callable[[str], None]) -> None:
        """GET ``url`` and hand ``done`` the decoded body, or ``failed`` why not -- unless the choice
        changed meanwhile (``generation``) or the mode was left."""
        try:
            status, raw = await self.platform.fetch_payload(url)
        except Exception as exc:
            if generation == self._generation and not self.scope.closed:
                failed(str(exc) or "network error")
            return

        def apply(body: Any) -> None:
            if generation != self._generation or self.scope.closed:
                return
            if status != 200 or body.success is not True:
                failed(str(body.error) if body.error else f"HTTP {status}")
            else:
                done(body)

        def undecodable(_exc: BaseException) -> None:
            if generation == self._generation and not self.scope.closed:
                failed(f"HTTP {status}: unexpected answer")

        self.channel.receive(kind, raw, apply, undecodable)

    async def _load_competitions(self, generation: int) -> None:
        start, end = self.window()

        def done(body: Any) -> None:
            self.competitions = body
            self._on_sports()

        await self._fetch(f"{COMPETITIONS_URL}?from={start}&to={end}", "results_competitions", generation, done,
                          lambda why: self._on_error(f"Results: {why}"))

    async def _load_games_task(self, generation: int) -> None:
        sport_id = self.sport_id
        if sport_id is None:
            return
        start, end = self.window()
        self.loading = True
        self._on_loading(True, "Loading results\u2026")

        def done(body: Any) -> None:
            self.games = body
            self._games_settled()

        def failed(why: str) -> None:
            self.games_error = why
            self._games_settled()

        await self._fetch(f"{GAMES_URL}{quote(sport_id, safe='')}?from={start}&to={end}", "results_games",
                          generation, done, failed)

    def _games_settled(self) -> None:
        self.loading = False
        self._on_loading(False, "")
        self._render_soon()

    async def _load_settlements(self, game_id: str, generation: int) -> None:
        def settled(rows: list[tuple[str, list[str]]] | str) -> None:
            self.settlements[game_id] = rows
            panel = self.dom.find(self.nodes["results"], f'[data-settle="{game_id}"]')
            if panel is not None and game_id in self.expanded:
                self._schedule(("results", "settle", game_id), lambda: self._fill_settlements(game_id, panel))

        await self._fetch(f"{SETTLEMENTS_URL}{quote(game_id, safe='')}", "results_game", generation,
                          lambda body: settled(settlement_rows(body)), lambda why: settled(why or "error"))

    # ---------------------------------------------------------------- rendering

    def sports(self, order_of: Mapping[str, float], id_of_name: Mapping[str, str]) -> list[ResultSportItem]:
        return results_sports(self.competitions, order_of, id_of_name)

    def count(self) -> int | None:
        if self.games is None:
            return None
        return len(self.games.games or [])

    def range_label(self) -> str:
        return dict(RANGES)[self.range]

    def _render_soon(self) -> None:
        self._schedule(("results", "list"), self.render)

    def render(self) -> None:
        if self.scope.closed:
            return
        dom = self.dom
        chips = self.nodes["results-dates"]
        if not self._dates_built:
            dom.set_text(chips, "")
            for node in dom.fragment(dates_html(self.range)):
                dom.append(chips, node)
            self._dates_built = True
        else:  # the same buttons, pressed or not: the one the user just chose keeps its focus
            for key, _label in RANGES:
                chip = dom.find(chips, f'[data-range="{key}"]')
                if chip is not None:
                    dom.set_attr(chip, "aria-pressed", "true" if key == self.range else "false")
                    dom.toggle_class(chip, "active", key == self.range)
        dom.set_hidden(self.nodes["results-dates"], False)
        dom.set_hidden(self.nodes["results"], False)
        if self.sport_id is None:
            html = str(tag("p", {"class": "muted"}, "Pick a sport to see its results."))
        elif self.games_error:
            html = str(tag("p", {"class": "muted"}, f"Could not load results: {self.games_error}"))
        elif self.games is None:
            html = ""
        elif not self.games.games:
            html = str(tag("p", {"class": "muted"}, f"No results for {self.range_label().lower()}."))
        else:
            html = results_html(group_results(self.games.games), self.utc_offset, self.expanded)
        if html != self._html:
            focused = dom.closest_attr(_Target(dom.active_element()), "[data-result-game]", "data-result-game")
            dom.set_text(self.nodes["results"], "")
            for node in dom.fragment(html) if html else []:
                dom.append(self.nodes["results"], node)
            self._html = html
            for game_id in self.expanded:  # the new markup has the panels open but empty
                panel = dom.find(self.nodes["results"], f'[data-settle="{game_id}"]')
                if panel is not None:
                    self._fill_settlements(game_id, panel)
            if focused:
                button = dom.find(self.nodes["results"], f'[data-result-game="{focused}"]')
                if button is not None:
                    dom.focus(button)

    def _fill_settlements(self, game_id: str, panel: Any) -> None:
        if self.scope.closed:
            return
        value = self.settlements.get(game_id)
        html = settlements_html(None if value is None else value if isinstance(value, list) else None,
                                value if isinstance(value, str) else None)
        self.dom.set_text(panel, "")
        for node in self.dom.fragment(html):
            self.dom.append(panel, node)

    def _reset_dom(self) -> None:
        dom = self.dom
        dom.set_text(self.nodes["results"], "")
        dom.set_text(self.nodes["results-dates"], "")
        self._dates_built = False
        dom.set_hidden(self.nodes["results"], True)
        dom.set_hidden(self.nodes["results-dates"], True)
        if self.loading:
            self._on_loading(False, "")
