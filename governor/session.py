"""The governor as an aiogram request middleware: every call a ``Bot`` makes goes through it.

``bot.session.middleware(GovernorMiddleware(governor))`` (done by ``bot.app.create_bot``). Calls
that send a message are paced by their class (``governor.current_priority``; the bot's replies by
default); every other call to a chat only waits while Telegram has asked us to hold back; calls
that reach no chat (getUpdates, getMe, setWebhook, …) pass straight through. A 429 is never the
end: the call waits ``retry_after`` and is made again, as many times as Telegram asks.
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Callable
from typing import Any

from aiogram import Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import TelegramNetworkError, TelegramRetryAfter
from aiogram.methods import TelegramMethod
from aiogram.methods.base import Response, TelegramType

from governor import Clock, Governor, WallClock, current_priority
from ops.metrics import GOVERNOR_WAIT, TELEGRAM_429

log = logging.getLogger(__name__)

NETWORK_RETRY_PAUSE = 0.2  # seconds before the one retry of a call that met a network error
# Called when a call has its grant and is about to go to Telegram (the outbox worker marks the
# message as "sending" then, not while it still waits in line: a stop hands the waiting back).
granted: contextvars.ContextVar[Callable[[], None] | None] = contextvars.ContextVar(
    "governor_granted", default=None)

# Methods that put a new message in a chat: these count against Telegram's sending limits.
SENDING = frozenset({
    "sendMessage", "sendPhoto", "sendDocument", "sendLocation", "sendVenue", "sendContact",
    "sendMediaGroup", "copyMessage", "copyMessages", "forwardMessage", "forwardMessages",
    "sendSticker", "sendVoice", "sendAudio", "sendVideo", "sendAnimation", "sendVideoNote",
    "sendPoll", "sendDice",
})


def _chat_id(method: TelegramMethod[Any]) -> int | None:
    chat = getattr(method, "chat_id", None)
    return chat if isinstance(chat, int) else None


class GovernorMiddleware(BaseRequestMiddleware):
    def __init__(self, governor: Governor) -> None:
        self.governor = governor

    async def __call__(self, make_request: NextRequestMiddlewareType[TelegramType], bot: Bot,
                       method: TelegramMethod[TelegramType]) -> Response[TelegramType]:
        name = method.__api_method__
        chat_id = _chat_id(method)
        pace = name in SENDING  # the context's class; other calls only honour pauses
        if not pace and chat_id is None and name != "answerCallbackQuery":
            return await make_request(bot, method)  # getUpdates, getMe, setWebhook, …
        label = current_priority.get().name.lower() if pace else "other"
        network_errors = 0
        while True:
            started = time.monotonic()
            grant = await self.governor.acquire(chat_id, pace=pace)
            GOVERNOR_WAIT.labels(label).observe(time.monotonic() - started)
            going()
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as exc:
                TELEGRAM_429.inc()
                await self.governor.pushed_back(grant, float(exc.retry_after))
            except TelegramNetworkError as exc:
                network_errors = await _once_more(exc, network_errors, self.governor.clock)


class RetryAfterMiddleware(BaseRequestMiddleware):
    """Without Redis (the demo, the conversation tests): no pacing, but a 429 is still never
    the end: the call waits ``retry_after`` and is made again."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or WallClock()

    async def __call__(self, make_request: NextRequestMiddlewareType[TelegramType], bot: Bot,
                       method: TelegramMethod[TelegramType]) -> Response[TelegramType]:
        network_errors = 0
        going()
        while True:
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as exc:
                TELEGRAM_429.inc()
                log.warning("telegram flood control: waiting %.0f s", float(exc.retry_after))
                await self.clock.sleep(float(exc.retry_after))
            except TelegramNetworkError as exc:
                network_errors = await _once_more(exc, network_errors, self.clock)


def going() -> None:
    """The call has its turn and goes to Telegram now: tell whoever asked (``granted``)."""
    marker = granted.get()
    if marker is not None:
        marker()


async def _once_more(exc: TelegramNetworkError, errors: int, clock: Clock) -> int:
    """A network error: the call is made once more (a pooled connection the server had closed
    meanwhile), after a short pause; a second one is the caller's."""
    if errors:
        raise exc
    await clock.sleep(NETWORK_RETRY_PAUSE)
    return errors + 1
