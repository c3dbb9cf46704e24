"""A small document tree behind the ``DomPort``, for rendering the first view on the server.

The server renders the page with the same views the browser runs (``firstview``): they write
through the ``DomPort``, and this port keeps the writes in a plain tree that serializes to HTML.
It behaves like the browser's DOM for everything the views do -- ``className``, ``textContent``,
``hidden``, ``classList.toggle``, ``style.setProperty``, ``querySelector('[attr="v"]')``,
``<template>.innerHTML`` for fragments -- and answers layout reads with zeros (there is no layout
on a server; the first view renders without a scroller, see ``firstview``).

``TreeDom.created`` lists, per creating call (``element``, ``fragment``), the elements it made, in
the order the views made them: ``creation_paths()`` turns that list into paths the browser resolves
to the same nodes when it adopts the page (``firstview.AdoptingDom``).

Pure (stdlib ``html.parser`` only): runs under CPython and Pyodide.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from html import escape, unescape
from html.parser import HTMLParser
from typing import Any

from .ports import opens_elsewhere

__all__ = ["Element", "Text", "TreeDom", "parse_document", "serialize"]

VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"})
RAW_TEXT = frozenset({"script", "style"})
_ATTR_SELECTOR = re.compile(r'\[([\w-]+)="([^"]*)"\]')


class Text:
    __slots__ = ("data", "parent")

    def __init__(self, data: str) -> None:
        self.data = data
        self.parent: Element | None = None


class Element:
    __slots__ = ("attrs", "children", "listeners", "parent", "tag")

    def __init__(self, tag: str, attrs: Mapping[str, str] | None = None) -> None:
        self.listeners: dict[str, list[Any]] = {}  # a tree the app runs on (tests) takes listeners too
        self.tag = tag.lower()
        self.attrs: dict[str, str] = dict(attrs or {})
        self.children: list[Element | Text] = []
        self.parent: Element | None = None

    def __repr__(self) -> str:
        return f"<{self.tag} {self.attrs}>"

    def addEventListener(self, event_type: str, listener: Any) -> None:
        self.listeners.setdefault(event_type, []).append(listener)

    def removeEventListener(self, event_type: str, listener: Any) -> None:
        found = self.listeners.get(event_type, [])
        if listener in found:
            found.remove(listener)

    # -- tree -------------------------------------------------------------------------------------
    def append(self, child: Element | Text) -> None:
        self.insert(child, None)

    def insert(self, child: Element | Text, ref: Element | Text | None) -> None:
        if child is self:
            raise ValueError("a node cannot contain itself")
        detach(child)
        if ref is None:
            self.children.append(child)
        else:
            if ref.parent is not self:
                raise ValueError("insertBefore: the reference node is not a child of this node")
            self.children.insert(self.children.index(ref), child)
        child.parent = self

    def iter(self) -> Iterator[Element]:
        yield self
        for child in self.children:
            if isinstance(child, Element):
                yield from child.iter()

    def element_children(self) -> list[Element]:
        return [child for child in self.children if isinstance(child, Element)]

    @property
    def text(self) -> str:
        return "".join(child.data if isinstance(child, Text) else child.text for child in self.children)

    @property
    def classes(self) -> list[str]:
        return self.attrs.get("class", "").split()


class _Deferred(Element):
    """An element of a fragment kept as its HTML until something reads inside it.

    A server render builds a row from markup and, in the common case, never touches it again: it
    is serialized as it came. Parsing such markup into nodes and writing it back out took two
    thirds of a render. ``attrs`` and ``children`` parse the element on first use (``_expand``), so
    to everything else it is an ``Element`` like any other; ``serialize`` writes an unread one's
    HTML as it is. Made only by ``split_fragment`` (well-formed markup, one element per slice)."""

    __slots__ = ("_html",)

    def __init__(self, tag: str, html: str) -> None:
        self.listeners = {}
        self.tag = tag
        self.parent = None
        self._html: str | None = html

    def _expand(self) -> None:
        html, self._html = self._html, None
        (node,) = [n for n in parse_fragment(html or "") if isinstance(n, Element)]
        _ATTRS.__set__(self, node.attrs)
        _CHILDREN.__set__(self, node.children)
        for child in node.children:
            child.parent = self

    @property  # type: ignore[override]
    def attrs(self) -> dict[str, str]:
        if self._html is not None:
            self._expand()
        return _ATTRS.__get__(self, Element)

    @attrs.setter
    def attrs(self, value: dict[str, str]) -> None:
        if self._html is not None:
            self._expand()
        _ATTRS.__set__(self, value)

    @property  # type: ignore[override]
    def children(self) -> list[Element | Text]:
        if self._html is not None:
            self._expand()
        return _CHILDREN.__get__(self, Element)

    @children.setter
    def children(self, value: list[Element | Text]) -> None:
        if self._html is not None:
            self._expand()
        _CHILDREN.__set__(self, value)

    @property
    def unread_html(self) -> str | None:
        """The element's HTML while nothing has read inside it, else None."""
        return self._html


