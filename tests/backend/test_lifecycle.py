from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.lifecycle import TRANSITIONS, ConnState, IllegalTransition, Lifecycle

EVENTS = ["connect", "opened", "session", "failed", "closed"]


@given(st.lists(st.sampled_from(EVENTS), max_size=30))
def test_only_table_transitions_happen_and_illegal_ones_change_nothing(events):
    life = Lifecycle()
    for event in events:
        before = life.state
        expected = TRANSITIONS.get((before, event))
        if expected is None:
            with pytest.raises(IllegalTransition):
                life.fire(event)
            assert life.state is before
        else:
            assert life.fire(event) is expected


def test_a_normal_life_with_a_reconnect():
    life = Lifecycle()
    for event, state in [("connect", ConnState.CONNECTING), ("opened", ConnState.SESSION),
                         ("session", ConnState.LIVE), ("closed", ConnState.BACKOFF),
                         ("connect", ConnState.CONNECTING), ("failed", ConnState.BACKOFF)]:
        assert life.fire(event) is state
    assert life.fire("stop") is ConnState.STOPPED
    with pytest.raises(IllegalTransition):
        life.fire("connect")
