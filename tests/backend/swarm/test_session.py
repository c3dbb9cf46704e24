"""The sans-I/O Swarm session core: rids, pending limits, timeouts, subscriptions, deltas."""

from __future__ import annotations

import itertools

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.swarm.messages import Frame
from backend.swarm.session import (
    Reply,
    RequestFailed,
    RequestLimitError,
    SubscriptionData,
    SubscriptionLimitError,
    SwarmSession,
    unwrap,
)


def make_session(**kw):
    counter = itertools.count(1)
    return SwarmSession(new_rid=lambda: f"r{next(counter)}", **kw)


def test_request_is_encoded_with_its_rid():
    s = make_session()
    rid = s.request("get", {"what": {}}, now=0, timeout=5)
    (raw,) = s.data_to_send()
    assert msgspec.json.decode(raw) == {"command": "get", "params": {"what": {}}, "rid": rid}
    assert s.data_to_send() == []


def test_reply_is_matched_on_the_string_rid_and_only_once():
    s = make_session()
    rid = s.request("get", {}, now=0, timeout=5)
    events = s.receive(Frame(rid=rid, code=0, data={"data": {"x": 1}}), now=1)
    assert events == [Reply(rid, Frame(rid=rid, code=0, data={"data": {"x": 1}}))]
    assert unwrap(events[0].frame) == {"x": 1}
    assert s.receive(Frame(rid=rid, code=0), now=1) == []
    assert s.unmatched_replies == 1


def test_pending_requests_are_capped():
    s = make_session(max_pending=3)
    for _ in range(3):
        s.request("get", {}, now=0, timeout=5)
    with pytest.raises(RequestLimitError, match="Too many concurrent pending requests"):
        s.request("get", {}, now=0, timeout=5)


@given(st.lists(st.floats(0.1, 100), min_size=1, max_size=20), st.floats(0, 200))
def test_exactly_the_requests_past_their_deadline_time_out(timeouts, now):
    s = make_session()
    rids = [s.request("get", {}, now=0, timeout=t) for t in timeouts]
    failed = {e.rid for e in s.tick(now)}
    assert failed == {rid for rid, t in zip(rids, timeouts) if t <= now}
    assert s.pending_count == len(rids) - len(failed)
    assert all("timed out" in str(e.error) for e in s.tick(1e9))


def test_pushes_merge_into_the_subscription_and_report_the_whole_tree():
    s = make_session()
    snap = s.add_subscription("7", {"game": {"1": {"id": 1, "price": 2.0}}})
    assert snap.delta is None
    events = s.receive(Frame(rid=0, code=0, data={"7": {"game": {"1": {"price": 2.5}, "2": {"id": 2}}}}), now=0)
    assert events == [SubscriptionData("7", {"game": {"1": {"id": 1, "price": 2.5}, "2": {"id": 2}}},
                                       {"game": {"1": {"price": 2.5}, "2": {"id": 2}}})]
    s.receive(Frame(rid="0", code=0, data={"7": {"game": {"1": None}}}), now=0)
    assert s.subscription_data("7") == {"game": {"2": {"id": 2}}}


def test_pushes_for_unknown_or_removed_subids_are_counted_and_ignored():
    s = make_session()
    s.add_subscription("7", {})
    assert s.remove_subscription("7")
    assert s.receive(Frame(rid=0, data={"7": {"a": 1}, "8": {"b": 2}}), now=0) == []
    assert s.unknown_subid_pushes == 2


def test_subscriptions_are_capped():
    s = make_session(max_subscriptions=2)
    s.add_subscription("1", {})
    s.add_subscription("2", {})
    with pytest.raises(SubscriptionLimitError, match="Too many concurrent subscriptions"):
        s.add_subscription("3", {})


def test_close_fails_every_pending_request_and_forgets_subscriptions():
    s = make_session()
    rids = {s.request("get", {}, now=0, timeout=5) for _ in range(4)}
    s.add_subscription("1", {})
    events = s.close("Swarm WebSocket closed")
    assert {e.rid for e in events} == rids
    assert all(isinstance(e, RequestFailed) and str(e.error) == "Swarm WebSocket closed" for e in events)
    assert s.pending_count == 0 and s.subscription_count == 0 and s.data_to_send() == []
