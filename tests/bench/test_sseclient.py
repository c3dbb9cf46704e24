"""The soak and chaos tools' raw SSE client parses a stream the same whole or one byte at a time."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bench.sseclient import ChunkedDecoder, Comment, Message, SseParser

STREAM = (b": padding\n\nretry: 2000\n\n: ready 17\n\n"
          b"event: games\ndata: {\"a\":1}\n\n"  # a snapshot message: no id
          b"id: ep.1-7\n\n"  # id-only: where the client stands
          b"id: ep.1-8\r\nevent: odds\r\ndata: {\"b\":2}\r\n\r\n"
          b"id: ep.1-9\revent: odds\rdata: x\rdata: y\r\r"
          b"id: ep.1-10\ndata: {}\n\n")


def messages(items):
    return [(m.id, m.event, m.data) for m in items if isinstance(m, Message)]


def test_fields_comments_and_line_endings_follow_the_event_stream_rules():
    parser = SseParser()
    items = parser.feed(STREAM)
    assert [c.text for c in items if isinstance(c, Comment)] == ["padding", "ready 17"]
    assert messages(items) == [(None, "games", '{"a":1}'), ("ep.1-7", "message", None),
                               ("ep.1-8", "odds", '{"b":2}'), ("ep.1-9", "odds", "x\ny"),
                               ("ep.1-10", "message", "{}")]
    assert parser.retry_ms == 2000 and parser.last_event_id == "ep.1-10"


@given(st.lists(st.integers(1, len(STREAM) - 1), unique=True, max_size=40))
def test_any_slicing_of_the_stream_gives_the_same_messages(cuts):
    parser = SseParser()
    items = []
    bounds = [0, *sorted(cuts), len(STREAM)]
    for a, b in zip(bounds, bounds[1:]):
        items += parser.feed(STREAM[a:b])
    assert messages(items) == messages(SseParser().feed(STREAM))


def test_a_message_cut_before_its_blank_line_is_not_dispatched_nor_its_id_taken():
    parser = SseParser()
    assert messages(parser.feed(b"id: e-1\ndata: 1\n\nid: e-2\ndata: 2\n")) == [("e-1", "message", "1")]
    assert parser.last_event_id == "e-1"


def test_chunked_bodies_decode_one_byte_at_a_time():
    body = b"5\r\nhello\r\n1;ext=1\r\n \r\n6\r\nworld!\r\n0\r\n\r\n"
    decoder = ChunkedDecoder()
    out = b"".join(decoder.feed(body[i:i + 1]) for i in range(len(body)))
    assert out == b"hello world!" and decoder.done
