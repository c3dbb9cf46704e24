"""The parser service (docs/design.md R10): size routing, per-stream arrival order, the worker's
lifecycle and failures.

The worker is ``FakeWorker``: it answers only when a test says so, with the real worker/parse.py, so
these tests also cover what the worker computes and what the page makes of it.
"""

from __future__ import annotations

import ast
import json
from types import SimpleNamespace

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from oddsui.machine import IllegalTransition
from oddsui.messages import DecodeError, decode, decode_packed
from oddsui.parsing import WORKER_TABLE, WORKER_THRESHOLD_BYTES, ParserService, WorkerState, needs_worker
from oddsui.scope import Scope
from ui_fakes import ROOT, FakePlatform, load_worker_parse

CONFIG = {
    "url": "/worker/worker.0123456789ab.mjs",
    "pyodide": {"module": "/pyodide/pyodide.mjs", "indexURL": "/pyodide/",
                "lockFileURL": "/pyodide/pyodide-lock.local.json?v=x"},
    "packages": ["msgspec"],
    "parse": {"url": "/worker/parse.0123456789ab.py", "integrity": "sha256-x", "module": "oddsworker_parse"},
}
SMALL_LIMIT = 300  # unit tests use a small threshold; the real one has its own tests


def counts_text(marker: int, pad: int = 0) -> str:
    return json.dumps({"sports": [{"name": f"s{marker}", "count": marker}], "total_games": marker}) + " " * pad


def event(text: str) -> SimpleNamespace:
    return SimpleNamespace(data=text, type="message")


class Harness:
    """A service on a fake platform, with channels whose applies and errors are recorded in order."""

    def __init__(self, config=CONFIG, threshold=SMALL_LIMIT, stall_ms=5_000.0):
        self.platform = FakePlatform()
        self.root = Scope(self.platform, name="app")
        self.service = ParserService(self.root.child("parser"), config, threshold=threshold, stall_ms=stall_ms)
        self.log: dict[str, list] = {}

    def channel(self, name="stream"):
        self.log.setdefault(name, [])
        return self.service.channel(self.root, name)

    def send(self, channel, marker, big=False, valid=True, kind="counts"):
        text = counts_text(marker) if valid else "{not json " + str(marker)
        if big:
            text += " " * (self.service.threshold + 1)
        log = self.log[channel.name]
        channel.receive(kind, event(text),
                        lambda payload: log.append(("ok", payload.total_games)),
                        lambda exc: log.append(("error", marker, exc)))

    @property
    def worker(self):
        assert len(self.platform.workers) == 1, self.platform.workers
        return self.platform.workers[0]

    def markers(self, name="stream"):
        return [entry[:2] for entry in self.log[name]]


# ------------------------------------------------------------------------------------------------
# the size threshold


