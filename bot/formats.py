"""Dates and times as a person reads them, in their language (Babel/CLDR), isolated for
right-to-left text. Imports no handler: the notices the worker renders use it too."""

from __future__ import annotations

import html
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


def map_link(lat: float, lon: float) -> str:
    """A link to the place on OpenStreetMap (HTML; no third party is told anything until the
    person opens it)."""
    url = f"https://www.openstreetmap.org/?mlat={lat:.5f}&mlon={lon:.5f}#map=17/{lat:.5f}/{lon:.5f}"
    return f'<a href="{html.escape(url)}">openstreetmap.org</a>'


def day_label(when: datetime, locale: str) -> str:
    """A day: "8 Dec", in the person's language."""
    return isolate(format_datetime(_local(when), "d MMM", locale=locale.replace("-", "_")),
                   locale)
