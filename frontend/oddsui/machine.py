"""State machines as transition tables (docs/design.md principle 3), for the UI's five-state things.

A ``Table`` is the whole machine as data: its initial state, its final state, the event that leads
there from anywhere (``close``), and one row ``(state, event) -> next state`` per legal move. A
``Machine`` holds the current state of one table. ``fire(event)`` moves along the row and returns
the new state; an event with no row raises ``IllegalTransition`` and leaves the state as it was
(as h11 does). The close event is legal in every state and leads to the final state; closing again
is a no-op, and every other event in the final state raises, so the final state is final.

The tables live with their owners: ``streams.STREAM_TABLE`` (EventStream) and
``parsing.WORKER_TABLE`` (ParserService's parse worker).

Pure: no ``js``; runs under CPython 3.11 and Pyodide.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

__all__ = ["IllegalTransition", "Machine", "Table"]


class IllegalTransition(RuntimeError):
    """An event the table has no row for in the current state (a bug in the caller)."""

    def __init__(self, table: str, state: str, event: str) -> None:
        super().__init__(f"{table}: no transition from {state!r} on {event!r}")
        self.table = table
        self.state = state
        self.event = event


@dataclass(frozen=True)
class Table:
    """One state machine's rules. Checked when built: a table that cannot be followed never exists."""

    name: str
    initial: str
    final: str
    rows: Mapping[tuple[str, str], str]
    close_event: str = "close"
    states: frozenset[str] = field(init=False)
    events: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        states = {self.initial, self.final}
        events = {self.close_event}
        for (source, event), target in self.rows.items():
            if source == self.final:
                raise ValueError(f"{self.name}: the final state {self.final!r} cannot have a row")
            if event == self.close_event:
                raise ValueError(f"{self.name}: {self.close_event!r} leads to {self.final!r} from every state")
            if target == self.final:
                raise ValueError(f"{self.name}: only {self.close_event!r} leads to {self.final!r}")
            states.update((source, target))
            events.add(event)
        object.__setattr__(self, "rows", dict(self.rows))
        object.__setattr__(self, "states", frozenset(states))
        object.__setattr__(self, "events", frozenset(events))

    def target(self, state: str, event: str) -> str | None:
        """Where ``event`` leads from ``state``, or None if it is illegal there."""
        if event == self.close_event:
            return self.final
        if state == self.final:
            return None
        return self.rows.get((state, event))


class Machine:
    """The current state of one ``Table``. ``on_change(old, new, event)`` hears every real change."""

    __slots__ = ("_on_change", "_state", "table")

    def __init__(self, table: Table, on_change: Callable[[str, str, str], None] | None = None) -> None:
        self.table = table
        self._state = table.initial
        self._on_change = on_change

    @property
    def state(self) -> str:
        return self._state

    @property
    def final(self) -> bool:
        return self._state == self.table.final

    def can(self, event: str) -> bool:
        """Whether ``fire(event)`` would be legal now."""
        return self.table.target(self._state, event) is not None

    def fire(self, event: str) -> str:
        """Take the table's row for ``event``; return the new state. Raises ``IllegalTransition``
        (the state stays as it was) when there is no row. ``on_change`` runs after the move, only
        when the state really changed; what it raises propagates to the caller."""
        old = self._state
        target = self.table.target(old, event)
        if target is None:
            raise IllegalTransition(self.table.name, old, event)
        self._state = target
        if target != old and self._on_change is not None:
            self._on_change(old, target, event)
        return target

    def __repr__(self) -> str:
        return f"<Machine {self.table.name} {self._state}>"
