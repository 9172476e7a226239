"""Binds a signal recorder to each update from a person in a private chat (after the locale
middleware, so events carry the person's language). Handlers and action hooks reach it with
`bot.signals.current()` or the `signals` dependency; partner groups record nothing.

Every event of the update carries the person's channel, "telegram" or "web" (our web chat):
the recorder derives it from the user id with bot.channels.channel_of (in a private chat the
user id is the chat id). The pseudonym is computed as before, from the user id alone."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import Chat, TelegramObject, User

from bot.signals import SignalBuffer, SignalRecorder, bound


class SignalsMiddleware(BaseMiddleware):
    def __init__(self, buffer: SignalBuffer | None, secret: bytes | None) -> None:
        self.buffer = buffer
        self.secret = secret

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        user: User | None = data.get("event_from_user")
        chat: Chat | None = data.get("event_chat")
        private = chat is None or chat.type == "private"
        recorder = SignalRecorder(self.buffer if private else None, self.secret,
                                  user.id if user is not None and not user.is_bot else None,
                                  data.get("locale"))
        data["signals"] = recorder
        with bound(recorder):
            return await handler(event, data)
