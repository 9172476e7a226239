"""/mycontact's data: the person's contacts, one contact's details, its free times; cancel,
reschedule and the message to the counsellor. The chosen contact's reference is the only
thing the conversation keeps (answer `ref`); every call is checked by the API against the
person's chat."""

from __future__ import annotations

import html
from datetime import UTC, datetime

from aiogram.types import Message
from aiogram.utils.i18n import gettext as _

from bot.api_client import ReferralPublic
from bot.booking.outcomes import api_outcomes
from bot.booking.submit import partner_slots, slots_sample, valid_phone
from bot.booking.texts import (
    contact_details,
    sample_place,
    slot_from_id,
    where_footer,
    where_to_go,
)
from bot.channels import is_web
from bot.engine.actions import Item, Outcome, Turn, View
from bot.engine.core import Engine
from bot.i18n import isolate
from referral_api.referrals.schemas import RELAY_MAX

MAX_RELAY = RELAY_MAX  # longer: refused with words (never cut), tests/contract ties them
REFERENCE = "ref"


async def _mine(turn: Turn) -> list[ReferralPublic]:
    with api_outcomes(refused="unavailable"):
        return await turn.referrals.mine(turn.chat_id)


async def my_contacts(turn: Turn) -> View:
    return View(items=[Item(id=r.reference, fields={"reference": r.reference,
                                                    "partner": r.partner_name})
                       for r in await _mine(turn)])


def my_contacts_sample(engine: Engine, locale: str) -> View:
    return View(items=[Item(id="CX-7K3P-9Q", fields={"reference": "CX-7K3P-9Q",
                                                     "partner": "Ghent return desk"})])


async def chosen(turn: Turn) -> ReferralPublic:
    """The contact chosen on the list; when the conversation state is gone, the person's only
    contact (with several: the list again)."""
    reference = turn.answers.get(REFERENCE)
    mine = await _mine(turn)
    if reference is None and len(mine) == 1:
        turn.answers[REFERENCE] = reference = mine[0].reference
    if reference is None:
        raise Outcome("lost")
    for referral in mine:
        if referral.reference == reference:
            return referral
    raise Outcome("gone")


def contact_view(referral: ReferralPublic, engine: Engine, locale: str,
                 web: bool = False) -> View:
    hide = set()
    if referral.contact_mode == "visit":
        hide.add("write")
    if referral.contact_mode != "phone":
        hide.add("phone")
    if referral.contact_mode != "visit":
        hide.update({"resched", "bring"})
    return View(html={"reference": isolate(f"<b>{html.escape(referral.reference)}</b>", locale),
                      "details": contact_details(referral, locale, engine, web)},
                hide=frozenset(hide))


async def contact(turn: Turn) -> View:
    referral = await chosen(turn)
    view = contact_view(referral, turn.engine, turn.locale, is_web(turn.chat_id))
    if referral.contact_mode != "visit":
        return view
    footer = await where_footer(turn.referrals, referral.partner_id, turn.locale)
    return View(html=view.html, hide=view.hide, footer=footer)


def contact_sample(engine: Engine, locale: str) -> View:
    referral = ReferralPublic.model_validate({
        "reference": "CX-7K3P-9Q", "partner_id": "ghent-return-desk",
        "partner_name": "Ghent return desk", "contact_mode": "visit", "status": "accepted",
        "slot_start": datetime(2026, 12, 7, 9, tzinfo=UTC),
        "created_at": datetime(2026, 12, 1, 9, tzinfo=UTC), "language": locale,
        "topic": "information", "interpreter": False})
    view = contact_view(referral, engine, locale)
    return View(html=view.html, hide=view.hide, footer=where_to_go(sample_place(), locale))


async def contact_slots(turn: Turn) -> View:
    return await partner_slots(turn, (await chosen(turn)).partner_id)


contact_slots_sample = slots_sample


async def cancel_contact(turn: Turn) -> str | None:
    referral = await chosen(turn)
    with api_outcomes():
        await turn.referrals.cancel(referral.reference, turn.chat_id)
    turn.answers.pop(REFERENCE, None)
    return None


async def reschedule_contact(turn: Turn) -> str | None:
    slot = slot_from_id(turn.answers.pop("new_slot", None))
    if slot is None:
        raise Outcome("lost")
    referral = await chosen(turn)
    with api_outcomes(refused=lambda exc: "taken" if exc.code == "slot_taken" else "gone"):
        await turn.referrals.reschedule(referral.reference, turn.chat_id, slot)
    turn.notice = _("✅ Changed.")
    turn.conversation.trail.clear()  # Back from here would offer the old times again
    return None


async def read_new_phone(turn: Turn, message: Message) -> str | None:
    """Another number for a phone contact: straight to the API (encrypted there)."""
    phone = valid_phone(message.text or "")
    if phone is None:
        raise Outcome("invalid")
    referral = await chosen(turn)
    with api_outcomes(refused=lambda exc: "invalid" if exc.code == "invalid_phone" else "gone"):
        await turn.referrals.change_phone(referral.reference, turn.chat_id, phone)
    turn.notice = _("✅ Changed.")
    return None


async def read_relay(turn: Turn, message: Message) -> str | None:
    """The message goes straight to the API (encrypted there); the bot does not keep it."""
    text = (message.text or "").strip()
    if not text:
        raise Outcome("empty")
    if len(text) > MAX_RELAY:
        raise Outcome("too_long")
    referral = await chosen(turn)
    with api_outcomes():
        await turn.referrals.relay_to_partner(referral.reference, turn.chat_id, text)
    return None