_ATTRS = Element.__dict__["attrs"]
_CHILDREN = Element.__dict__["children"]
# A tag's name after "<" or "</"; a fragment with any other "<" (a comment, a stray "<") or with a
# self-closing "/>" is not split here.
_TAG_OPEN = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)")


def split_fragment(html: str) -> list[Element] | None:
    """The top-level elements of ``html``, each a ``_Deferred`` holding its own HTML, or None if the
    markup is not plainly well formed (every ``<`` opens a tag, end tags close the innermost open
    element, no raw-text element, no ``/>``): then ``parse_fragment`` reads it. Text between the
    top-level elements is dropped, as ``TreeDom.fragment`` drops it."""
    if "/>" in html:
        return None
    matches = list(_TAG_OPEN.finditer(html))
    if len(matches) != html.count("<"):
        return None
    out: list[Element] = []
    stack: list[str] = []
    start = 0
    for match in matches:
        closing, tag = match.groups()
        tag = tag.lower()
        if closing:
            if not stack or stack[-1] != tag:
                return None
            stack.pop()
            if not stack:
                out.append(_Deferred(tag, html[start:html.index(">", match.end()) + 1]))
        else:
            if tag in RAW_TEXT:
                return None
            if not stack:
                start = match.start()
            if tag in VOID:
                if not stack:
                    whole = _TOKEN.match(html, start)  # its attributes may hold a ">"
                    if whole is None:
                        return None
                    out.append(_Deferred(tag, whole.group(0)))
            else:
                stack.append(tag)
    return None if stack else out


def detach(node: Element | Text) -> None:
    parent = node.parent
    if parent is not None:
        parent.children.remove(node)
        node.parent = None


