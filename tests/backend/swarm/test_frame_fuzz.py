"""Hostile upstream frames: whatever the feed sends, the hub counts what it cannot use, skips it,
keeps its state and stays connected (a fuzzer kept in the suite for good; docs/api.md D5).

Frames go through the adapter's real entry point (``SwarmConnection.handle_message``: decode, then
the session core and the merge) on a connection whose session is live and holds one subscription.
The model is what the subscription's tree must be: every delta that fits the schema merged in, and
nothing of any other frame. ``FUZZ_EXAMPLES`` raises the number of examples (default 200).
"""

from __future__ import annotations

import copy
import json
import os

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.clock import FakeClock
from backend.swarm.connection import SwarmConnection
from backend.swarm.merge import merge
from backend.swarm.schema import tree_error

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "200"))
SUBID = "77"

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2**63, 2**63), st.floats(allow_nan=False),
                    st.text(max_size=20))
JSON = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                      st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                    max_leaves=20)
KEYS = st.sampled_from(["1", "2", "3", "x", ""])
FIELDS = st.sampled_from(["id", "name", "price", "type", "markets_count", "is_blocked", "info", "order", "extra"])
LEVEL = st.sampled_from(["sport", "region", "competition", "game", "market", "event", "other"])


@st.composite
def trees(draw, depth: int = 0):
    """Trees shaped like Swarm's, with values that are sometimes right and sometimes wrong."""
    node: dict = {}
    for _ in range(draw(st.integers(0, 3))):
        if depth < 4 and draw(st.booleans()):
            level = draw(LEVEL)
            children = draw(st.one_of(
                st.dictionaries(KEYS, st.one_of(st.none(), trees(depth + 1)), max_size=3),
                JSON))
            node[level] = children
        else:
            node[draw(FIELDS)] = draw(JSON)
    return node


def deep(depth: int) -> str:
    return '{"rid":0,"data":{"' + SUBID + '":{"game":{"1":{"info":' + '{"a":' * depth + "1" + "}" * depth + "}}}}}"


FRAMES = st.one_of(
    trees().map(lambda t: json.dumps({"rid": 0, "data": {SUBID: t}})),  # pushes, fitting or not
    trees().map(lambda t: json.dumps({"rid": "0", "code": 0, "data": {SUBID: t, "999": t}})),
    trees().map(lambda t: json.dumps({"rid": 0, "data": {SUBID: t}})).flatmap(  # truncated
        lambda text: st.integers(0, max(0, len(text) - 1)).map(lambda n: text[:n])),
    JSON.map(json.dumps),  # any JSON at all
    st.fixed_dictionaries({"rid": JSON, "code": JSON, "data": JSON, "msg": JSON}).map(json.dumps),
    st.binary(max_size=64),
    st.sampled_from([deep(40), deep(5000), "[" * 5000 + "]" * 5000, '{"rid":0,"data":{"77":{"game":'
                     + '{"1":' * 3000 + "1" + "}" * 3000 + "}}}"]),
    st.integers(1, 200_000).map(lambda n: json.dumps({"rid": 0, "data": {SUBID: {"game": {"1": {"name": "x" * n}}}}})),
)


def _not_json(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def live_connection() -> tuple[SwarmConnection, list]:
    conn = SwarmConnection("ws://feed/", clock=FakeClock())
    conn._ws = object()  # type: ignore[assignment]  # a socket is open (nothing is written in this test)
    core = conn.core
    core.connection_made(0.0, 30.0)
    (ask,) = [msgspec.json.decode(m) for m in core.data_to_send()]
    conn.handle_message(json.dumps({"code": 0, "rid": ask["rid"], "data": {"sid": "s1"}}))
    deliveries: list = []
    conn.subscribe({"game": ["id"]}, {}, lambda tree, delta: deliveries.append(copy.deepcopy(tree)))
    (sub,) = [msgspec.json.decode(m) for m in core.data_to_send()]
    snapshot = {"game": {"1": {"id": 1, "name": "start"}}}
    conn.handle_message(json.dumps({"code": 0, "rid": sub["rid"], "data": {"subid": SUBID, "data": snapshot}}))
    return conn, deliveries


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(FRAMES, min_size=1, max_size=8))
def test_no_frame_crashes_the_hub_every_bad_one_is_counted_and_only_fitting_deltas_change_state(frames):
    conn, deliveries = live_connection()
    (handle,) = [s.owner for s in conn.core._subs]
    model = copy.deepcopy(deliveries[-1])
    for text in frames:
        before = (conn.stats.parse_errors_total, conn.core.rejected_deltas, conn.core.resubscribes)
        conn.handle_message(text)
        assert conn._outcome is None or not conn._outcome.done()  # the connection stays up
        try:  # strict JSON, as the feed's decoder reads it (no Infinity or NaN)
            frame = json.loads(text, parse_constant=_not_json)
        except (ValueError, UnicodeDecodeError, RecursionError):
            frame = None
        delta = frame.get("data", {}).get(SUBID) if isinstance(frame, dict) and frame.get("rid") in (0, "0") \
            and isinstance(frame.get("data"), dict) else None
        if not handle.active:
            continue  # resubscribing after a rejected delta: pushes for the old subid are ignored
        if delta is None:
            if frame is None and text:
                assert conn.stats.parse_errors_total == before[0] + 1  # counted and skipped
            continue
        if isinstance(delta, dict) and tree_error(delta) is None:
            merge(model, copy.deepcopy(delta))
            assert deliveries[-1] == model
        else:
            assert conn.core.rejected_deltas == before[1] + 1 and conn.core.resubscribes == before[2] + 1
            assert conn.stats.parse_errors_total == before[0] + 1
            assert conn.core.subscription_data(handle._sub) == model  # the state is what it was
        assert conn.core.subscription_data(handle._sub) == model
    assert conn.core.live  # the session is still up
