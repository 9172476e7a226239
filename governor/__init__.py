"""One outbound governor for every Telegram call, shared by every process through Redis.

Telegram's documented limits ("My bot is hitting limits", Bot FAQ): avoid more than one message
a second to one chat (short bursts are tolerated), at most 20 messages a minute to one group,
and about 30 messages a second for *bulk notifications* to many users. Replies to people who
just wrote are not held to the bulk figure, yet any call may be answered 429 with
``retry_after`` at any time. So (docs/decisions.md, "One outbound governor"):

- **Bulk classes** (notices to people, partner cards, follow-up waves) are paced by one token
  bucket shared through Redis (default 28 a second, a little under Telegram's 30), and per chat
  (1 a second) and per group (20 a minute). Lower classes yield to higher ones: a class that
  is waiting for the shared bucket marks itself, and every lower class steps back while the
  mark is fresh (a class that empties the bucket marks itself too). In one process, one waiter
  per class asks Redis again while the others queue behind it (first come, first served, and no
  herd of Redis calls). Priorities: replies > notices > partner cards > waves.
- **Replies** (the bot answering a person who just acted) are not paced by us: they only take
  their share of the shared bucket (it may go into debt), so bulk yields to them. With
  ``Limits.pace_replies`` (``GOVERNOR_PACE_REPLIES=true``) they are paced by the bucket too,
  always: for a Telegram that counts them against the 30 a second.
- **Telegram pushes back** (429): the call waits ``retry_after`` and is sent again, in order,
  never dropped. Telegram does not say which limit was hit: a 429 in a group, or right after
  another message to the same chat, pauses that chat; otherwise it pauses every class, and for
  a cool-down period replies are paced by the bucket too (the "cautious" mode), so that a bot
  that is over the overall limit does not hammer Telegram.

Everything is decided by one Lua script per attempt (atomic across replicas), on the caller's
clock (``now`` passed in), so tests run on virtual time. The library ``limits`` offers atomic
Redis windows, but neither priorities, nor debt, nor pauses shared with a 429's retry_after:
one 60-line script does all three in one round trip.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from enum import IntEnum
from typing import Protocol

from redis.asyncio import Redis

log = logging.getLogger(__name__)


class Priority(IntEnum):
    """Who is waiting: lower values go first."""

    REPLY = 0  # the bot answering a person who just acted
    NOTICE = 1  # notices, reminders and relayed messages to people
    CARD = 2  # partner cards and their updates, coordinators' alerts
    WAVE = 3  # follow-up questionnaires


class Clock(Protocol):
    def now(self) -> float:
        """Seconds; every process sharing the governor must agree (wall time)."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class WallClock:
    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0.0))


@dataclass(frozen=True)
class Limits:
    bulk_rate: float = 28.0  # messages a second, all bulk classes together (Telegram: ~30)
    bulk_burst: float = 2.0  # bucket size: bulk_burst + bulk_rate stays under 30 in any second
    per_chat_interval: float = 1.0  # seconds between two bulk messages to one chat
    group_limit: int = 20  # messages to one group ...
    group_window: float = 60.0  # ... in this many seconds
    cautious_seconds: float = 30.0  # after an overall 429: replies paced too, this long
    yield_seconds: float = 1.0  # how long a waiting class's mark holds lower classes back
    max_sleep: float = 1.0  # re-check at least this often while waiting
    # Replies paced by the bucket too, always (not only for a while after a 429): for a
    # Telegram that counts replies against the 30 a second (GOVERNOR_PACE_REPLIES).
    pace_replies: bool = False


