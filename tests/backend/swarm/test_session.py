"""The sans-I/O Swarm core: requests and deadlines, the session, subscriptions, deltas, liveness."""

from __future__ import annotations

import itertools

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.swarm.messages import CODE_BAD_REQUEST, CODE_SESSION_LOST, Frame
from backend.swarm.session import (
    ConnectionUnusable,
    RejectedDelta,
    Reply,
    RequestFailed,
    RequestLimitError,
    SessionExpired,
    SessionStarted,
    SubscriptionData,
    SubscriptionFailed,
    SubscriptionLimitError,
    SubState,
    SwarmSession,
    unwrap,
)


def make_session(**kw):
    counter = itertools.count(1)
    return SwarmSession(new_rid=lambda: f"r{next(counter)}", **kw)


def sent(s: SwarmSession) -> list[dict]:
    return [msgspec.json.decode(raw) for raw in s.data_to_send()]


def live_session(**kw) -> SwarmSession:
    s = make_session(**kw)
    s.connection_made(0.0, 30.0)
    (ask,) = sent(s)
    assert ask["command"] == "request_session" and ask["params"]["site_id"] == 1
    assert s.receive(Frame(rid=ask["rid"], code=0, data={"sid": "s1"}), 0.0) == [SessionStarted("s1")]
    return s


def answer_subscribe(s: SwarmSession, request: dict, subid: str, tree: dict, now: float = 0.0) -> list:
    assert request["command"] == "get" and request["params"]["subscribe"] is True
    return s.receive(Frame(rid=request["rid"], code=0, data={"subid": subid, "data": tree}), now)


def test_a_request_is_encoded_with_a_fresh_rid_and_its_reply_matched_once():
    s = live_session()
    key = s.request("get", {"what": {}}, now=0, timeout=5)
    (req,) = sent(s)
    assert req == {"command": "get", "params": {"what": {}}, "rid": req["rid"]}
    reply = Frame(rid=req["rid"], code=0, data={"data": {"x": 1}})
    assert s.receive(reply, 1) == [Reply(key, reply)]
    assert unwrap(reply) == {"x": 1}
    assert s.receive(Frame(rid=req["rid"], code=0), 1) == []
    assert s.unmatched_replies == 1


def test_a_request_made_without_a_session_waits_for_one_within_its_deadline():
    s = make_session()
    key = s.request("get", {}, now=0, timeout=10)
    assert sent(s) == []  # no socket yet
    s.connection_made(1.0, 30.0)
    (ask,) = sent(s)
    s.receive(Frame(rid=ask["rid"], code=0, data={"sid": "s1"}), 2.0)
    (req,) = sent(s)
    assert req["command"] == "get"
    assert [e.rid for e in s.tick(11.0)] == [key]


def test_pending_requests_are_capped():
    s = live_session(max_pending=3)
    for _ in range(3):
        s.request("get", {}, now=0, timeout=5)
    with pytest.raises(RequestLimitError, match="Too many concurrent pending requests"):
        s.request("get", {}, now=0, timeout=5)


@given(st.lists(st.floats(0.1, 100), min_size=1, max_size=20), st.floats(0, 200))
def test_exactly_the_requests_past_their_deadline_time_out(timeouts, now):
    s = make_session()
    keys = [s.request("get", {}, now=0, timeout=t) for t in timeouts]
    failed = {e.rid for e in s.tick(now) if isinstance(e, RequestFailed)}
    assert failed == {key for key, t in zip(keys, timeouts) if t <= now}
    assert s.pending_count == len(keys) - len(failed)
    assert all("timed out" in str(e.error) for e in s.tick(1e9))


def test_no_session_in_the_reply_makes_the_connection_unusable():
    s = make_session()
    s.connection_made(0.0, 30.0)
    (ask,) = sent(s)
    events = s.receive(Frame(rid=ask["rid"], code=0, data={"nope": 1}), 0.0)
    assert events == [ConnectionUnusable("Failed to get Swarm session id")]
    assert not s.live


