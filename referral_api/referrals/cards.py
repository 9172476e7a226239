"""What partners' counsellors read in their Telegram group (English for now, HTML).

The person's own notices are not rendered here: their payloads carry a message key and the
person's language, and the bot's worker translates them.

A card shows what the counsellor needs and nothing more: the person's name only if they gave
one, the phone only when they asked to be called, never the Telegram chat id.
"""

from __future__ import annotations

import html
from datetime import datetime
from functools import cache
from typing import Any

import phonenumbers
from babel import Locale

from referral_api.partners.schedule import to_local
from referral_api.referrals.reference import format_reference

# Button label and callback data of each status a counsellor can set.
STATUS_BUTTONS = (
    ("accepted", "Accept"),
    ("contacted", "Contacted"),
    ("unreachable", "Could not reach"),
    ("closed", "Closed"),
)
STATUS_LABELS = {
    "new": "New",
    "accepted": "Accepted",
    "contacted": "Contacted",
    "unreachable": "Could not reach",
    "closed": "Closed",
    "cancelled": "Cancelled by the person",
}
TOPIC_LABELS = {
    "information": "Information about voluntary return",
    "apply": "Applying for voluntary return",
    "travel_documents": "Travel documents",
    "reintegration": "Reintegration support",
    "medical": "Medical needs",
    "family": "Family",
    "other": "Other",
}
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

Buttons = list[list[dict[str, str]]]


@cache
def _english() -> Locale:
    return Locale("en")


def language_name(code: str) -> str:
    """'ar' → 'Arabic (ar)'; an unknown code is shown as it is."""
    locale_id = code.replace("-", "_")
    name = _english().languages.get(locale_id) or _english().languages.get(
        locale_id.split("_", 1)[0])
    return f"{name} ({code})" if name else code


def slot_text(moment: datetime) -> str:
    local = to_local(moment)
    return (f"{_WEEKDAYS[local.weekday()]} {local.day} {_MONTHS[local.month - 1]} "
            f"{local.year}, {local:%H:%M} (Brussels time)")


def phone_text(e164: str) -> str:
    return phonenumbers.format_number(phonenumbers.parse(e164),
                                      phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def status_buttons(code: str, status: str) -> Buttons:
    """Two rows of two buttons; none once the referral is closed or cancelled."""
    if status in ("closed", "cancelled"):
        return []
    buttons = [{"text": label, "callback_data": f"ref:{code}:{value}"}
               for value, label in STATUS_BUTTONS]
    return [buttons[:2], buttons[2:]]


def partner_card(*, code: str, status: str, contact_mode: str, slot_start: datetime | None,
                 language: str, interpreter: bool, topic: str, flags: list[str],
                 name: str | None, phone: str | None, update: bool = False) -> dict[str, Any]:
    """Payload of a `partner_card` (update=False) or `card_update` outbox row."""
    reference = format_reference(code)
    title = f"Referral {reference}" if update else f"New referral {reference}"
    if contact_mode == "phone" and phone:
        contact = f"phone call to {phone_text(phone)}"
    elif contact_mode == "visit" and slot_start is not None:
        contact = f"visit on {slot_text(slot_start)}"
    else:
        contact = "Telegram message through the bot"
    lines = [
        f"<b>{html.escape(title)}</b>",
        f"Status: {STATUS_LABELS.get(status, status)}",
        f"Language: {html.escape(language_name(language))}",
        f"Contact: {html.escape(contact)}",
        f"Interpreter: {'yes' if interpreter else 'no'}",
        f"Topic: {TOPIC_LABELS.get(topic, topic)}",
        f"Flags: {html.escape(', '.join(flags)) if flags else 'none'}",
    ]
    if name:
        lines.append(f"Name: {html.escape(name)}")
    lines.append(f"Reference: <code>{reference}</code>")
    payload: dict[str, Any] = {
        "text": "\n".join(lines),
        "parse_mode": "HTML",
        "reference": reference,
        "status": status,
    }
    buttons = status_buttons(code, status)
    if buttons:
        payload["buttons"] = buttons
    return payload


def withdrawn_notice(code: str) -> dict[str, Any]:
    """Sent to the partner when the person used /forget on an open referral."""
    reference = format_reference(code)
    return {
        "text": (f"<b>Referral {reference}</b>\nWithdrawn: the person asked us to delete "
                 "their data. Please do not contact them about this referral, and delete "
                 "any notes you made."),
        "parse_mode": "HTML",
        "reference": reference,
        "status": "withdrawn",
    }


def relay_to_partner(code: str, text: str) -> dict[str, Any]:
    reference = format_reference(code)
    return {
        "text": f"<b>Message about {reference}</b>\n{html.escape(text)}",
        "parse_mode": "HTML",
        "reference": reference,
    }


def coordinator_alert(*, code: str, partner_id: str, partner_name: str) -> dict[str, Any]:
    reference = format_reference(code)
    return {
        "text": (f"<b>Undeliverable referral {reference}</b>\n"
                 f"{html.escape(partner_name)} ({html.escape(partner_id)}) has no "
                 "notification chat. Set one, or contact the partner yourself."),
        "parse_mode": "HTML",
        "reference": reference,
    }
