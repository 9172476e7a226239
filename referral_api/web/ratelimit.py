"""Login rate limits: at most N failures per key (an account, an IP address) in a window.

`RedisLoginLimiter` shares the counts between API replicas; `MemoryLoginLimiter` is for the
demo and tests (one process). Keys are hashed, so Redis never holds an e-mail address.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Protocol

from redis.asyncio import Redis

from referral_api.settings import Settings


def limiter_key(kind: str, value: str) -> str:
    return f"{kind}:{hashlib.sha256(value.encode('utf-8')).hexdigest()[:32]}"


class LoginLimiter(Protocol):
    async def blocked(self, keys: list[str]) -> bool: ...
    async def failed(self, keys: list[str]) -> None: ...
    async def reset(self, key: str) -> None: ...
    async def aclose(self) -> None: ...


class MemoryLoginLimiter:
    def __init__(self, max_failures: int, window_seconds: int,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.max_failures = max_failures
        self.window = window_seconds
        self.monotonic = monotonic
        self._failures: dict[str, list[float]] = {}

    def _recent(self, key: str) -> list[float]:
        since = self.monotonic() - self.window
        recent = [t for t in self._failures.get(key, []) if t > since]
        if recent:
            self._failures[key] = recent
        else:
            self._failures.pop(key, None)
        return recent

    async def blocked(self, keys: list[str]) -> bool:
        return any(len(self._recent(key)) >= self.max_failures for key in keys)

    async def failed(self, keys: list[str]) -> None:
        now = self.monotonic()
        for key in keys:
            self._failures.setdefault(key, []).append(now)

    async def reset(self, key: str) -> None:
        self._failures.pop(key, None)

    async def aclose(self) -> None:
        self._failures.clear()


class RedisLoginLimiter:
    """A fixed window per key: INCR, and EXPIRE when the window opens."""

    def __init__(self, redis: Redis, max_failures: int, window_seconds: int,
                 prefix: str = "conex:staff:login") -> None:
        self.redis = redis
        self.max_failures = max_failures
        self.window = window_seconds
        self.prefix = prefix

    async def blocked(self, keys: list[str]) -> bool:
        values = await self.redis.mget([f"{self.prefix}:{key}" for key in keys])
        return any(value is not None and int(value) >= self.max_failures for value in values)

    async def failed(self, keys: list[str]) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            for key in keys:
                pipe.incr(f"{self.prefix}:{key}")
                pipe.expire(f"{self.prefix}:{key}", self.window, nx=True)
            await pipe.execute()

    async def reset(self, key: str) -> None:
        await self.redis.delete(f"{self.prefix}:{key}")

    async def aclose(self) -> None:
        await self.redis.aclose()


def create_login_limiter(settings: Settings) -> LoginLimiter:
    """Redis when REDIS_URL is set (shared by every API replica), else in memory."""
    window = settings.staff_login_window_minutes * 60
    if settings.redis_url:
        return RedisLoginLimiter(Redis.from_url(settings.redis_url),
                                 settings.staff_login_max_failures, window)
    return MemoryLoginLimiter(settings.staff_login_max_failures, window)
