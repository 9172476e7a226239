"""Dates and times as a person reads them, in their language (Babel/CLDR), isolated for
right-to-left text. Imports no handler: the notices the worker renders use it too."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_datetime

from bot.i18n import isolate

BRUSSELS = ZoneInfo("Europe/Brussels")


def _local(when: datetime) -> datetime:
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(BRUSSELS)


def slot_label(slot: datetime, locale: str) -> str:
    """A visit time: "Tue 8 Dec 10:30", in the person's language."""
    return isolate(format_datetime(_local(slot), "EEE d MMM HH:mm",
                                   locale=locale.replace("-", "_")), locale)


def day_label(when: datetime, locale: str) -> str:
    """A day: "8 Dec", in the person's language."""
    return isolate(format_datetime(_local(when), "d MMM", locale=locale.replace("-", "_")),
                   locale)
