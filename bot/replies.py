"""Showing a screen to the person: edit the message the button was on, or send a new one."""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, ReplyKeyboardMarkup

log = logging.getLogger(__name__)


async def present(
    bot: Bot,
    chat_id: int,
    text: str,
    markup: InlineKeyboardMarkup | ReplyKeyboardMarkup | None = None,
    edit_message_id: int | None = None,
) -> int | None:
    """Edit ``edit_message_id`` in place when given, else send a new message; the id of the
    message that now shows the text.

    Editing keeps the chat short on a small phone; when the edit is refused (message too old,
    deleted), a new message is sent so the person always sees an answer.
    """
    if edit_message_id is not None and not isinstance(markup, ReplyKeyboardMarkup):
        try:
            await bot.edit_message_text(
                text=text, chat_id=chat_id, message_id=edit_message_id, reply_markup=markup
            )
            return edit_message_id
        except TelegramBadRequest as exc:
            if "not modified" in exc.message:
                return edit_message_id
            log.info("edit refused (%s); sending a new message", type(exc).__name__)
    sent = await bot.send_message(chat_id=chat_id, text=text, reply_markup=markup)
    return sent.message_id if sent is not None else None


def callback_place(cb: CallbackQuery) -> tuple[int, int | None]:
    """The chat to answer a button press in, and the message to edit (None when Telegram no
    longer sends it)."""
    if cb.message is None:
        return cb.from_user.id, None
    return cb.message.chat.id, cb.message.message_id


async def answer_quietly(cb: CallbackQuery, text: str | None = None) -> None:
    """Stop the button's spinner. Telegram refuses answers to queries older than about 15 s
    (after a restart, say): that must not stop the person from getting their screen."""
    try:
        await cb.answer(text)
    except TelegramBadRequest:
        log.info("callback answer refused (query too old)")
    except TelegramAPIError as exc:  # the network, Telegram's 5xx: only the spinner is late
        log.info("callback answer not sent: %s", type(exc).__name__)