def test_a_session_request_that_goes_unanswered_makes_the_connection_unusable_at_the_connect_deadline():
    s = make_session()
    s.connection_made(0.0, 30.0)
    assert s.tick(29.9) == []
    assert [type(e) for e in s.tick(30.0)] == [ConnectionUnusable]


def test_a_subscription_is_established_with_its_snapshot_and_merges_deltas():
    s = live_session()
    sub = s.subscribe({"game": ["id"]}, {}, owner="o", now=0)
    (req,) = sent(s)
    events = answer_subscribe(s, req, "7", {"game": {"1": {"id": 1, "markets_count": 2}}})
    assert events == [SubscriptionData(sub, {"game": {"1": {"id": 1, "markets_count": 2}}}, None)]
    assert sub.state is SubState.ACTIVE and sub.subid == "7"
    delta = {"game": {"1": {"markets_count": 3}, "2": {"id": 2}}}
    (event,) = s.receive(Frame(rid=0, code=0, data={"7": delta}), 1)
    assert event == SubscriptionData(sub, {"game": {"1": {"id": 1, "markets_count": 3}, "2": {"id": 2}}}, delta)
    s.receive(Frame(rid="0", code=0, data={"7": {"game": {"1": None}}}), 2)
    assert s.subscription_data(sub) == {"game": {"2": {"id": 2}}}


def test_a_subscription_opened_while_disconnected_is_established_once_a_session_is_live():
    s = make_session()
    sub = s.subscribe({"game": ["id"]}, {}, owner=None, now=0)
    assert sub.state is SubState.WAITING and sent(s) == []
    s.connection_made(0.0, 30.0)
    (ask,) = sent(s)
    s.receive(Frame(rid=ask["rid"], code=0, data={"sid": "s1"}), 0.0)
    (req,) = sent(s)
    assert answer_subscribe(s, req, "9", {})[0].sub is sub


def test_a_refused_subscription_fails_and_is_closed():
    s = live_session()
    sub = s.subscribe({"game": ["id"]}, {}, owner=None, now=0)
    (req,) = sent(s)
    (event,) = s.receive(Frame(rid=req["rid"], code=CODE_BAD_REQUEST, msg="bad what"), 0)
    assert isinstance(event, SubscriptionFailed) and "bad what" in str(event.error)
    assert sub.closed and s.subscription_count == 0


def test_a_subscription_closed_while_its_request_is_in_flight_is_unsubscribed_upstream_when_it_lands():
    s = live_session()
    sub = s.subscribe({"game": ["id"]}, {}, owner=None, now=0)
    (req,) = sent(s)
    s.unsubscribe(sub, 0)
    assert answer_subscribe(s, req, "5", {"game": {}}) == []
    (unsub,) = sent(s)
    assert unsub["command"] == "unsubscribe" and unsub["params"] == {"subid": "5"}
    assert s.active_subscriptions == 0


def test_the_subscription_cap_refuses_before_anything_reaches_the_feed():
    s = live_session(max_subscriptions=2)
    s.subscribe({}, {}, None, 0)
    s.subscribe({}, {}, None, 0)
    sent(s)
    with pytest.raises(SubscriptionLimitError, match="Too many concurrent subscriptions"):
        s.subscribe({}, {}, None, 0)
    assert sent(s) == []


def test_pushes_for_unknown_or_closed_subids_are_counted_and_ignored():
    s = live_session()
    sub = s.subscribe({}, {}, None, 0)
    (req,) = sent(s)
    answer_subscribe(s, req, "7", {})
    s.unsubscribe(sub, 0)
    assert s.receive(Frame(rid=0, data={"7": {"a": 1}, "8": {"b": 2}}), now=0) == []
    assert s.unknown_subid_pushes == 2


