"""The printable flyer's text, in the languages its creator picks.

These are texts for the people we serve: they are extracted into the bot's catalogue
(locales/messages.pot, see babel.cfg) and translated with it; until then English is shown.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.support import NullTranslations, Translations

LOCALES_DIR = Path(__file__).resolve().parents[2] / "locales"
RTL = frozenset({"ar", "fa", "ps", "ckb"})


def N_(msgid: str) -> str:
    return msgid


TITLE = N_("Thinking about going back to your country?")
BODY = N_("Free and neutral information about voluntary return from Belgium, in your "
          "language. You decide. Asking questions commits you to nothing.")
HOW = N_("Scan the code with your phone camera. Or open Telegram, search for {bot} and "
         "send this code: {code}")


@dataclass(frozen=True, slots=True)
class FlyerText:
    locale: str
    name: str
    rtl: bool
    title: str
    body: str
    how: str
    translated: bool


def shipped_languages() -> list[str]:
    found = sorted(p.name for p in LOCALES_DIR.iterdir()
                   if (p / "LC_MESSAGES" / "messages.po").exists()) if LOCALES_DIR.exists() else []
    return ["en", *found]


@cache
def _translations(locale: str) -> NullTranslations:
    if locale == "en":
        return NullTranslations()
    return Translations.load(str(LOCALES_DIR), [locale], domain="messages")


def language_name(locale: str) -> str:
    try:
        parsed = Locale.parse(locale)
    except (UnknownLocaleError, ValueError):
        return locale
    return str(parsed.get_display_name(locale) or locale)


def flyer_text(locale: str, bot: str, code: str, *, title: str | None = None,
               body: str | None = None) -> FlyerText:
    """The flyer's text in `locale`; English (marked untranslated) until the catalogue has
    all three texts, so that a flyer never mixes languages. `title` and `body` are a
    deployment's own wording (settings FLYER_TITLE, FLYER_BODY; English msgids, translated
    when the catalogue has them), else TITLE and BODY."""
    title, body = title or TITLE, body or BODY
    gettext = _translations(locale).gettext
    translated = locale == "en" or all(gettext(m) != m for m in (title, body, HOW))
    if not translated:
        return replace(flyer_text("en", bot, code, title=title, body=body), translated=False,
                       name=language_name(locale))
    return FlyerText(
        locale=locale.replace("_", "-"), name=language_name(locale), translated=True,
        rtl=locale.split("_")[0] in RTL, title=gettext(title), body=gettext(body),
        # isolates keep the Latin @name and code in order inside right-to-left text
        how=gettext(HOW).format(bot=f"\u2068@{bot}\u2069", code=f"\u2068{code}\u2069"),
    )
