"""Every market of a full game, grouped for the details panel (docs/api.md C3; pure).

``market_groups(markets, team1, team2)`` turns the ``market`` map of a ``game`` event into the
panel's structure:

* **groups** by the feed's ``group_id`` (``group_name`` when there is no id), ordered by
  ``group_order`` then name; a market without a group falls into "Other";
* within a group, **items** in market order (``order``, then id, as the original sorts): a plain
  market is one item with its outcomes in ``col_count`` columns; handicap and over/under markets
  (``display_key`` ``HANDICAP`` / ``TOTALS`` with two outcomes) of the same type are merged into
  one **line table** -- one row per line (the market's base), sorted by line, with the two
  outcomes as columns -- placed where its first market was;
* each group has a **tab**: ``tab_key(group name)``; ``tabs_of(groups)`` lists "All" first and then
  one tab per distinct key in group order, so the tabs are whatever the feed's groups call for
  (Match, Totals, Handicaps, Halves, Corners, ...).

Every outcome of every market appears exactly once, in exactly one item (the property tests hold
this). Keys are stable across updates (``m:<market id>``, ``t:<group>:<type>``), so the view can
keep its nodes -- open accordions, scroll position, running flashes -- while prices change.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .messages import Market, MarketEvent
from .odds import is_blocked

__all__ = [
    "TAB_ALL",
    "Cell",
    "LineRow",
    "MarketGroup",
    "MarketItem",
    "Tab",
    "format_line",
    "market_groups",
    "tab_key",
    "tabs_of",
]

TAB_ALL = "all"
OTHER_GROUP = "Other"
DEFAULT_GROUP_ORDER = 999.0
LINE_KEYS = ("HANDICAP", "TOTALS")
TAB_LABELS = {"main": "Match"}  # the feed's "Main" group is the original's "Match" tab

_TEMPLATE_HOLE = re.compile(r"\s*\(\{[^}]*\}\)\s*|\s*\{[^}]*\}\s*")
_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class Cell:
    """One outcome: a button with a label and a price."""

    key: str  # the event id, as text
    label: str
    price: Any
    locked: bool


@dataclass(frozen=True)
class LineRow:
    line: str  # the line as shown: "2.5", "-0.5", "+1.5"
    cells: tuple[Cell, ...]


@dataclass(frozen=True)
class MarketItem:
    key: str
    kind: str  # "market" or "table"
    title: str
    cols: int = 3  # a market's outcome columns
    cells: tuple[Cell, ...] = ()  # a market's outcomes
    columns: tuple[str, ...] = ()  # a table's column headers (after the line column)
    rows: tuple[LineRow, ...] = ()  # a table's lines
    market_ids: tuple[str, ...] = ()
    locked: bool = False  # a market whose every outcome is locked

    @property
    def shape(self) -> tuple[Any, ...]:
        """What the item's markup depends on besides prices and locks: a change means rebuild."""
        if self.kind == "table":
            return ("table", self.title, self.columns,
                    tuple((row.line, tuple((c.key, c.label) for c in row.cells)) for row in self.rows))
        return ("market", self.title, self.cols, tuple((c.key, c.label) for c in self.cells))

    def all_cells(self) -> list[Cell]:
        if self.kind == "table":
            return [cell for row in self.rows for cell in row.cells]
        return list(self.cells)


@dataclass(frozen=True)
class MarketGroup:
    key: str
    name: str
    order: float
    tab: str
    items: tuple[MarketItem, ...]

    @property
    def market_count(self) -> int:
        return sum(len(item.market_ids) for item in self.items)


@dataclass(frozen=True)
class Tab:
    key: str
    label: str
    count: int  # markets


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(float(value)) else None
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def _sort_key(order: Any, ident: Any) -> tuple[float, float, str]:
    number = _number(order)
    ident_number = _number(ident)
    return (number if number is not None else math.inf,
            ident_number if ident_number is not None else math.inf, str(ident))


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def format_line(value: Any, signed: bool = False) -> str:
    """A handicap or total line as shown: ``2.5``, ``-0.5``, ``+1.5`` (signed), ``0``."""
    number = _number(value)
    if number is None:
        return _text(value)
    text = f"{number:g}" if abs(number) < 1e15 else str(number)
    if signed and number > 0:
        return f"+{text}"
    return text


def tab_key(group_name: str) -> str:
    slug = _SLUG.sub("-", group_name.strip().lower()).strip("-")
    return slug or "other"


def _tab_label(key: str, name: str) -> str:
    return TAB_LABELS.get(key, name)


def _events(market: Market) -> list[tuple[str, MarketEvent]]:
    events = [(str(key), event) for key, event in (market.event or {}).items() if event is not None]
    events.sort(key=lambda pair: _sort_key(pair[1].order, pair[1].id if pair[1].id is not None else pair[0]))
    return events


def _event_label(event: MarketEvent) -> str:
    for value in (event.name, event.type_1, event.type):
        text = _text(value)
        if text:
            return text
    return "-"


def _title(market: Market) -> str:
    return _text(market.name) or _text(market.name_template) or _text(market.type) or "Market"


