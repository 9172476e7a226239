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
from bot.handlers.campaign import valid_code
from bot.handlers.flow import go, on_stale, present_screen, show_home, show_lost
from bot.handlers.relay import offer
from bot.inputs import postcode
from bot.signals import current as signals

NOT_UNDERSTOOD = NodeRef("menu", "not_understood")
NOT_UNDERSTOOD_LONG = NodeRef("menu", "not_understood_long")
LONG_MESSAGE = 200  # characters: someone is telling their story


def looks_like_booking_input(text: str) -> bool:
    """A Belgian postcode or a phone number: what the booking asks people to type."""
    return postcode(text) is not None or valid_phone(text) is not None


async def answered_lost_input(turn: Turn, text: str) -> bool:
    """Typed text with no conversation state at all: a new person, or a state that is gone
    (Redis restart, TTL) while we waited for a postcode or a phone number: told in words that
    the booking was not sent, and how to go on."""
    if looks_like_booking_input(text):
        await show_lost(turn, "booking", edit=False)
        return True
    return False


async def typed_campaign_code(turn: Turn, text: str) -> bool:
    """The code of a flyer typed as it stands, at any time: kept when the API knows it (never
    unchecked here: any word would count)."""
    code = valid_code(text)
    if code is None or not turn.referrals.configured:
        return False
    try:
        known = await turn.referrals.campaign(code)
    except (ApiUnavailable, ApiRefused):
        return False
    if known is None:
        return False
    turn.conversation.campaign = known
    signals().emit("conversation_started", campaign=known)
    await show_home(turn, _("✅ Thank you, the code is saved."), edit=False)
    return True


async def on_anything(message: Message, turn: Turn) -> None:
    conv = turn.conversation
    text = message.text
    if text is not None and not text.startswith("/"):
        if not conv.started and await answered_lost_input(turn, text):
            return
        if await typed_campaign_code(turn, text.strip()) or await offer(message, turn):
            return
    if text is not None and not text.startswith("/") and conv.at not in (None, str(WELCOME)):
        # Not understood: a short answer with a way to a person, not the whole screen again
        # (someone new, or still at the first question, gets that question again, below).
        here = NodeRef.parse(conv.at) if conv.at else NodeRef.parse(HOME)
        if turn.engine.flows.get(here) is None:
            here = NodeRef.parse(HOME)
        await go(turn, str(NOT_UNDERSTOOD_LONG if len(text) > LONG_MESSAGE else NOT_UNDERSTOOD),
                 here, edit=False)
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
