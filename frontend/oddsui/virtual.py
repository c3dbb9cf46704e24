"""Window arithmetic for long lists (smooth at any length; pure).

The games view renders, per expanded competition, only the rows near the viewport: the
competition's body keeps its full height (``rows * row_height``) with a spacer above and below the
rendered rows, so the scrollbar and every position below stay exact while most rows do not exist.

* ``row_window(body_top, count, row_h, view_top, view_bottom, buffer)`` is the ``[first, last)``
  range of a body's rows that intersect the viewport, widened by ``buffer`` rows on each side
  (the original UI's 8) and clamped to ``[0, count]``; an empty range when the body is off screen
  by more than the buffer.
* ``spacers(first, last, count, row_h)`` are the heights above and below the rendered rows.
* ``first_at_or_below(bottoms, y)`` is a binary search over blocks in document order (their
  bottoms never decrease): the first block whose bottom is below ``y``. The view measures only
  the blocks it visits, so a scroll costs O(log n) reads plus the visible ones, not one per block.
"""

from __future__ import annotations

import math
from collections.abc import Callable

__all__ = ["BUFFER_ROWS", "DEFAULT_ROW_HEIGHT", "first_at_or_below", "row_window", "spacers"]

BUFFER_ROWS = 8
DEFAULT_ROW_HEIGHT = 60.0


def row_window(body_top: float, count: int, row_h: float, view_top: float, view_bottom: float,
               buffer: int = BUFFER_ROWS) -> tuple[int, int]:
    """The rows of a body starting at ``body_top`` to render for the viewport ``[view_top, view_bottom)``."""
    if count <= 0 or row_h <= 0 or view_bottom <= view_top:
        return 0, 0
    first = math.floor((view_top - body_top) / row_h) - buffer
    last = math.ceil((view_bottom - body_top) / row_h) + buffer
    first = max(0, min(count, first))
    last = max(0, min(count, last))
    if last <= first:
        return 0, 0
    return first, last


def spacers(first: int, last: int, count: int, row_h: float) -> tuple[float, float]:
    """Heights of the space above and below rows ``[first, last)`` of ``count`` rows."""
    if last <= first:
        return 0.0, max(0, count) * row_h
    return first * row_h, max(0, count - last) * row_h


def first_at_or_below(count: int, bottom_of: Callable[[int], float], y: float) -> int:
    """The smallest index whose bottom is greater than ``y`` (``count`` if none), for non-decreasing
    bottoms. ``bottom_of`` is called O(log count) times."""
    low, high = 0, count
    while low < high:
        middle = (low + high) // 2
        if bottom_of(middle) > y:
            high = middle
        else:
            low = middle + 1
    return low