def _table_title(market: Market) -> str:
    template = _text(market.name_template)
    if template:
        title = _TEMPLATE_HOLE.sub(" ", template).strip()
        if title:
            return title
    name = _text(market.name)
    return re.sub(r"\s*\([^)]*\)\s*$", "", name) or _text(market.type) or "Lines"


def _is_line_market(market: Market, events: list[tuple[str, MarketEvent]]) -> bool:
    key = _text(market.display_key).upper()
    return key in LINE_KEYS and len(events) == 2


def _line_value(market: Market, events: list[tuple[str, MarketEvent]]) -> Any:
    if _text(market.display_key).upper() == "HANDICAP":
        first = events[0][1].base
        return first if first is not None else market.base
    return market.base if market.base is not None else events[0][1].base


def _cells(market: Market, events: list[tuple[str, MarketEvent]], labels: list[str] | None = None) -> tuple[Cell, ...]:
    market_locked = is_blocked(market.is_blocked)
    return tuple(
        Cell(key=key, label=labels[i] if labels is not None else _event_label(event), price=event.price,
             locked=market_locked or is_blocked(event.is_blocked))
        for i, (key, event) in enumerate(events)
    )


def _cols(market: Market, count: int) -> int:
    number = _number(market.col_count)
    if number is None or number < 1:
        return max(1, min(3, count))
    return max(1, min(4, int(number)))


def market_groups(markets: Mapping[str, Market | None] | None, team1: str = "Home",
                  team2: str = "Away") -> list[MarketGroup]:
    """The grouped, ordered markets of a full game (see the module docstring)."""
    entries = [(str(key), market) for key, market in (markets or {}).items() if market is not None]
    entries.sort(key=lambda pair: _sort_key(pair[1].order, pair[1].id if pair[1].id is not None else pair[0]))

    group_meta: dict[str, tuple[str, float]] = {}
    group_items: dict[str, list[Any]] = {}  # items in order; a table is a dict until finished
    tables: dict[tuple[str, ...], dict[str, Any]] = {}
    for market_key, market in entries:
        events = _events(market)
        if not events:
            continue
        name = _text(market.group_name) or OTHER_GROUP
        ident = market.group_id if market.group_id is not None else name
        gkey = f"g:{_text(ident)}"
        if gkey not in group_meta:
            order = _number(market.group_order)
            group_meta[gkey] = (name, order if order is not None else DEFAULT_GROUP_ORDER)
            group_items[gkey] = []
        if _is_line_market(market, events):
            tkey = (gkey, _text(market.type), _text(market.display_key).upper(), _text(market.display_sub_key),
                    _table_title(market))
            table = tables.get(tkey)
            if table is None:
                handicap = tkey[2] == "HANDICAP"
                columns = (team1, team2) if handicap else tuple(
                    _text(e.type_1) or _text(e.type) or _event_label(e) for _k, e in events)
                table = tables[tkey] = {"key": f"t:{gkey[2:]}:{'|'.join(tkey[1:4])}:{tkey[4]}", "title": tkey[4],
                                        "columns": columns, "rows": [], "handicap": handicap}
                group_items[gkey].append(table)
            line = _line_value(market, events)
            table["rows"].append((_number(line), format_line(line, signed=table["handicap"]), market_key,
                                  _cells(market, events, list(table["columns"]))))
            continue
        cells = _cells(market, events)
        group_items[gkey].append(MarketItem(key=f"m:{market_key}", kind="market", title=_title(market),
                                            cols=_cols(market, len(cells)), cells=cells,
                                            market_ids=(market_key,),
                                            locked=all(c.locked for c in cells)))

    groups = []
    for gkey, items in group_items.items():
        finished = []
        for item in items:
            if isinstance(item, MarketItem):
                finished.append(item)
                continue
            rows = sorted(item["rows"], key=lambda r: (r[0] if r[0] is not None else math.inf, r[1], r[2]))
            finished.append(MarketItem(
                key=item["key"], kind="table", title=item["title"], columns=tuple(item["columns"]),
                rows=tuple(LineRow(line=r[1], cells=r[3]) for r in rows),
                market_ids=tuple(r[2] for r in rows),
                locked=all(c.locked for r in rows for c in r[3])))
        if not finished:
            continue
        name, order = group_meta[gkey]
        groups.append(MarketGroup(key=gkey, name=name, order=order, tab=tab_key(name), items=tuple(finished)))
    groups.sort(key=lambda g: (g.order, g.name.lower(), g.key))
    return groups


def tabs_of(groups: list[MarketGroup]) -> list[Tab]:
    """"All" first, then one tab per distinct group tab, in group order, with its market count."""
    counts: dict[str, int] = {}
    labels: dict[str, str] = {}
    for group in groups:
        counts[group.tab] = counts.get(group.tab, 0) + group.market_count
        labels.setdefault(group.tab, _tab_label(group.tab, group.name))
    total = sum(counts.values())
    return [Tab(TAB_ALL, "All", total), *(Tab(key, labels[key], counts[key]) for key in counts)]
