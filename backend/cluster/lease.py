"""Holding a lease: become the holder when the lease is free, renew it, step down before it can lapse.

:class:`LeaseKeeper` runs in every process for each upstream (``"hub"``, ``"tracker"``). While it
does not hold the lease it tries to take it every ``retry`` seconds; once it does, it renews it every
``ttl / 3`` seconds. It counts itself the holder only until ``valid_until`` -- the time a renewal
started plus ``ttl * margin`` -- so when renewals fail (Redis away, the process paused) it steps down
*before* the lease can expire in Redis and another process take over: at no time do two processes
both think they hold it. Writes are fenced anyway (the store rejects a stale token), so even a
process that was paused past that moment cannot write.

``on_acquired(token)`` and ``on_lost()`` are called in the keeper's task; they must not block.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from backend.clock import Clock, within

from .store import Store, StoreError

log = logging.getLogger(__name__)


class LeaseKeeper:
    def __init__(self, store: Store, name: str, holder: str, clock: Clock, *, ttl: float = 5.0,
                 margin: float = 0.7, retry: float = 1.0, on_acquired: Callable[[int], None] | None = None,
                 on_lost: Callable[[], None] | None = None) -> None:
        self.store = store
        self.name = name
        self.holder = holder
        self.clock = clock
        self.ttl = ttl
        self.margin = margin
        self.retry = retry
        self.on_acquired = on_acquired
        self.on_lost = on_lost
        self.token: int | None = None
        self.valid_until = 0.0
        self.acquired_total = 0
        self.lost_total = 0
        self.errors_total = 0

    @property
    def holding(self) -> bool:
        return self.token is not None and self.clock.monotonic() < self.valid_until

    async def run(self) -> None:
        try:
            while True:
                if self.token is None:
                    await self._try_acquire()
                    await self.clock.sleep(self.retry if self.token is None else self.ttl / 3)
                else:
                    await self._renew()
                    if self.token is not None:
                        # sleep until the next renewal, but never past the moment we stop counting on it
                        await self.clock.sleep(max(0.0, min(self.ttl / 3, self.valid_until - self.clock.monotonic())))
        finally:
            token = self.token
            if token is not None:
                self._lose("stopping")
                try:
                    await within(self.clock, 1.0, self.store.release_lease(self.name, token))
                except (StoreError, TimeoutError):
                    pass  # it expires by itself

    async def _try_acquire(self) -> None:
        started = self.clock.monotonic()
        try:
            token = await within(self.clock, self.ttl * self.margin / 2,
                                 self.store.acquire_lease(self.name, self.holder, self.ttl))
        except (StoreError, TimeoutError) as exc:
            self.errors_total += 1
            log.debug("lease %s: acquiring failed: %s", self.name, exc)
            return
        if token is None:
            return
        self.token = token
        self.valid_until = started + self.ttl * self.margin
        self.acquired_total += 1
        log.info("lease %s: acquired (token %d) by %s", self.name, token, self.holder)
        if self.on_acquired is not None:
            self.on_acquired(token)

    async def _renew(self) -> None:
        token = self.token
        assert token is not None
        if self.clock.monotonic() >= self.valid_until:
            self._lose("not renewed in time")
            return
        started = self.clock.monotonic()
        try:
            ok = await within(self.clock, max(0.001, self.valid_until - started),
                              self.store.renew_lease(self.name, token, self.ttl))
        except (StoreError, TimeoutError) as exc:
            self.errors_total += 1
            log.warning("lease %s: renewal failed (%s); holding until %.1fs from now", self.name, exc,
                        self.valid_until - self.clock.monotonic())
            if self.clock.monotonic() >= self.valid_until:
                self._lose("not renewed in time")
            return
        if not ok:
            self._lose("taken by another process")
            return
        self.valid_until = started + self.ttl * self.margin

    def _lose(self, why: str) -> None:
        if self.token is None:
            return
        log.log(logging.INFO if why == "stopping" else logging.WARNING, "lease %s: %s (%s)", self.name,
                "released" if why == "stopping" else "lost", why)
        self.token = None
        self.valid_until = 0.0
        self.lost_total += 1
        if self.on_lost is not None:
            self.on_lost()
