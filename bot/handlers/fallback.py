"""Everything no other handler took: typed text where buttons are expected, media, unknown
commands and unknown buttons. Each gets a short, translated answer and the current screen."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from bot.api_client import ApiRefused, ApiUnavailable, ReferralsClient
from bot.engine.conversation import Conversation
from bot.engine.core import Engine
from bot.engine.flows import HOME, WELCOME, NodeRef
from bot.handlers.booking import valid_phone
from bot.handlers.campaign import AWAITING_CODE, accept_code
from bot.handlers.flow import on_stale, show_home, show_lost
from bot.replies import load, present_screen, save


def looks_like_booking_input(text: str) -> bool:
    """A Belgian postcode or a phone number: what the booking asks people to type."""
    text = text.strip()
    return (text.isdigit() and len(text) == 4) or valid_phone(text) is not None


async def writes_to_a_counsellor(referrals: ReferralsClient | None, chat_id: int) -> bool:
    """The person has an open contact by Telegram message, so typed text was probably meant
    for the counsellor ("Write to the counsellor" in /mycontact)."""
    if referrals is None:
        return False
    try:
        mine = await referrals.mine(chat_id)
    except (ApiUnavailable, ApiRefused):
        return False
    return any(r.contact_mode == "telegram" for r in mine)


async def answered_lost_input(bot: Bot, chat_id: int, text: str, conv: Conversation,
                              engine: Engine, locale: str,
                              referrals: ReferralsClient | None) -> bool:
    """Typed text with no conversation state at all: a new person, or a state that is gone
    (Redis restart, TTL) while we waited for a postcode, a phone number or a message to the
    counsellor. The latter are told in words that nothing was sent, and how to go on."""
    if looks_like_booking_input(text):
        await show_lost(bot, chat_id, conv, engine, locale, "booking", referrals)
        return True
    if await writes_to_a_counsellor(referrals, chat_id):
        await show_home(bot, chat_id, conv, engine, locale, notice=_(
            "Sorry, I lost track of our conversation, so your message was not sent. To "
            "write to your counsellor, send /mycontact."))
        return True
    return False


def create_router() -> Router:
    router = Router(name="fallback")

    @router.message()
    async def on_anything(
        message: Message, bot: Bot, state: FSMContext, engine: Engine, locale: str,
        referrals: ReferralsClient | None = None,
    ) -> None:
        conv = await load(state)
        chat_id = message.chat.id
        text = message.text
        if text is not None and conv.awaiting == AWAITING_CODE and not text.startswith("/"):
            await accept_code(bot, chat_id, text, conv, engine, locale, referrals)
            await save(state, conv)
            return
        if (text is not None and not text.startswith("/") and not conv.started
                and conv.awaiting is None
                and await answered_lost_input(bot, chat_id, text, conv, engine, locale,
                                              referrals)):
            await save(state, conv)
            return
        if text is not None and text.startswith("/"):
            notice = _("I do not know this command. You can use /menu, /language, /help or "
                       "/privacy.")
        elif text is not None:
            notice = _("I can only understand the buttons. Please press one of them.")
        else:
            notice = _("I can only read buttons here. Please do not send photos, files, voice "
                       "messages or your location: I do not need them and I do not keep them.")
        ref = NodeRef.parse(conv.at) if conv.at else WELCOME
        if conv.at and (engine.flows.get(ref) is None
                        or conv.version != engine.flows.flows[ref.flow].version):
            ref = NodeRef.parse(HOME)  # the screen we were on changed in a new version
        await present_screen(bot, chat_id, engine.show(conv, ref, locale).after(notice))
        await save(state, conv)

    @router.callback_query()
    async def on_unknown_button(
        cb: CallbackQuery, bot: Bot, state: FSMContext, engine: Engine, locale: str
    ) -> None:
        await on_stale(cb, bot, state, engine, locale)

    return router
