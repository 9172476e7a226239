"""The person's explicit language choice, kept outside FSM data so that clearing a
conversation never loses it. Redis (with a TTL) in production, a dict in the demo."""

from __future__ import annotations

from typing import Protocol, cast

from redis.asyncio import Redis

from bot.storage import prefetched, remember


class LanguagePreferences(Protocol):
    async def get(self, bot_id: int, user_id: int) -> str | None: ...
    async def set(self, bot_id: int, user_id: int, locale: str) -> None: ...
    async def delete(self, bot_id: int, user_id: int) -> None: ...


class MemoryLanguagePreferences:
    def __init__(self) -> None:
        self._data: dict[tuple[int, int], str] = {}

    async def get(self, bot_id: int, user_id: int) -> str | None:
        return self._data.get((bot_id, user_id))

    async def set(self, bot_id: int, user_id: int, locale: str) -> None:
        self._data[(bot_id, user_id)] = locale

    async def delete(self, bot_id: int, user_id: int) -> None:
        self._data.pop((bot_id, user_id), None)


class RedisLanguagePreferences:
    def __init__(self, redis: Redis, prefix: str, ttl_seconds: int) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl = ttl_seconds

    def key(self, bot_id: int, user_id: int) -> str:
        return f"{self.prefix}:lang:{bot_id}:{user_id}"

    async def get(self, bot_id: int, user_id: int) -> str | None:
        key = self.key(bot_id, user_id)
        found, value = prefetched(key)  # read with the conversation state, in one round trip
        if not found:
            value = cast(bytes | None, await self.redis.get(key))
        return value.decode() if isinstance(value, bytes) else value

    async def set(self, bot_id: int, user_id: int, locale: str) -> None:
        await self.redis.set(self.key(bot_id, user_id), locale, ex=self.ttl)
        remember(self.key(bot_id, user_id), locale.encode())

    async def delete(self, bot_id: int, user_id: int) -> None:
        await self.redis.delete(self.key(bot_id, user_id))
        remember(self.key(bot_id, user_id), None)
