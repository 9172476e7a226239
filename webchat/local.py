"""The demo's stand-in for Redis (`make demo` runs without it): the few commands
webchat.store uses, in this process's memory, with expiry. Production and every test use
Redis (REDIS_URL); this only spares a newcomer from installing it."""

from __future__ import annotations

import builtins
import time
from typing import Any


class LocalRedis:
    def __init__(self) -> None:
        self._data: dict[str, Any] = {}
        self._expires: dict[str, float] = {}

    def _live(self, name: str) -> Any:
        if name in self._expires and self._expires[name] <= time.monotonic():
            self._data.pop(name, None)
            self._expires.pop(name, None)
        return self._data.get(name)

    async def get(self, name: str) -> Any:
        return self._live(name)

    async def set(self, name: str, value: Any, ex: int | None = None, nx: bool = False) -> Any:
        if nx and self._live(name) is not None:
            return None
        self._data[name] = value if isinstance(value, bytes) else str(value)
        self._expires.pop(name, None)
        if ex is not None:
            self._expires[name] = time.monotonic() + ex
        return True

    async def delete(self, *names: str) -> int:
        gone = 0
        for name in names:
            gone += self._data.pop(name, None) is not None
            self._expires.pop(name, None)
        return gone

    async def exists(self, *names: str) -> int:
        return sum(self._live(n) is not None for n in names)

    async def expire(self, name: str, time_: int) -> bool:
        if self._live(name) is None:
            return False
        self._expires[name] = time.monotonic() + time_
        return True

    async def incr(self, name: str, amount: int = 1) -> int:
        value = int(self._live(name) or 0) + amount
        self._data[name] = str(value)
        return value

    def _hash(self, name: str) -> dict[str, Any]:
        value = self._live(name)
        if value is None:
            value = self._data[name] = {}
        return value  # type: ignore[no-any-return]

    async def hset(self, name: str, key: str, value: Any) -> int:
        fresh = key not in self._hash(name)
        self._hash(name)[key] = str(value)
        return int(fresh)

    async def hsetnx(self, name: str, key: str, value: Any) -> int:
        if key in self._hash(name):
            return 0
        self._hash(name)[key] = str(value)
        return 1

    async def hget(self, name: str, key: str) -> Any:
        value = self._live(name)
        return None if value is None else value.get(key)

    async def hmget(self, name: str, keys: list[str]) -> list[Any]:
        value = self._live(name)
        return [None if value is None else value.get(k) for k in keys]

    async def hdel(self, name: str, *keys: str) -> int:
        value = self._live(name)
        return 0 if value is None else sum(value.pop(k, None) is not None for k in keys)

    async def hincrby(self, name: str, key: str, amount: int = 1) -> int:
        table = self._hash(name)
        table[key] = str(int(table.get(key, 0)) + amount)
        return int(table[key])

    async def rpush(self, name: str, *values: Any) -> int:
        items = self._live(name)
        if items is None:
            items = self._data[name] = []
        items.extend(values)
        return len(items)

    async def lrange(self, name: str, start: int, end: int) -> list[Any]:
        items = self._live(name) or []
        return list(items[start:] if end == -1 else items[start:end + 1])

    async def llen(self, name: str) -> int:
        return len(self._live(name) or [])

    async def sadd(self, name: str, *values: Any) -> int:
        members = self._live(name)
        if members is None:
            members = self._data[name] = set()
        before = len(members)
        members.update(str(v) for v in values)
        return len(members) - before

    async def smembers(self, name: str) -> builtins.set[Any]:
        return set(self._live(name) or set())

    async def aclose(self) -> None:
        self._data.clear()
