"""The cluster's store on Redis (``redis.asyncio``): every operation of :class:`~.store.Store`.

Keys (``S`` the service, ``K`` a group key, ``E`` its epoch)::

    odds:lease:<name>         "<token> <holder>" with a TTL: the lease (fencing token first)
    odds:fence:<name>         the last token handed out (INCR, never below Redis's clock in ms:
                              tokens only grow, across a restart too)
    odds:S:groups             hash K -> {"spec","epoch","kind","cost"} of every wanted group
    odds:S:i:K                zset: processes interested in K, scored by expiry (ms, Redis time)
    odds:S:s:K:E              stream of the incarnation's frames, entry id "<seq>-0", field f
    odds:S:m:K:E              hash: seq, snap, snap_seq
    odds:S:c:K:E              pub/sub channel: "F<seq> <frame>" for each frame
    odds:S:calls              list of calls for the leader: "<reply key>\\n<request>"
    odds:reply:<id>           list holding one call's reply (expires)
    odds:v:<name>             small values with a TTL (the leader's metrics)
    odds:procs, odds:procs:x  hash process -> info, zset process -> expiry
    odds:health:leases        zset: the tracker's health leases ("<game>|<process>|<role>") by expiry
    odds:health:values        hash lease -> its value
    odds:health:totals        hash: messages, errors, last, first, evicted
    odds:health:seconds       hash slot (epoch second % 60) -> "<second> <messages>"

Everything that must not interleave with another process -- acquiring, renewing and checking a
lease, admitting a group under the cluster's limits, publishing a frame with its sequence number
and snapshot -- is one Lua script, so Redis runs it atomically. Times inside scripts come from
Redis's own clock (``TIME``), so processes on different machines agree on expiries.

Time in this adapter: its network timeouts stay on real time on purpose -- the socket's connect and
read timeouts, the ``BLPOP``/``BRPOP`` timeouts of calls (Redis counts those itself), the pub/sub
read's one-second poll and the wait for a (un)subscribe confirmation (``CONFIRM_TIMEOUT``): they
bound how long a real socket may keep us waiting, and a fake clock could not make Redis answer
sooner. What is logic runs elsewhere on the injected clock (leases, renewals and TTL choices in
``lease.py``, ``leader.py``, ``edge.py``) or inside Redis; the pub/sub reader's reconnect delays
go through the clock it is given (``RedisStore(clock=...)``). ``MemoryStore``, the stand-in
of the unit tests, runs every wait on its clock.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable

import msgspec
import redis.asyncio as redis
from redis.exceptions import RedisError, ResponseError

from backend.clock import SYSTEM_CLOCK, Clock

from .store import (
    Admission,
    Fenced,
    HealthItem,
    HealthRollup,
    Message,
    Meta,
    OnMessage,
    StoreError,
    Wanted,
    decode_message,
)

log = logging.getLogger(__name__)

_NOW_MS = "local t = redis.call('TIME'); local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)"

# A token is never below Redis's clock in ms: a Redis restarted empty still hands out tokens above
# every token of before, so a holder from before the restart stays fenced.
ACQUIRE = _NOW_MS + """
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local token = redis.call('INCR', KEYS[2])
if token < now then
  token = now
  redis.call('SET', KEYS[2], token)
end
redis.call('SET', KEYS[1], token .. ' ' .. ARGV[1], 'PX', ARGV[2])
return token
"""

RENEW = """
local v = redis.call('GET', KEYS[1])
if not v or string.match(v, '^(%d+)') ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""

RELEASE = """
local v = redis.call('GET', KEYS[1])
if v and string.match(v, '^(%d+)') == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
"""

