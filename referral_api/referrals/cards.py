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

import phonenumbers
from babel.dates import format_datetime

from referral_api.outbox.messages import Buttons, StaffMessage
from referral_api.partners.schedule import to_local
from referral_api.referrals.reference import format_reference
from referral_api.staff.models import LOCALES
from referral_api.web.i18n import StaffTexts, language_label, staff_gettext
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


def language_name(code: str, locale: str = "en") -> str:
    """'ar' → 'Arabic (ar)' in English, 'Arabisch (ar)' in Dutch; unknown codes as they are."""
    return language_label(code, locale)


def slot_text(moment: datetime, locale: str = "en") -> str:
    local = to_local(moment)
    return format_datetime(local, "EEE d MMM yyyy, HH:mm", locale=locale)


def phone_text(e164: str) -> str:
    return phonenumbers.format_number(phonenumbers.parse(e164),
                                      phonenumbers.PhoneNumberFormat.INTERNATIONAL)


# The buttons that fit a status: every other counsellor status, and "Accept" only while new.
def fitting_statuses(status: str) -> list[str]:
    if status in ("closed", "cancelled", "withdrawn"):
        return []
    return [value for value in CARD_BUTTON
            if value != status and (value != "accepted" or status == "new")]


def status_buttons(code: str, status: str, locale: str = "en") -> Buttons:
    """Rows of two buttons, those that fit the status; none once closed or cancelled."""
    texts = staff_gettext(locale)
    buttons = [{"text": texts.label("card_button", value), "callback_data": f"ref:{code}:{value}"}
               for value in fitting_statuses(status)]
    return [buttons[i:i + 2] for i in range(0, len(buttons), 2)]


def shared_phrases(flags: list[str], t: StaffTexts) -> list[str]:
    """The screening answers the person chose to share, in plain words: "Medical treatment
    must continue", "2 children, under 6". Unknown ids are shown as they are."""
    phrases: list[str] = []
    count = next((f for f in flags if f in ("children_1", "children_2", "children_3plus")), None)
    ages = next((f for f in flags if f.startswith("children_") and f != count), None)
    for flag in flags:
        if flag.startswith("children_"):
            continue
        if flag == "children" and (count or ages):
            phrases.append(", ".join(t.label("flag", f) for f in (count, ages) if f))
        else:
            phrases.append(t.label("flag", flag))
    return phrases


def partner_card(*, code: str, status: str, contact_mode: str, slot_start: datetime | None,
                 language: str, interpreter: bool, topic: str, flags: list[str],
                 name: str | None, phone: str | None, update: bool = False,
                 locale: str = "en", partner_name: str | None = None,
                 changed_by: str | None = None, changed_at: datetime | None = None,
                 web: bool = False) -> StaffMessage:
    """A `partner_card` (update=False) or `card_update` outbox row, written in the partner's
    language (`locale`, one of LOCALES). One card per referral: an update edits the card in
    the group (outbox worker), showing the new status, who changed it and when, and the
    buttons that fit it. A cancelled referral's card loses the name and phone number."""
    t = staff_gettext(locale)
    reference = format_reference(code)
    title = t.gettext(CARD["update"] if update else CARD["new"], ref=reference)
    if status == "cancelled":
        name = phone = None
    if contact_mode == "phone" and phone:
        contact = t.gettext(CARD["phone"], phone=phone_text(phone))
    elif contact_mode == "phone":
        contact = t.label("contact_mode", "phone")
    elif contact_mode == "visit" and slot_start is not None:
        contact = t.gettext(CARD["visit"], when=slot_text(slot_start, locale))
    else:  # by message, on the person's channel
        contact = t.gettext(CARD["web"] if web else CARD["telegram"])
    status_text = (t.gettext(CARD["withdrawn_status"]) if status == "cancelled"
                   else t.label("card_status", status))
    if changed_by and changed_at is not None:
        status_text = t.gettext(CARD["changed"], status=status_text, who=changed_by,
                                when=slot_text(changed_at, locale))
    shared = shared_phrases(flags, t)
    lines = [f"<b>{html.escape(title)}</b>"]
    if partner_name:
        lines.append(f"{t.gettext(CARD['for'])}: {html.escape(partner_name)}")
    lines += [
        f"{t.gettext(CARD['status'])}: {html.escape(status_text)}",
        f"{t.gettext(CARD['language'])}: {html.escape(language_name(language, locale))}",
        f"{t.gettext(CARD['contact'])}: {html.escape(contact)}",
        f"{t.gettext(CARD['interpreter'])}: {t.gettext(CARD['yes' if interpreter else 'no'])}",
        f"{t.gettext(CARD['topic'])}: {t.label('topic', topic)}",
        f"{t.gettext(CARD['shared'])}: "
        f"{html.escape('; '.join(shared)) if shared else t.gettext(CARD['nothing_shared'])}",
    ]
    if "minor" in flags:
        lines.append(t.gettext(CARD["minor"]))
    if name:
        lines.append(f"{t.gettext(CARD['name'])}: {html.escape(name)}")
    if status == "cancelled":
        lines.append(t.gettext(CARD["cancelled"]))
    lines.append(f"{t.gettext(CARD['reference'])}: <code>{reference}</code>")
    return StaffMessage(text="\n".join(lines), parse_mode="HTML", reference=reference,
                        status=status, buttons=status_buttons(code, status, locale) or None)


def withdrawn_notice(code: str, locale: str = "en", *, partner_name: str | None = None,
                     reason: str = "withdrawn",
                     edit_message_id: int | None = None) -> StaffMessage:
    """The card once the person's data is gone: /forget on an open referral ("withdrawn") or
    the retention purge ("purged"). No personal data, no buttons. With `edit_message_id` it
    replaces the card in the group; without, it is sent as a message of its own."""
    t = staff_gettext(locale)
    reference = format_reference(code)
    lines = [f"<b>{html.escape(t.gettext(CARD['update'], ref=reference))}</b>"]
    if partner_name:
        lines.append(f"{t.gettext(CARD['for'])}: {html.escape(partner_name)}")
    lines += [f"{t.gettext(CARD['status'])}: {t.gettext(CARD['withdrawn_status'])}",
              t.gettext(CARD["purged" if reason == "purged" else "withdrawn"]),
              f"{t.gettext(CARD['reference'])}: <code>{reference}</code>"]
    return StaffMessage(text="\n".join(lines), parse_mode="HTML", reference=reference,
                        status="withdrawn", edit_message_id=edit_message_id)


def actor_label(actor: str, name: str | None, locale: str = "en") -> str:
    """Who changed the referral, on the card: a staff member's display name, "a counsellor
    in this group" (a button of the card), "the person"."""
    if name:
        return name
    t = staff_gettext(locale)
    if actor.startswith("counsellor:"):
        return t.gettext(CARD["by_telegram"])
    if actor == "person":
        return t.gettext(CARD["by_person"])
    return t.label("actor", actor.split(":", 1)[0])


def status_confirmation(code: str, status: str, locale: str = "en") -> str:
    """What the counsellor who pressed a card's button is told (in the partner's language)."""
    t = staff_gettext(locale)
    return t.gettext(CARD["confirm"], ref=format_reference(code),
                     status=t.label("card_status", status))


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
