"""EventStream: reconnects never leave duplicate listeners, and close leaves nothing behind (docs/design.md R1, R2)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from oddsui.backoff import Backoff
from oddsui.parsing import Decoded, ParserService
from oddsui.scope import Scope
from oddsui.streams import STREAM_TABLE, EventStream, StreamState
from test_ui_parsing import CONFIG
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


# ------------------------------------------------------------------------------------------------
# the stream's own parse channel


def counts_json(marker, pad=0):
    return json.dumps({"sports": [{"name": "s", "count": marker}], "total_games": marker}) + " " * pad


class Parsed:
    """A stream with a parser: its messages are decoded (big ones in the fake worker), applied in order."""

    THRESHOLD = 300

    def __init__(self, platform):
        self.platform = platform
        self.root = Scope(platform, name="app")
        self.parser = ParserService(self.root.child("parser"), CONFIG, threshold=self.THRESHOLD)
        self.applied = []
        self.failed = []
        self.stream = EventStream(
            self.root, "/api/live-stream?sportId=1",
            {name: Decoded("counts", lambda payload, name=name: self.applied.append((name, payload.total_games)),
                           self.failed.append)
             for name in ("counts", "prematch_counts")},
            parser=self.parser, name="live:1", backoff=Backoff(base_ms=1000, cap_ms=8000, floor_ms=100),
        )
        self.stream.open()

    @property
    def source(self):
        return self.platform.event_sources[-1]

    def send(self, marker, big=False, event="counts"):
        self.source.emit(event, counts_json(marker, self.THRESHOLD + 1 if big else 0))


def test_a_stream_with_a_parser_applies_decoded_payloads_through_its_own_channel(platform):
    p = Parsed(platform)
    assert p.stream.channel is not None and not p.stream.channel.closed
    p.send(1)
    p.send(2, event="prematch_counts")
    assert p.applied == [("counts", 1), ("prematch_counts", 2)]
    assert p.stream.stats.by_event == {"counts": 1, "prematch_counts": 1}
    p.source.emit("counts", "{not json")
    assert len(p.failed) == 1 and p.stream.stats.handler_errors == 0
    # a big text goes to the worker as the event itself, never read into a Python string here
    reads = platform.text_reads
    p.send(3, big=True)
    assert p.parser.pending == 1 and platform.text_reads == reads
    platform.workers[0].ready()
    platform.workers[0].answer()
    assert p.applied[-1] == ("counts", 3)
    p.root.close()
    assert platform.live_proxies() == 0 and p.root.live_count() == 0


def test_closing_the_stream_releases_its_channel_and_what_it_had_queued(platform):
    p = Parsed(platform)
    channel = p.stream.channel
    p.send(1, big=True)  # in the worker
    p.send(2)  # waits behind it (arrival order)
    assert p.parser.pending == 1 and len(channel) == 2
    held_by_stream = p.stream.scope.live_count()
    p.stream.close()
    assert channel.closed and len(channel) == 0 and p.parser.pending == 0
    assert held_by_stream > 0 and p.stream.scope.live_count() == 0
    platform.workers[0].ready()
    platform.workers[0].answer()  # a late answer for the closed channel is dropped
    assert p.applied == [] and p.parser.stats.stale_replies == 1
    assert p.root.live_count() == p.parser.scope.live_count() + 1  # only the parser is left
    assert platform.timers == {}  # nothing waits for the dropped request (no watchdog)


def test_closing_the_parent_scope_releases_the_streams_channel(platform):
    p = Parsed(platform)
    channel = p.stream.channel
    p.send(1, big=True)
    p.root.close()
    assert channel.closed and p.parser.pending == 0
    assert platform.live_proxies() == 0 and p.root.live_count() == 0 and platform.timers == {}


def test_the_channel_belongs_to_the_stream_not_to_a_connection(platform):
    p = Parsed(platform)
    channel = p.stream.channel
    p.send(1, big=True)  # still in the worker when the connection fails
    p.source.fail()
    platform.advance(10_000)  # reconnect: a new EventSource
    assert len(platform.event_sources) == 2 and p.stream.channel is channel and not channel.closed
    p.send(2)  # arrived later, on the new connection: applied after 1
    assert p.applied == []
    platform.workers[0].ready()
    platform.workers[0].answer()
    assert p.applied == [("counts", 1), ("counts", 2)]


def test_handlers_must_match_whether_there_is_a_parser(platform):
    root = Scope(platform)
    parser = ParserService(root.child("parser"), None)
    with pytest.raises(TypeError):
        EventStream(root, "/s", {"odds": print}, parser=parser)
    with pytest.raises(TypeError):
        EventStream(root, "/s", {"odds": Decoded("odds", print, print)})
    assert platform.event_sources == []
