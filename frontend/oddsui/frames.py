"""Batching DOM work into animation frames (docs/design.md R10).

``FrameBatcher.schedule(key, job)`` queues a job; all jobs queued before the next frame run in one
``requestAnimationFrame`` callback, in the order their keys were first queued. A key queued again
before its frame runs is coalesced (the newest job replaces the old one, keeping its place), so a
burst of 50 odds updates for one game costs one DOM update, and at most one frame request is ever
pending. The pending set is bounded by the number of distinct keys (e.g. the rows on the page), even
while the tab is hidden and frames do not run.

A frame stops after ``budget_ms`` of work and leaves the rest for the next frame, so no frame does
more than its share. The frame request is owned by the scope: closing it cancels the frame and
drops the queue.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable

from .scope import Handle, Scope

__all__ = ["FrameBatcher"]


class FrameBatcher:
    def __init__(self, scope: Scope, budget_ms: float = 12.0) -> None:
        self._scope = scope
        self._platform = scope.platform
        self.budget_ms = budget_ms
        self._queue: OrderedDict[Hashable, Callable[[], None]] = OrderedDict()
        self._frame: Handle | None = None
        self.frames_run = 0
        self.jobs_run = 0
        scope.defer(self._queue.clear, kind="queue", label="frame jobs")

    def __len__(self) -> int:
        return len(self._queue)

    @property
    def frame_pending(self) -> bool:
        return self._frame is not None and not self._frame.released

    def schedule(self, key: Hashable, job: Callable[[], None], first: bool = False) -> None:
        """Run ``job`` in the next frame (replacing any job queued under ``key``). ``first`` puts it
        at the head of the queue: a job that reads layout runs before the frame's writes dirty it."""
        if self._scope.closed:
            return
        self._queue[key] = job
        if first:
            self._queue.move_to_end(key, last=False)
        self._request()

    def cancel(self, key: Hashable) -> None:
        self._queue.pop(key, None)

    def flush(self) -> None:
        """Run every queued job now (tests, and work that must not wait for a frame)."""
        self._run(budget_ms=None)

    def _request(self) -> None:
        if self.frame_pending or not self._queue or self._scope.closed:
            return
        self._frame = self._scope.animation_frame(self._on_frame, label="render")

    def _on_frame(self, _timestamp: float = 0.0) -> None:
        self._frame = None
        self.frames_run += 1
        self._run(budget_ms=self.budget_ms)
        self._request()

    def _run(self, budget_ms: float | None) -> None:
        start = self._platform.now_ms()
        ran = 0
        # Only what was queued before this run: a job that schedules more work (a render done in
        # chunks) gets the next frame, never an unbounded loop inside this one -- even when it
        # schedules it ``first``.
        batch, self._queue = self._queue, OrderedDict()
        try:
            while batch:
                if budget_ms is not None and ran > 0 and self._platform.now_ms() - start >= budget_ms:
                    break
                _key, job = batch.popitem(last=False)
                ran += 1
                self.jobs_run += 1
                try:
                    job()
                except Exception as exc:
                    self._platform.report_error(exc, "frame job")
        finally:
            # What the budget left waits for the next frame ahead of what was queued meanwhile; a
            # key queued again meanwhile keeps only its newest job.
            if batch:
                for key in [k for k in batch if k in self._queue]:
                    del batch[key]
                batch.update(self._queue)
                self._queue = batch
