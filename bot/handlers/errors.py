"""The last line of defence: log without personal data, apologise to the person."""

from __future__ import annotations

import logging

from aiogram import Bot, Router
from aiogram.types import ErrorEvent, User
from aiogram.utils.i18n import I18n

from bot.engine.core import N_
from bot.i18n import negotiate
from bot.preferences import LanguagePreferences
from bot.replies import answer_quietly
from bot.settings import Settings

log = logging.getLogger(__name__)


APOLOGY = N_("Sorry, something went wrong on our side. Please try again, or send /menu.")


async def _locale_of(
    bot: Bot, user: User | None, preferences: LanguagePreferences, available: list[str],
    default: str,
) -> str:
    """The person's language, even when the failure was Redis itself."""
    chosen = None
    if user is not None:
        try:
            chosen = await preferences.get(bot.id, user.id)
        except Exception:
            chosen = None
    return negotiate(chosen, user.language_code if user else None, available, default)


def create_router() -> Router:
    router = Router(name="errors")

    @router.errors()
    async def on_error(
        event: ErrorEvent,
        bot: Bot,
        i18n: I18n,
        available_locales: list[str],
        language_preferences: LanguagePreferences,
        settings: Settings,
    ) -> bool:
        update = event.update
        # Only the update id and the exception: ops.logs writes its type and the traceback's
        # frames, never its message (which may quote input).
        log.error("update failed: %s", type(event.exception).__name__,
                  exc_info=event.exception, extra={"update_id": update.update_id})
        chat_id = None
        try:
            user = None
            if update.callback_query is not None:
                user = update.callback_query.from_user
                await answer_quietly(update.callback_query)
                msg = update.callback_query.message
                chat_id = msg.chat.id if msg else user.id
            elif update.message is not None:
                user = update.message.from_user
                chat_id = update.message.chat.id
            if chat_id is not None:
                locale = await _locale_of(bot, user, language_preferences, available_locales,
                                          settings.default_locale)
                await bot.send_message(chat_id, i18n.gettext(APOLOGY, locale=locale))
        except Exception as exc:
            log.error("could not apologise: %s", type(exc).__name__,
                      extra={"update_id": update.update_id})
        return True

    return router
