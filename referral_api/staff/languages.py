"""The bot's languages a translator account may be given (issue 18): the catalogues shipped,
and the admin's typed list checked against them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache

from bot.i18n import SOURCE_LOCALE, shipped_locales
from referral_api.errors import Invalid
from referral_api.settings import LOCALES_DIR


@cache
def shipped_catalogues() -> tuple[str, ...]:
    """The bot's languages with a catalogue (English is the source: nothing to review); the
    catalogues ship with the code, so they are looked for once."""
    return tuple(code for code in shipped_locales(LOCALES_DIR) if code != SOURCE_LOCALE)


def parse_languages(text: str, shipped: Sequence[str]) -> str | None:
    """A translator's languages as the admin typed them ("ar, fa_AF") → "ar,fa_AF"."""
    codes = [c.strip() for c in re.split(r"[,\s]+", text) if c.strip()]
    if any(code not in shipped for code in codes):
        raise Invalid("invalid_languages")
    return ",".join(dict.fromkeys(codes)) or None
