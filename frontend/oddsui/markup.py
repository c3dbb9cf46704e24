"""Building HTML text safely: every view's markup goes through here, so no feed string ever
reaches the DOM as HTML.

``tag(name, attrs, *children)`` returns :class:`Markup`, a ``str`` that is already safe. Children
that are plain strings (team names, market names, anything from the feed) are escaped; ``Markup``
children are kept as they are; ``None`` and ``False`` children are dropped; lists are flattened.
Attribute values are always escaped; an attribute whose value is ``True`` is written bare
(``hidden``), one whose value is ``None`` or ``False`` is left out.

The views never put whitespace between tags and never mix text and elements in one parent (text
goes in its own ``<span>``), so the markup parses to exactly the element tree the view expects
(``tests/frontend/ui_fakes.FakeDom`` checks both).

Pure: no ``js``; runs under CPython 3.11 and Pyodide.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["Markup", "attrs_html", "esc", "escape", "join", "tag"]


class Markup(str):
    """Text that is valid, safe HTML (built by ``tag`` or ``esc``)."""

    __slots__ = ()


# html.escape(quote=True) in one pass (five str.replace calls cost more, and views escape a lot).
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;"})


def escape(text: str) -> str:
    return text.translate(_ESCAPES)


def esc(value: Any) -> Markup:
    """``value`` as HTML text (``&``, ``<``, ``>``, quotes escaped)."""
    if isinstance(value, Markup):
        return value
    return Markup(escape("" if value is None else str(value)))


def attrs_html(attrs: Mapping[str, Any] | None) -> str:
    if not attrs:
        return ""
    parts = []
    for name, value in attrs.items():
        if value is None or value is False:
            continue
        if value is True:
            parts.append(f" {name}")
        else:
            parts.append(f' {name}="{escape(str(value))}"')
    return "".join(parts)


VOID = frozenset({"br", "img", "input", "hr", "meta", "link"})


def _children(children: Iterable[Any]) -> Iterable[str]:
    for child in children:
        if child is None or child is False:
            continue
        if isinstance(child, (list, tuple)):
            yield from _children(child)
        elif isinstance(child, Markup):
            yield child
        else:
            yield escape(str(child))


def tag(name: str, attrs: Mapping[str, Any] | None = None, *children: Any) -> Markup:
    """``<name attrs>children</name>`` with every string child and attribute value escaped."""
    opening = f"<{name}{attrs_html(attrs)}>"
    if name in VOID:
        return Markup(opening)
    return Markup(f"{opening}{''.join(_children(children))}</{name}>")


def join(parts: Iterable[Any]) -> Markup:
    """Concatenate markup parts (strings are escaped)."""
    return Markup("".join(_children(parts)))
