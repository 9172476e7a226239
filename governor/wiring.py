"""What every process that talks to Telegram builds the same way: the Redis pool, the governor
on it, and a ``Bot`` whose every call goes through the governor.

The bot (``bot.app``) and the outbox worker (``python -m referral_api.outbox``) both build
theirs here, from plain values: nothing here knows the bot's handlers or either process's
settings.
"""

from __future__ import annotations

from aiogram import Bot, methods
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.base import BaseSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.methods.base import Response
from redis.asyncio import BlockingConnectionPool, Redis

from governor import Governor, Limits
from governor.session import GovernorMiddleware, RetryAfterMiddleware

# pydantic keeps parametrised generics such as Response[Message] in a weak cache; aiogram builds
# Response[T] for every API answer, so under load each one was rebuilt (~10 ms) again and
# again after garbage collection. Holding them here keeps the cache warm (bench/dispatch.py).
_PINNED_RESPONSE_TYPES: list[type] = []


def _pin_response_types() -> None:
    if _PINNED_RESPONSE_TYPES:
        return
    for method in (methods.SendMessage, methods.EditMessageText, methods.AnswerCallbackQuery,
                   methods.EditMessageReplyMarkup, methods.DeleteMessage, methods.GetUpdates,
                   methods.GetMe, methods.SetMyCommands, methods.DeleteWebhook,
                   methods.SetWebhook, methods.SendChatAction):
        _PINNED_RESPONSE_TYPES.append(Response[method.__returning__])  # type: ignore[name-defined]


def create_redis(url: str | None, *, max_connections: int,
                 pool_timeout: float) -> Redis | None:
    """The process's Redis client (None without a URL): a pool that waits for a free
    connection (up to ``pool_timeout`` seconds) instead of raising when all of them are busy."""
    if not url:
        return None
    pool = BlockingConnectionPool.from_url(url, max_connections=max_connections,
                                           timeout=pool_timeout)
    return Redis.from_pool(pool)  # owns the pool: aclose() closes its connections


def create_governor(redis: Redis, prefix: str, *, bulk_rate: float,
                    pace_replies: bool = False) -> Governor:
    return Governor(redis, prefix, limits=Limits(bulk_rate=bulk_rate,
                                                 pace_replies=pace_replies))


def create_bot(token: str, *, api_url: str | None = None, session: BaseSession | None = None,
               governor: Governor | None = None) -> Bot:
    """A Bot on Telegram (or the Bot API-compatible server at ``api_url``); every call it
    makes goes through the governor (shared pacing through Redis), or, without one, at least
    waits and retries when Telegram answers 429. Messages are HTML, without link previews."""
    _pin_response_types()
    if session is None:
        session = AiohttpSession(
            api=TelegramAPIServer.from_base(api_url)
        ) if api_url else AiohttpSession()
    session.middleware(GovernorMiddleware(governor) if governor is not None
                       else RetryAfterMiddleware())
    return Bot(
        token=token,
        session=session,
        default=DefaultBotProperties(parse_mode=ParseMode.HTML,
                                     link_preview_is_disabled=True),
    )