# KEYS: groups hash, interest zset of K; ARGV: K, spec, kind, cost, kind_limit(-1), budget(-1), process,
# ttl_ms, new_epoch, interest key prefix
ADMIT = _NOW_MS + """
local rec = redis.call('HGET', KEYS[1], ARGV[1])
if not rec then
  local kinds, used = 0, 0
  local all = redis.call('HGETALL', KEYS[1])
  for i = 1, #all, 2 do
    local key = all[i]
    local ikey = ARGV[10] .. key
    redis.call('ZREMRANGEBYSCORE', ikey, '-inf', now)
    if redis.call('ZCARD', ikey) == 0 then
      redis.call('HDEL', KEYS[1], key)
    else
      local g = cjson.decode(all[i + 1])
      if g.kind == ARGV[3] then kinds = kinds + 1 end
      used = used + g.cost
    end
  end
  if tonumber(ARGV[5]) >= 0 and kinds >= tonumber(ARGV[5]) then return {0, '', 'kind'} end
  if tonumber(ARGV[6]) >= 0 and used + tonumber(ARGV[4]) > tonumber(ARGV[6]) then return {0, '', 'budget'} end
  if ARGV[11] == '1' then return {1, '', ''} end
  rec = cjson.encode({spec = ARGV[2], epoch = ARGV[9], kind = ARGV[3], cost = tonumber(ARGV[4])})
  redis.call('HSET', KEYS[1], ARGV[1], rec)
end
if ARGV[11] == '1' then return {1, cjson.decode(rec).epoch, ''} end
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[8]), ARGV[7])
return {1, cjson.decode(rec).epoch, ''}
"""

# KEYS: groups hash; ARGV: process, ttl_ms, interest prefix, K1, E1, K2, E2, ...; returns the lost Ks
REFRESH = _NOW_MS + """
local lost = {}
for i = 4, #ARGV, 2 do
  local record = redis.call('HGET', KEYS[1], ARGV[i])
  if record and cjson.decode(record).epoch == ARGV[i + 1] then
    redis.call('ZADD', ARGV[3] .. ARGV[i], now + tonumber(ARGV[2]), ARGV[1])
  else
    lost[#lost + 1] = ARGV[i]
  end
end
return lost
"""

# KEYS: groups hash, interest zset of K; ARGV: K, process
LEAVE = """
redis.call('ZREM', KEYS[2], ARGV[2])
if redis.call('ZCARD', KEYS[2]) == 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('DEL', KEYS[2])
end
return 1
"""

# KEYS: groups hash; ARGV: interest prefix
WANTED = _NOW_MS + """
local out = {}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local ikey = ARGV[1] .. all[i]
  redis.call('ZREMRANGEBYSCORE', ikey, '-inf', now)
  if redis.call('ZCARD', ikey) == 0 then
    redis.call('HDEL', KEYS[1], all[i])
    redis.call('DEL', ikey)
  else
    out[#out + 1] = all[i]
    out[#out + 1] = all[i + 1]
  end
end
return out
"""

# KEYS: lease, stream, meta; ARGV: token, frame (or ''), snapshot (or ''), maxlen, channel, has_frame, has_snap
PUBLISH = """
local v = redis.call('GET', KEYS[1])
if not v or string.match(v, '^(%d+)') ~= ARGV[1] then return redis.error_reply('FENCED') end
local seq = tonumber(redis.call('HGET', KEYS[3], 'seq') or '0')
if ARGV[6] == '1' then
  seq = redis.call('HINCRBY', KEYS[3], 'seq', 1)
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], seq .. '-0', 'f', ARGV[2])
  redis.call('PUBLISH', ARGV[5], 'F' .. seq .. ' ' .. ARGV[2])
end
if ARGV[7] == '1' then
  redis.call('HSET', KEYS[3], 'snap', ARGV[3], 'snap_seq', seq)
end
return seq
"""

# KEYS: stream, meta
META = """
local m = redis.call('HMGET', KEYS[2], 'seq', 'snap', 'snap_seq')
local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)
local f = false
if first[1] then f = first[1][1] end
return {m[1] or '0', m[2] or false, m[3] or '0', f}
"""

# KEYS: info hash, expiry zset; ARGV: process, info, ttl_ms
REPORT = _NOW_MS + """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), ARGV[1])
return 1
"""