class _TreeBuilder(HTMLParser):
    """HTML text to Elements: the subset of the HTML parsing rules our own markup needs (well-formed,
    void elements unclosed, ``<!doctype>`` kept aside)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#fragment")
        self.stack: list[Element] = [self.root]
        self.doctype: str | None = None

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Element(tag, {name: "" if value is None else value for name, value in attrs})
        self.stack[-1].append(node)
        if node.tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Element(tag, {name: "" if value is None else value for name, value in attrs})
        self.stack[-1].append(node)

    def handle_endtag(self, tag: str) -> None:
        tag = tag.lower()
        for index in range(len(self.stack) - 1, 0, -1):
            if self.stack[index].tag == tag:
                del self.stack[index:]
                return

    def handle_data(self, data: str) -> None:
        parent = self.stack[-1]
        last = parent.children[-1] if parent.children else None
        if isinstance(last, Text):
            last.data += data
        else:
            parent.append(Text(data))


# Our own views' markup, tokenized by one regular expression: a start tag with double-quoted (or
# bare) attributes, an end tag, or text. About 4x faster than ``html.parser`` on a list of rows (most
# of a server render's time went there); anything else -- a comment, a raw-text element, an unquoted
# attribute, a stray ``<`` -- goes to ``html.parser`` as before, so the result is always the same tree.
_TOKEN = re.compile(r'<([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z_:][\w:.-]*(?:="[^"]*")?)*)\s*(/?)>'
                    r'|</([a-zA-Z][a-zA-Z0-9-]*)\s*>|([^<]+)')
_TOKEN_ATTR = re.compile(r'([a-zA-Z_:][\w:.-]*)(?:="([^"]*)")?')


def _parse_fragment_fast(html: str) -> list[Element | Text] | None:
    root = Element("#fragment")
    stack = [root]
    pos, end = 0, len(html)
    while pos < end:
        match = _TOKEN.match(html, pos)
        if match is None:
            return None
        pos = match.end()
        tag, attr_text, self_closing, end_tag, text = match.groups()
        if text is not None:
            parent = stack[-1]
            data = unescape(text) if "&" in text else text
            last = parent.children[-1] if parent.children else None
            if isinstance(last, Text):
                last.data += data
            else:
                parent.append(Text(data))
        elif end_tag is not None:
            end_tag = end_tag.lower()
            for index in range(len(stack) - 1, 0, -1):
                if stack[index].tag == end_tag:
                    del stack[index:]
                    break
        else:
            node = Element(tag)
            if node.tag in RAW_TEXT:
                return None
            for name, value in _TOKEN_ATTR.findall(attr_text):
                node.attrs[name.lower()] = unescape(value) if "&" in value else value
            stack[-1].append(node)
            if not self_closing and node.tag not in VOID:
                stack.append(node)
    nodes = list(root.children)
    for node in nodes:
        node.parent = None
    return nodes


def parse_fragment(html: str) -> list[Element | Text]:
    fast = _parse_fragment_fast(html)
    if fast is not None:
        return fast
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    nodes = list(builder.root.children)
    for node in nodes:
        node.parent = None
    return nodes


def parse_document(html: str) -> tuple[str | None, Element]:
    """A whole page: ``(doctype, <html> element)``."""
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    roots = [node for node in builder.root.element_children() if node.tag == "html"]
    if len(roots) != 1:
        raise ValueError("the page has no single <html> element")
    root = roots[0]
    root.parent = None
    return builder.doctype, root


def _serialize_into(node: Element | Text, out: list[str], raw: bool = False) -> None:
    if isinstance(node, Text):
        out.append(node.data if raw else escape(node.data, quote=False))
        return
    if type(node) is _Deferred and node.unread_html is not None:
        out.append(node.unread_html)
        return
    out.append("<" + node.tag)
    for name, value in node.attrs.items():
        out.append(f" {name}" if value == "" else f' {name}="{escape(value, quote=True)}"')
    out.append(">")
    if node.tag in VOID:
        return
    for child in node.children:
        _serialize_into(child, out, raw=node.tag in RAW_TEXT)
    out.append(f"</{node.tag}>")


def serialize(node: Element | Text, inner: bool = False) -> str:
    """The node's HTML (``inner``: its children only)."""
    out: list[str] = []
    if inner and isinstance(node, Element):
        for child in node.children:
            _serialize_into(child, out, raw=node.tag in RAW_TEXT)
    else:
        _serialize_into(node, out)
    return "".join(out)


def _style_items(value: str) -> dict[str, str]:
    items: dict[str, str] = {}
    for part in value.split(";"):
        prop, sep, val = part.partition(":")
        if sep and prop.strip():
            items[prop.strip()] = val.strip()
    return items


