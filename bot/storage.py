"""RedisStorage that reads a conversation in one round trip.

aiogram's FSM middleware reads the state key of every update; our handlers then read the data
key and the locale middleware reads the language key: three round trips (about 0.2 ms each)
before any work. This storage fetches all three with one MGET when the state is read, and
serves the data and the language from that read for the rest of the same update.

The prefetched values live in a ContextVar, so they never cross updates handled in other
tasks; every write updates them, so a handler always reads what it wrote.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any, cast

from aiogram.fsm.storage.base import StorageKey
from aiogram.fsm.storage.redis import RedisStorage

_prefetched: ContextVar[dict[str, bytes | None] | None] = ContextVar("conex_prefetched",
                                                                     default=None)


def prefetched(redis_key: str) -> tuple[bool, bytes | None]:
    """(found, value) for a key read together with the state in this update."""
    cache = _prefetched.get()
    if cache is None or redis_key not in cache:
        return False, None
    return True, cache[redis_key]


def remember(redis_key: str, value: bytes | None) -> None:
    cache = _prefetched.get()
    if cache is not None and redis_key in cache:
        cache[redis_key] = value


class PrefetchingRedisStorage(RedisStorage):
    def __init__(self, *args: Any, extra_keys: Callable[[StorageKey], list[str]] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.extra_keys = extra_keys or (lambda key: [])

    async def get_state(self, key: StorageKey) -> str | None:
        state_key = self.key_builder.build(key, "state")
        data_key = self.key_builder.build(key, "data")
        extra = self.extra_keys(key)
        values = cast(list[bytes | None], await self.redis.mget([state_key, data_key, *extra]))
        _prefetched.set(dict(zip([data_key, *extra], values[1:], strict=True)))
        state = values[0]
        return state.decode() if state is not None else None

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        found, value = prefetched(self.key_builder.build(key, "data"))
        if not found:
            return await super().get_data(key)
        if value is None:
            return {}
        return cast(dict[str, Any], self.json_loads(value.decode()))

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        await super().set_data(key, data)
        remember(self.key_builder.build(key, "data"),
                 self.json_dumps(data).encode() if data else None)
