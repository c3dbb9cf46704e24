"""DOM rendering through the ``DomPort``: sidebar, mode tabs, games tree, game rows, toasts.

Views keep the nodes they created, keyed by sport id / group key / game key, and write to the DOM
only what changed since their last write (``NodeCache`` for the chrome, the row model diff of
``rows.RowView`` for game rows), so a re-render of an unchanged list does no DOM work and rows,
scroll position and flashes survive a ``games`` event. New rows are built from HTML in chunks of
``MAX_NEW_ROWS_PER_PASS`` per frame. Views never schedule anything themselves except through the
``flash.Flasher`` (the games view hands it the buttons whose price moved, and tells it which rows
left the page) and the ``Toaster``, which own their timers through a ``Scope``.

Attributes the tests rely on:
  sidebar   ``li.sport-item[data-sport-id]`` > ``.sport-name``, ``.sport-count[data-count]``
  tabs      ``.mode-tab[data-mode]`` (``active``), ``[data-mode-count]`` text ``(N)``
  rows      ``.game-row[data-game-id]`` (``game-blocked``), ``.odd-btn[data-odd-label][data-odd-index]
            [data-price]`` with ``.odd-price`` text and classes ``odd-up``/``odd-down``/``odd-blocked``/
            ``odd-empty``; ``.markets-pill``
  groups    ``.region[data-group-key]``, ``.competition[data-group-key][data-competition-id]``
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from .flash import Flasher
from .messages import Game
from .ports import DomPort
from .rows import LOCK, RowView, row_html, row_model
from .scope import Handle, Scope
from .store import MODES, Store
from .tree import group_games, plan_children

__all__ = [
    "GamesView",
    "ModeTabsView",
    "LOCK",
    "NodeCache",
    "SidebarItem",
    "SidebarView",
    "Toaster",
    "sidebar_items",
]

# New rows created per render pass; the rest follow in the next frames (docs/design.md R10: no frame does more
# than its share). Existing rows are always updated in the same pass.
MAX_NEW_ROWS_PER_PASS = 100


class NodeCache:
    """Writes through the DOM port, skipping writes that would not change anything.

    Entries keep a reference to their node, so a node's ``id()`` can never be reused by another node
    while its entry exists (no stale hit); ``forget()`` drops the entries of nodes that are gone.
    """

    def __init__(self, dom: DomPort) -> None:
        self.dom = dom
        self._values: dict[tuple[int, str], tuple[Any, Any]] = {}
        self.writes = 0

    def _changed(self, node: Any, prop: str, value: Any, default: Any = None) -> bool:
        key = (id(node), prop)
        entry = self._values.get(key)
        current = entry[1] if entry is not None else default
        if current == value:
            return False
        self._values[key] = (node, value)
        self.writes += 1
        return True

    def text(self, node: Any, value: str) -> None:
        if self._changed(node, "text", value):
            self.dom.set_text(node, value)

    def attr(self, node: Any, name: str, value: str) -> None:
        if self._changed(node, f"attr:{name}", value):
            self.dom.set_attr(node, name, value)

    def cls(self, node: Any, name: str, on: bool) -> None:
        if self._changed(node, f"class:{name}", on, default=False):
            self.dom.toggle_class(node, name, on)

    def hidden(self, node: Any, hidden: bool, force: bool = False) -> None:
        """Set ``hidden``; ``force`` writes even if the cache thinks it is set (initial page state)."""
        if force:
            self._values[(id(node), "hidden")] = (node, hidden)
            self.writes += 1
            self.dom.set_hidden(node, hidden)
        elif self._changed(node, "hidden", hidden, default=False):
            self.dom.set_hidden(node, hidden)

    def style(self, node: Any, prop: str, value: str) -> None:
        if self._changed(node, f"style:{prop}", value, default=""):
            self.dom.set_style(node, prop, value)

    def forget(self, nodes: Sequence[Any]) -> None:
        """Drop cached state of nodes that are gone."""
        ids = {id(node) for node in nodes}
        for key in [k for k in self._values if k[0] in ids]:
            del self._values[key]

    def __len__(self) -> int:
        return len(self._values)


def _reconcile(dom: DomPort, parent: Any, old: list[Hashable], new: list[Hashable],
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
# sidebar and tabs


@dataclass(frozen=True)
class SidebarItem:
    id: str
    name: str
    count_text: str
    count: int | None
    active: bool


def sidebar_items(store: Store, mode: str, active_id: str | None, query: str = "") -> list[SidebarItem]:
    """Sports sorted by order; with counts known, only count > 0 plus the active sport (docs/api.md G)."""
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
        self._nodes: dict[str, _SportNode] = {}
        self._order: list[str] = []

    def _node(self, item: SidebarItem) -> _SportNode:
        entry = self._nodes.get(item.id)
        if entry is None:
            node = self.dom.element("li", "sport-item", None, {"data-sport-id": item.id, "title": item.name})
            name = self.dom.element("span", "sport-name", item.name)
            count = self.dom.element("span", "sport-count", "")
            self.dom.append(node, name)
            self.dom.append(node, count)
            entry = self._nodes[item.id] = _SportNode(node, name, count)
        return entry

    def render(self, items: list[SidebarItem]) -> None:
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
    def __init__(self, dom: DomPort, tabs: dict[str, Any], counts: dict[str, Any], cache: NodeCache) -> None:
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
# games tree


class _Group:
    __slots__ = ("body", "children", "count", "node", "title")

    def __init__(self, node: Any, title: Any, count: Any, body: Any) -> None:
        self.node = node
        self.title = title
        self.count = count
        self.body = body
        self.children: list[str] = []


class GamesView:
    """The region -> competition -> row tree of the current sport."""

    def __init__(self, dom: DomPort, container: Any, empty_node: Any, cache: NodeCache,
                 flasher: Flasher, utc_offset: Callable[[float], int]) -> None:
        self.dom = dom
        self.container = container
        self.empty_node = empty_node
        self.cache = cache
        self.flasher = flasher
        self.utc_offset = utc_offset
        self.rows: dict[str, RowView] = {}
        self.regions: dict[str, _Group] = {}
        self.competitions: dict[str, _Group] = {}
        self._region_order: list[str] = []
        self.collapsed: set[str] = set()
        self._sport_name_hint: str | None = None

    def _group(self, kind: str, key: str, name: str, extra: dict[str, str] | None = None) -> _Group:
        attrs = {"data-group-key": key}
        attrs.update(extra or {})
        node = self.dom.element("section" if kind == "region" else "div", kind, None, attrs)
        head = self.dom.element("div", f"{kind}-head", None, {"data-toggle-group": key})
        chevron = self.dom.element("span", "chevron", "\u25be")
        title = self.dom.element("span", f"{kind}-name", name)
        count = self.dom.element("span", "group-count", "")
        body = self.dom.element("div", f"{kind}-body")
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

    def render(self, store: Store, sport_name: str | None, refresh: set[str] | None = None,
               max_new_rows: int | None = MAX_NEW_ROWS_PER_PASS) -> bool:
        """Sync the tree with the store; returns False if rows are still to be created (call again
        next frame). Rows in ``refresh`` (None: all) get their model re-applied, writing only what
        changed; new rows are built from HTML, at most ``max_new_rows`` per call."""
        self._sport_name_hint = sport_name
        groups = group_games(store.ordered_games())
        wanted_rows = store.games
        wanted_regions = {g.key for g in groups}
        wanted_comps = {c.key for g in groups for c in g.competitions}
        budget = max_new_rows
        complete = True

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
                fresh = [k for k in comp.game_keys if k not in self.rows]
                if budget is not None and len(fresh) > budget:
                    fresh = fresh[:budget]
                    complete = False
                if fresh:
                    self._create_rows(store, sport_name, fresh)
                    if budget is not None:
                        budget -= len(fresh)
                for key in comp.game_keys:
                    if (refresh is None or key in refresh) and key in self.rows and key not in fresh:
                        self._refresh_row(store, key, sport_name)
                shown = [k for k in comp.game_keys if k in self.rows]
                _reconcile(self.dom, cgroup.body, cgroup.children, shown, lambda k: self.rows[k].node, False)
                cgroup.children = shown
            _reconcile(self.dom, group.body, group.children, comp_keys, lambda k: self.competitions[k].node, False)
            group.children = comp_keys

        new_region_order = [g.key for g in groups]
        _reconcile(self.dom, self.container, self._region_order, new_region_order,
                   lambda k: self.regions[k].node, False)
        self._region_order = new_region_order
        self._drop(wanted_rows, wanted_regions, wanted_comps)
        self.cache.hidden(self.empty_node, bool(groups))
        return complete

    def _create_rows(self, store: Store, sport_name: str | None, keys: list[str]) -> None:
        models = []
        parts = []
        for key in keys:
            model, prices = row_model(store.games[key], store.odds_for(key), sport_name, self.utc_offset)
            models.append((model, prices))
            parts.append(row_html(key, model))
        nodes = self.dom.fragment("".join(parts))
        if len(nodes) != len(keys):
            raise RuntimeError(f"row HTML produced {len(nodes)} nodes for {len(keys)} rows")
        for key, node, (model, prices) in zip(keys, nodes, models):
            self.rows[key] = RowView(self.dom, key, node, model, prices)

    def _refresh_row(self, store: Store, key: str, sport_name: str | None) -> list[int]:
        row = self.rows[key]
        model, prices = row_model(store.games[key], store.odds_for(key), sport_name, self.utc_offset)
        flashed = []
        for index, direction in row.apply(model, prices):
            self.flasher.flash((key, index), row.button(index), row.arrow(index), direction)
            flashed.append(index)
        return flashed

    def _drop(self, rows: dict[str, Game], regions: set[str], comps: set[str]) -> None:
        gone: list[Any] = []
        for key in [k for k in self.rows if k not in rows]:
            row = self.rows.pop(key)
            self.dom.remove(row.node)
            self.flasher.forget(key)
        for mapping, wanted in ((self.competitions, comps), (self.regions, regions)):
            for key in [k for k in mapping if k not in wanted]:
                group = mapping.pop(key)
                self.dom.remove(group.node)
                gone.append(group.node)
                gone.extend((group.title, group.count, group.body))
        if gone:
            self.cache.forget(gone)

    def update_odds(self, store: Store, key: str) -> list[int]:
        """Re-apply one row after an odds event; returns the buttons that flashed."""
        if key not in self.rows or key not in store.games:
            return []  # not rendered (yet): it will be built with the current odds
        return self._refresh_row(store, key, self._sport_name_hint)

    def clear(self) -> None:
        """Remove every node (sport or mode change)."""
        for key in list(self._region_order):
            self.dom.remove(self.regions[key].node)
        gone: list[Any] = []
        for group in [*self.regions.values(), *self.competitions.values()]:
            gone.extend((group.node, group.title, group.count, group.body))
        self.flasher.clear()
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
        self._shown: list[tuple[Any, Handle]] = []
        self._last_by_topic: dict[str, float] = {}
        scope.defer(self._remove_all, kind="toasts", label="toast nodes")

    def show(self, text: str, kind: str = "info", topic: str | None = None, throttle_ms: float = 0.0) -> bool:
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
        entry: list[Any] = [node, None]
        entry[1] = self.scope.timeout(lambda: self._remove(entry), self.duration_ms, label="toast")
        self._shown.append((node, entry[1]))
        while len(self._shown) > self.limit:
            old_node, handle = self._shown.pop(0)
            handle.release()
            self.dom.remove(old_node)
        return True

    def _remove(self, entry: list[Any]) -> None:
        node = entry[0]
        self._shown = [(n, h) for n, h in self._shown if n is not node]
        self.dom.remove(node)

    def _remove_all(self) -> None:
        shown, self._shown = self._shown, []
        for node, _handle in shown:
            self.dom.remove(node)
