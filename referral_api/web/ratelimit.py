"""Login throttling: every attempt is counted before the password is checked, and past a free
number of attempts each further one must wait an increasing delay (1 s, 2 s, 4 s … up to a cap)
instead of a hard lockout.

Keys (issue 17, item 2; `login_budgets`):
- the account *and* the client IP together: 5 free attempts, then delays up to 15 minutes (the
  guesser at one account from one place);
- the client IP: 20 free, then delays up to 15 minutes (a password spray over many accounts);
- the account alone: 20 free, then delays of at most a minute (guessing from many places); an
  attacker can slow the owner of an account by a minute, never lock them out.

`attempt` is atomic: of 40 concurrent attempts at one account from one place, the 5 free ones
are checked and the rest are told to wait. `RedisLoginLimiter` (one Lua script) shares the counts
between API replicas; `MemoryLoginLimiter` is for the demo and tests (one process). Keys are
hashed, so Redis never holds an e-mail or an IP address.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis

from referral_api.settings import Settings


def limiter_key(kind: str, value: str) -> str:
    return f"{kind}:{hashlib.sha256(value.encode('utf-8')).hexdigest()[:32]}"


@dataclass(frozen=True, slots=True)
class Budget:
    key: str
    free: int  # attempts in the window before any delay
    max_delay: int  # seconds: the longest wait between two attempts
    cleared_by_success: bool = False  # a correct password starts this count again


def delay_after(count: int, budget: Budget) -> float:
    """The wait the `count`th attempt imposes on the next one: none before the last free
    attempt, then 1, 2, 4 … seconds up to the budget's cap."""
    if count < budget.free:
        return 0.0
    return float(min(2 ** min(count - budget.free, 30), budget.max_delay))


def login_budgets(settings: Settings, email: str, ip: str) -> list[Budget]:
    free = settings.staff_login_max_failures
    return [Budget(limiter_key("pair", f"{email}\n{ip}"), free, 15 * 60,
                   cleared_by_success=True),
            Budget(limiter_key("ip", ip), free * 4, 15 * 60),  # a spray is not forgiven
            Budget(limiter_key("account", email), free * 4, 60, cleared_by_success=True)]


class LoginLimiter(Protocol):
    async def attempt(self, budgets: Sequence[Budget]) -> float | None:
        """Count an attempt on every key; None: check the password now; else the seconds to
        wait before the next attempt may be checked."""

    async def reset(self, keys: Sequence[str]) -> None: ...  # see succeeded()
    async def aclose(self) -> None: ...


class MemoryLoginLimiter:
    def __init__(self, window_seconds: int,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.window = window_seconds
        self.monotonic = monotonic
        self._counts: dict[str, tuple[int, float]] = {}  # key -> (count, window end)
        self._gates: dict[str, float] = {}  # key -> the moment the next attempt may pass

    def _count(self, key: str, now: float) -> int:
        count, until = self._counts.get(key, (0, now + self.window))
        if until <= now:
            count, until = 0, now + self.window
        self._counts[key] = (count + 1, until)
        return count + 1

    async def attempt(self, budgets: Sequence[Budget]) -> float | None:
        now = self.monotonic()  # no await below: atomic within the event loop
        counts = [self._count(b.key, now) for b in budgets]
        wait = max((self._gates.get(b.key, now) - now for b, c in zip(budgets, counts,
                                                                        strict=True)
                    if c > b.free), default=0.0)
        if wait > 0:
            return wait
        for budget, count in zip(budgets, counts, strict=True):
            if count >= budget.free:
                self._gates[budget.key] = now + delay_after(count, budget)
        return None

    async def reset(self, keys: Sequence[str]) -> None:
        for key in keys:
            self._counts.pop(key, None)
            self._gates.pop(key, None)

    async def aclose(self) -> None:
        self._counts.clear()
        self._gates.clear()


# KEYS: the counters; ARGV: window seconds, then per key: free, max delay (seconds).
# Returns 0 (check the password) or the milliseconds to wait.
_ATTEMPT = """
local counts = {}
for i, key in ipairs(KEYS) do
  local c = redis.call('INCR', key)
  if c == 1 then redis.call('EXPIRE', key, ARGV[1]) end
  counts[i] = c
end
local wait = 0
for i, key in ipairs(KEYS) do
  if counts[i] > tonumber(ARGV[2 * i]) then
    local ttl = redis.call('PTTL', key .. ':gate')
    if ttl > wait then wait = ttl end
  end
end
if wait > 0 then return wait end
for i, key in ipairs(KEYS) do
  local free = tonumber(ARGV[2 * i])
  if counts[i] >= free then
    local delay = math.min(2 ^ math.min(counts[i] - free, 30), tonumber(ARGV[2 * i + 1]))
    redis.call('SET', key .. ':gate', 1, 'PX', math.floor(delay * 1000))
  end
end
return 0
"""


class RedisLoginLimiter:
    def __init__(self, redis: Redis, window_seconds: int,
                 prefix: str = "conex:staff:login") -> None:
        self.redis = redis
        self.window = window_seconds
        self.prefix = prefix
        self._script = redis.register_script(_ATTEMPT)

    async def attempt(self, budgets: Sequence[Budget]) -> float | None:
        args: list[int] = [self.window]
        for budget in budgets:
            args += [budget.free, budget.max_delay]
        wait = int(await self._script(keys=[f"{self.prefix}:{b.key}" for b in budgets],
                                      args=args))
        return wait / 1000 if wait > 0 else None

    async def reset(self, keys: Sequence[str]) -> None:
        names = [f"{self.prefix}:{key}" for key in keys]
        await self.redis.delete(*names, *(f"{name}:gate" for name in names))

    async def aclose(self) -> None:
        await self.redis.aclose()


def create_login_limiter(settings: Settings) -> LoginLimiter:
    """Redis when REDIS_URL is set (shared by every API replica), else in memory."""
    window = settings.staff_login_window_minutes * 60
    if settings.redis_url:
        return RedisLoginLimiter(Redis.from_url(settings.redis_url), window)
    return MemoryLoginLimiter(window)


async def succeeded(limiter: LoginLimiter, budgets: Sequence[Budget]) -> None:
    """The right password: the counts it clears start again."""
    await limiter.reset([b.key for b in budgets if b.cleared_by_success])
