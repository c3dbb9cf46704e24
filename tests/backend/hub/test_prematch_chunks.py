"""Prematch odds chunk selection (docs/api.md D7 item 6): 30 ids from a rotating cursor, missing or stale only."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from backend.clock import FakeClock
from backend.hub.groups import PrematchSport
from backend.hub.service import OddsHub
from backend.settings import Settings


def make_group(ids):
    hub = OddsHub(Settings(), FakeClock(), "ws://127.0.0.1:9/")
    group = PrematchSport(hub, ("prematch", "1"), "1")
    group.game_ids = list(ids)
    return group


def refresh(group, ids, now):
    for gid in ids:
        group.odds.update_game({"id": gid, "markets_count": 1, "market": {}}, [], now)


@given(st.integers(0, 200))
def test_a_full_rotation_covers_every_game_once_in_chunks_of_thirty(n):
    group = make_group(range(1000, 1000 + n))
    seen: list[int] = []
    while True:
        chunk = group.next_chunk(now=0.0)
        assert len(chunk) <= 30
        if not chunk:
            break
        seen += chunk
        refresh(group, chunk, now=0.0)  # the poll answered: these are fresh now
    assert sorted(seen) == list(range(1000, 1000 + n))


def test_only_missing_or_older_than_sixty_seconds_are_asked_for():
    group = make_group(range(1, 61))
    refresh(group, range(1, 41), now=100.0)
    assert group.next_chunk(now=120.0) == list(range(41, 61))
    assert group.next_chunk(now=159.9) == list(range(41, 61))  # never answered: still missing
    refresh(group, range(41, 61), now=150.0)
    assert group.next_chunk(now=159.9) == []  # 1-40 are 59.9 s old, 41-60 fresh
    assert group.next_chunk(now=160.0) == list(range(1, 31))  # 1-40 turned 60 s old
    # The cursor moved on and wraps around: 1-30 were never answered, so they are still due.
    assert group.next_chunk(now=160.0) == list(range(31, 41)) + list(range(1, 21))


def test_the_cursor_restarts_when_the_list_changes():
    group = make_group(range(1, 101))
    assert group.next_chunk(0.0) == list(range(1, 31))
    refresh(group, range(1, 31), 0.0)
    assert group.next_chunk(0.0) == list(range(31, 61))
    group.game_ids = list(range(500, 600))  # a new list (first id changed)
    assert group.next_chunk(0.0) == list(range(500, 530))
