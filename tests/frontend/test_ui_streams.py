"""EventStream: reconnects never leave duplicate listeners, and close leaves nothing behind (R1, R2)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from oddsui.backoff import Backoff
from oddsui.scope import Scope
from oddsui.streams import STREAM_TABLE, EventStream, StreamState
from ui_fakes import FakePlatform

HANDLERS = ("games", "odds", "counts")


def make_stream(platform, received=None, server_errors=None, states=None, backoff=None):
    root = Scope(platform)
    received = received if received is not None else []
    handlers = {name: (lambda data, name=name: received.append((name, data))) for name in HANDLERS}
    stream = EventStream(
        root, "/api/live-stream?sportId=1", handlers, name="live:1",
        backoff=backoff or Backoff(base_ms=1000, cap_ms=8000, floor_ms=100),
        on_server_error=(server_errors.append if server_errors is not None else None),
        on_state=(states.append if states is not None else None),
    )
    return root, stream


def listeners_per_type(source):
    return {k: len(v) for k, v in source.listeners.items() if v}


def test_open_adds_one_listener_per_event_plus_open_and_error(platform):
    received = []
    root, stream = make_stream(platform, received)
    stream.open()
    stream.open()  # no second connection
    assert len(platform.event_sources) == 1
    source = platform.event_sources[0]
    assert listeners_per_type(source) == {"games": 1, "odds": 1, "counts": 1, "open": 1, "error": 1}
    source.opened()
    source.emit("odds", '{"x":1}')
    assert received == [("odds", '{"x":1}')]
    assert stream.state == StreamState.OPEN


def test_transport_error_closes_source_and_reconnects_after_backoff(platform):
    states = []
    root, stream = make_stream(platform, states=states)
    stream.open()
    first = platform.event_sources[0]
    first.fail()
    assert first.closed  # the browser's own retry is stopped at once
    assert stream.state == StreamState.RETRYING
    assert len(platform.timers) == 1
    platform.advance(499)  # 0.5 * 1000
    assert len(platform.event_sources) == 1
    platform.advance(1)
    assert len(platform.event_sources) == 2
    second = platform.event_sources[1]
    assert first.listener_count() == 0  # released with its connection scope
    assert listeners_per_type(second) == {"games": 1, "odds": 1, "counts": 1, "open": 1, "error": 1}
    assert states == [StreamState.CONNECTING, StreamState.RETRYING, StreamState.CONNECTING]


def test_a_dropped_connection_is_left_to_the_browsers_own_resuming_reconnect(platform):
    states = []
    received = []
    root, stream = make_stream(platform, received, states=states)
    stream.open()
    source = platform.event_sources[0]
    source.opened()
    source.drop()  # readyState CONNECTING: the browser reconnects with Last-Event-ID
    assert not source.closed and stream.state == StreamState.RETRYING
    assert platform.timers == {} and len(platform.event_sources) == 1
    assert listeners_per_type(source) == {"games": 1, "odds": 1, "counts": 1, "open": 1, "error": 1}
    source.opened()
    source.emit("odds", "{}")
    assert stream.state == StreamState.OPEN and received == [("odds", "{}")]
    assert stream.stats.native_retries == 1
    # ...until the browser gives up: then we close it and back off
    source.fail()
    assert source.closed and len(platform.timers) == 1


def test_many_errors_before_the_timer_fires_schedule_one_reconnect(platform):
    root, stream = make_stream(platform)
    stream.open()
    source = platform.event_sources[0]
    source.fail()
    source.fail()
    source.server_error('{"error":"x"}')
    assert len(platform.timers) == 1
    platform.advance(10_000)
    assert len(platform.event_sources) == 2


def test_server_error_event_is_reported_then_reconnects(platform):
    server_errors = []
    root, stream = make_stream(platform, server_errors=server_errors)
    stream.open()
    platform.event_sources[0].server_error('{"error":"upstream down"}')
    assert server_errors == ['{"error":"upstream down"}']
    assert stream.stats.server_errors == 1
    platform.advance(10_000)
    assert len(platform.event_sources) == 2


def test_events_from_a_given_up_connection_are_ignored(platform):
    received = []
    root, stream = make_stream(platform, received)
    stream.open()
    old = platform.event_sources[0]
    listener = old.listeners["odds"][0]
    old.fail()
    listener(type("E", (), {"data": "late"})())  # a queued event delivered after the error
    assert received == []


def test_backoff_grows_caps_and_resets_after_a_message(platform):
    platform.random_value = 0.999
    root, stream = make_stream(platform, backoff=Backoff(base_ms=1000, cap_ms=4000, floor_ms=100))
    stream.open()
    delays = []
    for _ in range(5):
        source = platform.event_sources[-1]
        before = platform.now
        source.fail()
        (due, *_rest), = platform.timers.values()
        delays.append(round(due - before))
        platform.advance(due - before)
    assert delays == [999, 1998, 3996, 3996, 3996]
    platform.event_sources[-1].emit("games", "{}")
    platform.event_sources[-1].fail()
    (due, *_rest), = platform.timers.values()
    assert round(due - platform.now) == 999


def test_close_while_waiting_to_reconnect_cancels_the_timer(platform):
    root, stream = make_stream(platform)
    stream.open()
    platform.event_sources[0].fail()
    stream.close()
    platform.advance(60_000)
    assert len(platform.event_sources) == 1
    assert platform.timers == {} and platform.live_proxies() == 0
    assert stream.state == StreamState.CLOSED
    stream.open()  # a closed stream stays closed
    assert len(platform.event_sources) == 1


def test_closing_the_parent_scope_closes_the_stream(platform):
    root, stream = make_stream(platform)
    stream.open()
    source = platform.event_sources[0]
    root.close()
    assert source.closed and source.listener_count() == 0
    assert platform.live_proxies() == 0 and root.live_count() == 0


def test_a_handler_error_is_reported_and_the_stream_stays_up(platform):
    root = Scope(platform)

    def bad(_data):
        raise ValueError("bad payload")

    stream = EventStream(root, "/s", {"odds": bad}, name="s")
    stream.open()
    platform.event_sources[0].emit("odds", "{}")
    assert stream.stats.handler_errors == 1 and len(platform.errors) == 1
    assert not platform.event_sources[0].closed


ACTIONS = st.lists(
    st.one_of(
        st.tuples(st.just("fail"), st.just(0)),
        st.tuples(st.just("drop"), st.just(0)),
        st.tuples(st.just("server_error"), st.just(0)),
        st.tuples(st.just("message"), st.just(0)),
        st.tuples(st.just("open"), st.just(0)),
        st.tuples(st.just("advance"), st.integers(min_value=0, max_value=20_000)),
        st.tuples(st.just("stale_event"), st.just(0)),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(ACTIONS, st.floats(min_value=0.0, max_value=0.999))
def test_no_sequence_of_errors_and_reconnects_duplicates_a_listener(actions, jitter):
    platform = FakePlatform(random_value=jitter)
    root, stream = make_stream(platform)
    stream.open()
    for action, arg in actions:
        current = platform.event_sources[-1]
        if action == "fail":
            current.fail()
        elif action == "drop":
            if not current.closed:
                current.drop()
        elif action == "server_error":
            current.server_error('{"error":"x"}')
        elif action == "message":
            current.emit("games", "{}")
        elif action == "open":
            current.opened()
        elif action == "advance":
            platform.advance(arg)
        elif action == "stale_event" and len(platform.event_sources) > 1:
            platform.event_sources[-2].emit("odds", "{}")

        # Only the newest source may carry listeners, each event type at most once.
        for source in platform.event_sources[:-1]:
            assert source.closed and source.listener_count() == 0
        newest = platform.event_sources[-1]
        assert all(n <= 1 for n in listeners_per_type(newest).values())
        assert sum(1 for s in platform.event_sources if s.listener_count()) <= 1
        assert len(platform.timers) <= 1
        assert platform.total_es_listeners() <= len(HANDLERS) + 2
        # Every move was legal (an IllegalTransition in a listener would be reported here), and the
        # state agrees with what is held: a pending reconnect means retrying, open means a live source.
        assert platform.errors == []
        assert stream.state in STREAM_TABLE.states - {StreamState.IDLE, StreamState.CLOSED}
        if platform.timers:
            assert stream.state == StreamState.RETRYING and newest.closed
        if stream.state == StreamState.OPEN:
            assert not newest.closed

    stream.close()
    assert stream.state == StreamState.CLOSED
    assert all(s.closed and s.listener_count() == 0 for s in platform.event_sources)
    assert platform.timers == {} and platform.live_proxies() == 0 and root.live_count() == 0
    stream.open()  # closed is final
    assert stream.state == StreamState.CLOSED and platform.errors == []


def test_raw_events_hand_the_event_itself_to_the_handler(platform):
    root = Scope(platform)
    received = []
    stream = EventStream(root, "/api/prematch-stream?sportId=1", {"games": received.append}, raw_events=True)
    stream.open()
    source = platform.event_sources[0]
    source.emit("games", '{"data": []}')
    assert len(received) == 1 and received[0].data == '{"data": []}' and received[0].type == "games"
    assert stream.stats.by_event == {"games": 1}
    root.close()
    assert platform.live_proxies() == 0