_ACQUIRE = """
-- KEYS: 1 bucket, 2 pause:all, 3 pause:chat, 4 last:chat, 5 group window, 6 cautious,
--       7.. want marks of priorities 0..3
-- ARGV: now_ms, priority, is_group, rate_per_ms, burst, chat_interval_ms, group_limit,
--       group_window_ms, yield_ms, member, pace ('0': only Telegram's pauses apply),
--       pace_replies ('1': replies always paced by the bucket)
local now = tonumber(ARGV[1])
local prio = tonumber(ARGV[2])
local is_group = ARGV[3] == '1'
local rate = tonumber(ARGV[4])
local burst = tonumber(ARGV[5])
local interval = tonumber(ARGV[6])
local glimit = tonumber(ARGV[7])
local gwindow = tonumber(ARGV[8])
local yield_ms = tonumber(ARGV[9])

-- 1. Telegram said "slow down": every class waits as told.
local wait = 0
local pa = tonumber(redis.call('GET', KEYS[2]) or '0')
if pa > now then wait = pa - now end
local pc = tonumber(redis.call('GET', KEYS[3]) or '0')
if pc > now and pc - now > wait then wait = pc - now end
-- Waits are whole milliseconds, at least 1 (Redis truncates Lua numbers to integers: a wait
-- of 0.4 ms would read as "go"). Reasons: 1 Telegram's pause, 2 the chat or group, 3 the bucket.
if wait > 0 then return {math.ceil(wait), 0, 1} end
if ARGV[11] == '0' then return {0, 0, 0} end

-- The shared bucket, refilled to now.
local b = redis.call('HMGET', KEYS[1], 't', 'ts')
local tokens = tonumber(b[1] or burst)
local ts = tonumber(b[2] or now)
if now > ts then tokens = math.min(burst, tokens + (now - ts) * rate) end
local last = tonumber(redis.call('GET', KEYS[4]) or '-1')
local recent = 0
if last >= 0 and now - last < interval then recent = 1 end

local function take(paced)
  tokens = tokens - 1
  if paced and tokens < 1 then  -- the bucket is contended: this class keeps lower ones back
    redis.call('SET', KEYS[7 + prio], tostring(now + yield_ms), 'PX', math.floor(yield_ms) + 60000)
  end
  if tokens < -burst - 1000 * rate then tokens = -burst - 1000 * rate end  -- debt: 1 s at most
  redis.call('HSET', KEYS[1], 't', tostring(tokens), 'ts', tostring(now))
  redis.call('PEXPIRE', KEYS[1], 60000)
  redis.call('SET', KEYS[4], tostring(now), 'PX', math.floor(interval) + 60000)
  if is_group then
    redis.call('ZADD', KEYS[5], now, ARGV[10])
    redis.call('PEXPIRE', KEYS[5], math.floor(gwindow) + 60000)
  end
  return {0, recent, 0}
end

-- 2. Replies are not paced by us (unless Telegram recently said the bot is over its limit).
local cautious = ARGV[12] == '1' or tonumber(redis.call('GET', KEYS[6]) or '0') > now
if prio == 0 and not cautious then return take(false) end

-- 3. Bulk (and cautious replies): per chat, per group, then the shared bucket.
if last >= 0 and last + interval > now then wait = last + interval - now end
if is_group then
  redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now - gwindow)
  if redis.call('ZCARD', KEYS[5]) >= glimit then
    local oldest = redis.call('ZRANGE', KEYS[5], 0, 0, 'WITHSCORES')
    local w = tonumber(oldest[2]) + gwindow - now
    if w > wait then wait = w end
  end
end
if wait > 0 then return {math.ceil(wait), 0, 2} end
-- A higher class is waiting for the bucket: step back.
for p = 0, prio - 1 do
  if tonumber(redis.call('GET', KEYS[7 + p]) or '0') > now then
    return {math.max(math.floor(1 / rate), 1), 0, 3}
  end
end
if tokens < 1 then
  redis.call('SET', KEYS[7 + prio], tostring(now + yield_ms), 'PX', math.floor(yield_ms) + 60000)
  return {math.max(math.ceil((1 - tokens) / rate), 1), 0, 3}
end
return take(true)
"""

_PUSHED_BACK = """
-- KEYS: 1 pause key, 2 cautious key (or the pause key again)
-- ARGV: until_ms, cautious_until_ms ('0': none), ttl_ms
-- Values are compared with the callers' clock; the TTLs only clean up (with slack, so that a
-- virtual clock in tests never sees a key vanish early).
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > cur then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3]) end
if ARGV[2] ~= '0' then
  local c = tonumber(redis.call('GET', KEYS[2]) or '0')
  if tonumber(ARGV[2]) > c then redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3]) end
end
return 1
"""

BUCKET = 3  # the script's reason code: waiting for the shared bucket

# The class of the calls made in this context: the bot's handlers reply (the default); the
# outbox worker sets the class of each message it sends.
current_priority: contextvars.ContextVar[Priority] = contextvars.ContextVar(
    "governor_priority", default=Priority.REPLY)


@contextlib.contextmanager
def priority(value: Priority) -> Iterator[None]:
    """``with priority(Priority.CARD): await bot(method)``."""
    token = current_priority.set(value)
    try:
        yield
    finally:
        current_priority.reset(token)


