"""The odds flash (docs/design.md R2): which price moves flash, for how long, and the one owner of every flash.

A price that moves on screen flashes its button green (``odd-up``, with ``▲``) or red
(``odd-down``, ``▼``) for ``FLASH_MS``. Everything about it lives here:

* ``flash_direction`` decides whether a move flashes: only between two known prices whose 3-decimal
  display differs (never on the first price, to or from a non-number, or below display precision).
* ``PriceTrail`` is one row's memory of the price last shown on each button and the outcome label
  it was for, so a relabelled button (another outcome) never flashes. ``rows.RowView`` keeps one.
* ``FlashBook`` is the pure bookkeeping: the active flash per key ``(game key, button index)``,
  deadlines in order (every flash lasts the same), each mark holding the element it animates.
  Re-marking a key moves its deadline instead of adding one, and toggles ``alt`` so the CSS
  animation restarts (two keyframe names per direction, see css/app.css: only a new name restarts
  an animation).
* ``Flasher`` is the owner: the only code that writes the flash classes and arrows, and the one
  scope-owned timer for all flashes on the page. Flashes stay tied to the element they animate: the
  mark keeps the button and arrow nodes, and the flash is ended on exactly those nodes. A re-render
  or a repeated move re-marks the key (never a second timer); a row that leaves the page
  (``forget``) takes its marks along, and the timer is released when no flash is left.

Pure: DOM writes go through the ``DomPort``, the timer through a ``Scope``; no ``js``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Sequence
from typing import Any

from .odds import format_price, price_value
from .ports import DomPort
from .scope import Handle, Scope

__all__ = [
    "ARROWS",
    "FLASH_CLASSES",
    "FLASH_MS",
    "FlashBook",
    "FlashMark",
    "Flasher",
    "PriceTrail",
    "flash_direction",
]

FLASH_MS = 1100.0  # css/app.css --flash-ms
UP = "up"
DOWN = "down"
ARROWS = {UP: "\u25b2", DOWN: "\u25bc"}
FLASH_CLASSES = ("odd-up", "odd-down", "flash-alt")

Key = tuple[Hashable, Hashable]  # (game key, button index)


def flash_direction(old_price: Any, new_price: Any) -> str | None:
    """``up``/``down`` when the displayed (3-decimal) price changed between two known prices, else None.

    No flash on the first price, to or from a non-number, or for a move below display precision.
    """
    old_value = price_value(old_price)
    new_value = price_value(new_price)
    if old_value is None or new_value is None:
        return None
    if format_price(old_value) == format_price(new_value):
        return None
    return UP if new_value > old_value else DOWN


class PriceTrail:
    """The price last shown on each button of one row, and the label it was shown for."""

    __slots__ = ("labels", "prices")

    def __init__(self, labels: Sequence[Any], prices: Sequence[Any]) -> None:
        self.labels = list(labels)
        self.prices = list(prices)

    def moves(self, labels: Sequence[Any], prices: Sequence[Any], empty: Sequence[bool]) -> list[tuple[int, str]]:
        """Record the buttons' new labels and prices; return (button, direction) for each that moved.

        A price of None (not shown: no odds in this update) keeps the last one, unless the button
        became empty; a new label forgets the old price (another outcome: never flash across labels).
        """
        moved: list[tuple[int, str]] = []
        for index, price in enumerate(prices):
            if labels[index] != self.labels[index]:
                self.labels[index] = labels[index]
                self.prices[index] = None
            direction = flash_direction(self.prices[index], price)
            if direction is not None:
                moved.append((index, direction))
            if price is not None or empty[index]:
                self.prices[index] = price
        return moved


class FlashMark:
    """One active flash: its key, direction, end, animation variant and the nodes it is shown on."""

    __slots__ = ("alt", "arrow", "button", "direction", "key", "until_ms")

    def __init__(self, key: Key, direction: str, until_ms: float, alt: bool, button: Any = None,
                 arrow: Any = None) -> None:
        self.key = key
        self.direction = direction
        self.until_ms = until_ms
        self.alt = alt
        self.button = button
        self.arrow = arrow

    @property
    def css_class(self) -> str:
        return "odd-up" if self.direction == UP else "odd-down"

    def __repr__(self) -> str:
        return f"FlashMark({self.key!r}, {self.direction!r}, until={self.until_ms}, alt={self.alt})"


class FlashBook:
    """Active flashes keyed by (game key, button index); deadlines kept in order (all last FLASH_MS)."""

    def __init__(self, duration_ms: float = FLASH_MS) -> None:
        self.duration_ms = duration_ms
        self._marks: OrderedDict[Key, FlashMark] = OrderedDict()
        self._by_game: dict[Hashable, set] = {}

    def __len__(self) -> int:
        return len(self._marks)

    def __contains__(self, key: object) -> bool:
        return key in self._marks

    def mark(self, key: Key, direction: str, now_ms: float, button: Any = None, arrow: Any = None,
             alt: bool | None = None) -> FlashMark:
        """Start (or restart) a flash; returns the mark to apply. By default ``alt`` toggles when the
        previous flash of ``key`` is still running, so the CSS animation restarts too; a caller that
        knows what is on the page passes ``alt`` itself (``Flasher`` does)."""
        previous = self._marks.pop(key, None)
        if alt is None:
            alt = previous is not None and previous.until_ms > now_ms and not previous.alt
        mark = FlashMark(key, direction, now_ms + self.duration_ms, alt, button, arrow)
        self._marks[key] = mark  # appended: deadlines stay in non-decreasing order
        self._by_game.setdefault(key[0], set()).add(key)
        return mark

    def get(self, key: Key) -> FlashMark | None:
        """The mark of ``key`` still in the book (shown on the page), ended or not."""
        return self._marks.get(key)

    def active(self, key: Key, now_ms: float) -> FlashMark | None:
        mark = self._marks.get(key)
        if mark is None or mark.until_ms <= now_ms:
            return None
        return mark

    def marks(self) -> list[FlashMark]:
        """Every mark, oldest deadline first."""
        return list(self._marks.values())

    def next_deadline(self) -> float | None:
        if not self._marks:
            return None
        return next(iter(self._marks.values())).until_ms

    def pop_due(self, now_ms: float) -> list[FlashMark]:
        """Remove and return the marks whose flash has ended by ``now_ms`` (oldest first)."""
        due: list[FlashMark] = []
        while self._marks:
            key, mark = next(iter(self._marks.items()))
            if mark.until_ms > now_ms:
                break
            self._marks.popitem(last=False)
            self._drop_index(key)
            due.append(mark)
        return due

    def forget_game(self, game_id: Hashable) -> int:
        """Drop every mark of a game (its row left the page); returns how many."""
        keys = self._by_game.pop(game_id, set())
        for key in keys:
            self._marks.pop(key, None)
        return len(keys)

    def clear(self) -> None:
        self._marks.clear()
        self._by_game.clear()

    def _drop_index(self, key: Key) -> None:
        keys = self._by_game.get(key[0])
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._by_game[key[0]]


class Flasher:
    """Every flash on the page: shows it on its button, ends it there, with one timer for all (docs/design.md R2).

    ``flash(key, button, arrow, direction)`` when a price moved; ``forget(game_key)`` when a row
    leaves the page (its nodes are gone: nothing is written); ``clear()`` when every row goes.
    Closing the scope drops every mark and the timer.
    """

    def __init__(self, scope: Scope, dom: DomPort, duration_ms: float = FLASH_MS) -> None:
        self._scope = scope
        self._platform = scope.platform
        self._dom = dom
        self.book = FlashBook(duration_ms)
        self._timer: Handle | None = None
        self._timer_deadline: float | None = None
        scope.defer(self.book.clear, kind="flashbook", label="flash marks")

    def __len__(self) -> int:
        return len(self.book)

    @property
    def timer_pending(self) -> bool:
        return self._timer is not None and not self._timer.released

    def flash(self, key: Key, button: Any, arrow: Any, direction: str) -> FlashMark | None:
        """Show a flash of ``direction`` on ``button`` (and its ``arrow``) for ``FLASH_MS``; a flash
        already showing for ``key`` is restarted, not doubled. None once the scope is closed."""
        if self._scope.closed:
            return None
        previous = self.book.get(key)  # what is written on the page for this key, if anything
        if previous is not None and (previous.button != button or previous.arrow != arrow):
            self._end(previous)  # the key's row was rebuilt: the old nodes stop flashing
            previous = None
        # Only a new keyframe name restarts a CSS animation (removing and re-adding a class in one task
        # does not), so toggle alt whenever the node still shows the previous flash, even one past its
        # end whose timer is late (a throttled background tab).
        alt = previous is not None and not previous.alt
        mark = self.book.mark(key, direction, self._platform.now_ms(), button, arrow, alt=alt)
        self._show(previous, mark)
        self._arm()
        return mark

    def forget(self, game_key: Hashable) -> int:
        """The row of ``game_key`` left the page: drop its flashes (no DOM writes); returns how many."""
        dropped = self.book.forget_game(game_key)
        if dropped:
            self._arm()
        return dropped

    def clear(self) -> None:
        """Every row left the page: drop every flash and the timer."""
        self.book.clear()
        self._arm()

    # ---------------------------------------------------------------- DOM writes

    def _show(self, previous: FlashMark | None, mark: FlashMark) -> None:
        dom, button = self._dom, mark.button
        if previous is None or previous.direction != mark.direction:
            up = mark.direction == UP
            dom.toggle_class(button, "odd-up", up)
            dom.toggle_class(button, "odd-down", not up)
            dom.set_text(mark.arrow, ARROWS[mark.direction])
        if previous is None or previous.alt != mark.alt:
            dom.toggle_class(button, "flash-alt", mark.alt)

    def _end(self, mark: FlashMark) -> None:
        for name in FLASH_CLASSES:
            self._dom.toggle_class(mark.button, name, False)
        self._dom.set_text(mark.arrow, "")

    # ---------------------------------------------------------------- the one timer

    def _end_due(self, now: float) -> None:
        for mark in self.book.pop_due(now):
            try:
                self._end(mark)
            except Exception as exc:  # one node that cannot be written must not keep the others flashing
                self._platform.report_error(exc, f"ending the flash of {mark.key!r}")

    def _arm(self) -> None:
        """Keep exactly one timer, due at the earliest deadline; none when no flash is left."""
        deadline = self.book.next_deadline()
        if deadline is None or self._scope.closed:
            if self._timer is not None:
                self._timer.release()
            self._timer = None
            self._timer_deadline = None
            return
        if self.timer_pending and self._timer_deadline is not None and self._timer_deadline <= deadline:
            return  # it fires first and re-arms for the rest
        if self._timer is not None:
            self._timer.release()
        self._timer_deadline = deadline
        self._timer = self._scope.timeout(self._fire, max(0.0, deadline - self._platform.now_ms()),
                                          label="flash expiry")

    def _fire(self) -> None:
        self._timer = None
        self._timer_deadline = None
        try:
            self._end_due(self._platform.now_ms())
        finally:
            self._arm()
