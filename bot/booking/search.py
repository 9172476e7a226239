"""Finding places: the location and postcode readers, the city list, the nearest places and
the chosen place. The location and the postcode are used for one search, in the same update,
and never written to the conversation or a log."""

from __future__ import annotations

import html
from typing import Any

from aiogram.types import Message, ReplyKeyboardRemove
from aiogram.utils.i18n import gettext as _

from bot.api_client import NearestPartners, Origin, PartnerPublic
from bot.booking.outcomes import api_outcomes
from bot.booking.texts import place_block, sample_place
from bot.engine.actions import Item, Outcome, Turn, View
from bot.engine.core import Engine
from bot.i18n import isolate
from bot.inputs import postcode
from bot.screening import flags_from, service_for

MINORS = "minors"  # the partner service for young people alone

QUERY = "query"  # turn.scratch: the search typed or sent in this update
SEARCH_REFUSALS = frozenset({"outside_belgium", "unknown_postcode", "unknown_city"})


async def read_location(turn: Turn, message: Message) -> str | None:
    if message.location is None:  # "Cancel", or anything but a location
        await message.answer(_("No problem."), reply_markup=ReplyKeyboardRemove())
        raise Outcome("cancel")
    turn.scratch[QUERY] = {"lat": message.location.latitude,
                           "lon": message.location.longitude}
    await message.answer(_("Thank you. Looking for places near you…"),
                         reply_markup=ReplyKeyboardRemove())
    return None


async def read_postcode(turn: Turn, message: Message) -> str | None:
    code = postcode(message.text)
    if code is None:
        raise Outcome("invalid")
    turn.scratch[QUERY] = {"postcode": code}
    return None


async def cities(turn: Turn) -> View:
    with api_outcomes(refused="unavailable"):
        found = await turn.referrals.cities()
    names = list(dict.fromkeys(city.city for city in found))  # one button per city
    postcodes = {city.city: city.postal_code for city in found}
    return View(items=[Item(id=postcodes[name], fields={"name": name.split(" / ")[0]})
                       for name in names if postcodes[name].isdigit()])


def cities_sample(engine: Engine, locale: str) -> View:
    return View(items=[Item(id="1000", fields={"name": "Bruxelles"}),
                       Item(id="9000", fields={"name": "Gent"})])


async def _query(turn: Turn) -> dict[str, Any]:
    """This update's search, or the city just picked from the list."""
    if QUERY in turn.scratch:
        return dict(turn.scratch[QUERY])
    postcode = turn.answers.get("city")
    if postcode is None:
        raise Outcome("lost")  # a page turn or a Back after the search was forgotten
    with api_outcomes(refused="unavailable"):
        found = await turn.referrals.cities()
    for city in found:
        if city.postal_code == postcode:
            return {"city": city.city}
    raise Outcome("unknown_city")


async def places(turn: Turn) -> View:
    """The nearest places. Distance first, except that a partner offering the support the
    screening pointed to (medical, minors, ...) comes first. Language does not rank: the
    list shows it."""
    query = await _query(turn)
    turn.answers.pop("city", None)
    with api_outcomes(refused=lambda exc: exc.code if exc.code in SEARCH_REFUSALS
                      else "unknown_city"):
        result = await turn.referrals.nearest(service=service_for(turn.answers), **query)
    if "minor" in flags_from(turn.answers):  # only places that work with young people alone
        result = result.model_copy(update={"partners": [
            p for p in result.partners if MINORS in p.services]})
        if not result.partners:
            raise Outcome("none_for_minors")
    return places_view(result, turn.locale)


def places_view(result: NearestPartners, locale: str) -> View:
    place = result.origin.label or (result.partners[0].city if result.partners else "")
    return View(values={"place": place}, items=[
        Item(id=p.id, fields={"n": str(i), "name": p.name}, block=place_block(i, p, locale))
        for i, p in enumerate(result.partners, start=1)])


def places_sample(engine: Engine, locale: str) -> View:
    return places_view(NearestPartners(origin=Origin(label="9000 Gent", province=None),
                                       partners=[sample_place()]), locale)


async def chosen_partner(turn: Turn) -> PartnerPublic:
    """The place chosen on the list, checked with the API (once per update)."""
    if "partner" in turn.scratch:
        found: PartnerPublic = turn.scratch["partner"]
        return found
    partner_id = turn.answers.get("partner")
    if partner_id is None:
        raise Outcome("lost")
    with api_outcomes():
        found = turn.scratch["partner"] = await turn.referrals.partner(partner_id)
    return found


async def partner(turn: Turn) -> View:
    """The chosen place as a header above the next question."""
    found = await chosen_partner(turn)
    return View(header="📍 <b>" + isolate(html.escape(found.name), turn.locale) + "</b>")


def partner_sample(engine: Engine, locale: str) -> View:
    return View(header="📍 <b>Ghent return desk</b>")
