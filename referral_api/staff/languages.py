"""The bot's languages a translator account may be given (issue 18): the catalogues shipped,
and the admin's typed list checked against them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from referral_api.errors import Invalid

LOCALES_DIR = Path(__file__).resolve().parents[2] / "locales"


def shipped_catalogues(locales_dir: Path = LOCALES_DIR) -> list[str]:
    """The bot's languages with a catalogue (English is the source: nothing to review)."""
    return sorted(p.parent.parent.name for p in locales_dir.glob("*/LC_MESSAGES/messages.po"))


def parse_languages(text: str, shipped: Sequence[str]) -> str | None:
    """A translator's languages as the admin typed them ("ar, fa_AF") → "ar,fa_AF"."""
    codes = [c.strip() for c in re.split(r"[,\s]+", text) if c.strip()]
    if any(code not in shipped for code in codes):
        raise Invalid("invalid_languages")
    return ",".join(dict.fromkeys(codes)) or None
