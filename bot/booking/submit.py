"""From the free times to the stored referral: the consent chain's data, the phone reader,
and the booking itself. Success is claimed only after the API confirmed."""

from __future__ import annotations

import html
import logging
from datetime import UTC, datetime
from typing import Any

import phonenumbers
from aiogram.exceptions import TelegramAPIError
from aiogram.types import Message

from bot.api_client import ApiRefused, ApiUnavailable, ReferralCreate, ReferralPublic, checked
from bot.booking.outcomes import api_outcomes
from bot.booking.search import chosen_partner
from bot.booking.texts import (
    consent_summary,
    sample_place,
    sensitive_lines,
    slot_from_id,
    slot_id,
    where_footer,
    where_to_go,
)
from bot.channels import KeepChat, is_web
from bot.engine.actions import Item, Outcome, Turn, View
from bot.engine.conversation import Conversation
from bot.engine.core import Engine
from bot.engine.schema import Facts
from bot.formats import slot_label
from bot.i18n import isolate
from bot.inputs import ascii_digits
from bot.screening import flags_from
from bot.settings import Settings
from bot.signals import current as signals

log = logging.getLogger(__name__)

CONSENT_VERSION = "booking-1"
# Answers that belong to one booking: dropped once it is stored or declined.
BOOKING_KEYS = ("partner", "slot", "city", "share_flags", "followup")
BOOKED = "booked"  # turn.scratch: the referral just stored, for the confirmation screen


def slot_items(slots: list[datetime], locale: str) -> list[Item]:
    return [Item(id=slot_id(s), fields={"time": slot_label(s, locale)}) for s in slots]


async def partner_slots(turn: Turn, partner_id: str | None) -> View:
    if partner_id is None:
        raise Outcome("lost")
    with api_outcomes():
        slots = await turn.referrals.slots(partner_id)
    return View(items=slot_items(slots, turn.locale))


async def free_slots(turn: Turn) -> View:
    return await partner_slots(turn, turn.answers.get("partner"))


def slots_sample(engine: Engine, locale: str) -> View:
    start = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    return View(items=slot_items([start.replace(hour=h) for h in (9, 10, 13)], locale))


async def _partner_name(turn: Turn) -> str:
    return (await chosen_partner(turn)).name


async def consent(turn: Turn) -> View:
    settings: Settings = turn.extra["settings"]
    return View(values={"partner": await _partner_name(turn),
                        "days": str(settings.referral_retention_days)},
                html={"summary": consent_summary(turn.answers, turn.engine, turn.locale,
                                                     is_web(turn.chat_id))})


async def retention(turn: Turn) -> View:
    settings: Settings = turn.extra["settings"]
    return View(values={"days": str(settings.referral_retention_days)})


def retention_sample(engine: Engine, locale: str) -> View:
    return View(values={"days": "90"})


def consent_sample(engine: Engine, locale: str) -> View:
    answers = {"mode": "visit", "slot": slot_id(datetime(2026, 12, 7, 9, tzinfo=UTC)),
               "interpreter": "yes", "topic": "medical"}
    return View(values={"partner": "Ghent return desk", "days": "30"},
                html={"summary": consent_summary(answers, engine, locale)})


async def sensitive(turn: Turn) -> View:
    return View(values={"partner": await _partner_name(turn)},
                html={"told": sensitive_lines(turn.answers)})


def sensitive_sample(engine: Engine, locale: str) -> View:
    return View(values={"partner": "Ghent return desk"},
                html={"told": sensitive_lines({"scr_medical": "yes"})})


def told_sensitive(conv: Conversation, facts: Facts) -> bool:
    return bool(flags_from(conv.answers))


def on_telegram(conv: Conversation, facts: Facts | None = None) -> bool:
    """The person writes on Telegram (not the web chat, whose screens say what is true
    there: no Telegram chat is kept, the follow-up questions wait for them to come back)."""
    return conv.channel != "web"


def is_minor(conv: Conversation, facts: Facts | None = None) -> bool:
    """Under 18 and alone in Belgium (the screening's answer)."""
    return "minor" in flags_from(conv.answers)


