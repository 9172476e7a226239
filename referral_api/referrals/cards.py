"""What partners' counsellors read in their Telegram group, in the partner's language (HTML).

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
from babel.dates import format_datetime

from referral_api.partners.schedule import to_local
from referral_api.referrals.reference import format_reference

# Staff-facing texts in the staff languages (nl, fr, en): a card is written in its partner's
# language (card_locale), including the person's language name ("Arabisch (ar)").
CARD_LOCALES = ("nl", "fr", "en")
TEXT: dict[str, dict[str, str]] = {
    "en": {"new": "New referral {ref}", "update": "Referral {ref}", "status": "Status",
           "language": "Language", "contact": "Contact", "interpreter": "Interpreter",
           "topic": "Topic", "flags": "Flags", "name": "Name", "reference": "Reference",
           "yes": "yes", "no": "no", "none": "none", "phone": "phone call to {phone}",
           "visit": "visit on {when} (Brussels time)",
           "telegram": "Telegram message through the bot",
           "withdrawn": "Withdrawn: the person asked us to delete their data. Please do not "
                        "contact them about this referral, and delete any notes you made.",
           "message": "Message about {ref}",
           "alert": "Undeliverable referral {ref}",
           "alert_text": "{partner} ({id}) has no notification chat. Set one, or contact the "
                         "partner yourself."},
    "nl": {"new": "Nieuwe doorverwijzing {ref}", "update": "Doorverwijzing {ref}",
           "status": "Status", "language": "Taal", "contact": "Contact",
           "interpreter": "Tolk", "topic": "Onderwerp", "flags": "Aandachtspunten",
           "name": "Naam", "reference": "Referentie", "yes": "ja", "no": "nee",
           "none": "geen", "phone": "telefoon naar {phone}",
           "visit": "bezoek op {when} (Brusselse tijd)",
           "telegram": "Telegram-bericht via de bot",
           "withdrawn": "Ingetrokken: de persoon vroeg om zijn gegevens te wissen. Neem geen "
                        "contact meer op over deze doorverwijzing en wis je notities.",
           "message": "Bericht over {ref}", "alert": "Onbestelbare doorverwijzing {ref}",
           "alert_text": "{partner} ({id}) heeft geen meldingschat. Stel er een in, of neem "
                         "zelf contact op met de partner."},
    "fr": {"new": "Nouvelle orientation {ref}", "update": "Orientation {ref}",
           "status": "Statut", "language": "Langue", "contact": "Contact",
           "interpreter": "Interprète", "topic": "Sujet", "flags": "Points d'attention",
           "name": "Nom", "reference": "Référence", "yes": "oui", "no": "non",
           "none": "aucun", "phone": "appel au {phone}",
           "visit": "visite le {when} (heure de Bruxelles)",
           "telegram": "message Telegram via le bot",
           "withdrawn": "Retirée : la personne a demandé d'effacer ses données. Ne la "
                        "contactez plus au sujet de cette orientation et effacez vos notes.",
           "message": "Message concernant {ref}", "alert": "Orientation non distribuable {ref}",
           "alert_text": "{partner} ({id}) n'a pas de chat de notification. Configurez-en un, "
                         "ou contactez vous-même le partenaire."},
}
STATUS_TEXT: dict[str, dict[str, str]] = {
    "en": {"new": "New", "accepted": "Accepted", "contacted": "Contacted",
           "unreachable": "Could not reach", "closed": "Closed",
           "cancelled": "Cancelled by the person"},
    "nl": {"new": "Nieuw", "accepted": "Aanvaard", "contacted": "Gecontacteerd",
           "unreachable": "Niet bereikt", "closed": "Afgesloten",
           "cancelled": "Geannuleerd door de persoon"},
    "fr": {"new": "Nouvelle", "accepted": "Acceptée", "contacted": "Contactée",
           "unreachable": "Injoignable", "closed": "Clôturée",
           "cancelled": "Annulée par la personne"},
}
BUTTON_TEXT: dict[str, dict[str, str]] = {
    "en": {"accepted": "Accept", "contacted": "Contacted", "unreachable": "Could not reach",
           "closed": "Closed"},
    "nl": {"accepted": "Aanvaarden", "contacted": "Gecontacteerd", "unreachable": "Niet bereikt",
           "closed": "Afsluiten"},
    "fr": {"accepted": "Accepter", "contacted": "Contactée", "unreachable": "Injoignable",
           "closed": "Clôturer"},
}
TOPIC_TEXT: dict[str, dict[str, str]] = {
    "en": {"information": "Information about voluntary return",
           "apply": "Applying for voluntary return", "travel_documents": "Travel documents",
           "reintegration": "Reintegration support", "medical": "Medical needs",
           "family": "Family", "other": "Other"},
    "nl": {"information": "Informatie over vrijwillige terugkeer",
           "apply": "Aanvraag vrijwillige terugkeer", "travel_documents": "Reisdocumenten",
           "reintegration": "Re-integratiesteun", "medical": "Medische noden",
           "family": "Gezin", "other": "Andere"},
    "fr": {"information": "Informations sur le retour volontaire",
           "apply": "Demande de retour volontaire", "travel_documents": "Documents de voyage",
           "reintegration": "Aide à la réintégration", "medical": "Besoins médicaux",
           "family": "Famille", "other": "Autre"},
}
# Kept for callers that want the English words.
STATUS_BUTTONS = tuple(BUTTON_TEXT["en"].items())
STATUS_LABELS = STATUS_TEXT["en"]
TOPIC_LABELS = TOPIC_TEXT["en"]
# Province codes of the postcode dataset: Flanders writes in Dutch, Wallonia in French.
_FRENCH_PROVINCES = frozenset({"WHT", "WNA", "WLG", "WLX", "WBR"})
_DUTCH_PROVINCES = frozenset({"VAN", "VOV", "VWV", "VLI", "VBR"})


def card_locale(languages: list[str] | None, province: str | None) -> str:
    """The partner's staff language: the first of nl/fr/en it lists, else its region's."""
    for code in languages or []:
        base = code.split("_")[0].split("-")[0]
        if base in CARD_LOCALES:
            return base
    if province in _DUTCH_PROVINCES:
        return "nl"
    if province in _FRENCH_PROVINCES:
        return "fr"
    return "en"


Buttons = list[list[dict[str, str]]]


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
    labels = BUTTON_TEXT.get(locale, BUTTON_TEXT["en"])
    buttons = [{"text": label, "callback_data": f"ref:{code}:{value}"}
               for value, label in labels.items()]
    return [buttons[:2], buttons[2:]]


def partner_card(*, code: str, status: str, contact_mode: str, slot_start: datetime | None,
                 language: str, interpreter: bool, topic: str, flags: list[str],
                 name: str | None, phone: str | None, update: bool = False,
                 locale: str = "en") -> dict[str, Any]:
    """Payload of a `partner_card` (update=False) or `card_update` outbox row, written in the
    partner's language (`locale`, one of CARD_LOCALES)."""
    t = TEXT.get(locale, TEXT["en"])
    reference = format_reference(code)
    title = (t["update"] if update else t["new"]).format(ref=reference)
    if contact_mode == "phone" and phone:
        contact = t["phone"].format(phone=phone_text(phone))
    elif contact_mode == "visit" and slot_start is not None:
        contact = t["visit"].format(when=slot_text(slot_start, locale))
    else:
        contact = t["telegram"]
    topics = TOPIC_TEXT.get(locale, TOPIC_TEXT["en"])
    lines = [
        f"<b>{html.escape(title)}</b>",
        f"{t['status']}: {STATUS_TEXT.get(locale, STATUS_TEXT['en']).get(status, status)}",
        f"{t['language']}: {html.escape(language_name(language, locale))}",
        f"{t['contact']}: {html.escape(contact)}",
        f"{t['interpreter']}: {t['yes'] if interpreter else t['no']}",
        f"{t['topic']}: {topics.get(topic, topic)}",
        f"{t['flags']}: {html.escape(', '.join(flags)) if flags else t['none']}",
    ]
    if name:
        lines.append(f"{t['name']}: {html.escape(name)}")
    lines.append(f"{t['reference']}: <code>{reference}</code>")
    payload: dict[str, Any] = {
        "text": "\n".join(lines),
        "parse_mode": "HTML",
        "reference": reference,
        "status": status,
    }
    buttons = status_buttons(code, status, locale)
    if buttons:
        payload["buttons"] = buttons
    return payload


def withdrawn_notice(code: str, locale: str = "en") -> dict[str, Any]:
    """Sent to the partner when the person used /forget on an open referral."""
    t = TEXT.get(locale, TEXT["en"])
    reference = format_reference(code)
    return {
        "text": f"<b>{t['update'].format(ref=reference)}</b>\n{t['withdrawn']}",
        "parse_mode": "HTML",
        "reference": reference,
        "status": "withdrawn",
    }


def relay_to_partner(code: str, text: str, locale: str = "en") -> dict[str, Any]:
    t = TEXT.get(locale, TEXT["en"])
    reference = format_reference(code)
    return {
        "text": f"<b>{t['message'].format(ref=reference)}</b>\n{html.escape(text)}",
        "parse_mode": "HTML",
        "reference": reference,
    }


def coordinator_alert(*, code: str, partner_id: str, partner_name: str) -> dict[str, Any]:
    t = TEXT["en"]
    reference = format_reference(code)
    return {
        "text": (f"<b>{t['alert'].format(ref=reference)}</b>\n" + t["alert_text"].format(
            partner=html.escape(partner_name), id=html.escape(partner_id))),
        "parse_mode": "HTML",
        "reference": reference,
    }
