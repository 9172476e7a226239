"""Recorded voice for people who do not read well (issue 18): where a cultural mediator recorded
a key screen in the person's language (staff app, translations), that screen gets a
"🔊 Listen" button, which sends the recording as a Telegram voice message. The first send
uploads it; Telegram's file_id is then kept by the API and reused. Only recordings of people:
no synthetic voice is presented as a person's.
"""

from __future__ import annotations

import logging
import time

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.filters.callback_data import CallbackData
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
)
from aiogram.utils.i18n import gettext as _

from bot.api_client import ApiRefused, ApiUnavailable, ReferralsClient
from bot.engine.core import Screen
from bot.replies import answer_quietly, callback_place
from referral_api.translations.schemas import LOCALE_PATTERN, SCREEN_PATTERN

log = logging.getLogger(__name__)
FRESH_FOR = 60.0  # seconds the list of recordings is trusted (a new one shows within a minute)


def listen_label() -> str:
    return _("🔊 Listen")


class ListenCb(CallbackData, prefix="listen"):
    locale: str
    screen: str


class VoiceShelf:
    """Which screens have a recording in which language: asked of the API at most once a
    minute per process; when the API cannot say, no Listen button (never a broken one)."""

    def __init__(self, referrals: ReferralsClient) -> None:
        self.referrals = referrals
        self._known: set[tuple[str, str]] = set()
        self._until = 0.0

    async def has(self, locale: str, screen: str) -> bool:
        if not self.referrals.configured:
            return False
        now = time.monotonic()
        if now >= self._until:
            try:
                self._known = await self.referrals.voices()
            except (ApiUnavailable, ApiRefused) as exc:
                log.info("voice recordings not known: %s", type(exc).__name__)
            self._until = now + FRESH_FOR
        return (locale, screen) in self._known

    def forget(self) -> None:
        self._until = 0.0


async def with_listen(screen: Screen, locale: str, shelf: VoiceShelf | None) -> Screen:
    """The screen with a Listen button on top, where a recording exists."""
    ref = f"{screen.ref.flow}.{screen.ref.node}"
    markup = screen.markup
    if shelf is None or (markup is not None and not isinstance(markup, InlineKeyboardMarkup)):
        return screen
    if not await shelf.has(locale, ref):
        return screen
    button = InlineKeyboardButton(text=listen_label(),
                                  callback_data=ListenCb(locale=locale, screen=ref).pack())
    rows = [[button], *(markup.inline_keyboard if markup is not None else [])]
    return Screen(screen.ref, screen.text, InlineKeyboardMarkup(inline_keyboard=rows),
                  screen.items)


async def on_listen(cb: CallbackQuery, callback_data: ListenCb, bot: Bot,
                    referrals: ReferralsClient) -> None:
    await answer_quietly(cb)
    chat_id, _message = callback_place(cb)
    locale, screen = callback_data.locale, callback_data.screen
    try:
        info = await referrals.voice(locale, screen)
        if info.file_id:
            try:
                await bot.send_voice(chat_id, info.file_id)
                return
            except TelegramBadRequest as exc:  # Telegram no longer knows it: upload again
                if "file" not in exc.message.lower():
                    raise
                log.info("voice file_id refused: uploading the recording again")
        audio = await referrals.voice_audio(locale, screen)
        sent = await bot.send_voice(chat_id, BufferedInputFile(audio, filename="voice.ogg"))
        if sent.voice is not None:
            await referrals.remember_voice(locale, screen, sent.voice.file_id, info.recorded_at)
    except (ApiUnavailable, ApiRefused, TelegramBadRequest, TelegramForbiddenError) as exc:
        # The API away, or Telegram refusing (a person who does not accept voice messages:
        # VOICE_MESSAGES_FORBIDDEN): the person is told, the text is there.
        log.info("voice not sent: %s", type(exc).__name__)
        await bot.send_message(chat_id, _("Sorry, the recording cannot be played right now. "
                                          "The text above says the same."))


def create_router() -> Router:
    router = Router(name="voice")
    router.callback_query.register(on_listen, ListenCb.filter(
        F.screen.regexp(rf"^{SCREEN_PATTERN}$") & F.locale.regexp(rf"^{LOCALE_PATTERN}$")))
    return router
