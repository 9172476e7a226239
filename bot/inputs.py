"""What people type, normalised once: digits in any script (Arabic-Indic ٩٠٠٠, Persian ۱۰۰۰,
…) become ASCII digits, and a Belgian postcode may be written `1000`, `B-1000` or `B 1000`."""

from __future__ import annotations

import re
import unicodedata

_POSTCODE = re.compile(r"^(?:B\s*-?\s*)?(\d{4})$", re.IGNORECASE)


def ascii_digits(text: str) -> str:
    """Every decimal digit, of any script, as 0–9; everything else as it is."""
    return "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() else ch for ch in text)


def postcode(text: str | None) -> str | None:
    """A Belgian postcode as four ASCII digits, or None."""
    found = _POSTCODE.match(ascii_digits((text or "").strip()))
    return found.group(1) if found else None
