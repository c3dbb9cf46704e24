"""DOM rendering through the ``DomPort``: sidebar, mode tabs, games tree, game rows, toasts.

Views keep the nodes they created, keyed by sport id / group key / game key, and write to the DOM
only what changed since their last write (``NodeCache`` for the chrome, the row model diff of
``rows.RowView`` for game rows), so a re-render of an unchanged list does no DOM work and rows,
scroll position and flashes survive a ``games`` event.

The games tree is windowed (``virtual``, so a long list stays smooth): every region and competition head
is there, but an expanded competition holds only the rows near the viewport, between two spacers
that keep its height, so a list of thousands of games costs the DOM (and each frame) what the
screen shows. New rows are built from HTML, at most ``MAX_NEW_ROWS_PER_PASS`` per frame. Views
never schedule anything themselves except through the ``flash.Flasher`` (the games view hands it
the buttons whose price moved, and tells it which rows left the page) and the ``Toaster``, which
own their timers through a ``Scope``.

Accessibility (docs/ui.md 6): the sports list is a ``listbox`` with a roving ``tabindex``, the mode
tabs a ``tablist``; region and competition heads are buttons with ``aria-expanded`` inside
headings; a competition's body is a ``list`` of rows whose odds buttons are named by meaning and
value (``rows.odds_label``).

Attributes the tests rely on:
  sidebar   ``a.sport-item[href][data-sport-id][role=option][aria-selected]`` > ``.sport-name``,
            ``.sport-count[data-count]``
  tabs      ``.mode-tab[data-mode]`` (``active``, ``aria-selected``), ``[data-mode-count]`` text ``(N)``
  rows      ``.game-row[data-game-id]`` (``game-blocked``, ``selected``), ``.game-open[data-open-game]``,
            ``.odd-btn[data-odd-label][data-odd-index][data-price][aria-label]`` with ``.odd-price``
            text and classes ``odd-up``/``odd-down``/``odd-blocked``/``odd-empty``; ``.markets-pill``
  groups    ``.region[data-group-key]``, ``.competition[data-group-key][data-competition-id]``
            (``streaming``), heads ``[data-toggle-group][aria-expanded]``, spacers ``.v-spacer``
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .flash import Flasher
from .markup import tag
from .ports import DomPort
from .rows import LOCK, RowView, row_html, row_model
from .scope import Handle, Scope
from .slots import reconcile, write_prop
from .store import MODES, Store
from .tree import group_games
from .virtual import BUFFER_ROWS, DEFAULT_ROW_HEIGHT, first_at_or_below, row_window, spacers

__all__ = [
    "GamesView",
    "ModeTabsView",
    "LOCK",
    "NodeCache",
    "SidebarItem",
    "SidebarView",
    "Toaster",
    "page_url",
    "sidebar_items",
]

# New rows created per render pass; the rest follow in the next frames (docs/design.md R10: no frame does more
# than its share). Existing rows are always updated in the same pass.
MAX_NEW_ROWS_PER_PASS = 5
# New region and competition heads per render pass (a 3,000-game list has a few hundred).
MAX_NEW_GROUPS_PER_PASS = 12
# Past this many ms of a window pass, no more rows are built in it (the rest come next frame); with
# the browser's own style and layout after it, a frame stays well under the 50 ms of a long task.
ROW_BUDGET_MS = 6.0


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


# ------------------------------------------------------------------------------------------------
# sidebar and tabs


@dataclass(frozen=True)
class SidebarItem:
    id: str
    name: str
    count_text: str
    count: int | None
    active: bool
    href: str = ""  # the sport's own page (``/<mode>/<id>``): a real link, so it works before the app runs


def page_url(mode: str, sport_id: str | None = None) -> str:
    """The page that shows ``mode`` (and the sport): ``/live``, ``/live/1``, ``/prematch/7``,
    ``/results/1`` (docs/ui.md 9). The server renders exactly this view at that URL."""
    return f"/{mode}/{sport_id}" if sport_id else f"/{mode}"


_PAGE_MODES = ("live", "prematch", "results")


def parse_page_url(path: str) -> tuple[str, str | None] | None:
    """The ``(mode, sport_id)`` a page path names (``page_url``'s inverse; ``/`` is live with no
    sport), or None for a path that is no page. A sport id is 1 to 15 ASCII digits, not 0, and
    comes back without leading zeros (``/live/007`` is ``("live", "7")``)."""
    parts = [part for part in path.split("/") if part]
    if not parts:
        return "live", None
    if parts[0] not in _PAGE_MODES or len(parts) > 2:
        return None
    if len(parts) == 1:
        return parts[0], None
    digits = parts[1]
    if not (0 < len(digits) <= 15 and digits.isascii() and digits.isdigit()) or int(digits) == 0:
        return None
    return parts[0], str(int(digits))


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
        items.append(SidebarItem(sport.id, sport.name, "" if count is None else str(count), count, active,
                                 page_url(mode, sport.id)))
    return items


class _SportNode:
    __slots__ = ("count", "name", "node")

    def __init__(self, node: Any, name: Any, count: Any) -> None:
        self.node = node
        self.name = name
        self.count = count


class SidebarView:
    """The sports list: a ``listbox`` of ``option`` items with a roving ``tabindex`` (the
    arrow keys move within it, Enter or Space chooses; the app wires the keys)."""

    def __init__(self, dom: DomPort, list_node: Any, empty_node: Any, cache: NodeCache) -> None:
        self.dom = dom
        self.list_node = list_node
        self.empty_node = empty_node
        self.cache = cache
        self._nodes: dict[str, _SportNode] = {}
        self._order: list[str] = []
        self._focusable: str | None = None

    def _node(self, item: SidebarItem) -> _SportNode:
        entry = self._nodes.get(item.id)
        if entry is None:
            node = self.dom.element("a", "sport-item", None, {
                "href": item.href or page_url("live", item.id), "data-sport-id": item.id, "title": item.name, "role": "option", "aria-selected": "false",
                "tabindex": "-1"})
            name = self.dom.element("span", "sport-name", item.name)
            count = self.dom.element("span", "sport-count", "")
            self.dom.append(node, name)
            self.dom.append(node, count)
            entry = self._nodes[item.id] = _SportNode(node, name, count)
        return entry

    def render(self, items: list[SidebarItem]) -> None:
        new_order = [item.id for item in items]
        active = next((item.id for item in items if item.active), None)
        focusable = self._focusable if self._focusable in new_order else (active or (new_order[0] if new_order else None))
        for item in items:
            entry = self._node(item)
            self.cache.text(entry.name, item.name)
            if item.href:
                self.cache.attr(entry.node, "href", item.href)
            self.cache.text(entry.count, item.count_text)
            self.cache.attr(entry.count, "data-count", item.count_text)
            self.cache.hidden(entry.count, item.count_text == "")
            self.cache.cls(entry.node, "active", item.active)
            self.cache.attr(entry.node, "aria-selected", "true" if item.active else "false")
            self.cache.attr(entry.node, "tabindex", "0" if item.id == focusable else "-1")
        reconcile(self.dom, self.list_node, self._order, new_order, lambda key: self._nodes[key].node, True)
        for key in [k for k in self._nodes if k not in set(new_order)]:
            entry = self._nodes.pop(key)
            self.cache.forget([entry.node, entry.name, entry.count])
        self._order = new_order
        self._focusable = focusable
        self.cache.hidden(self.empty_node, bool(items))

    def move_focus(self, current: str | None, key: str) -> str | None:
        """Focus the option an arrow/Home/End key leads to from ``current``; returns its sport id."""
        if not self._order:
            return None
        index = self._order.index(current) if current in self._order else -1
        target = {"ArrowDown": index + 1, "ArrowUp": index - 1, "Home": 0, "End": len(self._order) - 1}.get(key)
        if target is None:
            return None
        target = max(0, min(len(self._order) - 1, target))
        sport_id = self._order[target]
        for other in self._order:
            self.cache.attr(self._nodes[other].node, "tabindex", "0" if other == sport_id else "-1")
        self._focusable = sport_id
        self.dom.focus(self._nodes[sport_id].node)
        return sport_id

    def node(self, sport_id: str) -> Any:
        entry = self._nodes.get(sport_id)
        return entry.node if entry is not None else None


TAB_ORDER = ("prematch", "live", "results")


class ModeTabsView:
    """The mode tabs (``tablist``): selection, roving ``tabindex`` and the counts."""

    def __init__(self, dom: DomPort, tabs: dict[str, Any], counts: dict[str, Any], cache: NodeCache,
                 panel: Any = None) -> None:
        self.dom = dom
        self.tabs = tabs
        self.counts = counts
        self.cache = cache
        self.panel = panel

    def render(self, store: Store, mode: str, sport_id: str | None = None) -> None:
        for name in MODES:
            total = store.totals.get(name)
            self.cache.text(self.counts[name], f"({total if total is not None else 0})")
        for name, node in self.tabs.items():
            self.cache.attr(node, "href", page_url(name, sport_id))
            self.cache.cls(node, "active", name == mode)
            self.cache.attr(node, "aria-selected", "true" if name == mode else "false")
            self.cache.attr(node, "tabindex", "0" if name == mode else "-1")
        if self.panel is not None and mode in self.tabs:
            self.cache.attr(self.panel, "aria-labelledby", f"tab-{mode}")

    def neighbour(self, current: str, key: str) -> str | None:
        """The tab an arrow/Home/End key moves to from ``current`` (wrapping), or None."""
        names = [n for n in TAB_ORDER if n in self.tabs]
        if current not in names:
            return None
        index = names.index(current)
        target = {"ArrowRight": index + 1, "ArrowLeft": index - 1, "Home": 0, "End": len(names) - 1}.get(key)
        if target is None:
            return None
        return names[target % len(names)]


# ------------------------------------------------------------------------------------------------
# games tree


class _Group:
    """A region or competition on the page. Its sub-nodes (``data-s`` slots: head, name, count, body,
    stream, top, bottom) are looked up the first time they are written, and the group remembers what
    it wrote (starting from what its markup says), so building a head costs one HTML parse and no
    lookups, and an unchanged head costs nothing (a lookup is a call into JavaScript)."""

    __slots__ = ("_dom", "_nodes", "_written", "children", "competition_id", "first", "keys", "last", "node")

    def __init__(self, dom: DomPort, node: Any, written: dict[tuple[str, str], Any]) -> None:
        self._dom = dom
        self.node = node
        self._nodes: dict[str, Any] = {"root": node}
        self._written = written
        self.children: list[str] = []  # what is attached to the body, in order
        self.keys: list[str] = []  # a competition's games, in order (only a window of them is rendered)
        self.first = 0
        self.last = 0
        self.competition_id: str | None = None

    def slot(self, name: str) -> Any:
        node = self._nodes.get(name)
        if node is None:
            node = self._dom.find(self.node, f'[data-s="{name}"]')
            if node is None:
                raise LookupError(f"group has no [data-s={name}]")
            self._nodes[name] = node
        return node

    def write(self, slot: str, prop: str, value: Any) -> None:
        key = (slot, prop)
        if self._written.get(key) == value:
            return
        self._written[key] = value
        write_prop(self._dom, self.slot(slot), prop, value)

    @property
    def body(self) -> Any:
        return self.slot("body")


class GamesView:
    """The region -> competition -> row tree of the current sport, windowed (``virtual``).

    Region and competition heads are always there (buttons with ``aria-expanded``); each expanded
    competition renders only the rows near the viewport of ``scroller``, between two spacers that
    keep its full height. ``render`` syncs the structure with the store and then the windows;
    ``render_window`` (after a scroll or resize) only moves the windows. Without a scroller (or
    before layout) every row is in the window, built ``MAX_NEW_ROWS_PER_PASS`` per pass.
    """

    def __init__(self, dom: DomPort, container: Any, empty_node: Any, cache: NodeCache,
                 flasher: Flasher, utc_offset: Callable[[float], int], scroller: Any = None,
                 now: Callable[[], float] | None = None) -> None:
        self.dom = dom
        self.now = now  # a clock for the per-pass time budget (None: counts alone limit a pass)
        self._grouped: tuple[int, int, list[Any]] | None = None  # (store id, store version, groups)
        self.container = container
        self.empty_node = empty_node
        self.cache = cache
        self.flasher = flasher
        self.utc_offset = utc_offset
        self.scroller = scroller
        self.rows: dict[str, RowView] = {}
        self.regions: dict[str, _Group] = {}
        self.competitions: dict[str, _Group] = {}
        self._region_order: list[str] = []
        self._comp_order: list[str] = []  # every competition key, in document order
        self._comp_region: dict[str, str] = {}
        self._positions: dict[str, tuple[int, int]] = {}
        self.collapsed: set[str] = set()
        self.streaming: set[str] = set()
        self.selected: str | None = None
        self.row_height = DEFAULT_ROW_HEIGHT
        self._row_measured: RowView | None = None  # a row to read the height of, in the next pass
        self._height_known = False
        self._sport_name_hint: str | None = None
        self._ids = 0
        self.rows_built = 0
        self.measures = 0

    # ---------------------------------------------------------------- structure

    def _group_html(self, kind: str, key: str, name: str, extra: dict[str, str] | None, count: int,
                    written: dict[tuple[str, str], Any], markup: bool = True) -> str:
        """A region or competition: a heading with the toggle button, and its body (a competition's
        is a list, with the two spacers of its window, sized for all its rows). ``written`` gets
        what the markup says, so later writes of the same values are skipped. Without ``markup``
        (adopting the page's own group) only ``written`` is filled."""
        self._ids += 1
        body_id = f"{kind}-body-{self._ids}"
        attrs: dict[str, Any] = {"class": kind, "data-group-key": key}
        attrs.update(extra or {})
        expanded = key not in self.collapsed
        if not expanded:
            attrs["class"] += " collapsed"
        competition = kind == "competition"
        body_attrs: dict[str, Any] = {"class": f"{kind}-body", "id": body_id, "data-s": "body"}
        spacer_nodes: list[Any] = []
        written.update({("root", "class:collapsed"): not expanded,
                        ("head", "attr:aria-expanded"): "true" if expanded else "false",
                        ("name", "text"): name, ("count", "text"): str(count)})
        if competition:
            below = count * self.row_height
            written.update({("top", "style:height"): "", ("bottom", "style:height"): f"{below:g}px" if below else "",
                            ("stream", "hidden"): True, ("root", "class:streaming"): False})
        if not markup:
            return ""
        if competition:
            body_attrs.update({"role": "list", "aria-label": name})
            spacer_nodes = [tag("div", {"class": "v-spacer", "data-s": "top", "aria-hidden": "true"}),
                            tag("div", {"class": "v-spacer", "data-s": "bottom", "aria-hidden": "true",
                                        "style": f"height:{below:g}px" if below else None})]
        return tag("div", attrs,
                   tag("h2" if kind == "region" else "h3", {"class": "group-title"},
                       tag("button", {"type": "button", "class": f"{kind}-head", "data-s": "head",
                                      "data-toggle-group": key, "aria-expanded": "true" if expanded else "false",
                                      "aria-controls": body_id},
                           tag("span", {"class": "chevron", "aria-hidden": "true"}),
                           tag("span", {"class": f"{kind}-name", "data-s": "name"}, name),
                           tag("span", {"class": "comp-stream", "data-s": "stream", "hidden": True}, "live odds")
                           if competition else None,
                           tag("span", {"class": "group-count", "data-s": "count"}, str(count)))),
                   tag("div", body_attrs, *spacer_nodes))

    def _make_groups(self, kind: str, specs: list[tuple[str, str, dict[str, str] | None, int]]) -> list[_Group]:
        """Build groups from one HTML parse (one per render pass and kind, however many there are)."""
        if not specs:
            return []
        written = [{} for _ in specs]
        markup = not self.dom.adopting  # adopting the page's groups: their markup would not be read
        html = "".join(self._group_html(kind, key, name, extra, count, w, markup)
                       for (key, name, extra, count), w in zip(specs, written))
        nodes = self.dom.fragment(html)
        if len(nodes) != len(specs):
            raise RuntimeError(f"group HTML produced {len(nodes)} nodes for {len(specs)} groups")
        return [_Group(self.dom, node, w) for node, w in zip(nodes, written)]

    def set_collapsed(self, key: str, collapsed: bool) -> None:
        if collapsed:
            self.collapsed.add(key)
        else:
            self.collapsed.discard(key)
        group = self.regions.get(key) or self.competitions.get(key)
        if group is not None:
            group.write("root", "class:collapsed", collapsed)
            group.write("head", "attr:aria-expanded", "false" if collapsed else "true")

    def set_streaming(self, key: str, on: bool) -> None:
        """Show whether a competition's odds stream is open (its "live odds" marker)."""
        if on:
            self.streaming.add(key)
        else:
            self.streaming.discard(key)
        group = self.competitions.get(key)
        if group is not None:
            group.write("stream", "hidden", not on)
            group.write("root", "class:streaming", on)

    def set_selected(self, store: Store, key: str | None) -> None:
        old, self.selected = self.selected, key
        for changed in {old, key}:
            if changed is not None and changed in self.rows and changed in store.games:
                self._refresh_row(store, changed, self._sport_name_hint)

    def render(self, store: Store, sport_name: str | None, refresh: set[str] | None = None,
               max_new_rows: int | None = MAX_NEW_ROWS_PER_PASS) -> bool:
        """Sync the tree with the store, then the windows; returns False if groups or rows are still
        to be created (call again next frame). Rows in ``refresh`` (None: all) get their model
        re-applied, writing only what changed; new groups and rows are built from HTML, at most
        ``MAX_NEW_GROUPS_PER_PASS`` and ``max_new_rows`` per call."""
        self._sport_name_hint = sport_name
        cached = self._grouped
        if cached is not None and cached[0] == id(store) and cached[1] == store.version:
            groups = cached[2]  # the list did not change since the last pass (a list built over several)
        else:
            groups = group_games(store.ordered_games())
            self._grouped = (id(store), store.version, groups)
        complete, built = self._create_missing_groups(groups)
        wanted_regions = {g.key for g in groups}
        comp_order: list[str] = []
        new_region_order: list[str] = []
        for region in groups:
            group = self.regions.get(region.key)
            if group is None:
                continue  # built in a later pass
            new_region_order.append(region.key)
            group.write("count", "text", str(region.game_count))
            comp_keys = []
            for comp in region.competitions:
                cgroup = self.competitions.get(comp.key)
                if cgroup is None:
                    continue
                comp_keys.append(comp.key)
                comp_order.append(comp.key)
                self._comp_region[comp.key] = region.key
                cgroup.write("count", "text", str(len(comp.game_keys)))
                cgroup.keys = list(comp.game_keys)
                if cgroup.first >= len(cgroup.keys) or cgroup.last > len(cgroup.keys):
                    cgroup.first, cgroup.last = 0, 0
                self._set_spacers(cgroup)
            reconcile(self.dom, group.body, group.children, comp_keys, lambda k: self.competitions[k].node, False)
            group.children = comp_keys
        reconcile(self.dom, self.container, self._region_order, new_region_order,
                  lambda k: self.regions[k].node, False)
        self._region_order = new_region_order
        self._comp_order = comp_order
        self._drop_groups(wanted_regions, {c.key for g in groups for c in g.competitions})
        if built:
            # Heads were built in this pass: their rows come in the next one, so neither pass holds
            # the main thread long (a 3,000-game list's first render must stay under 50 ms a task).
            for key in refresh if refresh is not None else list(self.rows):
                if key in self.rows and key in store.games:
                    self._refresh_row(store, key, sport_name)
            complete = False
        else:
            complete = self.render_window(store, refresh, max_new_rows) and complete
        self.cache.hidden(self.empty_node, bool(groups))
        return complete

    def _spent(self, started: float) -> float:
        return self.now() - started if self.now is not None else 0.0

    def _create_missing_groups(self, groups: list[Any]) -> tuple[bool, bool]:
        """Build the heads still missing, ``MAX_NEW_GROUPS_PER_PASS`` at most: (all there, any built)."""
        budget = MAX_NEW_GROUPS_PER_PASS
        regions: list[tuple[str, str, dict[str, str] | None, int]] = []
        comps: list[tuple[str, str, dict[str, str] | None, int]] = []
        comp_ids: dict[str, str | None] = {}
        complete = True
        for region in groups:
            if region.key not in self.regions:
                if budget <= 0:
                    complete = False
                    break
                regions.append((region.key, region.name, None, region.game_count))
                budget -= 1
            for comp in region.competitions:
                if comp.key in self.competitions:
                    continue
                if budget <= 0:
                    complete = False
                    break
                comps.append((comp.key, comp.name,
                              {"data-competition-id": comp.competition_id} if comp.competition_id else None,
                              len(comp.game_keys)))
                comp_ids[comp.key] = comp.competition_id
                budget -= 1
            if not complete:
                break
        for (key, _n, _e, _c), group in zip(regions, self._make_groups("region", regions)):
            self.regions[key] = group
        for (key, _n, _e, _c), group in zip(comps, self._make_groups("competition", comps)):
            group.competition_id = comp_ids[key]
            self.competitions[key] = group
            if key in self.streaming:
                self.set_streaming(key, True)
        return complete, bool(regions or comps)

    def _set_spacers(self, comp: _Group) -> None:
        above, below = spacers(comp.first, comp.last, len(comp.keys), self.row_height)
        comp.write("top", "style:height", f"{above:g}px" if above else "")
        comp.write("bottom", "style:height", f"{below:g}px" if below else "")

    def _expanded(self) -> list[str]:
        return [k for k in self._comp_order
                if k not in self.collapsed and self._comp_region.get(k) not in self.collapsed]

    def windows(self) -> dict[str, tuple[int, int]]:
        """The rows each expanded competition should render now (measured, see ``virtual``)."""
        expanded = self._expanded()
        if not expanded:
            return {}
        if self.scroller is None:
            return {k: (0, len(self.competitions[k].keys)) for k in expanded}
        top, _scroll, height = self.dom.scroll_box(self.scroller)
        view_top, view_bottom = top, top + height
        self._measure_row_height()
        pad = BUFFER_ROWS * self.row_height
        measured: dict[int, tuple[float, float]] = {}

        def box(index: int) -> tuple[float, float]:
            found = measured.get(index)
            if found is None:
                found = measured[index] = self.dom.measure(self.competitions[expanded[index]].body)
                self.measures += 1
            return found

        start = first_at_or_below(len(expanded), lambda i: box(i)[0] + box(i)[1], view_top - pad)
        out: dict[str, tuple[int, int]] = {}
        for index in range(start, len(expanded)):
            body_top, _height = box(index)
            if body_top > view_bottom + pad:
                break
            comp = self.competitions[expanded[index]]
            out[expanded[index]] = row_window(body_top, len(comp.keys), self.row_height, view_top, view_bottom)
        return out

    def render_window(self, store: Store, refresh: set[str] | None = None,
                      max_new_rows: int | None = MAX_NEW_ROWS_PER_PASS) -> bool:
        """Move every competition's window to the viewport: build the rows entering it, drop the
        rows leaving it. Returns False if the budget ran out (call again next frame)."""
        sport_name = self._sport_name_hint
        started = self.now() if self.now is not None else 0.0
        windows = self.windows()
        budget = max_new_rows
        complete = True
        wanted: set[str] = set()
        created: list[RowView] = []
        for comp_key in self._comp_order:
            comp = self.competitions[comp_key]
            first, last = windows.get(comp_key, (0, 0))
            keys = comp.keys[first:last]
            fresh = [k for k in keys if k not in self.rows]
            if budget is not None and len(fresh) > budget:
                # Build what the budget allows, from the top of the window; the rest next frame.
                allowed = set(fresh[:budget])
                cut = next(i for i, k in enumerate(keys) if k not in self.rows and k not in allowed)
                keys = keys[:cut]
                last = first + cut
                fresh = fresh[:budget]
                complete = False
            if fresh:
                made = self._create_rows(store, sport_name, fresh, comp, started if budget is not None else None,
                                         built_before=len(created))
                created.extend(made)
                if len(made) < len(fresh):  # the time ran out mid-way: the rest of the window next frame
                    cut = next(i for i, k in enumerate(keys) if k not in self.rows)
                    keys = keys[:cut]
                    last = first + cut
                    complete = False
                    budget = 0
                fresh = fresh[:len(made)]
                if budget is not None:
                    budget = max(0, budget - len(made))
            built_now = set(fresh)
            for index, key in enumerate(keys, start=first):
                position = (index, len(comp.keys))
                if key in built_now:
                    continue
                if refresh is None or key in refresh or self._positions.get(key) != position:
                    self._positions[key] = position
                    self._refresh_row(store, key, sport_name)
            wanted.update(keys)
            comp.first, comp.last = (first, last) if keys else (0, 0)
            self._set_spacers(comp)
            reconcile(self.dom, comp.body, [k for k in comp.children if k in self.rows], keys,
                      lambda k: self.rows[k].node, False, end=comp.slot("bottom"))
            comp.children = keys
        for key in [k for k in self.rows if k not in wanted]:
            self._drop_row(key)
        if created and not self._height_known and self._row_measured is None:
            self._row_measured = created[0]
            complete = False  # measure it in the next pass's reads (never right after these writes)
        return complete

    def _measure_row_height(self) -> None:
        """Read one rendered row's height (rows are all as high: CSS fixes it) when a row was built
        since the last read or the layout may have changed (``remeasure``)."""
        row = self._row_measured
        if row is None:
            return
        self._row_measured = None
        if row.key not in self.rows:
            return
        height = self.dom.measure(row.node)[1]
        self.measures += 1
        if height > 0:
            self._height_known = True
            if abs(height - self.row_height) > 0.5:
                self.row_height = height  # spacers are sized with it from this pass on

    def remeasure(self) -> None:
        """The layout may have changed (a resize, the details panel opening or closing, zoom): read
        a row's height again in the next pass."""
        self._height_known = False
        if self.rows and self._row_measured is None:
            self._row_measured = next(iter(self.rows.values()))

    def _create_rows(self, store: Store, sport_name: str | None, keys: list[str], comp: _Group,
                     started: float | None = None, built_before: int = 0) -> list[RowView]:
        """Build rows for ``keys`` (in that order) from one HTML parse. With ``started`` (the pass's
        start) and a clock, stop before any row but the pass's first (``built_before``: rows the pass
        built already) once the pass has spent ``ROW_BUDGET_MS``: the rows not built are left out of
        the result (the caller builds them next frame)."""
        models = []
        parts = []
        markup = not self.dom.adopting  # adopting the page's rows: their markup would not be read
        index_of = {k: i for i, k in enumerate(comp.keys)}
        for key in keys:
            if (models or built_before) and started is not None and self._spent(started) > ROW_BUDGET_MS:
                keys = keys[:len(models)]
                break
            position = (index_of.get(key, 0), len(comp.keys))
            model, prices = row_model(store.games[key], store.odds_for(key), sport_name, self.utc_offset,
                                      selected=key == self.selected, position=position)
            models.append((model, prices, position))
            if markup:
                parts.append(row_html(key, model))
        nodes = self.dom.fragment("".join(parts))
        if len(nodes) != len(keys):
            raise RuntimeError(f"row HTML produced {len(nodes)} nodes for {len(keys)} rows")
        made = []
        for key, node, (model, prices, position) in zip(keys, nodes, models):
            view = self.rows[key] = RowView(self.dom, key, node, model, prices)
            self._positions[key] = position
            made.append(view)
        self.rows_built += len(made)
        return made

    def _refresh_row(self, store: Store, key: str, sport_name: str | None) -> list[int]:
        row = self.rows[key]
        position = self._positions.get(key)
        model, prices = row_model(store.games[key], store.odds_for(key), sport_name, self.utc_offset,
                                  selected=key == self.selected, directions=row.directions, position=position)
        moved = row.moves(model, prices)
        if moved:  # the accessible names say where the prices went
            model, prices = row_model(store.games[key], store.odds_for(key), sport_name, self.utc_offset,
                                      selected=key == self.selected, directions=row.directions, position=position)
        row.write(model)
        flashed = []
        for index, direction in moved:
            self.flasher.flash((key, index), row.button(index), row.arrow(index), direction)
            flashed.append(index)
        return flashed

    def _drop_row(self, key: str) -> None:
        row = self.rows.pop(key)
        self.dom.remove(row.node)
        self.flasher.forget(key)
        self._positions.pop(key, None)

    def _drop_groups(self, regions: set[str], comps: set[str]) -> None:
        for mapping, wanted in ((self.competitions, comps), (self.regions, regions)):
            for key in [k for k in mapping if k not in wanted]:
                group = mapping.pop(key)
                self._comp_region.pop(key, None)
                self.dom.remove(group.node)  # its rows go in render_window (or move to their new body)

    def update_odds(self, store: Store, key: str) -> list[int]:
        """Re-apply one row after an odds event; returns the buttons that flashed."""
        if key not in self.rows or key not in store.games:
            return []  # not rendered (off screen, or not yet): it will be built with the current odds
        return self._refresh_row(store, key, self._sport_name_hint)

    def row_node(self, key: str) -> Any:
        row = self.rows.get(key)
        return row.node if row is not None else None

    def clear(self) -> None:
        """Remove every node (sport or mode change)."""
        for key in list(self._region_order):
            self.dom.remove(self.regions[key].node)
        self.flasher.clear()
        self.rows.clear()
        self.regions.clear()
        self.competitions.clear()
        self._region_order = []
        self._comp_order = []
        self._comp_region = {}
        self._positions = {}
        self.streaming = set()
        self.selected = None


# ------------------------------------------------------------------------------------------------
# toasts


TOAST_WORDS = {"error": "Error: ", "ok": "Done: "}


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
        # The icon is drawn by CSS (no font glyph needed); a screen reader hears the kind as a word.
        # The area is the page's polite live region, so the toast is announced once, as it appears.
        word = TOAST_WORDS.get(kind, "")
        node = self.dom.fragment(tag("div", {"class": f"toast toast-{kind}"},
                                     tag("span", {"class": "toast-icon", "aria-hidden": "true"}),
                                     tag("span", {"class": "sr-only"}, word) if word else None,
                                     tag("span", {"class": "toast-text"}, text)))[0]
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
