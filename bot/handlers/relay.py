"""Answering the counsellor, however the person tries: "↩️ Answer" under a counsellor's
message, a Telegram reply to that message, or text typed while a contact by message is open
("Send this to your counsellor?", one tap). Nothing typed is dropped without a word, and the
bot keeps none of it: the text goes straight to the API (encrypted there)."""

from __future__ import annotations

import re
from typing import Any

from aiogram import Router
from aiogram.filters import Filter
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _

from bot.api_client import ApiRefused, ApiUnavailable, ReferralPublic
from bot.booking.mycontact import MAX_RELAY, REFERENCE
from bot.engine.actions import Turn
from bot.engine.callbacks import AnswerCb, OfferCb
from bot.engine.flows import HOME, NodeRef
from bot.handlers.flow import go
from bot.replies import answer_quietly, present

WRITE = NodeRef("mycontact", "write")
A_REFERENCE = re.compile(r"\b([A-Z2-9]{4}-[A-Z2-9]{4})\b")
COUNSELLOR_MARK = "💬"  # every language's "Message from your counsellor" starts with it


async def relay(turn: Turn, reference: str, text: str) -> str:
    """Send the text; what to tell the person."""
    if len(text) > MAX_RELAY:
        return _("Your message is too long for one message. Nothing was sent. Please send it "
                 "again in shorter parts.")
    try:
        await turn.referrals.relay_to_partner(reference, turn.chat_id, text)
    except ApiUnavailable:
        return _("Sorry, your message could not be sent right now. Please send it again in a "
                 "moment.")
    except ApiRefused as exc:
        if exc.code == "too_many_messages":
            return _("You have sent many messages in the last hour. Nothing was sent. Please "
                     "wait a little, the counsellor will answer.")
        return _("This contact no longer exists.")
    return _("✅ Sent to your counsellor. The answer will come here.")


async def on_answer(cb: CallbackQuery, callback_data: AnswerCb, turn: Turn) -> None:
    await answer_quietly(cb)
    turn.answers[REFERENCE] = callback_data.r
    await go(turn, str(WRITE), NodeRef.parse(HOME), edit=False)


class RepliesToCounsellor(Filter):
    """A Telegram reply to a counsellor's message: the reference is in the quoted text."""

    async def __call__(self, message: Message) -> bool | dict[str, Any]:
        quoted = message.reply_to_message
        if (quoted is None or quoted.from_user is None or not quoted.from_user.is_bot
                or not (quoted.text or "").startswith(COUNSELLOR_MARK)
                or (message.text or "").startswith("/")):
            return False
        found = A_REFERENCE.search(quoted.text or "")
        return {"reference": found.group(1)} if found else False


async def on_reply(message: Message, turn: Turn, reference: str) -> None:
    text = (message.text or "").strip()
    if not text:
        await message.answer(_("Nothing was sent. Write your message as text, without "
                               "documents or photos."))
        return
    await message.answer(await relay(turn, reference, text))


async def open_by_message(turn: Turn) -> ReferralPublic | None:
    """The contact typed text goes to: the newest open contact by Telegram message, else the
    newest open contact of any kind (a counsellor may write to a person who booked a visit or
    a call, and the person must be able to answer by typing)."""
    try:
        mine = await turn.referrals.mine(turn.chat_id)
    except (ApiUnavailable, ApiRefused):
        return None
    by_message = [r for r in mine if r.contact_mode == "telegram"] or mine
    return max(by_message, key=lambda r: r.created_at) if by_message else None


async def offer(message: Message, turn: Turn) -> bool:
    """Typed text while a contact is open: offer to send it, as a reply to it."""
    if await open_by_message(turn) is None:
        return False
    markup = InlineKeyboardMarkup(inline_keyboard=[[
        InlineKeyboardButton(text=_("✉️ Send it"), callback_data=OfferCb(a="yes").pack()),
        InlineKeyboardButton(text=_("No"), callback_data=OfferCb(a="no").pack())]])
    await message.reply(_("Send this to your counsellor?"), reply_markup=markup)
    return True


async def on_offer(cb: CallbackQuery, callback_data: OfferCb, turn: Turn) -> None:
    await answer_quietly(cb)
    quoted = cb.message.reply_to_message if isinstance(cb.message, Message) else None
    text = ((quoted.text if quoted else None) or "").strip()
    if callback_data.a != "yes" or not text:
        await present(turn.bot, turn.chat_id, _("Nothing was sent."), None, turn.message_id)
        return
    contact = await open_by_message(turn)
    reply = (await relay(turn, contact.reference, text) if contact
             else _("This contact no longer exists."))
    await present(turn.bot, turn.chat_id, reply, None, turn.message_id)


def setup(router: Router) -> None:
    router.callback_query.register(on_answer, AnswerCb.filter())
    router.callback_query.register(on_offer, OfferCb.filter())
    router.message.register(on_reply, RepliesToCounsellor())


def create_router() -> Router:
    router = Router(name="relay")
    setup(router)
    return router
