"""Everything no other handler took: typed text where buttons are expected, media, unknown
commands and unknown buttons. Each gets a short, translated answer and the current screen."""

from __future__ import annotations

from aiogram import Router
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from bot.api_client import ApiRefused, ApiUnavailable
from bot.booking.submit import valid_phone
from bot.engine.actions import Outcome, Turn
from bot.engine.flows import HOME, WELCOME, NodeRef
from bot.handlers.flow import on_stale, present_screen, show_home, show_lost
from bot.inputs import postcode


def looks_like_booking_input(text: str) -> bool:
    """A Belgian postcode or a phone number: what the booking asks people to type."""
    return postcode(text) is not None or valid_phone(text) is not None


async def writes_to_a_counsellor(turn: Turn) -> bool:
    """The person has an open contact by Telegram message, so typed text was probably meant
    for the counsellor ("Write to the counsellor" in /mycontact)."""
    try:
        mine = await turn.referrals.mine(turn.chat_id)
    except (ApiUnavailable, ApiRefused):
        return False
    return any(r.contact_mode == "telegram" for r in mine)


async def answered_lost_input(turn: Turn, text: str) -> bool:
    """Typed text with no conversation state at all: a new person, or a state that is gone
    (Redis restart, TTL) while we waited for a postcode, a phone number or a message to the
    counsellor. The latter are told in words that nothing was sent, and how to go on."""
    if looks_like_booking_input(text):
        await show_lost(turn, "booking", edit=False)
        return True
    if await writes_to_a_counsellor(turn):
        await show_home(turn, _("Sorry, I lost track of our conversation, so your message was "
                                "not sent. To write to your counsellor, send /mycontact."),
                        edit=False)
        return True
    return False


async def on_anything(message: Message, turn: Turn) -> None:
    conv = turn.conversation
    text = message.text
    if (text is not None and not text.startswith("/") and not conv.started
            and await answered_lost_input(turn, text)):
        return
    if text is not None and text.startswith("/"):
        notice = _("I do not know this command. You can use /menu, /language, /help or "
                   "/privacy.")
    elif text is not None:
        notice = _("I can only understand the buttons. Please press one of them.")
    else:
        notice = _("I can only read buttons here. Please do not send photos, files, voice "
                   "messages or your location: I do not need them and I do not keep them.")
    engine = turn.engine
    ref = NodeRef.parse(conv.at) if conv.at else WELCOME
    if conv.at and (engine.flows.get(ref) is None
                    or conv.version != engine.flows.flows[ref.flow].version):
        ref = NodeRef.parse(HOME)  # the screen we were on changed in a new version
    turn.notice = notice
    try:
        screen = await engine.screen(turn, ref)
    except Outcome:  # the screen's data cannot be had now: the menu instead
        screen = engine.show(conv, NodeRef.parse(HOME), turn.locale)
    await present_screen(turn, screen, edit=False)


async def on_unknown_button(cb: CallbackQuery, turn: Turn) -> None:
    await on_stale(cb, turn)


def setup(router: Router) -> None:
    router.message.register(on_anything)
    router.callback_query.register(on_unknown_button)


def create_router() -> Router:
    router = Router(name="fallback")
    setup(router)
    return router