def test_a_lost_connection_fails_requests_on_the_wire_keeps_unsent_ones_and_parks_subscriptions():
    s = live_session()
    on_wire = {s.request("get", {}, now=0, timeout=50) for _ in range(3)}
    sub = s.subscribe({}, {}, None, 0)
    for req in sent(s):
        if req["params"].get("subscribe"):
            answer_subscribe(s, req, "1", {"game": {}})
    events = s.connection_lost("Swarm WebSocket closed")
    assert {e.rid for e in events} == on_wire
    assert all(isinstance(e, RequestFailed) and str(e.error) == "Swarm WebSocket closed" for e in events)
    assert sub.state is SubState.WAITING and s.active_subscriptions == 0 and s.data_to_send() == []
    waiting = s.request("get", {}, now=1, timeout=50)
    assert s.connection_lost("again") == [] and s.pending_count == 1 and waiting


def test_an_expired_session_is_replaced_and_everything_resent_and_resubscribed():
    # The feed has forgotten the session (it answers CODE_SESSION_LOST, docs/api.md D3). A new session, every subscription again
    # (its owner gets a fresh snapshot), the request that noticed is answered after all.
    s = live_session()
    sub = s.subscribe({"game": ["id"]}, {}, owner=None, now=0)
    (req,) = sent(s)
    answer_subscribe(s, req, "7", {"game": {"1": {"id": 1}}})
    key = s.request("get", {"what": 1}, now=1, timeout=30)
    (get,) = sent(s)
    events = s.receive(Frame(rid=get["rid"], code=CODE_SESSION_LOST, msg="no session"), 2)
    assert events == [SessionExpired()] and s.session_expiries == 1 and not s.live
    assert sub.state is SubState.WAITING and s.active_subscriptions == 0
    (ask,) = sent(s)
    assert ask["command"] == "request_session"
    assert s.receive(Frame(rid=get["rid"], code=CODE_SESSION_LOST), 2) == []  # a late duplicate: ignored
    assert s.receive(Frame(rid=ask["rid"], code=0, data={"sid": "s2"}), 3) == [SessionStarted("s2")]
    resent = sent(s)
    assert {r["command"] for r in resent} == {"get"} and len(resent) == 2
    again = next(r for r in resent if not r["params"].get("subscribe"))
    resub = next(r for r in resent if r["params"].get("subscribe"))
    assert again["rid"] != get["rid"]
    reply = Frame(rid=again["rid"], code=0, data={"data": {}})
    assert s.receive(reply, 4) == [Reply(key, reply)]
    (snapshot,) = answer_subscribe(s, resub, "8", {"game": {"1": {"id": 1}}}, 4)
    assert snapshot.delta is None and sub.subid == "8"


def test_a_delta_that_does_not_fit_the_schema_is_rejected_whole_and_the_subscription_starts_over():
    # A wrongly typed delta (docs/api.md D5) must not wipe the state; the subscription is repaired.
    s = live_session()
    sub = s.subscribe({"game": ["id"]}, {}, owner=None, now=0)
    (req,) = sent(s)
    tree = {"sport": {"1": {"id": 1, "region": {"2": {"id": 2, "name": "R"}}}}}
    answer_subscribe(s, req, "7", tree)
    before = msgspec.json.encode(s.subscription_data(sub))
    bad = {"sport": {"1": {"region": "oops", "name": "x"}}}
    (event,) = s.receive(Frame(rid=0, data={"7": bad}), 1)
    assert isinstance(event, RejectedDelta) and "region" in event.reason
    assert s.rejected_deltas == 1 and s.resubscribes == 1
    assert msgspec.json.encode(s.subscription_data(sub)) == before  # nothing of the bad delta applied
    unsub, resub = sent(s)
    assert unsub["command"] == "unsubscribe" and unsub["params"] == {"subid": "7"}
    (snapshot,) = answer_subscribe(s, resub, "8", tree, 2)
    assert snapshot.delta is None and snapshot.data == tree


