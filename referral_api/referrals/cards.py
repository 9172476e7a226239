"""What partners' counsellors read in their Telegram group, in the partner's language (HTML).

Each is a `StaffMessage` (outbox.messages), sent as it is. The person's own notices are not
rendered here: they carry a message key and the person's language (`PersonNotice`), and the
worker translates them (bot.notices).

A card shows what the counsellor needs and nothing more: the person's name only if they gave
one, the phone only when they asked to be called, never the Telegram chat id.
"""

from __future__ import annotations

import html
from datetime import datetime
from functools import cache

import phonenumbers
from babel import Locale
from babel.dates import format_datetime

from referral_api.outbox.messages import Buttons, StaffMessage
from referral_api.partners.schedule import to_local
from referral_api.referrals.reference import format_reference
from referral_api.staff.models import LOCALES
from referral_api.web.i18n import staff_gettext
from referral_api.web.texts import CARD, CARD_BUTTON

# A card is written in its partner's staff language (card_locale), with the staff app's
# catalogue (gettext domain `staff`, texts in referral_api.web.texts), including the person's
# language name ("Arabisch (ar)").
# Province codes of the postcode dataset: Flanders writes in Dutch, Wallonia in French.
_FRENCH_PROVINCES = frozenset({"WHT", "WNA", "WLG", "WLX", "WBR"})
_DUTCH_PROVINCES = frozenset({"VAN", "VOV", "VWV", "VLI", "VBR"})


def card_locale(languages: list[str] | None, province: str | None) -> str:
    """The partner's staff language: the first of nl/fr/en it lists, else its region's."""
    for code in languages or []:
        base = code.split("_")[0].split("-")[0]
        if base in LOCALES:
            return base
    if province in _DUTCH_PROVINCES:
        return "nl"
    if province in _FRENCH_PROVINCES:
        return "fr"
    return "en"


@cache
def _locale(code: str) -> Locale:
    return Locale.parse(code)


def language_name(code: str, locale: str = "en") -> str:
    """'ar' → 'Arabic (ar)' in English, 'Arabisch (ar)' in Dutch; unknown codes as they are."""
    names = _locale(locale).languages
    locale_id = code.replace("-", "_")
    name = names.get(locale_id) or names.get(locale_id.split("_", 1)[0])
    return f"{name} ({code})" if name else code


def slot_text(moment: datetime, locale: str = "en") -> str:
    local = to_local(moment)
    return format_datetime(local, "EEE d MMM yyyy, HH:mm", locale=locale)


def phone_text(e164: str) -> str:
    return phonenumbers.format_number(phonenumbers.parse(e164),
                                      phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def status_buttons(code: str, status: str, locale: str = "en") -> Buttons:
    """Two rows of two buttons; none once the referral is closed or cancelled."""
    if status in ("closed", "cancelled"):
        return []
    texts = staff_gettext(locale)
    buttons = [{"text": texts.label("card_button", value), "callback_data": f"ref:{code}:{value}"}
               for value in CARD_BUTTON]
    return [buttons[:2], buttons[2:]]


def partner_card(*, code: str, status: str, contact_mode: str, slot_start: datetime | None,
                 language: str, interpreter: bool, topic: str, flags: list[str],
                 name: str | None, phone: str | None, update: bool = False,
                 locale: str = "en") -> StaffMessage:
    """A `partner_card` (update=False) or `card_update` outbox row, written in the partner's
    language (`locale`, one of LOCALES)."""
    t = staff_gettext(locale)
    reference = format_reference(code)
    title = t.gettext(CARD["update"] if update else CARD["new"], ref=reference)
    if contact_mode == "phone" and phone:
        contact = t.gettext(CARD["phone"], phone=phone_text(phone))
    elif contact_mode == "visit" and slot_start is not None:
        contact = t.gettext(CARD["visit"], when=slot_text(slot_start, locale))
    else:
        contact = t.gettext(CARD["telegram"])
    lines = [
        f"<b>{html.escape(title)}</b>",
        f"{t.gettext(CARD['status'])}: {t.label('card_status', status)}",
        f"{t.gettext(CARD['language'])}: {html.escape(language_name(language, locale))}",
        f"{t.gettext(CARD['contact'])}: {html.escape(contact)}",
        f"{t.gettext(CARD['interpreter'])}: {t.gettext(CARD['yes' if interpreter else 'no'])}",
        f"{t.gettext(CARD['topic'])}: {t.label('topic', topic)}",
        f"{t.gettext(CARD['flags'])}: "
        f"{html.escape(', '.join(flags)) if flags else t.gettext(CARD['none'])}",
    ]
    if "minor" in flags:
        lines.append(t.gettext(CARD["minor"]))
    if name:
        lines.append(f"{t.gettext(CARD['name'])}: {html.escape(name)}")
    lines.append(f"{t.gettext(CARD['reference'])}: <code>{reference}</code>")
    return StaffMessage(text="\n".join(lines), parse_mode="HTML", reference=reference,
                        status=status, buttons=status_buttons(code, status, locale) or None)


def withdrawn_notice(code: str, locale: str = "en") -> StaffMessage:
    """Sent to the partner when the person used /forget on an open referral."""
    t = staff_gettext(locale)
    reference = format_reference(code)
    return StaffMessage(text=f"<b>{t.gettext(CARD['update'], ref=reference)}</b>\n"
                             f"{t.gettext(CARD['withdrawn'])}",
                        parse_mode="HTML", reference=reference, status="withdrawn")


def relay_to_partner(code: str, text: str, locale: str = "en") -> StaffMessage:
    t = staff_gettext(locale)
    reference = format_reference(code)
    return StaffMessage(text=f"<b>{t.gettext(CARD['message'], ref=reference)}</b>\n"
                             f"{html.escape(text)}",
                        parse_mode="HTML", reference=reference)


def coordinator_alert(*, code: str, partner_id: str, partner_name: str) -> StaffMessage:
    t = staff_gettext("en")  # coordinators of the whole programme
    reference = format_reference(code)
    return StaffMessage(text=(f"<b>{t.gettext(CARD['alert'], ref=reference)}</b>\n"
                              + t.gettext(CARD["alert_text"], partner=html.escape(partner_name),
                                          id=html.escape(partner_id))),
                        parse_mode="HTML", reference=reference)