# KEYS: leases zset (expiry), values hash, totals hash, seconds hash; ARGV: cap, then per item 6 values:
# member, value, ttl_ms, delta_messages, delta_errors, last_message_at ('' if none)
HEALTH_REPORT = _NOW_MS + """
local sec = math.floor(now / 1000)
for i = 2, #ARGV, 6 do
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[i + 2]), ARGV[i])
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
  redis.call('HINCRBY', KEYS[3], 'messages', ARGV[i + 3])
  redis.call('HINCRBY', KEYS[3], 'errors', ARGV[i + 4])
  if ARGV[i + 5] ~= '' then redis.call('HSET', KEYS[3], 'last', ARGV[i + 5]) end
  redis.call('HSETNX', KEYS[3], 'first', sec)
  local slot = tostring(sec % 60)
  local cur = redis.call('HGET', KEYS[4], slot)
  local at, n = sec, 0
  if cur then
    local s, c = string.match(cur, '^(%d+) (%d+)$')
    if tonumber(s) == sec then n = tonumber(c) end
  end
  redis.call('HSET', KEYS[4], slot, sec .. ' ' .. (n + tonumber(ARGV[i + 3])))
end
local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
for _, m in ipairs(gone) do redis.call('HDEL', KEYS[2], m) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local extra = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[1])
if extra > 0 then
  local old = redis.call('ZPOPMIN', KEYS[1], extra)
  for j = 1, #old, 2 do redis.call('HDEL', KEYS[2], old[j]) end
  redis.call('HINCRBY', KEYS[3], 'evicted', extra)
end
return 1
"""

HEALTH_ROLLUP = _NOW_MS + """
local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
for _, m in ipairs(gone) do redis.call('HDEL', KEYS[2], m) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return {redis.call('HVALS', KEYS[2]), redis.call('HGETALL', KEYS[3]), redis.call('HVALS', KEYS[4]),
        math.floor(now / 1000)}
"""

PROCESSES = _NOW_MS + """
local gone = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
for _, p in ipairs(gone) do redis.call('HDEL', KEYS[1], p) end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
return redis.call('HGETALL', KEYS[1])
"""


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


