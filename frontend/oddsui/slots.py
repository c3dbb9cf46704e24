"""Views as models of slots: the markup is a pure function of a model, updates write only what changed.

A *model* maps ``(slot, prop)`` to a value. A slot is one element of a view, marked in its markup by
``data-s="<slot>"`` (the root is the slot ``"root"``); a prop is ``text``, ``hidden``,
``class:<name>``, ``attr:<name>`` or ``style:<property>``. ``slot_tag`` writes an element from the
model (so a new view shows the model without any later write), and :class:`SlotView` keeps the
model last written and applies a new one with the fewest DOM writes: equal values are skipped.

This is the mechanism ``rows.RowView`` introduced for game rows, made general for the details
panel, the tracker, the results and the health modal. Slot names must be unique within a view's
element, including elements of nested views (they use their own prefixes).

Pure: DOM writes go through the ``DomPort``; no ``js``.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

from .markup import Markup, tag
from .ports import DomPort
from .tree import plan_children

__all__ = ["Model", "SlotView", "reconcile", "slot_attrs", "slot_tag", "write_prop"]

Model = dict[tuple[str, str], Any]


def slot_attrs(model: Mapping[tuple[str, str], Any], slot: str, base: str = "",
               extra: Mapping[str, Any] | None = None) -> tuple[dict[str, Any], Any]:
    """(attributes, text or None) of the element of ``slot`` as ``model`` has it."""
    classes = [base] if base else []
    attrs: dict[str, Any] = {}
    text = None
    style = []
    for (s, prop), value in model.items():
        if s != slot:
            continue
        if prop == "text":
            text = value
        elif prop == "hidden":
            if value:
                attrs["hidden"] = True
        elif prop.startswith("class:"):
            if value:
                classes.append(prop[6:])
        elif prop.startswith("attr:"):
            attrs[prop[5:]] = "" if value is None else str(value)
        elif prop.startswith("style:"):
            if value:
                style.append(f"{prop[6:]}:{value}")
    out: dict[str, Any] = {}
    if classes:
        out["class"] = " ".join(classes)
    if slot != "root":
        out["data-s"] = slot
    if style:
        out["style"] = ";".join(style)
    out.update(attrs)
    if extra:
        out.update(extra)
    return out, text


def slot_tag(model: Mapping[tuple[str, str], Any], name: str, slot: str, base: str = "", *children: Any,
             extra: Mapping[str, Any] | None = None) -> Markup:
    """The element of ``slot``: its text from the model if the model has one, else ``children``."""
    attrs, text = slot_attrs(model, slot, base, extra)
    if text is not None:
        return tag(name, attrs, str(text))
    return tag(name, attrs, *children)


def write_prop(dom: DomPort, node: Any, prop: str, value: Any) -> None:
    if prop == "text":
        dom.set_text(node, "" if value is None else str(value))
    elif prop == "hidden":
        dom.set_hidden(node, bool(value))
    elif prop.startswith("class:"):
        dom.toggle_class(node, prop[6:], bool(value))
    elif prop.startswith("attr:"):
        dom.set_attr(node, prop[5:], "" if value is None else str(value))
    elif prop.startswith("style:"):
        dom.set_style(node, prop[6:], "" if value is None else str(value))
    else:
        raise ValueError(f"unknown slot property {prop!r}")


class SlotView:
    """An element built from ``model``; ``apply(new_model)`` writes only the props that changed."""

    __slots__ = ("_nodes", "dom", "model", "node", "writes")

    def __init__(self, dom: DomPort, node: Any, model: Mapping[tuple[str, str], Any]) -> None:
        self.dom = dom
        self.node = node
        self.model: Model = dict(model)
        self._nodes: dict[str, Any] = {"root": node}
        self.writes = 0

    def slot(self, name: str) -> Any:
        found = self._nodes.get(name)
        if found is None:
            found = self.dom.find(self.node, f'[data-s="{name}"]')
            if found is None:
                raise LookupError(f"view has no [data-s={name}]")
            self._nodes[name] = found
        return found

    def apply(self, model: Mapping[tuple[str, str], Any]) -> int:
        """Write what differs from the last model; returns how many writes it took."""
        current = self.model
        writes = 0
        for key, value in model.items():
            if key not in current or current[key] != value:
                write_prop(self.dom, self.slot(key[0]), key[1], value)
                current[key] = value
                writes += 1
        self.writes += writes
        return writes


def reconcile(dom: DomPort, parent: Any, old: Sequence[Hashable], new: Sequence[Hashable],
              node_of: Callable[[Hashable], Any], remove: bool, end: Any = None) -> None:
    """Make ``parent``'s keyed children follow ``new`` with the fewest moves (``tree.plan_children``).

    Children are kept before ``end`` (a fixed last child such as a spacer; None: the end). With
    ``remove`` False, children that left ``new`` stay attached: the caller removes the ones gone for
    good and lets the ones moving to another parent be moved by that parent.
    """
    for op, key, before in plan_children(list(old), list(new)):
        if op == "remove":
            if remove:
                dom.remove(node_of(key))
        else:
            ref = end if before is None else node_of(before)
            dom.insert_before(parent, node_of(key), ref)
