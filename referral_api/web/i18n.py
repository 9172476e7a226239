"""Staff texts in Dutch, French and English: the `staff` gettext domain.

English is the source (msgids in templates as `{{ _("…") }}` and in
referral_api/web/texts.py); `locales/staff.pot` and `locales/{nl,fr}/LC_MESSAGES/staff.po` are
made with `make i18n` and compiled to .mo files (never committed). The language is the
account's; before login, the first of nl/fr/en named in Accept-Language.
"""

from __future__ import annotations

import gettext as gettext_module
import logging
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_datetime
from babel.support import Translations

from referral_api.staff.models import LOCALES  # the staff languages (nl, fr, en)
from referral_api.web.texts import LABELS

DEFAULT_LOCALE = "en"
DOMAIN = "staff"
LOCALES_DIR = Path(__file__).resolve().parents[2] / "locales"

logger = logging.getLogger(__name__)


@lru_cache(maxsize=8)
def translations(locale: str,
                 locales_dir: Path = LOCALES_DIR) -> gettext_module.NullTranslations:
    """The compiled staff catalogue of a locale, loaded once. English (the source) needs none;
    a missing .mo file falls back to English with a warning (run `make i18n-compile`)."""
    if locale == DEFAULT_LOCALE or locale not in LOCALES:
        return gettext_module.NullTranslations()
    loaded = Translations.load(str(locales_dir), [locale], DOMAIN)
    if not isinstance(loaded, Translations):
        logger.warning("no compiled staff catalogue for %s: run `make i18n-compile`", locale)
    return loaded


class StaffTexts:
    """`_`, `pgettext` and `label` for one locale, with %-style named values:
    `_("Reference %(reference)s", reference=code)`."""

    def __init__(self, locale: str) -> None:
        self.locale = locale if locale in LOCALES else DEFAULT_LOCALE
        self._translations = translations(self.locale)

    def gettext(self, message: str, **values: Any) -> str:
        text = self._translations.gettext(message)
        return text % values if values else text

    def pgettext(self, context: str, message: str, **values: Any) -> str:
        text = self._translations.pgettext(context, message)
        return text % values if values else text

    def label(self, kind: str, code: str | None) -> str:
        """The text of a code (a status, a role, an error): translated; an unknown error code
        gets the generic error text, another unknown code is shown as it is."""
        labels = LABELS[kind]
        if code is not None and code in labels:
            return self.gettext(labels[code])
        if kind == "error":
            return self.gettext(labels["error"])
        return code or ""


def staff_gettext(locale: str) -> StaffTexts:
    return StaffTexts(locale)


def negotiate(accept_language: str | None) -> str:
    """The first of nl/fr/en named in an Accept-Language header (before login)."""
    for part in (accept_language or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LOCALES:
            return code
    return DEFAULT_LOCALE


BRUSSELS = ZoneInfo("Europe/Brussels")


def brussels_time(moment: datetime | None, locale: str = DEFAULT_LOCALE, *,
                  short: bool = False) -> str:
    """A moment as staff read it: Europe/Brussels time in their language ("6 dec. 2026,
    14:05"); a naive value is taken as UTC (the database's)."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    pattern = "d MMM, HH:mm" if short else "EEE d MMM yyyy, HH:mm"
    return format_datetime(moment.astimezone(BRUSSELS), pattern, locale=locale)


def language_label(code: str, locale: str = DEFAULT_LOCALE) -> str:
    """'ar' → 'Arabic (ar)' in English, 'Arabisch (ar)' in Dutch; unknown codes as they are."""
    names = Locale.parse(locale).languages
    locale_id = code.replace("-", "_")
    name = names.get(locale_id) or names.get(locale_id.split("_", 1)[0])
    return f"{name} ({code})" if name else code