class TreeDom:
    """``DomPort`` over an ``Element`` tree (the page parsed from index.html)."""

    adopting = False

    def __init__(self, root: Element, defer_fragments: bool = False) -> None:
        """``defer_fragments``: ``fragment`` hands out elements that stay HTML until read inside
        (``split_fragment``): for a render that is serialized once (the server's first view)."""
        self.root = root
        self._ids = {node.attrs["id"]: node for node in root.iter() if "id" in node.attrs}
        self.created: list[list[Element]] = []
        self._defer = defer_fragments

    def by_id(self, element_id: str) -> Element:
        node = self._ids.get(element_id)
        if node is None or not self.is_connected(node):
            node = next((n for n in self.root.iter() if n.attrs.get("id") == element_id), None)
            if node is None:
                raise LookupError(f"the page has no element #{element_id}")
            self._ids[element_id] = node
        return node

    def element(self, tag: str, cls: str = "", text: str | None = None,
                attrs: Mapping[str, str] | None = None) -> Element:
        node = Element(tag)
        if cls:
            node.attrs["class"] = cls
        if text:
            node.append(Text(text))
        for name, value in (attrs or {}).items():
            node.attrs[name] = value
        self.created.append([node])
        return node

    def fragment(self, html: str) -> list[Element]:
        nodes = split_fragment(html) if self._defer else None
        if nodes is None:
            nodes = [node for node in parse_fragment(html) if isinstance(node, Element)]
        self.created.append(nodes)
        return nodes

    def find(self, node: Element, selector: str) -> Element | None:
        match = _ATTR_SELECTOR.fullmatch(selector)
        if match is None:
            raise ValueError(f"TreeDom.find supports [attr=\"value\"] selectors only, not {selector!r}")
        name, value = match.groups()
        return next((n for n in node.iter() if n is not node and n.attrs.get(name) == value), None)

    def append(self, parent: Element, child: Element) -> None:
        parent.insert(child, None)

    def insert_before(self, parent: Element, child: Element, ref: Element | None) -> None:
        parent.insert(child, ref)

    def remove(self, node: Element) -> None:
        detach(node)

    def set_text(self, node: Element, text: str) -> None:
        for child in list(node.children):
            detach(child)
        if text:
            node.append(Text(text))

    def set_attr(self, node: Element, name: str, value: str) -> None:
        node.attrs[name] = str(value)

    def remove_attr(self, node: Element, name: str) -> None:
        node.attrs.pop(name, None)

    def toggle_class(self, node: Element, cls: str, on: bool) -> None:
        classes = node.classes
        if on and cls not in classes:
            classes.append(cls)
        elif not on and cls in classes:
            classes = [c for c in classes if c != cls]
        else:
            return
        node.attrs["class"] = " ".join(classes)

    def set_hidden(self, node: Element, hidden: bool) -> None:
        if hidden:
            node.attrs["hidden"] = ""
        else:
            node.attrs.pop("hidden", None)

    def set_style(self, node: Element, prop: str, value: str) -> None:
        items = _style_items(node.attrs.get("style", ""))
        if value:
            items[prop] = value
        else:
            items.pop(prop, None)
        if items:
            node.attrs["style"] = " ".join(f"{p}: {v};" for p, v in items.items())
        else:
            node.attrs.pop("style", None)

    # -- events and focus: nothing happens on a server ---------------------------------------------
    def closest_attr(self, event: Any, selector: str, attr: str) -> str | None:
        return None

    def event_value(self, event: Any) -> str:
        return ""

    def event_key(self, event: Any) -> str:
        return ""

    def event_shift(self, event: Any) -> bool:
        return False

    def opens_elsewhere(self, event: Any) -> bool:
        return opens_elsewhere(event)

    def prevent_default(self, event: Any) -> None:
        return None

    def focus(self, node: Any) -> None:
        return None

    def active_element(self) -> Any:
        return None

    def contains(self, ancestor: Element, node: Any) -> bool:
        while isinstance(node, (Element, Text)):
            if node is ancestor:
                return True
            node = node.parent
        return False

    def is_connected(self, node: Element) -> bool:
        return self.contains(self.root, node)

    def measure(self, node: Any) -> tuple[float, float]:
        return 0.0, 0.0

    def scroll_box(self, node: Any) -> tuple[float, float, float]:
        return 0.0, 0.0, 0.0

    def set_scroll_top(self, node: Any, value: float) -> None:
        return None

    def child_at(self, node: Element, index: int) -> Element | None:
        children = node.element_children()
        return children[index] if 0 <= index < len(children) else None

    def tag_name(self, node: Element) -> str:
        return node.tag

    # -- adoption --------------------------------------------------------------------------------
    def path_of(self, node: Element) -> list[Any] | None:
        """``[id, i, j, ...]``: from the nearest ancestor with an id (or ``"#root"``), the element
        child indexes down to ``node``; None if it is not in the page."""
        steps: list[int] = []
        current = node
        while True:
            if current is not node and "id" in current.attrs:
                return [current.attrs["id"], *reversed(steps)]
            parent = current.parent
            if parent is None:
                return ["#root", *reversed(steps)] if current is self.root else None
            steps.append(parent.element_children().index(current))
            current = parent

    def creation_paths(self) -> list[list[list[Any] | None]]:
        """Where the elements of each creating call ended up (``path_of``), in creation order."""
        return [[self.path_of(node) for node in call] for call in self.created]
