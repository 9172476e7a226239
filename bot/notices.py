"""Messages the worker sends to a person on the API's behalf (accepted, reminder, relayed
messages), rendered in the person's language from a payload of ids — the API never stores
text for the person, only keys and values."""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import datetime
from typing import Any

from aiogram.utils.i18n import I18n

from bot.engine.callbacks import FollowupCb
from bot.engine.core import N_
from bot.formats import slot_label
from bot.i18n import isolate

ACCEPTED = N_("✅ Good news: {partner} accepted your request {reference}. A counsellor will "
              "contact you as you asked.")
REMINDER = N_("🕘 Reminder: your visit at {partner} is tomorrow, {time}. Reference: "
              "{reference}.")
REMINDER_ADDRESS = N_("📍 {address}")
RELAY = N_("💬 Message from your counsellor ({reference}):")
STATUS = {
    "contacted": N_("Your counsellor marked your request {reference} as contacted."),
    "unreachable": N_("Your counsellor could not reach you about {reference}. Use /mycontact "
                      "to check your details or to write to them."),
    "closed": N_("Your request {reference} is closed. You can book a new contact at any "
                 "time."),
}


FOLLOWUP_WAVE = N_("👋 Hello again. When you booked a contact, you agreed that we may ask you a "
                   "few questions after your return. They take about 3 minutes and every "
                   "question can be skipped. Your answers help the programme to support people "
                   "better. Send /stop to stop these questions at any time.")
FOLLOWUP_REMINDER = N_("🔔 A reminder: we would be glad to know how things are going since "
                       "your return. A few short questions, about 3 minutes. Send /stop to "
                       "stop these questions.")


WAVE_START = N_("▶️ Start")
WAVE_LATER = N_("Later")
WAVE_STOP = N_("Stop these questions")


def wave_buttons(token: str, translate: Callable[[str], str]) -> list[list[dict[str, str]]]:
    """The wave message's buttons, as the worker's Outgoing rows."""
    def button(label: str, action: str) -> dict[str, str]:
        return {"text": translate(label), "callback_data": FollowupCb(a=action, t=token).pack()}

    return [[button(WAVE_START, "start"), button(WAVE_LATER, "later")],
            [button(WAVE_STOP, "stop")]]


def render_notice_buttons(payload: dict[str, Any], i18n: I18n,
                          available: list[str]) -> list[list[dict[str, str]]] | None:
    """The buttons of a notice, in the person's language: only the follow-up wave has some."""
    if payload.get("key") != "followup_wave" or not payload.get("token"):
        return None
    locale = payload.get("locale") or "en"
    if locale not in available:
        locale = "en"
    return wave_buttons(str(payload["token"]), lambda msgid: i18n.gettext(msgid, locale=locale))


def render_notice(payload: dict[str, Any], i18n: I18n, available: list[str]) -> str:
    """The text for one person notice. Unknown keys give an empty string (nothing is sent)."""
    locale = payload.get("locale") or "en"
    if locale not in available:
        locale = "en"

    def t(msgid: str) -> str:
        return i18n.gettext(msgid, locale=locale)

    reference = isolate(f"<b>{html.escape(str(payload.get('reference', '')))}</b>", locale)
    partner = isolate(html.escape(str(payload.get("partner_name", ""))), locale)
    key = payload.get("key")
    if key == "accepted":
        return t(ACCEPTED).format(partner=partner, reference=reference)
    if key == "reminder":
        when = datetime.fromisoformat(str(payload["slot_start"]))
        text = t(REMINDER).format(partner=partner, time=slot_label(when, locale),
                                  reference=reference)
        if payload.get("address"):
            text += "\n" + t(REMINDER_ADDRESS).format(address=html.escape(payload["address"]))
        return text
    if key == "relay":
        return t(RELAY).format(reference=reference) + "\n\n" + html.escape(
            str(payload.get("text", "")))
    if key == "followup_wave":
        return t(FOLLOWUP_REMINDER if payload.get("reminder") else FOLLOWUP_WAVE)
    if key in STATUS:
        return t(STATUS[key]).format(reference=reference)
    return ""
