"""Picks the language for each update and makes it the gettext context."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.types import TelegramObject, User
from aiogram.utils.i18n import I18n

from bot.i18n import negotiate
from bot.preferences import LanguagePreferences


class LocaleMiddleware(BaseMiddleware):
    def __init__(
        self, i18n: I18n, preferences: LanguagePreferences, available: list[str], default: str
    ) -> None:
        self.i18n = i18n
        self.preferences = preferences
        self.available = available
        self.default = default

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        user: User | None = data.get("event_from_user")
        bot: Bot = data["bot"]
        chosen = await self.preferences.get(bot.id, user.id) if user else None
        locale = negotiate(chosen, user.language_code if user else None,
                           self.available, self.default)
        data["locale"] = locale
        # Known: chosen explicitly, or the Telegram app's language is one we ship.
        data["locale_known"] = chosen in self.available or (
            user is not None and negotiate(None, user.language_code, self.available, "") != ""
        )
        with self.i18n.context(), self.i18n.use_locale(locale):
            return await handler(event, data)
