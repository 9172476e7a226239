"""Messages the worker sends to a person on the API's behalf (accepted, reminder, relayed
messages, follow-up questionnaires), rendered in the person's language from the typed notices
the API queues (`referral_api.outbox.messages.PersonNotice`: ids and values — the API never
stores text for the person).

The one renderer of people's notices: the outbox worker calls it (referral_api.housekeeping),
and it imports no handler (tests/referral_api/test_package_shape.py), only the engine's
callback data and `N_`, the formats and the i18n helpers."""

from __future__ import annotations

import html
from collections.abc import Callable

from aiogram.utils.i18n import I18n

from bot.engine.callbacks import AnswerCb, FollowupCb
from bot.engine.core import N_
from bot.formats import map_link, slot_label
from bot.i18n import isolate
from referral_api.outbox.messages import (
    Buttons,
    FollowupWaveNotice,
    PersonNotice,
    RelayNotice,
    ReminderNotice,
    StatusNotice,
)

ACCEPTED = N_("✅ Good news: {partner} accepted your request {reference}. A counsellor will "
              "contact you as you asked.")
REMINDER = N_("🕘 Reminder: your visit at {partner} is tomorrow, {time}. Reference: "
              "{reference}.")
REMINDER_ADDRESS = N_("📍 {address}")
RELAY = N_("💬 Message from your counsellor ({reference}):")
ANSWER = N_("↩️ Answer")
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


def wave_buttons(token: str, translate: Callable[[str], str]) -> Buttons:
    """The wave message's buttons, as the worker's Outgoing rows."""
    def button(label: str, action: str) -> dict[str, str]:
        return {"text": translate(label), "callback_data": FollowupCb(a=action, t=token).pack()}

    return [[button(WAVE_START, "start"), button(WAVE_LATER, "later")],
            [button(WAVE_STOP, "stop")]]


def _locale(notice: PersonNotice, available: list[str]) -> str:
    """The person's language when we ship it, else English."""
    locale = notice.locale or "en"
    return locale if locale in available else "en"


def render_notice_buttons(notice: PersonNotice, i18n: I18n,
                          available: list[str]) -> Buttons | None:
    """The buttons of a notice, in the person's language: the follow-up wave's, and "Answer"
    under a counsellor's message."""
    locale = _locale(notice, available)
    if isinstance(notice, RelayNotice):
        return [[{"text": i18n.gettext(ANSWER, locale=locale),
                  "callback_data": AnswerCb(r=notice.reference).pack()}]]
    if not isinstance(notice, FollowupWaveNotice) or not notice.token:
        return None
    return wave_buttons(notice.token, lambda msgid: i18n.gettext(msgid, locale=locale))


def render_notice(notice: PersonNotice, i18n: I18n, available: list[str]) -> str:
    """The text for one person notice. A notice without a text for the person (a status such
    as "returned") gives an empty string (nothing is sent)."""
    locale = _locale(notice, available)

    def t(msgid: str) -> str:
        return i18n.gettext(msgid, locale=locale)

    if isinstance(notice, FollowupWaveNotice):
        return t(FOLLOWUP_REMINDER if notice.reminder else FOLLOWUP_WAVE)
    reference = isolate(f"<b>{html.escape(notice.reference)}</b>", locale)
    partner = isolate(html.escape(notice.partner_name), locale)
    if isinstance(notice, ReminderNotice):
        text = t(REMINDER).format(partner=partner, time=slot_label(notice.slot_start, locale),
                                  reference=reference)
        if notice.address:
            text += "\n" + t(REMINDER_ADDRESS).format(address=html.escape(notice.address))
        if notice.lat and notice.lon:
            text += "\n🗺 " + map_link(notice.lat, notice.lon)
        return text
    if isinstance(notice, RelayNotice):
        return t(RELAY).format(reference=reference) + "\n\n" + html.escape(notice.text)
    assert isinstance(notice, StatusNotice)
    if notice.key == "accepted":
        return t(ACCEPTED).format(partner=partner, reference=reference)
    if notice.key in STATUS:
        return t(STATUS[notice.key]).format(reference=reference)
    return ""