class RedisStore:
    def __init__(self, url: str, *, prefix: str = "odds", clock: Clock = SYSTEM_CLOCK) -> None:
        self.url = url
        self.prefix = prefix
        self.clock = clock
        self.client = redis.from_url(url, socket_connect_timeout=2.0, socket_timeout=5.0,
                                     health_check_interval=5, retry_on_timeout=False)
        self._scripts = {name: self.client.register_script(text) for name, text in (
            ("acquire", ACQUIRE), ("renew", RENEW), ("release", RELEASE), ("admit", ADMIT), ("refresh", REFRESH),
            ("leave", LEAVE), ("wanted", WANTED), ("publish", PUBLISH), ("meta", META), ("report", REPORT),
            ("processes", PROCESSES), ("health_report", HEALTH_REPORT), ("health_rollup", HEALTH_ROLLUP))}

    # -- helpers ------------------------------------------------------------------------------------
    def _k(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    async def _run(self, name: str, keys: list[str], args: list[object]) -> object:
        try:
            return await self._scripts[name](keys=keys, args=args)
        except ResponseError as exc:
            if "FENCED" in str(exc):
                raise Fenced(str(exc)) from None
            raise StoreError(f"redis {name}: {exc}") from exc
        except (RedisError, OSError) as exc:
            raise StoreError(f"redis {name}: {exc}") from exc

    async def _cmd(self, coro: object) -> object:
        try:
            return await coro  # type: ignore[misc]
        except (RedisError, OSError) as exc:
            raise StoreError(f"redis: {exc}") from exc

    async def ping(self) -> bool:
        try:
            return bool(await self.client.ping())
        except (RedisError, OSError):
            return False

    # -- leases ---------------------------------------------------------------------------------
    async def acquire_lease(self, name: str, holder: str, ttl: float) -> int | None:
        token = await self._run("acquire", [self._k("lease", name), self._k("fence", name)], [holder, _ms(ttl)])
        return int(token) if token else None

    async def renew_lease(self, name: str, token: int, ttl: float) -> bool:
        return bool(await self._run("renew", [self._k("lease", name)], [token, _ms(ttl)]))

    async def release_lease(self, name: str, token: int) -> None:
        await self._run("release", [self._k("lease", name)], [token])

    async def lease_holder(self, name: str) -> tuple[int, str] | None:
        value = await self._cmd(self.client.get(self._k("lease", name)))
        if not value:
            return None
        token, _, holder = value.decode().partition(" ")
        return int(token), holder

    # -- groups ---------------------------------------------------------------------------------
    async def admit(self, service: str, key: str, spec: bytes, kind: str, cost: int, kind_limit: int | None,
                    budget: int | None, process: str, ttl: float, new_epoch: str, dry_run: bool = False) -> Admission:
        ok, epoch, reason = await self._run(  # type: ignore[misc]
            "admit", [self._k(service, "groups"), self._k(service, "i", key)],
            [key, spec, kind, cost, -1 if kind_limit is None else kind_limit, -1 if budget is None else budget,
             process, _ms(ttl), new_epoch, self._k(service, "i", ""), "1" if dry_run else "0"])
        return Admission(bool(ok), epoch.decode() if isinstance(epoch, bytes) else str(epoch),
                         reason.decode() if isinstance(reason, bytes) else str(reason))

    async def refresh(self, service: str, groups: list[tuple[str, str]], process: str, ttl: float) -> list[str]:
        if not groups:
            return []
        lost = await self._run("refresh", [self._k(service, "groups")],
                               [process, _ms(ttl), self._k(service, "i", ""), *(x for g in groups for x in g)])
        return [key.decode() for key in lost]  # type: ignore[union-attr]

    async def leave(self, service: str, key: str, process: str) -> None:
        await self._run("leave", [self._k(service, "groups"), self._k(service, "i", key)], [key, process])

    async def wanted(self, service: str) -> dict[str, Wanted]:
        flat = await self._run("wanted", [self._k(service, "groups")], [self._k(service, "i", "")])
        out: dict[str, Wanted] = {}
        items = list(flat)  # type: ignore[arg-type]
        for i in range(0, len(items), 2):
            record = msgspec.json.decode(items[i + 1])
            out[items[i].decode()] = Wanted(record["spec"].encode(), record["epoch"])
        return out

    # -- frames ---------------------------------------------------------------------------------
    def _frame_keys(self, service: str, key: str, epoch: str) -> tuple[str, str]:
        return self._k(service, "s", key, epoch), self._k(service, "m", key, epoch)

    def channel(self, service: str, key: str, epoch: str) -> str:
        return self._k(service, "c", key, epoch)

    async def publish(self, service: str, key: str, epoch: str, lease: str, token: int, frame: bytes | None,
                      snapshot: bytes | None, maxlen: int) -> int:
        stream, meta = self._frame_keys(service, key, epoch)
        seq = await self._run("publish", [self._k("lease", lease), stream, meta],
                              [token, frame or b"", snapshot or b"", maxlen, self.channel(service, key, epoch),
                               "1" if frame is not None else "0", "1" if snapshot is not None else "0"])
        return int(seq)  # type: ignore[arg-type]

    async def publish_many(self, service: str, lease: str, token: int, maxlen: int,
                           items: list[tuple[str, str, bytes | None, bytes | None]]) -> list[int | Exception]:
        """One pipeline, so the frames run in order on one connection; each result on its own."""
        pipe = self.client.pipeline(transaction=False)
        script = self._scripts["publish"]
        try:
            for key, epoch, frame, snapshot in items:
                stream, meta = self._frame_keys(service, key, epoch)
                await script(keys=[self._k("lease", lease), stream, meta],  # queued on the pipeline
                             args=[token, frame or b"", snapshot or b"", maxlen, self.channel(service, key, epoch),
                                   "1" if frame is not None else "0", "1" if snapshot is not None else "0"],
                             client=pipe)
            results = await pipe.execute(raise_on_error=False)
        except (RedisError, OSError) as exc:
            raise StoreError(f"redis publish: {exc}") from exc
        out: list[int | Exception] = []
        for result in results:
            if isinstance(result, ResponseError) and "FENCED" in str(result):
                out.append(Fenced(str(result)))
            elif isinstance(result, Exception):
                out.append(StoreError(str(result)))
            else:
                out.append(int(result))
        return out

    async def meta(self, service: str, key: str, epoch: str) -> Meta:
        stream, meta = self._frame_keys(service, key, epoch)
        seq, snap, snap_seq, first = await self._run("meta", [stream, meta], [])  # type: ignore[misc]
        seq = int(seq)
        first_seq = int(first.split(b"-")[0]) if first else seq + 1
        return Meta(seq, first_seq, snap if snap else None, int(snap_seq))

    async def frames(self, service: str, key: str, epoch: str, after: int, upto: int | None = None
                     ) -> list[tuple[int, bytes]]:
        stream, _ = self._frame_keys(service, key, epoch)
        entries = await self._cmd(self.client.xrange(stream, f"({after}-0", f"{upto}-0" if upto else "+"))
        return [(int(entry_id.split(b"-")[0]), fields[b"f"]) for entry_id, fields in entries]  # type: ignore[union-attr]

    async def drop(self, service: str, key: str, epoch: str) -> None:
        await self._cmd(self.client.delete(*self._frame_keys(service, key, epoch)))

    def subscriber(self, on_message: OnMessage) -> RedisSubscriber:
        return RedisSubscriber(self, on_message)

    # -- calls, values, processes -----------------------------------------------------------------
    async def call(self, service: str, request: bytes, timeout: float) -> bytes | None:
        reply_to = self._k("reply", uuid.uuid4().hex)
        await self._cmd(self.client.lpush(self._k(service, "calls"), reply_to.encode() + b"\n" + request))
        try:
            answer = await self.client.blpop([reply_to], timeout=max(1, int(timeout + 0.999)))
        except (RedisError, OSError) as exc:
            raise StoreError(f"redis call: {exc}") from exc
        return answer[1] if answer else None

    async def next_call(self, service: str, timeout: float) -> tuple[str, bytes] | None:
        try:
            item = await self.client.brpop([self._k(service, "calls")], timeout=max(1, int(timeout + 0.999)))
        except (RedisError, OSError) as exc:
            raise StoreError(f"redis next_call: {exc}") from exc
        if not item:
            return None
        reply_to, _, request = item[1].partition(b"\n")
        return reply_to.decode(), request

    async def reply(self, reply_to: str, response: bytes) -> None:
        pipe = self.client.pipeline(transaction=False)
        pipe.lpush(reply_to, response)
        pipe.expire(reply_to, 30)
        await self._cmd(pipe.execute())

    async def put(self, name: str, value: bytes, ttl: float) -> None:
        await self._cmd(self.client.set(self._k("v", name), value, px=_ms(ttl)))

    async def get(self, name: str) -> bytes | None:
        return await self._cmd(self.client.get(self._k("v", name)))  # type: ignore[return-value]

    async def report_process(self, process: str, info: bytes, ttl: float) -> None:
        await self._run("report", [self._k("procs"), self._k("procs", "x")], [process, info, _ms(ttl)])

    async def processes(self) -> dict[str, bytes]:
        flat = list(await self._run("processes", [self._k("procs"), self._k("procs", "x")], []))  # type: ignore[arg-type]
        return {flat[i].decode(): flat[i + 1] for i in range(0, len(flat), 2)}

    def _health_keys(self) -> list[str]:
        return [self._k("health", "leases"), self._k("health", "values"), self._k("health", "totals"),
                self._k("health", "seconds")]

    async def health_report(self, items: list[HealthItem], cap: int) -> None:
        args: list[object] = [cap]
        for item in items:
            args += [item.member, item.value, _ms(item.ttl), item.delta_messages, item.delta_parse_errors,
                     "" if item.last_message_at is None else repr(item.last_message_at)]
        await self._run("health_report", self._health_keys(), args)

    async def health_rollup(self) -> HealthRollup:
        values, totals, seconds, now = await self._run("health_rollup", self._health_keys(), [])  # type: ignore[misc]
        t = {totals[i].decode(): totals[i + 1].decode() for i in range(0, len(totals), 2)}
        by_second: dict[int, int] = {}
        for entry in seconds:
            sec, _, count = entry.decode().partition(" ")
            if int(sec) > int(now) - 60:
                by_second[int(sec)] = int(count)
        return HealthRollup(list(values), int(t.get("messages", 0)), int(t.get("errors", 0)),
                            float(t["last"]) if "last" in t else None,
                            float(t["first"]) if "first" in t else None, by_second, int(t.get("evicted", 0)))

    async def close(self) -> None:
        try:
            await self.client.aclose()
        except (RedisError, OSError):
            pass


CONFIRM_TIMEOUT = 2.0  # seconds (un)subscribe waits for Redis to confirm before carrying on anyway


class RedisSubscriber:
    """One pub/sub connection for every channel this process follows. It reconnects by itself
    (subscribing every channel again) and then tells the owner (``on_reconnect``) so it can fill
    whatever it missed while away; :meth:`subscribe` never fails for want of Redis."""

    def __init__(self, store: RedisStore, on_message: OnMessage) -> None:
        self.store = store
        self.on_message = on_message
        self.on_reconnect: Callable[[], None] | None = None
        self.channels: set[str] = set()
        self._pubsub = store.client.pubsub()
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._confirm: dict[tuple[bytes, str], asyncio.Future[None]] = {}  # (b"subscribe", channel) -> when confirmed
        self.connected = False
        self.reconnects = 0

    async def subscribe(self, channel: str) -> None:
        """Follow ``channel``. When Redis answers, the subscription is confirmed on return, so what is
        read from the store next cannot miss a notification (if it does not answer in time, the
        reader subscribes it on reconnecting and the owner repairs what was missed)."""
        self.channels.add(channel)
        try:
            if not self.connected and self._task is None:  # the first subscription opens the connection
                await self._connect()
                self.connected = True
            elif self.connected:
                await self._pubsub.subscribe(channel)
            else:
                return  # the reader is reconnecting: it subscribes every channel
        except (RedisError, OSError, RuntimeError) as exc:
            self._lost(exc)
            return
        finally:
            self._start()
        await self._confirmed(b"subscribe", channel)

    async def unsubscribe(self, channel: str) -> None:
        """Stop following ``channel``; nothing more of it reaches the owner after this returns."""
        self.channels.discard(channel)
        if self.connected:
            try:
                await self._pubsub.unsubscribe(channel)
            except (RedisError, OSError, RuntimeError):
                return  # gone locally: a reconnect will not subscribe it again
            await self._confirmed(b"unsubscribe", channel)

    def _start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._read(), name="cluster-subscriber")
        self._wake.set()

    async def _confirmed(self, kind: bytes, channel: str) -> None:
        future = self._confirm.setdefault((kind, channel), asyncio.get_running_loop().create_future())
        try:
            await asyncio.wait_for(asyncio.shield(future), CONFIRM_TIMEOUT)
        except TimeoutError:
            log.debug("cluster: no %s confirmation for %s in %gs", kind.decode(), channel, CONFIRM_TIMEOUT)
        finally:
            if self._confirm.get((kind, channel)) is future:
                del self._confirm[(kind, channel)]

    def _lost(self, exc: BaseException) -> None:
        if self.connected:
            log.warning("cluster: pub/sub connection lost (%s); reconnecting", exc)
        self.connected = False

    async def _connect(self) -> None:
        old, self._pubsub = self._pubsub, self.store.client.pubsub()
        try:
            await old.aclose()
        except (RedisError, OSError, RuntimeError):
            pass
        await self._pubsub.subscribe(*self.channels)

    async def _read(self) -> None:
        delay = 0.1
        first = not self.connected  # a first connection is no reconnection
        while True:
            if not self.channels and not self._confirm:
                self._wake.clear()
                await self._wake.wait()
                continue
            if not self.connected:
                try:
                    await self._connect()
                except (RedisError, OSError, RuntimeError):
                    await self.store.clock.sleep(delay)
                    delay = min(2.0, delay * 2)
                    continue
                self.connected = True
                delay = 0.1
                if not first:
                    self.reconnects += 1
                    if self.on_reconnect is not None:
                        self.on_reconnect()
                first = False
            try:
                message = await self._pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError, ValueError, RuntimeError) as exc:
                self._lost(exc)
                await self.store.clock.sleep(delay)
                continue
            if message is None:
                continue
            kind, channel = message["type"], message["channel"].decode()
            if kind in ("subscribe", "unsubscribe"):
                future = self._confirm.get((kind.encode(), channel))
                if future is not None and not future.done():
                    future.set_result(None)
                continue
            if kind != "message" or channel not in self.channels:
                continue  # (a channel given up while its last messages were on the way)
            try:
                self.on_message(channel, decode_message(message["data"]))
            except Exception:
                log.exception("cluster: handling a message of %s failed", channel)

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        try:
            await self._pubsub.aclose()
        except (RedisError, OSError, AttributeError, RuntimeError):
            pass


__all__ = ["Message", "RedisStore", "RedisSubscriber"]
