"""Scope: the one owner of every listener, timer, proxy, task and child scope (docs/design.md principle 6).

Everything the UI acquires from the browser is acquired *through* a scope, which records how to
release it. ``close()`` releases what is still held in reverse order of acquisition, each release in
its own try/finally so one failure never skips the rest, and is idempotent. ``live_count()`` says how
much is still held, so tests (and the e2e suite) can assert that nothing leaked.

Handles can be released early (``Handle.release()``): the scope forgets them at once, so a scope that
opens and closes many short-lived things does not grow. A timer or animation frame that has fired is
forgotten automatically (its once-callable proxy destroys itself after the call).

Errors while releasing are reported through ``Platform.report_error`` and returned from ``close()``;
they never propagate, because cleanup must always run to the end (docs/design.md R9). Acquiring on a closed scope
raises ``ScopeClosedError`` before anything is created, so nothing can leak past a close.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from .ports import Platform

__all__ = ["Handle", "Scope", "ScopeClosedError"]


class ScopeClosedError(RuntimeError):
    """Tried to acquire a resource through a scope that is already closed."""


class Handle:
    """One resource held by a scope. ``release()`` frees it now (idempotent)."""

    __slots__ = ("_key", "_release", "_scope", "kind", "label", "released", "value")

    def __init__(self, scope: Scope, kind: str, label: str) -> None:
        self._scope = scope
        self._key = -1
        self._release: Callable[[], None] | None = None
        self.kind = kind
        self.label = label
        self.released = False
        self.value: Any = None  # what was acquired (proxy, timer id, child scope, ...)

    def release(self) -> None:
        self._scope._release_handle(self)

    def __repr__(self) -> str:
        state = "released" if self.released else "live"
        return f"<Handle {self.kind}:{self.label} {state}>"


class Scope:
    """Owns resources; ``close()`` releases all of them exactly once, newest first."""

    _ids = itertools.count(1)

    def __init__(self, platform: Platform, name: str = "root", parent: Scope | None = None) -> None:
        self.platform = platform
        self.name = name
        self._parent = parent
        self._parent_handle: Handle | None = None
        self._held: dict[int, Handle] = {}  # insertion-ordered: reverse iteration = newest first
        self._closed = False
        self._closing = False
        self._last_errors: list[BaseException] = []

    # ---------------------------------------------------------------- state

    @property
    def closed(self) -> bool:
        return self._closed or self._closing

    def live_count(self) -> int:
        """Resources still held, counting each child scope and everything it holds."""
        total = 0
        for handle in list(self._held.values()):
            total += 1
            if handle.kind == "scope":
                total += handle.value.live_count()
        return total

    def summary(self) -> dict[str, int]:
        """Live resources by kind, children included (for debugging and tests)."""
        counts: dict[str, int] = {}
        for handle in list(self._held.values()):
            counts[handle.kind] = counts.get(handle.kind, 0) + 1
            if handle.kind == "scope":
                for kind, n in handle.value.summary().items():
                    counts[kind] = counts.get(kind, 0) + n
        return counts

    # ---------------------------------------------------------------- acquiring

    def _check_open(self) -> None:
        if self.closed:
            raise ScopeClosedError(f"scope {self.name!r} is closed")

    def _hold(self, handle: Handle, release: Callable[[], None]) -> Handle:
        handle._release = release
        handle._key = next(Scope._ids)
        self._held[handle._key] = handle
        return handle

    def defer(self, release: Callable[[], None], kind: str = "callback", label: str = "") -> Handle:
        """Run ``release`` when the scope closes (or when the handle is released)."""
        self._check_open()
        return self._hold(Handle(self, kind, label), release)

    def child(self, name: str) -> Scope:
        """A nested scope, closed with this one; closing it early removes it from this one."""
        self._check_open()
        child = Scope(self.platform, name=f"{self.name}/{name}", parent=self)
        handle = Handle(self, "scope", name)
        handle.value = child
        child._parent_handle = handle
        self._hold(handle, child._close_contents)
        return child

    def proxy(self, fn: Callable[..., Any], label: str = "") -> Any:
        """A ``create_proxy`` handle for ``fn``, destroyed when the scope closes."""
        self._check_open()
        proxy = self.platform.create_proxy(fn)
        handle = Handle(self, "proxy", label)
        handle.value = proxy
        self._hold(handle, proxy.destroy)
        return proxy

    def listen(self, target: Any, event_type: str, fn: Callable[[Any], None], label: str = "") -> Handle:
        """``target.addEventListener(event_type, proxy(fn))``; released by removing it, then destroying the proxy.

        Errors raised by ``fn`` are reported, not propagated (one bad handler must not break the page).
        """
        self._check_open()
        proxy = self.platform.create_proxy(self._guarded(fn, f"{event_type} listener {label}"))
        try:
            target.addEventListener(event_type, proxy)
        except BaseException:
            proxy.destroy()
            raise

        def release() -> None:
            try:
                target.removeEventListener(event_type, proxy)
            finally:
                proxy.destroy()

        handle = Handle(self, "listener", f"{event_type}:{label}" if label else event_type)
        handle.value = proxy
        return self._hold(handle, release)

    def timeout(self, fn: Callable[[], None], delay_ms: float, label: str = "") -> Handle:
        """A one-shot timer; forgotten when it fires, cleared if released before."""
        return self._once("timeout", fn, label, lambda cb: self.platform.set_timeout(cb, delay_ms),
                          self.platform.clear_timeout)

    def animation_frame(self, fn: Callable[[float], None], label: str = "") -> Handle:
        """A ``requestAnimationFrame`` callback; forgotten when it runs, cancelled if released before."""
        return self._once("frame", fn, label, self.platform.request_animation_frame,
                          self.platform.cancel_animation_frame)

    def interval(self, fn: Callable[[], None], delay_ms: float, label: str = "") -> Handle:
        self._check_open()
        proxy = self.platform.create_proxy(self._guarded(fn, f"interval {label}"))
        try:
            timer_id = self.platform.set_interval(proxy, delay_ms)
        except BaseException:
            proxy.destroy()
            raise

        def release() -> None:
            try:
                self.platform.clear_interval(timer_id)
            finally:
                proxy.destroy()

        handle = Handle(self, "interval", label)
        handle.value = timer_id
        return self._hold(handle, release)

    def task(self, coro: Any, label: str = "") -> Handle:
        """Run a coroutine; cancelled on close, forgotten when it finishes."""
        self._check_open()
        task = self.platform.spawn(coro)
        handle = Handle(self, "task", label)
        handle.value = task
        self._hold(handle, task.cancel)

        def on_done(done_task: Any) -> None:
            self._forget(handle)
            if not done_task.cancelled() and done_task.exception() is not None:
                self.platform.report_error(done_task.exception(), f"task {label} in scope {self.name}")

        task.add_done_callback(on_done)
        return handle

    def _once(self, kind: str, fn: Callable[..., None], label: str, schedule: Callable[[Any], Any],
              cancel: Callable[[Any], None]) -> Handle:
        self._check_open()
        handle = Handle(self, kind, label)
        guarded = self._guarded(fn, f"{kind} {label}")

        def fire(*args: Any) -> None:
            if handle.released:
                return
            self._forget(handle)  # the once-callable destroys itself after this call
            guarded(*args)

        callback = self.platform.create_once_callable(fire)
        try:
            timer_id = schedule(callback)
        except BaseException:
            callback.destroy()
            raise

        def release() -> None:
            try:
                cancel(timer_id)
            finally:
                callback.destroy()

        handle.value = timer_id
        return self._hold(handle, release)

    def _guarded(self, fn: Callable[..., Any], context: str) -> Callable[..., Any]:
        platform = self.platform
        name = self.name

        def guarded(*args: Any) -> Any:
            try:
                return fn(*args)
            except Exception as exc:  # reported loudly; the event loop and other handlers go on
                platform.report_error(exc, f"{context} in scope {name}")
                return None

        return guarded

    # ---------------------------------------------------------------- releasing

    def _forget(self, handle: Handle) -> None:
        """Drop a handle whose resource is already gone (fired timer, finished task)."""
        handle.released = True
        self._held.pop(handle._key, None)

    def _release_handle(self, handle: Handle) -> BaseException | None:
        """Release one handle exactly once; return (after reporting) the error it raised, if any."""
        if handle.released:
            return None
        handle.released = True
        self._held.pop(handle._key, None)
        release, handle._release = handle._release, None
        try:
            if release is not None:
                release()
        except Exception as exc:
            try:
                self.platform.report_error(exc, f"releasing {handle.kind}:{handle.label} in scope {self.name}")
            except Exception:  # a broken reporter must not stop the cleanup either
                pass
            return exc
        return None

    def close(self) -> list[BaseException]:
        """Release everything still held, newest first; return the errors (already reported).

        Idempotent: a second call does nothing and returns []. A child scope also leaves its parent.
        """
        handle = self._parent_handle
        if handle is not None and self._parent is not None and not handle.released:
            self._parent._release_handle(handle)  # runs self._close_contents exactly once
            return list(self._last_errors)
        return self._close_contents()

    def _close_contents(self) -> list[BaseException]:
        if self._closed or self._closing:
            return []
        self._closing = True
        errors: list[BaseException] = []
        try:
            # Newest first. Each release is isolated; a release that acquires on this scope fails
            # with ScopeClosedError (reported), so the loop always ends.
            while self._held:
                handle = self._held[next(reversed(self._held))]
                try:
                    err = self._release_handle(handle)
                    if err is not None:
                        errors.append(err)
                    if handle.kind == "scope":
                        errors.extend(handle.value._last_errors)
                finally:
                    self._held.pop(handle._key, None)
        finally:
            self._closed = True
            self._closing = False
            self._last_errors = errors
        return errors

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{self.live_count()} live"
        return f"<Scope {self.name} {state}>"