def test_a_quiet_feed_is_probed_and_a_probe_left_unanswered_means_the_feed_stalled():
    # A feed gone quiet is noticed by the liveness probe (docs/api.md D6) within idle_probe +
    # probe_timeout seconds, not the 30-40 s a silent socket took to notice before the probe.
    s = live_session(idle_probe=3.0, probe_timeout=2.0)
    sub = s.subscribe({}, {}, None, 0)
    (req,) = sent(s)
    answer_subscribe(s, req, "7", {}, now=0)
    assert s.tick(2.9) == [] and sent(s) == []
    assert s.tick(3.0) == []
    (probe,) = sent(s)
    assert probe["command"] == "get" and "subscribe" not in probe["params"]
    assert s.tick(4.9) == []
    (event,) = s.tick(5.0)
    assert isinstance(event, ConnectionUnusable) and event.stalled and s.stalls == 1
    assert sub.state is SubState.ACTIVE  # the adapter now drops the socket; that parks it


def test_an_answered_probe_keeps_the_connection():
    s = live_session(idle_probe=3.0, probe_timeout=2.0)
    s.subscribe({}, {}, None, 0)
    answer_subscribe(s, sent(s)[0], "7", {}, now=0)
    s.tick(3.0)
    (probe,) = sent(s)
    assert s.receive(Frame(rid=probe["rid"], code=0, data={"data": {}}), 3.5) == []
    assert s.tick(10.0) == []  # quiet again: another probe, no stall yet
    assert sent(s)[0]["command"] == "get"


def test_a_probe_answered_with_session_lost_replaces_the_session():
    s = live_session(idle_probe=1.0)
    s.subscribe({}, {}, None, 0)
    answer_subscribe(s, sent(s)[0], "7", {}, now=0)
    s.tick(1.0)
    (probe,) = sent(s)
    assert s.receive(Frame(rid=probe["rid"], code=CODE_SESSION_LOST), 1.5) == [SessionExpired()]
    assert sent(s)[0]["command"] == "request_session"


def test_nothing_is_probed_while_nothing_is_expected():
    s = live_session(idle_probe=1.0)
    assert s.tick(100.0) == [] and sent(s) == []


def push(subid: str, delta: dict) -> Frame:
    return Frame(rid=0, data={subid: delta})


def test_a_feed_that_pushes_but_answers_no_request_is_probed_and_replaced():
    # Found by bench.chaos: a half-open upstream whose hub -> feed direction is dead while the feed
    # still pushes. Every frame restarted the silence timer, so the probe never went out: polls and
    # new subscriptions timed out for ever on a connection that was never replaced.
    s = live_session(idle_probe=3.0, probe_timeout=2.0)
    s.subscribe({}, {}, None, 0)
    answer_subscribe(s, sent(s)[0], "7", {"game": {}}, now=0)
    s.request("get", {"what": {}}, 10.0, 60.0)  # a poll: it never reaches the feed
    (poll,) = sent(s)
    for t in range(10, 30):  # the feed keeps pushing, twice a second
        s.receive(push("7", {"game": {"1": {"id": 1, "markets_count": t}}}), t)
        s.receive(push("7", {"game": {"1": {"id": 1, "markets_count": t}}}), t + 0.5)
        events = s.tick(t + 0.5)
        if events:
            break
    else:
        raise AssertionError("a connection that answers nothing was kept for 20 s")
    (event,) = events
    assert isinstance(event, ConnectionUnusable) and event.stalled and s.stalls == 1
    assert t + 0.5 <= 10.0 + 3.0 + 2.0 + 0.5  # noticed within idle_probe + probe_timeout (+ a tick)
    assert "unanswered" in event.reason


def test_a_slow_reply_behind_an_answered_probe_does_not_probe_again_and_again():
    s = live_session(idle_probe=3.0, probe_timeout=2.0)
    s.subscribe({}, {}, None, 0)
    answer_subscribe(s, sent(s)[0], "7", {"game": {}}, now=0)
    s.request("get", {"what": {}}, 0.0, 60.0)  # the feed is slow to answer this one
    sent(s)
    probes = 0
    for t in range(1, 40):
        s.receive(push("7", {"game": {}}), t)
        assert s.tick(t) == []
        for request in sent(s):
            probes += 1
            s.receive(Frame(rid=request["rid"], code=0, data={"data": {}}), t + 0.1)  # probes are answered
    assert probes <= 1  # once answered, the path is proven for everything sent before it
