"""DOM rendering through the ``DomPort``: sidebar, mode tabs, games tree, game rows, toasts.

Views keep the nodes they created, keyed by sport id / group key / game key, and write to the DOM
only what changed since their last write (each text, class and attribute is cached per node), so a
re-render of an unchanged list does no DOM work and rows, scroll position and flashes survive a
``games`` event. Views never schedule anything themselves except through the ``FlashTimer`` and the
``Toaster``, which own their timers through a ``Scope``.

Attributes the tests rely on:
  sidebar   ``li.sport-item[data-sport-id]`` > ``.sport-name``, ``.sport-count[data-count]``
  tabs      ``.mode-tab[data-mode]`` (``active``), ``[data-mode-count]`` text ``(N)``
  rows      ``.game-row[data-game-id]`` (``game-blocked``), ``.odd-btn[data-odd-label][data-odd-index]
            [data-price]`` with ``.odd-price`` text and classes ``odd-up``/``odd-down``/``odd-blocked``/
            ``odd-empty``; ``.markets-pill``
  groups    ``.region[data-group-key]``, ``.competition[data-group-key][data-competition-id]``
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, Hashable, List, Optional, Sequence, Set, Tuple

from .display import (
    clock_text,
    is_live_row,
    periods_text,
    phase_text,
    score_text,
    shirt_color,
    start_text,
    team_names,
)
from .messages import Game
from .odds import FlashBook, FlashMark, flash_direction, format_price, is_blocked, markets_pill_text
from .ports import DomPort
from .scope import Handle, Scope
from .store import LIVE, MODES, GameOdds, Sport, Store
from .tree import group_games, plan_children

__all__ = [
    "FlashTimer",
    "GamesView",
    "ModeTabsView",
    "NodeCache",
    "RowView",
    "SidebarItem",
    "SidebarView",
    "Toaster",
    "sidebar_items",
]

DEFAULT_LABELS = ("1", "X", "2")
LOCK = "\U0001f512"
ARROWS = {"up": "\u25b2", "down": "\u25bc"}
FLASH_CLASSES = ("odd-up", "odd-down", "flash-alt")


class NodeCache:
    """Writes through the DOM port, skipping writes that would not change anything."""

    def __init__(self, dom: DomPort) -> None:
        self.dom = dom
        self._text: Dict[int, str] = {}
        self._attrs: Dict[Tuple[int, str], str] = {}
        self._classes: Dict[Tuple[int, str], bool] = {}
        self._hidden: Dict[int, bool] = {}
        self._styles: Dict[Tuple[int, str], str] = {}
        self.writes = 0

    def text(self, node: Any, value: str) -> None:
        if self._text.get(id(node)) != value:
            self._text[id(node)] = value
            self.dom.set_text(node, value)
            self.writes += 1

    def attr(self, node: Any, name: str, value: str) -> None:
        key = (id(node), name)
        if self._attrs.get(key) != value:
            self._attrs[key] = value
            self.dom.set_attr(node, name, value)
            self.writes += 1

    def cls(self, node: Any, name: str, on: bool) -> None:
        key = (id(node), name)
        if self._classes.get(key, False) != on:
            self._classes[key] = on
            self.dom.toggle_class(node, name, on)
            self.writes += 1

    def hidden(self, node: Any, hidden: bool, force: bool = False) -> None:
        """Set ``hidden``; ``force`` writes even if the cache thinks it is set (initial page state)."""
        if force or self._hidden.get(id(node), False) != hidden:
            self._hidden[id(node)] = hidden
            self.dom.set_hidden(node, hidden)
            self.writes += 1

    def style(self, node: Any, prop: str, value: str) -> None:
        key = (id(node), prop)
        if self._styles.get(key, "") != value:
            self._styles[key] = value
            self.dom.set_style(node, prop, value)
            self.writes += 1

    def forget(self, nodes: Sequence[Any]) -> None:
        """Drop cached state of nodes that are gone (their ids may be reused)."""
        ids = {id(node) for node in nodes}
        for mapping in (self._text, self._hidden):
            for key in [k for k in mapping if k in ids]:
                del mapping[key]
        for mapping2 in (self._attrs, self._classes, self._styles):
            for key2 in [k for k in mapping2 if k[0] in ids]:
                del mapping2[key2]


def _el(dom: DomPort, created: List[Any], tag: str, cls: str = "", text: Optional[str] = None,
        attrs: Optional[Dict[str, str]] = None) -> Any:
    node = dom.element(tag, cls, text, attrs)
    created.append(node)
    return node


def _reconcile(dom: DomPort, parent: Any, old: List[Hashable], new: List[Hashable],
               node_of: Callable[[Hashable], Any], remove: bool) -> None:
    """Make ``parent``'s keyed children follow ``new``.

    With ``remove`` False, children that left ``new`` stay attached: the caller removes the ones
    that are gone for good and lets the ones moving to another parent be moved by that parent.
    """
    for op, key, before in plan_children(old, new):
        if op == "remove":
            if remove:
                dom.remove(node_of(key))
        else:
            dom.insert_before(parent, node_of(key), None if before is None else node_of(before))


# ------------------------------------------------------------------------------------------------
# flashes


class FlashTimer:
    """Drives a ``FlashBook`` with one scope-owned timer for every flash on the page (R2)."""

    def __init__(self, scope: Scope, book: FlashBook, on_expired: Callable[[List[Tuple[Hashable, Hashable]]], None]):
        self._scope = scope
        self._platform = scope.platform
        self.book = book
        self._on_expired = on_expired
        self._timer: Optional[Handle] = None
        self._timer_deadline: Optional[float] = None
        scope.defer(book.clear, kind="flashbook", label="flash marks")

    @property
    def timer_pending(self) -> bool:
        return self._timer is not None and not self._timer.released

    def flash(self, key: Tuple[Hashable, Hashable], direction: str) -> FlashMark:
        mark = self.book.mark(key, direction, self._platform.now_ms())
        self._ensure_timer()
        return mark

    def forget_game(self, game_key: Hashable) -> None:
        self.book.forget_game(game_key)

    def _ensure_timer(self) -> None:
        if self._scope.closed:
            return
        deadline = self.book.next_deadline()
        if deadline is None:
            return
        if self.timer_pending and self._timer_deadline is not None and self._timer_deadline <= deadline:
            return
        if self._timer is not None:
            self._timer.release()
        delay = max(0.0, deadline - self._platform.now_ms())
        self._timer_deadline = deadline
        self._timer = self._scope.timeout(self._fire, delay, label="flash expiry")

    def _fire(self) -> None:
        self._timer = None
        self._timer_deadline = None
        due = self.book.pop_due(self._platform.now_ms())
        try:
            if due:
                self._on_expired(due)
        finally:
            self._ensure_timer()


# ------------------------------------------------------------------------------------------------
# sidebar and tabs


@dataclass(frozen=True)
class SidebarItem:
    id: str
    name: str
    count_text: str
    count: Optional[int]
    active: bool


def sidebar_items(store: Store, mode: str, active_id: Optional[str], query: str = "") -> List[SidebarItem]:
    """Sports sorted by order; with counts known, only count > 0 plus the active sport (WIRE G)."""
    needle = query.strip().lower()
    items = []
    for sport in store.sports:
        count = store.count_for(mode, sport)
        active = sport.id == active_id
        if count is not None and count <= 0 and not active:
            continue
        if needle and needle not in sport.name.lower() and needle not in sport.alias.lower() and not active:
            continue
        items.append(SidebarItem(sport.id, sport.name, "" if count is None else str(count), count, active))
    return items


class _SportNode:
    __slots__ = ("count", "name", "node")

    def __init__(self, node: Any, name: Any, count: Any) -> None:
        self.node = node
        self.name = name
        self.count = count


class SidebarView:
    def __init__(self, dom: DomPort, list_node: Any, empty_node: Any, cache: NodeCache) -> None:
        self.dom = dom
        self.list_node = list_node
        self.empty_node = empty_node
        self.cache = cache
        self._nodes: Dict[str, _SportNode] = {}
        self._order: List[str] = []

    def _node(self, item: SidebarItem) -> _SportNode:
        entry = self._nodes.get(item.id)
        if entry is None:
            created: List[Any] = []
            node = _el(self.dom, created, "li", "sport-item", None, {"data-sport-id": item.id, "title": item.name})
            name = _el(self.dom, created, "span", "sport-name", item.name)
            count = _el(self.dom, created, "span", "sport-count", "")
            self.dom.append(node, name)
            self.dom.append(node, count)
            entry = self._nodes[item.id] = _SportNode(node, name, count)
        return entry

    def render(self, items: List[SidebarItem]) -> None:
        new_order = [item.id for item in items]
        for item in items:
            entry = self._node(item)
            self.cache.text(entry.name, item.name)
            self.cache.text(entry.count, item.count_text)
            self.cache.attr(entry.count, "data-count", item.count_text)
            self.cache.hidden(entry.count, item.count_text == "")
            self.cache.cls(entry.node, "active", item.active)
        _reconcile(self.dom, self.list_node, self._order, new_order, lambda key: self._nodes[key].node, True)
        self._order = new_order
        self.cache.hidden(self.empty_node, bool(items))


class ModeTabsView:
    def __init__(self, dom: DomPort, tabs: Dict[str, Any], counts: Dict[str, Any], cache: NodeCache) -> None:
        self.dom = dom
        self.tabs = tabs
        self.counts = counts
        self.cache = cache

    def render(self, store: Store, mode: str) -> None:
        for name in MODES:
            total = store.totals.get(name)
            self.cache.text(self.counts[name], f"({total if total is not None else 0})")
            self.cache.cls(self.tabs[name], "active", name == mode)
            self.cache.attr(self.tabs[name], "aria-selected", "true" if name == mode else "false")


# ------------------------------------------------------------------------------------------------
# game rows


class _Button:
    __slots__ = ("arrow", "label", "label_text", "node", "price", "price_node")

    def __init__(self, node: Any, label: Any, price_node: Any, arrow: Any) -> None:
        self.node = node
        self.label = label
        self.price_node = price_node
        self.arrow = arrow
        self.label_text: Optional[str] = None
        self.price: Any = None  # last known price (number or None), for flash decisions


class RowView:
    """One game row. Created once per game key; updated in place."""

    def __init__(self, dom: DomPort, cache: NodeCache, key: str) -> None:
        self.dom = dom
        self.cache = cache
        self.key = key
        created: List[Any] = []
        self.created = created
        e = lambda tag, cls="", text=None, attrs=None: _el(dom, created, tag, cls, text, attrs)  # noqa: E731
        self.node = e("div", "game-row", None, {"data-game-id": key})
        meta = e("div", "game-meta")
        self.badge = e("span", "live-badge", "LIVE")
        self.clock = e("span", "game-clock", "")
        self.phase = e("span", "game-phase", "")
        self.date = e("span", "game-date", "")
        self.time = e("span", "game-time", "")
        for child in (self.badge, self.clock, self.phase, self.date, self.time):
            dom.append(meta, child)
        teams = e("div", "game-teams")
        self.team_nodes = []
        self.dots = []
        for index in (1, 2):
            team = e("div", f"team team{index}")
            dot = e("span", "team-dot")
            name = e("span", "team-name", "")
            dom.append(team, dot)
            dom.append(team, name)
            dom.append(teams, team)
            self.team_nodes.append(name)
            self.dots.append(dot)
        score = e("div", "game-score")
        self.score = e("span", "score-main", "")
        self.periods = e("span", "game-periods", "")
        dom.append(score, self.score)
        dom.append(score, self.periods)
        odds = e("div", "game-odds", None, {"data-server-game-id": key})
        self.buttons: List[_Button] = []
        for index, default in enumerate(DEFAULT_LABELS):
            btn = e("button", "odd-btn", None, {"type": "button", "data-odd-index": str(index)})
            label = e("span", "odd-label", default)
            price = e("span", "odd-price", "-")
            arrow = e("span", "odd-arrow", "")
            dom.append(btn, label)
            dom.append(btn, price)
            dom.append(btn, arrow)
            dom.append(odds, btn)
            self.buttons.append(_Button(btn, label, price, arrow))
        self.pill = e("span", "markets-pill", "")
        dom.append(odds, self.pill)
        for child in (meta, teams, score, odds):
            dom.append(self.node, child)
        # The texts set at creation are known to the cache, so unchanged updates write nothing.
        cache.text(self.badge, "LIVE")
        for btn_view, default in zip(self.buttons, DEFAULT_LABELS):
            cache.text(btn_view.label, default)
            cache.text(btn_view.price_node, "-")
        self.blocked = False

    def update_game(self, game: Game, sport_name: Optional[str], utc_offset: Callable[[float], int]) -> None:
        c = self.cache
        live = is_live_row(game)
        self.blocked = is_blocked(game.is_blocked)
        c.cls(self.node, "game-blocked", self.blocked)
        c.cls(self.node, "game-live", live)
        team1, team2 = team_names(game)
        for node, name in zip(self.team_nodes, (team1, team2)):
            c.text(node, name)
        for index, dot in enumerate(self.dots, start=1):
            c.style(dot, "background", shirt_color(game, index) or "")
        c.hidden(self.badge, not live)
        c.text(self.badge, f"LIVE {LOCK}" if live and self.blocked else "LIVE")
        c.cls(self.badge, "suspended", live and self.blocked)
        if live:
            c.text(self.clock, clock_text(game, sport_name))
            c.text(self.phase, phase_text(game, sport_name))
            c.text(self.score, score_text(game))
            c.text(self.periods, periods_text(game))
            c.text(self.date, "")
            c.text(self.time, "")
        else:
            ts = game.start_ts
            day, hour = start_text(ts, utc_offset(float(ts)) if isinstance(ts, (int, float)) else 0)
            c.text(self.date, day)
            c.text(self.time, hour)
            c.text(self.clock, "")
            c.text(self.phase, "")
            c.text(self.score, "")
            c.text(self.periods, "")

    def update_odds(self, entry: Optional[GameOdds], game: Game, flashes: Optional["FlashTimer"]) -> List[int]:
        """Show the row odds; returns the button indexes that flashed."""
        c = self.cache
        outcomes = entry.outcomes if entry is not None else None
        flashed: List[int] = []
        for index, btn in enumerate(self.buttons):
            if outcomes is None:
                label, price, blocked, empty = DEFAULT_LABELS[index], None, self.blocked, False
            elif index < len(outcomes):
                outcome = outcomes[index]
                label = str(outcome.label) if outcome.label not in (None, "") else DEFAULT_LABELS[index]
                price, blocked, empty = outcome.price, is_blocked(outcome.blocked) or self.blocked, False
            else:
                label, price, blocked, empty = DEFAULT_LABELS[index], None, False, True
            if btn.label_text != label:
                if btn.label_text is not None:
                    btn.price = None  # a different outcome: no flash across labels
                btn.label_text = label
            c.text(btn.label, label)
            c.attr(btn.node, "data-odd-label", label)
            text = format_price(price)
            c.attr(btn.node, "data-price", text)
            c.cls(btn.node, "odd-empty", empty)
            c.cls(btn.node, "odd-blocked", blocked and not empty)
            c.cls(btn.price_node, "odd-locked", blocked and not empty)
            c.text(btn.price_node, LOCK if blocked and not empty else text)
            direction = flash_direction(btn.price, price)
            if price is not None or empty:
                btn.price = price if not empty else None
            if direction is not None and flashes is not None:
                mark = flashes.flash((self.key, index), direction)
                self.show_flash(index, mark)
                flashed.append(index)
        count = entry.markets_count if entry is not None and entry.markets_count is not None else None
        if count is None and isinstance(game.market, dict) and game.market:
            count = len(game.market)
        pill = markets_pill_text(count, outcomes is not None)
        c.text(self.pill, pill)
        c.hidden(self.pill, pill == "")
        return flashed

    def show_flash(self, index: int, mark: FlashMark) -> None:
        btn = self.buttons[index]
        self.cache.cls(btn.node, "odd-up", mark.direction == "up")
        self.cache.cls(btn.node, "odd-down", mark.direction == "down")
        self.cache.cls(btn.node, "flash-alt", mark.alt)
        self.cache.text(btn.arrow, ARROWS.get(mark.direction, ""))

    def end_flash(self, index: int) -> None:
        btn = self.buttons[index]
        for name in FLASH_CLASSES:
            self.cache.cls(btn.node, name, False)
        self.cache.text(btn.arrow, "")


# ------------------------------------------------------------------------------------------------
# games tree


class _Group:
    __slots__ = ("body", "children", "count", "node", "title")

    def __init__(self, node: Any, title: Any, count: Any, body: Any) -> None:
        self.node = node
        self.title = title
        self.count = count
        self.body = body
        self.children: List[str] = []


class GamesView:
    """The region -> competition -> row tree of the current sport."""

    def __init__(self, dom: DomPort, container: Any, empty_node: Any, cache: NodeCache,
                 flashes: FlashTimer, utc_offset: Callable[[float], int]) -> None:
        self.dom = dom
        self.container = container
        self.empty_node = empty_node
        self.cache = cache
        self.flashes = flashes
        self.utc_offset = utc_offset
        self.rows: Dict[str, RowView] = {}
        self.regions: Dict[str, _Group] = {}
        self.competitions: Dict[str, _Group] = {}
        self._region_order: List[str] = []
        self.collapsed: Set[str] = set()

    def _group(self, kind: str, key: str, name: str, extra: Optional[Dict[str, str]] = None) -> _Group:
        created: List[Any] = []
        attrs = {"data-group-key": key}
        attrs.update(extra or {})
        node = _el(self.dom, created, "section" if kind == "region" else "div", kind, None, attrs)
        head = _el(self.dom, created, "div", f"{kind}-head", None, {"data-toggle-group": key})
        chevron = _el(self.dom, created, "span", "chevron", "\u25be")
        title = _el(self.dom, created, "span", f"{kind}-name", name)
        count = _el(self.dom, created, "span", "group-count", "")
        body = _el(self.dom, created, "div", f"{kind}-body")
        for child in (chevron, title, count):
            self.dom.append(head, child)
        self.dom.append(node, head)
        self.dom.append(node, body)
        self.cache.text(title, name)
        group = _Group(node, title, count, body)
        if key in self.collapsed:
            self.cache.cls(node, "collapsed", True)
        return group

    def set_collapsed(self, key: str, collapsed: bool) -> None:
        if collapsed:
            self.collapsed.add(key)
        else:
            self.collapsed.discard(key)
        group = self.regions.get(key) or self.competitions.get(key)
        if group is not None:
            self.cache.cls(group.node, "collapsed", collapsed)

    def render(self, store: Store, sport_name: Optional[str], refresh: Optional[Set[str]] = None) -> None:
        """Sync the tree with the store. Rows in ``refresh`` (or new rows) get their texts and odds
        re-applied; ``refresh`` None refreshes every row (still writing only what changed)."""
        groups = group_games(store.ordered_games())
        wanted_rows = store.games
        wanted_regions = {g.key for g in groups}
        wanted_comps = {c.key for g in groups for c in g.competitions}

        for region in groups:
            group = self.regions.get(region.key)
            if group is None:
                group = self.regions[region.key] = self._group("region", region.key, region.name)
            self.cache.text(group.count, str(region.game_count))
            comp_keys = []
            for comp in region.competitions:
                comp_keys.append(comp.key)
                cgroup = self.competitions.get(comp.key)
                if cgroup is None:
                    extra = {"data-competition-id": comp.competition_id} if comp.competition_id else None
                    cgroup = self.competitions[comp.key] = self._group("competition", comp.key, comp.name, extra)
                self.cache.text(cgroup.count, str(len(comp.game_keys)))
                for key in comp.game_keys:
                    row = self.rows.get(key)
                    fresh = row is None
                    if row is None:
                        row = self.rows[key] = RowView(self.dom, self.cache, key)
                    if fresh or refresh is None or key in refresh:
                        game = store.games[key]
                        row.update_game(game, sport_name, self.utc_offset)
                        row.update_odds(store.odds_for(key), game, None if fresh else self.flashes)
                _reconcile(self.dom, cgroup.body, cgroup.children, list(comp.game_keys),
                           lambda k: self.rows[k].node, False)
                cgroup.children = list(comp.game_keys)
            _reconcile(self.dom, group.body, group.children, comp_keys, lambda k: self.competitions[k].node, False)
            group.children = comp_keys

        new_region_order = [g.key for g in groups]
        _reconcile(self.dom, self.container, self._region_order, new_region_order,
                   lambda k: self.regions[k].node, False)
        self._region_order = new_region_order
        self._drop(wanted_rows, wanted_regions, wanted_comps)
        self.cache.hidden(self.empty_node, bool(groups))

    def _drop(self, rows: Dict[str, Game], regions: Set[str], comps: Set[str]) -> None:
        gone: List[Any] = []
        for key in [k for k in self.rows if k not in rows]:
            row = self.rows.pop(key)
            self.dom.remove(row.node)
            self.flashes.forget_game(key)
            gone.extend(row.created)
        for mapping, wanted in ((self.competitions, comps), (self.regions, regions)):
            for key in [k for k in mapping if k not in wanted]:
                group = mapping.pop(key)
                self.dom.remove(group.node)
                gone.append(group.node)
                gone.extend((group.title, group.count, group.body))
        if gone:
            self.cache.forget(gone)

    def update_odds(self, store: Store, key: str) -> List[int]:
        row = self.rows.get(key)
        game = store.games.get(key)
        if row is None or game is None:
            return []
        return row.update_odds(store.odds_for(key), game, self.flashes)

    def end_flashes(self, keys: List[Tuple[Hashable, Hashable]]) -> None:
        for game_key, index in keys:
            row = self.rows.get(str(game_key))
            if row is not None and isinstance(index, int):
                row.end_flash(index)

    def clear(self) -> None:
        """Remove every node (sport or mode change)."""
        for key in list(self._region_order):
            self.dom.remove(self.regions[key].node)
        gone: List[Any] = []
        for row in self.rows.values():
            gone.extend(row.created)
            self.flashes.forget_game(row.key)
        self.rows.clear()
        self.regions.clear()
        self.competitions.clear()
        self._region_order = []
        self.cache.forget(gone)


# ------------------------------------------------------------------------------------------------
# toasts


class Toaster:
    """Transient messages; each one's removal timer is owned by the scope. At most ``limit`` shown."""

    def __init__(self, scope: Scope, dom: DomPort, area: Any, duration_ms: float = 4000.0, limit: int = 4) -> None:
        self.scope = scope
        self.dom = dom
        self.area = area
        self.duration_ms = duration_ms
        self.limit = limit
        self._shown: List[Tuple[Any, Handle]] = []
        self._last_by_topic: Dict[str, float] = {}
        scope.defer(self._remove_all, kind="toasts", label="toast nodes")

    def show(self, text: str, kind: str = "info", topic: Optional[str] = None, throttle_ms: float = 0.0) -> bool:
        """Show a toast unless one of the same ``topic`` was shown within ``throttle_ms``."""
        if self.scope.closed:
            return False
        now = self.scope.platform.now_ms()
        if topic is not None:
            last = self._last_by_topic.get(topic)
            if last is not None and now - last < throttle_ms:
                return False
            self._last_by_topic[topic] = now
        icon = {"error": "\u2717", "ok": "\u2713"}.get(kind, "\u2139")
        node = self.dom.element("div", f"toast toast-{kind}", f"{icon} {text}", {"role": "status"})
        self.dom.append(self.area, node)
        entry: List[Any] = [node, None]
        entry[1] = self.scope.timeout(lambda: self._remove(entry), self.duration_ms, label="toast")
        self._shown.append((node, entry[1]))
        while len(self._shown) > self.limit:
            old_node, handle = self._shown.pop(0)
            handle.release()
            self.dom.remove(old_node)
        return True

    def _remove(self, entry: List[Any]) -> None:
        node = entry[0]
        self._shown = [(n, h) for n, h in self._shown if n is not node]
        self.dom.remove(node)

    def _remove_all(self) -> None:
        shown, self._shown = self._shown, []
        for node, _handle in shown:
            self.dom.remove(node)
