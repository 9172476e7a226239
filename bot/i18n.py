"""Language negotiation, right-to-left isolation and the gettext catalogues (Babel).

English is the source language: flow texts and Python strings are the msgids, so English needs
no catalogue. Every other language lives in ``locales/<code>/LC_MESSAGES/messages.po``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from pathlib import Path

from aiogram.utils.i18n import I18n
from babel import Locale

SOURCE_LOCALE = "en"
DOMAIN = "messages"
RTL_LOCALES = frozenset({"ar", "fa", "ps", "ckb"})
FSI, PDI = "\u2068", "\u2069"  # first strong isolate ... pop directional isolate


def normalise(code: str | None) -> str | None:
    """``pt-br`` -> ``pt_BR``; ``NL`` -> ``nl``. None or empty stays None."""
    if not code:
        return None
    lang, _, region = code.replace("-", "_").partition("_")
    return f"{lang.lower()}_{region.upper()}" if region else lang.lower()


def negotiate(
    preferred: str | None, telegram_hint: str | None, available: Iterable[str], default: str
) -> str:
    """Pick the language: the person's explicit choice, else their Telegram app's language
    (exact, then the same base language), else ``default``."""
    shipped = list(available)
    if preferred in shipped:
        return preferred
    hint = normalise(telegram_hint)
    if hint:
        if hint in shipped:
            return hint
        base = hint.split("_")[0]
        if base in shipped:
            return base
        for code in shipped:
            if code.split("_")[0] == base:
                return code
    return default


def is_rtl(locale: str) -> bool:
    return locale.split("_")[0] in RTL_LOCALES


def isolate(text: str, locale: str) -> str:
    """Wrap a number, phone, code or Latin name for display inside right-to-left text, so that
    it keeps its own order (Unicode first-strong isolate ... pop directional isolate)."""
    return f"{FSI}{text}{PDI}" if is_rtl(locale) else text


# Where CLDR's own name is not what the speakers call their language in a picker: Dari (CLDR:
# "Persian (Afghanistan)"), Kurmanji (CLDR adds script and country), Guinea's Pular (CLDR gives
# Senegal's "Pulaar"), Serbian in Latin script (CLDR adds "(latinica)"), Simplified Chinese.
NATIVE_NAMES = {"fa_AF": "دری", "kmr": "Kurdî (Kurmancî)", "ff": "Pular", "sr_Latn": "Srpski",
                "zh_Hans": "简体中文"}


def native_name(code: str) -> str:
    """The language's name in its own script ("Nederlands", "Français")."""
    if code in NATIVE_NAMES:
        return NATIVE_NAMES[code]
    name = Locale.parse(code).get_display_name(code) or code
    if name[:1] and unicodedata.name(name[0], "").startswith(("LATIN", "CYRILLIC", "ARMENIAN")):
        return name[:1].upper() + name[1:]
    return name  # scripts without case (Georgian, Arabic, ...) stay as they are


# The order of the language picker: Belgium's languages, then the main countries of return.
LANGUAGE_ORDER = ("nl", "fr", "en", "pt_BR", "es", "ro", "ru", "uk", "sr_Latn", "sq", "ka",
                  "hy", "tr", "kmr", "ckb", "ar", "fa", "fa_AF", "ps", "mn", "zh_Hans", "am",
                  "ti", "ln", "ff")


def shipped_locales(locales_dir: Path) -> list[str]:
    """English (the source) plus every language that has a catalogue, in picker order."""
    found = {p.parent.parent.name for p in locales_dir.glob(f"*/LC_MESSAGES/{DOMAIN}.po")}
    found.add(SOURCE_LOCALE)
    rank = {code: i for i, code in enumerate(LANGUAGE_ORDER)}
    return sorted(found, key=lambda code: (rank.get(code, len(rank)), code))


def create_i18n(locales_dir: Path, default_locale: str = SOURCE_LOCALE) -> I18n:
    """aiogram's I18n over our compiled catalogues (``make i18n`` builds the .mo files)."""
    return I18n(path=locales_dir, default_locale=default_locale, domain=DOMAIN)
