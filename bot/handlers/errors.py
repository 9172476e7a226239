"""The last line of defence: log without personal data, apologise to the person."""

from __future__ import annotations

import logging
import traceback

from aiogram import Bot, Router
from aiogram.types import ErrorEvent
from aiogram.utils.i18n import gettext as _

log = logging.getLogger(__name__)


def create_router() -> Router:
    router = Router(name="errors")

    @router.errors()
    async def on_error(event: ErrorEvent, bot: Bot) -> bool:
        update = event.update
        # Only the update id and the exception type: never message text or user ids.
        # The traceback's frames, without the exception's message (which may quote input).
        log.error("update %s failed: %s\n%s", update.update_id, type(event.exception).__name__,
                  "".join(traceback.format_tb(event.exception.__traceback__)))
        chat_id = None
        try:
            if update.callback_query is not None:
                await update.callback_query.answer()
                msg = update.callback_query.message
                chat_id = msg.chat.id if msg else update.callback_query.from_user.id
            elif update.message is not None:
                chat_id = update.message.chat.id
            if chat_id is not None:
                await bot.send_message(
                    chat_id, _("Sorry, something went wrong on our side. Please try again, "
                               "or send /menu.")
                )
        except Exception as exc:  # noqa: BLE001 - the apology itself must never raise
            log.error("could not apologise for update %s: %s", update.update_id,
                      type(exc).__name__)
        return True

    return router
