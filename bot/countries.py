"""The country a person would return to: asked only where money is concerned, kept only in
the conversation state (answer ``country``), and read against the country table of
flows/facts.yaml so that a screen never promises more than the table supports
(programme-facts §1.3). Country names come from CLDR, in the person's language."""

from __future__ import annotations

from aiogram.utils.i18n import gettext as _
from babel import Locale

from bot.engine.actions import Item, Turn, View
from bot.engine.conversation import Conversation
from bot.engine.core import Engine
from bot.engine.schema import CountryRule, Facts

COUNTRY = "country"  # save_as of support.country
OTHER, UNSAID = "other", "unsaid"


def country_name(code: str, locale: str) -> str:
    try:
        return str(Locale.parse(locale).territories.get(code, code))
    except (ValueError, LookupError):
        return str(Locale.parse("en").territories.get(code, code))


def countries_view(facts: Facts, locale: str) -> View:
    items = sorted((Item(id=code, fields={"name": country_name(code, locale)})
                    for code in facts.countries), key=lambda item: item.fields["name"])
    return View(items=[*items, Item(id=OTHER, fields={"name": _("Another country")}),
                       Item(id=UNSAID, fields={"name": _("I prefer not to say")})])


async def countries(turn: Turn) -> View:
    return countries_view(turn.engine.flows.facts, turn.locale)


def countries_sample(engine: Engine, locale: str) -> View:
    return countries_view(engine.flows.facts, locale)


async def country(turn: Turn) -> View:
    code = turn.answers.get(COUNTRY, "")
    return View(values={"country": country_name(code, turn.locale)})


def country_sample(engine: Engine, locale: str) -> View:
    return View(values={"country": country_name("MD", locale)})


async def forget_country(turn: Turn) -> str | None:
    turn.answers.pop(COUNTRY, None)
    return None


def rule(conv: Conversation, facts: Facts) -> CountryRule | None:
    return facts.countries.get(conv.answers.get(COUNTRY, ""))


def country_not_asked(conv: Conversation, facts: Facts) -> bool:
    return COUNTRY not in conv.answers


def no_money(conv: Conversation, facts: Facts) -> bool:
    """The table says there is neither a premium nor a reintegration budget any more."""
    found = rule(conv, facts)
    return found is not None and found.premium == "none" and found.reintegration == "none"


def aid_announced(conv: Conversation, facts: Facts) -> bool:
    found = rule(conv, facts)
    return found is not None and found.reintegration == "announced"


def entry_ban_claim_ok(conv: Conversation, facts: Facts) -> bool:
    """"No entry ban" may be said, unless the table says not for this country."""
    found = rule(conv, facts)
    return found is None or found.no_entry_ban_claim
