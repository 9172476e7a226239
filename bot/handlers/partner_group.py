"""The partner's Telegram group: counsellors press the card's buttons and reply to relay
messages. Authorisation is the API's: only registered counsellors of that partner succeed."""

from __future__ import annotations

import html
import logging
import re
from typing import Any

from aiogram import Router
from aiogram.filters import Filter
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, Message

from bot.api_client import ApiRefused, ApiUnavailable, ReferralsClient
from bot.replies import answer_quietly
from referral_api.referrals.schemas import RELAY_MAX

log = logging.getLogger(__name__)

REFERENCE = re.compile(r"\b([A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4})\b")
STATUS_TEXT = {"accepted": "✅ Accepted", "contacted": "📞 Contacted",
               "unreachable": "❔ Could not reach", "closed": "🗂 Closed"}


class RefCb(CallbackData, prefix="ref"):
    reference: str
    status: str


class InGroup(Filter):
    async def __call__(self, event: Any) -> bool:
        message = event.message if isinstance(event, CallbackQuery) else event
        return bool(message is not None and message.chat.type in ("group", "supergroup"))


class InPrivate(Filter):
    async def __call__(self, event: Any) -> bool:
        message = event.message if isinstance(event, CallbackQuery) else event
        return message is None or message.chat.type == "private"


async def on_status(cb: CallbackQuery, callback_data: RefCb, referrals: ReferralsClient) -> None:
    if callback_data.status not in STATUS_TEXT:
        await answer_quietly(cb)
        return
    try:
        referral = await referrals.set_status(callback_data.reference, cb.from_user.id,
                                              callback_data.status)
    except ApiUnavailable:
        await cb.answer("The service is not reachable. Try again in a moment.",
                        show_alert=True)
        return
    except ApiRefused as exc:
        text = {"referral_cancelled": "The person cancelled this request.",
                "referral_purged": "The person's data were deleted."}.get(
            exc.code, "This referral no longer exists, or you are not one of its partner's "
                      "counsellors.")  # one answer for both: a guess learns nothing
        await cb.answer(text, show_alert=True)
        return
    # The API says it in the partner's language; the English label only if it does not.
    await cb.answer(referral.confirmation or STATUS_TEXT[referral.status])
    log.info("referral status changed by a counsellor")


async def on_other_button(cb: CallbackQuery) -> None:
    await answer_quietly(cb)


# What a counsellor is told when the API refuses a message (the group's texts are English,
# like the rest of the group's bot replies; the cards themselves are in the partner's language).
GROUP_REFUSALS = {
    "referral_cancelled": "Not sent: the person cancelled this request.",
    "referral_closed": "Not sent: this request is closed.",
    "referral_purged": "Not sent: the person's data were deleted.",
    "too_many_messages": "Not sent: too many messages for this request in the last hour.",
}


async def on_group_message(message: Message, referrals: ReferralsClient) -> None:
    """A counsellor's reply to a card or a relayed message goes to the person."""
    replied = message.reply_to_message
    if replied is None or message.from_user is None:
        return  # ordinary group chatter: the bot stays silent
    found = REFERENCE.search(replied.text or "")
    text = (message.text or "").strip()
    if found is None or not text:
        return
    if len(text) > RELAY_MAX:  # never cut: the counsellor sends it in parts
        await message.reply(f"Not sent: the message is longer than {RELAY_MAX} characters. "
                            "Send it in parts.")
        return
    try:
        await referrals.relay_to_person(found.group(1), message.from_user.id, text)
    except ApiUnavailable:
        await message.reply("Not sent: the service is not reachable. Try again.")
        return
    except ApiRefused as exc:
        await message.reply(GROUP_REFUSALS.get(exc.code, "Not sent: this referral no longer "
                                                         "exists, or you are not one of its "
                                                         "partner's counsellors."))
        return
    await message.reply(f"✅ Sent to the person ({html.escape(found.group(1))}).")


def setup(router: Router) -> None:
    router.message.filter(InGroup())
    router.callback_query.filter(InGroup())
    router.callback_query.register(on_status, RefCb.filter())
    router.callback_query.register(on_other_button)
    router.message.register(on_group_message)


def create_router() -> Router:
    router = Router(name="partner_group")
    setup(router)
    return router