@dataclass
class Grant:
    """A send allowed now. ``after_recent``: the chat had a message less than a second ago
    (so a 429 on this send is most likely the chat's own limit, not the overall one)."""

    chat_id: int | None
    after_recent: bool


class Governor:
    """Redis-shared pacing of every call to Telegram (see the module's doc)."""

    def __init__(self, redis: Redis, prefix: str, *, limits: Limits | None = None,
                 clock: Clock | None = None) -> None:
        self.redis = redis
        self.prefix = f"{prefix}:gov"
        self.limits = limits or Limits()
        self.clock: Clock = clock or WallClock()
        self._acquire = redis.register_script(_ACQUIRE)
        self._pushed_back = redis.register_script(_PUSHED_BACK)
        self._seq = 0
        self._gates = {level: asyncio.Lock() for level in Priority}
        self.waited_seconds = 0.0  # for benchmarks: time spent waiting on pacing or pauses
        self.pushbacks = 0

    def _keys(self, chat_id: int | None) -> list[str]:
        p, chat = self.prefix, "none" if chat_id is None else str(chat_id)
        return [f"{p}:bucket", f"{p}:pause:all", f"{p}:pause:{chat}", f"{p}:last:{chat}",
                f"{p}:group:{chat}", f"{p}:cautious",
                *(f"{p}:want:{int(level)}" for level in Priority)]

    async def acquire(self, chat_id: int | None, level: Priority | None = None, *,
                      pace: bool = True) -> Grant:
        """Wait until a message to ``chat_id`` of class ``level`` (default: the context's)
        may go now, and record it. ``pace=False``: a call that adds no message (an edit, a
        callback answer): it only waits while Telegram holds the chat or the bot back."""
        level = current_priority.get() if level is None else level
        keys = self._keys(chat_id)
        while True:
            wait, recent, reason = await self._try(keys, chat_id, level, pace)
            if wait <= 0:
                return Grant(chat_id, recent)
            if reason != BUCKET:
                await self._sleep(wait)
                continue
            # Waiting for the shared bucket: in this process one waiter per class asks Redis
            # again, the others queue behind it (first come, first served; no herd of calls).
            async with self._gates[level]:
                while reason == BUCKET:
                    await self._sleep(wait)
                    wait, recent, reason = await self._try(keys, chat_id, level, pace)
                    if wait <= 0:
                        return Grant(chat_id, recent)

    async def _try(self, keys: list[str], chat_id: int | None, level: Priority,
                   pace: bool) -> tuple[float, bool, int]:
        lim = self.limits
        now_ms = self.clock.now() * 1000.0
        self._seq += 1
        wait_ms, recent, reason = await self._acquire(keys=keys, args=[
            repr(now_ms), int(level), "1" if chat_id is not None and chat_id < 0 else "0",
            repr(lim.bulk_rate / 1000), repr(lim.bulk_burst), repr(lim.per_chat_interval * 1000),
            lim.group_limit, repr(lim.group_window * 1000), repr(lim.yield_seconds * 1000),
            f"{now_ms}:{id(self)}:{self._seq}", "1" if pace else "0",
            "1" if lim.pace_replies else "0"])
        return float(wait_ms) / 1000.0, bool(int(recent)), int(reason)

    async def _sleep(self, wait: float) -> None:
        wait = min(wait, self.limits.max_sleep)
        self.waited_seconds += wait
        await self.clock.sleep(wait)

    async def pushed_back(self, grant: Grant, retry_after: float) -> None:
        """Telegram answered 429 to the send ``grant`` allowed: hold the chat, or everyone."""
        self.pushbacks += 1
        retry_after = max(float(retry_after), 0.0)
        now = self.clock.now()
        until_ms = str(math.ceil((now + retry_after) * 1000))
        chat = grant.chat_id
        keys = self._keys(chat)
        ttl_ms = str(math.ceil((retry_after + self.limits.cautious_seconds) * 1000) + 60000)
        if chat is not None and (chat < 0 or grant.after_recent):
            await self._pushed_back(keys=[keys[2], keys[2]], args=[until_ms, "0", ttl_ms])
            scope = "chat"
        else:
            cautious = str(math.ceil((now + retry_after + self.limits.cautious_seconds) * 1000))
            await self._pushed_back(keys=[keys[1], keys[5]], args=[until_ms, cautious, ttl_ms])
            scope = "all"
        log.warning("telegram flood control: %s held for %.0f s", scope, retry_after)
