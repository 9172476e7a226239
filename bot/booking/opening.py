"""A place's opening, in the person's language: walk-in or appointment, the weekly windows
("Mon–Fri 09:00–12:00", "Mon, Wed, Thu morning"), when the hours were published, interpreter,
step-free access and the note written in the person's language (never one in another
language). Day names and times come from Babel/CLDR; the words around them are msgids.
Imports no handler."""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time

from aiogram.utils.i18n import gettext as _
from babel.core import Locale, UnknownLocaleError
from babel.dates import format_interval, get_day_names

from bot.i18n import isolate
from referral_api.partners.schemas import OpeningWindow, PartnerPublic

MONDAY = date(2026, 1, 5)  # any Monday: format_interval needs datetimes of one day


def _babel(locale: str) -> str:
    try:
        return str(Locale.parse(locale.replace("-", "_")))
    except (UnknownLocaleError, ValueError):
        return "en"


def part_label(part: str) -> str:
    return {"morning": _("morning"), "afternoon": _("afternoon"),
            "day": _("all day")}.get(part, part)


def _span(window: OpeningWindow, locale: str) -> str:
    if window.part is not None or window.start is None or window.end is None:
        return part_label(window.part or "")
    return isolate(format_interval(datetime.combine(MONDAY, window.start),
                                   datetime.combine(MONDAY, window.end), "Hm",
                                   locale=_babel(locale)), locale)


def _days(days: Sequence[int], locale: str) -> str:
    """"Mon–Fri" for three or more days in a row, else "Mon, Wed, Thu" (CLDR's short names)."""
    names = get_day_names("abbreviated", locale=_babel(locale))
    runs: list[list[int]] = []
    for day in sorted(days):
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    parts: list[str] = []
    for run in runs:
        if len(run) >= 3:
            parts.append(f"{names[run[0]]}–{names[run[-1]]}")
        else:
            parts.extend(names[day] for day in run)
    return ", ".join(parts)


def week_label(windows: Iterable[OpeningWindow], locale: str) -> str:
    """The windows of one mode: days with the same hours together, in weekday order."""
    by_day: dict[int, list[OpeningWindow]] = {}
    for window in windows:
        by_day.setdefault(window.day, []).append(window)

    def order(window: OpeningWindow) -> tuple[time, int]:
        part_start = {"morning": 0, "day": 0, "afternoon": 1}.get(window.part or "", 2)
        return (window.start or time(0), part_start)

    groups: dict[str, list[int]] = {}
    for day in sorted(by_day):
        spans = ", ".join(_span(w, locale) for w in sorted(by_day[day], key=order))
        groups.setdefault(spans, []).append(day)
    return "; ".join(f"{_days(days, locale)} {spans}" for spans, days in groups.items())


def note_for(place: PartnerPublic, locale: str) -> str | None:
    """The note written in the person's language (or its base language: pt for pt_BR)."""
    base = locale.replace("-", "_").split("_", 1)[0]
    return place.notes.get(locale) or place.notes.get(base)


def opening_lines(place: PartnerPublic, locale: str) -> list[str]:
    """What a person needs to know before going there, one line each; nothing unknown said."""
    lines: list[str] = []
    walk_in = [w for w in place.opening if w.mode == "walk_in"]
    booked = [w for w in place.opening if w.mode == "appointment"]
    if walk_in:
        lines.append("🚪 " + _("Walk in, no appointment: {when}").format(
            when=week_label(walk_in, locale)))
    elif place.access in ("walk_in", "both"):
        lines.append("🚪 " + _("You can walk in, no appointment needed."))
    if booked:
        lines.append("📅 " + _("By appointment: {when}").format(when=week_label(booked, locale)))
    elif place.access == "appointment":
        lines.append("📅 " + _("Only by appointment."))
    if place.opening_as_of and (place.opening or place.access):
        lines.append("⚠️ " + _("These hours were published in {year}. Call or ask a counsellor "
                               "before you go.").format(
            year=isolate(place.opening_as_of[:4], locale)))
    if place.interpreter:
        lines.append("🗣 " + _("An interpreter can be arranged."))
    if place.accessible is True:
        lines.append("♿ " + _("Step-free access."))
    elif place.accessible is False:
        lines.append("♿ " + _("Not step-free: there are steps."))
    note = note_for(place, locale)
    if note:
        lines.append("ℹ️ " + html.escape(note))
    return lines