def utf8_size(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


@settings(max_examples=400, deadline=None)
@given(text=st.text(st.characters(codec=None, exclude_categories=()), max_size=60),
       limit=st.integers(min_value=0, max_value=200))
def test_needs_worker_is_exactly_more_than_limit_utf8_bytes(text, limit):
    calls = []

    def exact():
        calls.append(1)
        return utf8_size(text)

    units = utf16_units(text)
    assert needs_worker(units, exact, limit) == (utf8_size(text) > limit)
    # the exact size (a pass over the text) is only needed between limit/3 and limit units
    if units > limit or units * 3 <= limit:
        assert calls == []


@pytest.mark.parametrize(("text", "big"), [
    ("a" * WORKER_THRESHOLD_BYTES, False),  # exactly 100 KB: parsed here
    ("a" * (WORKER_THRESHOLD_BYTES + 1), True),
    ("é" * (WORKER_THRESHOLD_BYTES // 2), False),  # 2 bytes each: exactly 100 KB
    ("é" * (WORKER_THRESHOLD_BYTES // 2) + "a", True),
    ("€" * (WORKER_THRESHOLD_BYTES // 3 + 1), True),  # 3 bytes each, fewer units than the limit
    ("😀" * (WORKER_THRESHOLD_BYTES // 4), False),  # a surrogate pair: 2 units, 4 bytes
    ("😀" * (WORKER_THRESHOLD_BYTES // 4) + "a", True),
])
def test_the_threshold_is_100_KiB_of_utf8(text, big):
    assert needs_worker(utf16_units(text), lambda: utf8_size(text)) is big


def test_only_payloads_over_the_threshold_go_to_the_worker_and_the_worker_starts_lazily():
    h = Harness(threshold=WORKER_THRESHOLD_BYTES)
    ch = h.channel()
    small = counts_text(1)
    exactly = small + " " * (WORKER_THRESHOLD_BYTES - len(small))
    ch.receive("counts", event(exactly), lambda p: h.log["stream"].append(("ok", p.total_games)), print)
    assert h.platform.workers == [] and h.markers() == [("ok", 1)]  # 100 KB exactly: here, no worker
    h.send(ch, 2, big=True)
    assert len(h.platform.workers) == 1 and list(h.worker.requests) == [1]
    assert h.worker.url == CONFIG["url"]
    assert h.worker.inits == [{"type": "init", "config": {k: v for k, v in CONFIG.items() if k != "url"}}]
    assert h.platform.text_reads == 1  # the big text was never read into Python here
    h.worker.ready()
    h.worker.answer()
    assert h.markers() == [("ok", 1), ("ok", 2)]
    stats = h.service.debug_state()
    assert stats["sync_parsed"] == 1 and stats["worker_parsed"] == 1 and stats["state"] == WorkerState.READY
    assert stats["last_worker"]["counts"]["packed_bytes"] > 0


def test_prestart_boots_the_worker_once_and_without_a_config_nothing_starts():
    h = Harness()
    h.service.prestart()
    h.service.prestart()
    assert len(h.platform.workers) == 1 and h.service.state == WorkerState.STARTING
    none = Harness(config=None)
    none.service.prestart()
    ch = none.channel()
    none.send(ch, 1, big=True)
    assert none.platform.workers == [] and none.markers() == [("ok", 1)]
    assert none.platform.errors == []


# ------------------------------------------------------------------------------------------------
# order


def test_a_small_message_waits_for_the_big_one_before_it():
    h = Harness()
    ch = h.channel()
    h.send(ch, 1, big=True)
    h.send(ch, 2)
    h.send(ch, 3)
    assert h.markers() == [] and len(ch) == 3
    h.worker.ready()
    h.worker.answer()
    assert h.markers() == [("ok", 1), ("ok", 2), ("ok", 3)] and len(ch) == 0


def test_answers_out_of_order_are_applied_in_arrival_order():
    h = Harness()
    ch = h.channel()
    for marker in range(1, 5):
        h.send(ch, marker, big=marker % 2 == 1)  # 1 and 3 big, 2 and 4 small
    h.worker.ready()
    h.worker.answer(2)  # the answer for marker 3 comes first
    assert h.markers() == []
    h.worker.answer(1)
    assert h.markers() == [("ok", 1), ("ok", 2), ("ok", 3), ("ok", 4)]


def test_streams_are_independent():
    h = Harness()
    a, b = h.channel("a"), h.channel("b")
    h.send(a, 1, big=True)
    h.send(b, 2)
    assert h.markers("b") == [("ok", 2)] and h.markers("a") == []


def test_a_bad_payload_is_reported_in_its_turn_and_does_not_block_the_queue():
    h = Harness()
    ch = h.channel()
    h.send(ch, 1, big=True, valid=False)
    h.send(ch, 2, valid=False)
    h.send(ch, 3)
    h.worker.ready()
    h.worker.answer()
    assert h.markers() == [("error", 1), ("error", 2), ("ok", 3)]
    assert all(isinstance(entry[2], DecodeError) for entry in h.log["stream"][:2])
    assert h.service.stats.worker_failed_payloads == 1
    assert h.platform.errors == []  # reporting is the caller's on_error


def test_closing_a_channel_drops_its_queue_and_late_answers_are_ignored():
    h = Harness()
    ch = h.channel()
    h.send(ch, 1, big=True)
    h.send(ch, 2)
    assert h.service.pending == 1
    ch.close()
    ch.close()
    assert h.service.pending == 0 and len(ch) == 0
    h.worker.ready()
    h.worker.answer()
    assert h.markers() == [] and h.service.stats.stale_replies == 1
    h.send(ch, 3)  # a closed channel takes nothing
    assert h.markers() == []


def test_closing_the_owner_scope_closes_its_channels():
    h = Harness()
    owner = h.root.child("stream owner")
    ch = h.service.channel(owner, "x")
    h.log["x"] = []
    h.send(ch, 1, big=True)
    owner.close()
    assert ch.closed and h.service.pending == 0


def test_a_failing_apply_is_reported_and_the_next_message_still_applies():
    h = Harness()
    ch = h.channel()

    def boom(_payload):
        raise RuntimeError("handler bug")

    ch.receive("counts", event(counts_text(1)), boom, print)
    h.send(ch, 2)
    assert h.markers() == [("ok", 2)]
    assert len(h.platform.errors) == 1 and "handler bug" in str(h.platform.errors[0][0])


class OrderMachine(RuleBasedStateMachine):
    """Any interleaving of arrivals, answers in any order, worker failures and closes: each open
    stream applies exactly its arrivals, in arrival order, each once; nothing is held afterwards."""

    def __init__(self):
        super().__init__()
        self.h = Harness(stall_ms=1_000.0)
        self.channels = [self.h.channel(f"c{i}") for i in range(3)]
        self.sent: dict[str, list] = {ch.name: [] for ch in self.channels}
        self.marker = 0

    @rule(index=st.integers(0, 2), big=st.booleans(), valid=st.booleans())
    def arrive(self, index, big, valid):
        ch = self.channels[index]
        self.marker += 1
        if not ch.closed:
            self.sent[ch.name].append(("ok" if valid else "error", self.marker))
        self.h.send(ch, self.marker, big=big, valid=valid)

    def _live_worker(self):
        workers = self.h.platform.workers
        return workers[0] if workers and self.h.service.state in (WorkerState.STARTING, WorkerState.READY) else None

    @precondition(lambda self: self._live_worker() is not None and self.h.service.state == WorkerState.STARTING)
    @rule()
    def worker_ready(self):
        self._live_worker().ready()

    @precondition(lambda self: self._live_worker() is not None and self._live_worker().requests)
    @rule(pick=st.integers(0, 1000))
    def answer_one(self, pick):
        worker = self._live_worker()
        ids = sorted(worker.requests)
        worker.answer(ids[pick % len(ids)])

    @precondition(lambda self: self._live_worker() is not None)
    @rule(how=st.sampled_from(["fatal", "crash"]))
    def worker_fails(self, how):
        getattr(self._live_worker(), how)()

    @rule(ms=st.sampled_from([10, 500, 1_500]))
    def time_passes(self, ms):
        self.h.platform.advance(ms)

    @rule(index=st.integers(0, 2))
    def close_channel(self, index):
        ch = self.channels[index]
        if not ch.closed:
            ch.close()
            self.sent[ch.name] = [tuple(e[:2]) for e in self.h.log[ch.name]]  # what was applied stays

    @invariant()
    def applied_is_a_prefix_of_arrivals_in_order(self):
        for ch in self.channels:
            applied = self.h.markers(ch.name)
            assert applied == self.sent[ch.name][: len(applied)]

    @invariant()
    def the_worker_state_is_legal_and_no_move_was_illegal(self):
        assert self.h.service.state in WORKER_TABLE.states - {WorkerState.CLOSED}
        assert not any(isinstance(exc, IllegalTransition) for exc, _context in self.h.platform.errors)

    @invariant()
    def nothing_waits_without_a_pending_request(self):
        if self.h.service.pending == 0:
            assert all(len(ch) == 0 for ch in self.channels)

    def teardown(self):
        worker = self._live_worker()
        if worker is not None:
            if self.h.service.state == WorkerState.STARTING:
                worker.ready()
            while worker.requests:
                worker.answer(min(worker.requests))
        for ch in self.channels:
            assert self.h.markers(ch.name) == self.sent[ch.name]
        assert self.h.service.pending == 0
        self.h.root.close()
        assert self.h.service.state == WorkerState.CLOSED
        assert self.h.root.live_count() == 0
        assert self.h.platform.live_proxies() == 0 and self.h.platform.timers == {}
        assert all(w.listener_count() == 0 and w.terminated >= 1 for w in self.h.platform.workers)


TestOrderMachine = OrderMachine.TestCase
TestOrderMachine.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)


# ------------------------------------------------------------------------------------------------
# failures are loud, and nothing is lost


def test_a_fatal_worker_is_reported_once_and_what_it_held_is_parsed_here_in_order():
    h = Harness()
    ch = h.channel()
    h.send(ch, 1, big=True)
    h.send(ch, 2)
    h.send(ch, 3, big=True)
    worker = h.worker
    worker.fatal("boot failed: loadPackage failed for [msgspec]")
    assert h.markers() == [("ok", 1), ("ok", 2), ("ok", 3)]
    assert h.service.state == WorkerState.BROKEN and worker.terminated >= 1
    assert len(h.platform.errors) == 1 and "loadPackage failed" in str(h.platform.errors[0][0])
    h.platform.advance(0)  # the listeners come off after the listener that reported it returned
    assert worker.listener_count() == 0
    h.send(ch, 4, big=True)  # from now on, here
    assert h.markers()[-1] == ("ok", 4) and len(h.platform.workers) == 1
    assert h.service.stats.fallback_parsed == 3 and len(h.platform.errors) == 1


def test_a_second_ready_message_breaks_the_worker_loudly():
    h = Harness()
    ch = h.channel()
    h.send(ch, 1, big=True)
    h.worker.ready()
    assert h.service.state == WorkerState.READY
    h.worker.ready()
    assert h.service.state == WorkerState.BROKEN and "ready twice" in h.service.broken_reason
    assert h.markers() == [("ok", 1)]  # what it held is parsed here
    assert [e for e in h.platform.errors if "parse worker" in e[1]]


def test_an_error_event_breaks_the_worker_too():
    h = Harness()
    ch = h.channel()
    h.send(ch, 1, big=True)
    h.worker.crash("SyntaxError: Unexpected token")
    assert h.markers() == [("ok", 1)] and "SyntaxError" in str(h.platform.errors[0][0])


def test_a_silent_worker_is_given_up_after_the_stall_timeout():
    h = Harness(stall_ms=5_000.0)
    ch = h.channel()
    h.send(ch, 1, big=True)
    h.platform.advance(4_000)
    h.worker.ready()  # progress restarts the clock
    h.platform.advance(4_000)
    assert h.markers() == []
    h.platform.advance(1_001)
    assert h.markers() == [("ok", 1)] and h.service.state == WorkerState.BROKEN
    assert "did not answer" in str(h.platform.errors[0][0])


def test_no_watchdog_runs_while_nothing_is_pending():
    h = Harness()
    ch = h.channel()
    h.send(ch, 1, big=True)
    h.worker.ready()
    h.worker.answer()
    assert h.platform.timers == {}
    h.platform.advance(60_000)
    assert h.service.state == WorkerState.READY


def test_an_internal_worker_error_is_reported_and_that_payload_parsed_here():
    h = Harness()
    ch = h.channel()
    h.send(ch, 1, big=True)
    h.send(ch, 2, big=True)
    h.worker.ready()
    h.worker.answer_internal_error(1)
    h.worker.answer(2)
    assert h.markers() == [("ok", 1), ("ok", 2)] and h.service.state == WorkerState.READY
    assert len(h.platform.errors) == 1 and h.service.stats.fallback_parsed == 1


def test_json_msgpack_cannot_carry_is_parsed_here_without_an_error():
    h = Harness()
    ch = h.channel()
    text = '{"sports": [], "total_games": 18446744073709551616}' + " " * 400
    ch.receive("counts", event(text), lambda p: h.log["stream"].append(("ok", p.total_games)), print)
    h.worker.ready()
    h.worker.answer()
    assert h.markers() == [("ok", 2**64)] and h.platform.errors == []


def test_a_worker_that_cannot_be_created_means_parsing_here():
    h = Harness()
    h.platform.fail_open_worker = True
    ch = h.channel()
    h.send(ch, 1, big=True)
    assert h.markers() == [("ok", 1)] and h.service.state == WorkerState.BROKEN
    assert len(h.platform.errors) == 1
    h.platform.advance(0)
    h.root.close()
    assert h.root.live_count() == 0 and h.platform.live_proxies() == 0


def test_closing_the_scope_releases_worker_listeners_and_pending_requests():
    h = Harness()
    ch = h.channel()
    h.send(ch, 1, big=True)
    worker = h.worker
    assert worker.listener_count() == 3  # message, error, messageerror
    assert h.service.pending == 1 and len(h.platform.timers) == 1  # the watchdog
    errors = h.root.close()
    assert errors == [] and h.root.live_count() == 0
    assert worker.listener_count() == 0 and worker.terminated == 1
    assert h.service.pending == 0 and h.service.state == WorkerState.CLOSED
    assert h.platform.live_proxies() == 0 and h.platform.timers == {}
    worker.answer()  # a message already on its way is ignored (no listener, no error)
    assert h.markers() == [] and h.platform.errors == []


# ------------------------------------------------------------------------------------------------
# worker/parse.py and what the page makes of its answer

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=20,
)
games = st.builds(
    lambda sport_id, data: {"sportId": sport_id, "sportName": "Football", "data": data, "last_updated": 1},
    st.one_of(st.integers(1, 99), st.text(max_size=3)),
    st.lists(st.fixed_dictionaries({
        "id": st.integers(0, 2**40), "team1_name": st.text(max_size=10), "start_ts": st.integers(0, 2**33),
        "market": json_values, "is_blocked": st.sampled_from([0, 1, True, False, None]),
    }, optional={"info": json_values, "unknown_field": json_values}), max_size=5),
)
odds = st.fixed_dictionaries({"sportId": st.integers(1, 20), "updates": st.lists(st.fixed_dictionaries({
    "gameId": st.one_of(st.integers(0, 2**40), st.text(max_size=5)),
    "odds": st.one_of(st.none(), st.lists(st.fixed_dictionaries({"label": st.text(max_size=2),
                                                                   "price": st.floats(1, 100), "blocked": st.booleans()}),
                                          max_size=3))}), max_size=4)})


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.tuples(st.just("games"), games), st.tuples(st.just("odds"), odds)))
def test_the_worker_path_decodes_exactly_what_the_main_thread_path_decodes(case):
    kind, value = case
    text = json.dumps(value)
    packed = load_worker_parse().parse(text)
    assert isinstance(packed, bytes)
    assert decode_packed(packed, kind) == decode(text, kind)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=30))
def test_text_that_is_not_json_is_a_payload_error_on_both_paths(text):
    try:
        json.loads(text)
    except ValueError:
        pass
    else:
        assume(False)
    answer = load_worker_parse().parse_or_error(text)
    assert isinstance(answer, str) and answer
    with pytest.raises(DecodeError):
        decode(text, "odds")


def test_parse_or_error_answers_none_for_integers_msgpack_cannot_carry():
    parse = load_worker_parse()
    assert parse.parse_or_error("[18446744073709551616]") is None
    assert parse.parse_or_error("[-9223372036854775809]") is None
    assert isinstance(parse.parse_or_error("[18446744073709551615]"), bytes)


def test_worker_parse_is_pure_and_valid_python_311():
    source = (ROOT / "worker" / "parse.py").read_text()
    tree = ast.parse(source, feature_version=(3, 11))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert imported <= {"__future__", "typing", "msgspec"}


def test_the_pure_modules_are_valid_python_311():
    names = sorted(path.name for path in (ROOT / "frontend" / "oddsui").glob("*.py"))
    assert {"parsing.py", "messages.py", "streams.py", "backoff.py", "app.py", "ports.py"} <= set(names)
    for name in names:
        ast.parse((ROOT / "frontend" / "oddsui" / name).read_text(), feature_version=(3, 11))
