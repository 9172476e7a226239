"""Webhook idempotency: Telegram re-sends an update when we answer non-2xx (and a load
balancer may retry), so each update_id is handled once (Redis SET NX with a TTL)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.types import TelegramObject, Update
from redis.asyncio import Redis

log = logging.getLogger(__name__)


class UpdateDedupMiddleware(BaseMiddleware):
    def __init__(self, redis: Redis, prefix: str, ttl_seconds: int = 24 * 3600) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl = ttl_seconds

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        if isinstance(event, Update):
            bot: Bot = data["bot"]
            key = f"{self.prefix}:update:{bot.id}:{event.update_id}"
            if not await self.redis.set(key, 1, nx=True, ex=self.ttl):
                log.info("update %s already handled; skipped", event.update_id)
                return None
        return await handler(event, data)