def referral_fields(conv: Conversation, chat_id: int, locale: str,
                    phone: str | None = None) -> dict[str, Any]:
    """The fields of a ReferralCreate, from the answers (choice ids of flows/booking.yaml and
    flows/screening.yaml, the ids picked from its lists). tests/contract checks them against
    the API's OpenAPI schema for every choice of every flow."""
    answers = conv.answers
    slot = slot_from_id(answers.get("slot"))
    mode = answers.get("mode", "telegram")
    return {
        "partner_id": answers.get("partner"),
        "contact_mode": mode,
        "slot_start": slot.isoformat() if slot is not None and mode == "visit" else None,
        "phone": phone,
        "language": locale,
        "interpreter": answers.get("interpreter") == "yes",
        "topic": answers.get("topic", "other"),
        # A minor is always flagged: the place must know (the guardian decides).
        "flags": (flags_from(answers) if answers.get("share_flags") == "yes"
                  else ["minor"] if is_minor(conv) else []),
        "chat_id": chat_id,
        "consent_version": CONSENT_VERSION,
        "followup_consent": answers.get("followup") == "yes",
    }


def valid_phone(text: str) -> str | None:
    try:
        number = phonenumbers.parse(ascii_digits(text), "BE")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


async def store(turn: Turn, phone: str | None = None) -> None:
    """Ask the API to store the referral; the outcome names what went wrong."""
    if turn.answers.get("partner") is None:
        raise Outcome("refused")  # pressed again after the booking was stored
    try:
        body = checked(ReferralCreate, **referral_fields(turn.conversation, turn.chat_id,
                                                         turn.locale, phone),
                       signal=signals().ref())  # the anonymous journey: status changes count
        referral = await turn.referrals.create_referral(body)
    except ApiUnavailable as exc:
        raise Outcome("unavailable") from exc
    except ApiRefused as exc:
        if exc.code == "slot_taken":
            raise Outcome("taken") from exc
        if exc.code == "already_booked":  # one open contact per place: show it instead
            raise Outcome("already") from exc
        if exc.code == "too_many_bookings":
            raise Outcome("too_many") from exc
        if exc.code == "invalid_phone":
            raise Outcome("invalid") from exc
        log.warning("booking refused: %s", exc.code)
        raise Outcome("refused") from exc
    turn.scratch[BOOKED] = referral
    if is_web(turn.chat_id):
        await keep_web_chat(turn)
    clear(turn.conversation)


async def keep_web_chat(turn: Turn) -> None:
    """A booking on the web chat: the web chat keeps this chat's id and code for
    WEBCHAT_KEEP_DAYS (bot.channels.KeepChat), so that the counsellor's answers and the
    follow-up questions wait there, as the privacy screen says. If it cannot now, the booking
    stands; the conversation's own TTL applies (logged for the operators)."""
    settings: Settings = turn.extra["settings"]
    try:
        await turn.bot(KeepChat(chat_id=turn.chat_id, days=settings.webchat_keep_days))
    except TelegramAPIError as exc:
        log.error("booking: the web chat did not keep the chat for the follow-up: %s",
                  type(exc).__name__)


def clear(conv: Conversation) -> None:
    for key in BOOKING_KEYS:
        conv.answers.pop(key, None)


async def book(turn: Turn) -> str | None:
    await store(turn)
    return None


async def read_phone(turn: Turn, message: Message) -> str | None:
    """The number goes straight to the API (encrypted there); the bot does not keep it."""
    phone = valid_phone(message.text or "")
    if phone is None:
        raise Outcome("invalid")
    await store(turn, phone)
    return None


async def clear_booking(turn: Turn) -> str | None:
    clear(turn.conversation)
    return None


async def booked(turn: Turn) -> View:
    referral: ReferralPublic | None = turn.scratch.get(BOOKED)
    if referral is None:
        raise Outcome("lost")
    locale = turn.locale
    time = slot_label(referral.slot_start, locale) if referral.slot_start else ""
    return View(values={"partner": referral.partner_name},
                html={"reference": isolate(f"<b>{html.escape(referral.reference)}</b>", locale),
                      "time": time},
                footer=await where_footer(turn.referrals, referral.partner_id, locale))


def booked_sample(engine: Engine, locale: str) -> View:
    return View(values={"partner": "Ghent return desk"},
                html={"reference": "<b>CX-7K3P</b>",
                      "time": slot_label(datetime(2026, 12, 7, 9, tzinfo=UTC), locale)},
                footer=where_to_go(sample_place(), locale))


async def booking_lost(turn: Turn) -> str | None:
    """Which "lost track" screen a booking gets. It says "not sent" only when the API says
    the person has no open booking; otherwise the booking may have gone through (a second
    press on Confirm, an edit that failed): then it points to /mycontact."""
    clear(turn.conversation)
    try:
        mine = await turn.referrals.mine(turn.chat_id)
    except ApiRefused:
        return None
    except ApiUnavailable as exc:
        if turn.referrals.configured:  # cannot tell
            return None
        raise Outcome("not_sent") from exc  # no API: nothing can have been booked
    if mine:
        return None
    raise Outcome("not_sent")
