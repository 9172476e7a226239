"""The booking's words that depend on data: labels of closed values, a place's details, the
lines of the consent summary. The screens themselves are in flows/booking.yaml and
flows/mycontact.yaml."""

from __future__ import annotations

import html
from datetime import UTC, datetime, time

from aiogram.utils.i18n import gettext as _

from bot.api_client import (
    ApiRefused,
    ApiUnavailable,
    PartnerNearby,
    PartnerPublic,
    ReferralPublic,
    ReferralsClient,
)
from bot.booking.opening import opening_lines
from bot.engine.core import Engine
from bot.formats import day_label, map_link, slot_label
from bot.i18n import isolate, native_name
from bot.screening import flags_from
from referral_api.partners.schemas import OpeningWindow

MINUTE = 60  # seconds; a slot id is the visit's start in minutes since the epoch


def slot_id(slot: datetime) -> str:
    return str(int(slot.timestamp() // MINUTE))


def slot_from_id(value: str | None) -> datetime | None:
    if not value or not value.isdigit():
        return None
    return datetime.fromtimestamp(int(value) * MINUTE, tz=UTC)


def mode_label(mode: str, web: bool = False) -> str:
    """``web``: the person is on the web chat (bot.channels), where "here" is not Telegram."""
    if mode == "telegram" and web:
        return _("a message here in this chat")
    return {"telegram": _("a message here in Telegram"), "phone": _("a phone call"),
            "visit": _("a visit at a set time")}.get(mode, mode)


def status_label(status: str) -> str:
    return {"new": _("not accepted yet"), "accepted": _("accepted"),
            "contacted": _("the counsellor contacted you"),
            "unreachable": _("the counsellor could not reach you")}.get(status, status)


def topic_label(topic: str, engine: Engine, locale: str) -> str:
    node = engine.flows.flows["booking"].nodes["topic"]
    for choice in getattr(node, "choices", ()):
        if choice.id == topic:
            return engine.translate(choice.label, locale)
    return topic


def freephone(engine: Engine, locale: str) -> str:
    """The free number of the programme (programme-facts §1.5), from flows/facts.yaml."""
    fact = engine.flows.facts.facts.get("freephone")
    return isolate(fact.value, locale) if fact else ""


def place_block(n: int, place: PartnerNearby, locale: str) -> str:
    """One place of the search result: name, distance, address, opening, phone, languages."""
    head = f"{n}. <b>" + isolate(html.escape(place.name), locale) + "</b>"
    if place.distance_km is not None and place.distance_km >= 0.05:
        head += " — " + isolate(f"{place.distance_km:.1f} km", locale)
    else:  # no street known: its coordinates are the town's, "0.0 km" would be untrue
        head += " — " + isolate(html.escape(place.city), locale)
    if place.address:
        where = isolate(html.escape(place.address), locale)
    else:  # never "you can go there" without an address
        where = (isolate(html.escape(place.city), locale) + " — "
                 + html.escape(_("the address is given when you book")))
    lines = [head, "📍 " + where, *opening_lines(place, locale)]
    if place.phone:
        lines.append("📞 " + isolate(html.escape(place.phone), locale))
    if place.languages:
        lines.append("🗣 " + ", ".join(native_name(code) for code in place.languages[:6]))
    return "\n".join(lines)


def sample_place() -> PartnerNearby:
    """A place with every kind of opening data, for the screens' sample views."""
    return PartnerNearby(id="ghent-return-desk", name="Ghent return desk", kind="return_desk",
                         city="Gent", postal_code="9000", province=None,
                         address="Somewhere 1, 9000 Gent", lat=51.05, lon=3.72,
                         phone="+32 9 000 00 00", access="both",
                         opening=[*(OpeningWindow(mode="walk_in", day=day, part="morning")
                                    for day in (0, 2, 3)),
                                  *(OpeningWindow(mode="appointment", day=day, start=time(13),
                                                  end=time(16)) for day in range(5))],
                         opening_as_of="2015", interpreter=True, accessible=True,
                         notes={"en": "In the OCMW Sociaal Centrum Plein."},
                         languages=["nl", "fr"], services=[], verified=True, distance_km=1.2)


def where_to_go(place: PartnerPublic, locale: str) -> str:
    """Where the place is: its address, a map link and its hours (data, not copy)."""
    lines = []
    if place.address:
        lines.append("📍 " + isolate(html.escape(place.address), locale))
    else:
        lines.append("📍 " + _("The counsellor will tell you the address."))
    if place.lat and place.lon and place.address:  # without an address: the town's centre
        lines.append("🗺 " + map_link(place.lat, place.lon))
    lines += opening_lines(place, locale)
    if place.phone:
        lines.append("📞 " + isolate(html.escape(place.phone), locale))
    return "\n".join(lines)


async def where_footer(referrals: ReferralsClient, partner_id: str, locale: str) -> str | None:
    """The place's address, map and hours below a confirmation or a contact; nothing when
    the API cannot say (the screen must not fail for it)."""
    try:
        place = await referrals.partner(partner_id)
    except (ApiUnavailable, ApiRefused):
        return None
    return where_to_go(place, locale) or None


def consent_summary(answers: dict[str, str], engine: Engine, locale: str,
                    web: bool = False) -> str:
    """The bullets of "We will send to …": only what this booking will share."""
    mode = answers.get("mode", "telegram")
    lines = ["• " + _("your language: {language}").format(language=native_name(locale)),
             "• " + _("how to contact you: {mode}").format(mode=mode_label(mode, web))]
    slot = slot_from_id(answers.get("slot"))
    if mode == "visit" and slot is not None:
        lines.append("• " + _("your visit: {time}").format(time=slot_label(slot, locale)))
    if mode == "phone":
        lines.append("• " + _("your phone number (you type it after this)"))
    lines.append("• " + _("interpreter needed: {answer}").format(
        answer={"yes": _("yes"), "no": _("no")}.get(answers.get("interpreter", ""),
                                                     _("not sure"))))
    lines.append("• " + _("topic: {topic}").format(
        topic=topic_label(answers.get("topic", "other"), engine, locale)))
    return "\n".join(lines)


def sensitive_lines(answers: dict[str, str]) -> str:
    """The bullets of "You told us that": the screening's sensitive answers."""
    names = {"minor": _("you are under 18 and alone in Belgium"),
             "trafficking": _("you may be in danger or forced to work"),
             "medical": _("you need medical treatment"),
             "pregnant": _("you are pregnant"),
             "children": _("children travel with you"),
             "older_65": _("you are 65 or older")}
    return "\n".join("• " + names[f] for f in flags_from(answers) if f in names)


def contact_details(referral: ReferralPublic, locale: str, engine: Engine,
                    web: bool = False) -> str:
    """A booked contact, saying only what is known: when it was registered, whether a
    counsellor accepted it, and what to do when nobody answers (no waiting time is promised:
    the programme facts give none)."""
    lines = ["📍 " + isolate(html.escape(referral.partner_name), locale),
             _("Contact: {mode}").format(mode=mode_label(referral.contact_mode, web))]
    if referral.slot_start:
        lines.append("🕘 " + slot_label(referral.slot_start, locale))
    if referral.phone_hint:
        lines.append("📞 " + isolate(html.escape(referral.phone_hint), locale))
    if referral.created_at:
        lines.append(_("Registered on {day}").format(day=day_label(referral.created_at,
                                                                    locale)))
    lines.append(_("Status: {status}").format(status=status_label(referral.status)))
    if referral.status in ("new", "accepted") and referral.contact_mode != "visit":
        lines += ["", _("If you hear nothing, you can cancel it below, or call the free number "
                        "{phone}.").format(phone=freephone(engine, locale))]
    return "\n".join(lines)
