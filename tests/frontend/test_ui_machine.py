"""Transition tables: the generic machine, and one property test per table of the front end.

For each table (EventStream's and the parse worker's), any sequence of events, legal or not, keeps
the state a legal one; a legal event moves exactly along its row; an illegal one raises
``IllegalTransition`` and leaves the state unchanged; ``close`` works from everywhere and the closed
state is final.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from oddsui.machine import IllegalTransition, Machine, Table
from oddsui.parsing import WORKER_TABLE, WorkerState
from oddsui.streams import STREAM_TABLE, StreamState

TABLES = {"stream": STREAM_TABLE, "worker": WORKER_TABLE}


def reachable(table: Table) -> set[str]:
    seen, todo = {table.initial}, [table.initial]
    while todo:
        state = todo.pop()
        for event in table.events:
            target = table.target(state, event)
            if target is not None and target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


# ------------------------------------------------------------------------------------------------
# the machine itself


TOY = Table(name="toy", initial="a", final="z", rows={("a", "go"): "b", ("b", "go"): "b", ("b", "back"): "a"})


def test_fire_follows_the_row_and_reports_only_real_changes():
    changes = []
    machine = Machine(TOY, lambda old, new, event: changes.append((old, new, event)))
    assert machine.state == "a" and machine.can("go") and not machine.can("back")
    assert machine.fire("go") == "b"
    assert machine.fire("go") == "b"  # a self-loop is legal but no change
    assert machine.fire("back") == "a"
    assert changes == [("a", "b", "go"), ("b", "a", "back")]


def test_an_illegal_event_raises_and_leaves_the_state_as_it_was():
    changes = []
    machine = Machine(TOY, lambda *change: changes.append(change))
    with pytest.raises(IllegalTransition) as info:
        machine.fire("back")
    assert machine.state == "a" and changes == []
    assert (info.value.table, info.value.state, info.value.event) == ("toy", "a", "back")
    assert "'a'" in str(info.value) and "'back'" in str(info.value)


def test_close_is_legal_everywhere_idempotent_and_final():
    machine = Machine(TOY)
    machine.fire("go")
    assert machine.fire("close") == "z" and machine.final
    assert machine.fire("close") == "z"
    for event in ("go", "back", "anything"):
        with pytest.raises(IllegalTransition):
            machine.fire(event)
        assert machine.state == "z"


@pytest.mark.parametrize(
    ("rows", "problem"),
    [
        ({("z", "go"): "a"}, "final state"),
        ({("a", "close"): "b"}, "from every state"),
        ({("a", "go"): "z"}, "only 'close'"),
    ],
)
def test_a_table_that_breaks_the_rules_is_rejected_when_built(rows, problem):
    with pytest.raises(ValueError, match=problem):
        Table(name="bad", initial="a", final="z", rows=rows)


# ------------------------------------------------------------------------------------------------
# the front end's tables


def test_the_stream_table_is_the_documented_one():
    s = StreamState
    assert STREAM_TABLE.states == {s.IDLE, s.CONNECTING, s.OPEN, s.RETRYING, s.CLOSED}
    assert STREAM_TABLE.initial == s.IDLE and STREAM_TABLE.final == s.CLOSED
    assert STREAM_TABLE.rows == {
        (s.IDLE, "connect"): s.CONNECTING,
        (s.RETRYING, "connect"): s.CONNECTING,
        **{(state, "opened"): s.OPEN for state in (s.CONNECTING, s.RETRYING, s.OPEN)},
        **{(state, "dropped"): s.RETRYING for state in (s.CONNECTING, s.OPEN, s.RETRYING)},
        **{(state, "failed"): s.RETRYING for state in (s.CONNECTING, s.OPEN, s.RETRYING)},
    }


def test_the_worker_table_is_the_documented_one():
    w = WorkerState
    assert WORKER_TABLE.states == {w.IDLE, w.STARTING, w.READY, w.BROKEN, w.CLOSED}
    assert WORKER_TABLE.initial == w.IDLE and WORKER_TABLE.final == w.CLOSED
    assert WORKER_TABLE.rows == {
        (w.IDLE, "start"): w.STARTING,
        (w.STARTING, "ready"): w.READY,
        (w.STARTING, "broke"): w.BROKEN,
        (w.READY, "broke"): w.BROKEN,
    }


@pytest.mark.parametrize("name", sorted(TABLES))
def test_every_state_is_reachable_and_every_state_can_close(name):
    table = TABLES[name]
    assert reachable(table) == table.states
    assert all(table.target(state, "close") == table.final for state in table.states)


def check_random_events(table: Table, events: list[str]) -> None:
    changes: list[tuple[str, str, str]] = []
    machine = Machine(table, lambda *change: changes.append(change))
    closed = False
    for event in events:
        before = machine.state
        expected = table.final if event == table.close_event else (
            None if before == table.final else table.rows.get((before, event)))
        if expected is None:
            with pytest.raises(IllegalTransition):
                machine.fire(event)
            assert machine.state == before
        else:
            assert machine.fire(event) == expected == machine.state
        assert machine.state in table.states
        if closed:
            assert machine.state == table.final  # closed is final
        closed = closed or machine.state == table.final
        assert all(old != new for old, new, _event in changes)
    # the changes heard are exactly the path taken, in order
    path = [table.initial] + [new for _old, new, _event in changes]
    assert [old for old, _new, _event in changes] == path[:-1]
    assert path[-1] == machine.state


def events_of(table: Table):
    return st.lists(st.sampled_from(sorted(table.events | {"bogus", "connect", "ready"})), max_size=40)


@settings(max_examples=300, deadline=None)
@given(events_of(STREAM_TABLE))
def test_stream_table_under_any_event_sequence(events):
    check_random_events(STREAM_TABLE, events)


@settings(max_examples=300, deadline=None)
@given(events_of(WORKER_TABLE))
def test_worker_table_under_any_event_sequence(events):
    check_random_events(WORKER_TABLE, events)
