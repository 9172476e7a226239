"""Destination countries of the "returned" action: ISO 3166-1 alpha-2 codes with names from
Babel's CLDR data in the account's language."""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from babel import Locale

# CLDR territory codes of two letters that are not ISO 3166-1 countries (groupings, reserved
# codes, pseudo-locales), and Belgium itself. Kosovo (XK, user-assigned but in common use) stays.
NOT_COUNTRIES = frozenset({"AC", "BE", "CP", "CQ", "DG", "EA", "EU", "EZ", "IC", "QO", "TA",
                           "UN", "XA", "XB", "ZZ"})


@lru_cache(maxsize=1)
def country_codes() -> frozenset[str]:
    return frozenset(str(code) for code in Locale("en").territories
                     if len(str(code)) == 2 and str(code).isalpha() and str(code).isupper()
                     and code not in NOT_COUNTRIES)


@lru_cache(maxsize=8)
def country_choices(locale: str) -> tuple[tuple[str, str], ...]:
    """(code, name) of every destination country, sorted by name in `locale`."""
    names = Locale.parse(locale).territories
    return tuple(sorted(((code, str(names.get(code, code))) for code in country_codes()),
                        key=lambda item: (_sort_key(item[1]), item[0])))


def _sort_key(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def country_name(code: str, locale: str) -> str:
    return str(Locale.parse(locale).territories.get(code, code))
