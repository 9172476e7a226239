"""The admin's partner forms in the browser: raw form text → the admin API's schemas.

The same validation as `POST/PUT /v1/admin/partners` (PartnerCreate, PartnerUpdate,
AvailabilityWindow); each problem becomes a code on the field it concerns, so the page can show
it next to that field in the staff member's language (codes: referral_api.web.texts.FIELD_ERROR).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import time
from itertools import pairwise
from typing import Any

from pydantic import ValidationError

from referral_api.errors import Invalid
from referral_api.partners.schemas import AvailabilityWindow, PartnerCreate, PartnerUpdate

TEXT_FIELDS = ("id", "name", "kind", "city", "postal_code", "address", "lat", "lon", "phone",
               "hours", "access", "opening_as_of", "interpreter", "accessible", "notes",
               "languages", "notification_chat_id", "slot_minutes", "capacity_per_slot",
               "source")
OPTIONAL_TEXT = ("address", "phone", "hours", "source")
FLAG_FIELDS = ("active", "verified")
OPENING_MODES = ("walk_in", "appointment")
DAY_PARTS = ("morning", "afternoon", "day")
# The opening grid: for each mode and weekday, a part of the day or times ("9:00-12:00, 13-16").
OPENING_FIELDS = tuple(f"open-{mode}-{day}-{what}" for mode in OPENING_MODES
                       for day in range(7) for what in ("part", "times"))
_TIME = r"(\d{1,2})(?:[:.h](\d{2}))?"
_RANGE = re.compile(rf"^\s*{_TIME}\s*[-–—]\s*{_TIME}\s*$")
_NOTE_LINE = re.compile(r"^\s*([A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*)\s*[:=]\s*(.+?)\s*$")
EXTRA_EMPTY_WINDOWS = 3  # empty rows under the existing windows, to add new ones


class FormInvalid(Exception):
    """Field name → error code; `values` are what the person typed, shown again."""

    def __init__(self, errors: dict[str, str], values: Mapping[str, Any]) -> None:
        super().__init__(", ".join(sorted(errors)))
        self.errors = errors
        self.values = values


@dataclass(slots=True)
class PartnerFormData:
    """What the partner form posts: text fields, checked services, checkboxes."""

    text: dict[str, str]
    services: list[str]
    flags: dict[str, bool]

    @classmethod
    def from_form(cls, form: Mapping[str, str], services: Sequence[str]) -> PartnerFormData:
        return cls(text={name: str(form.get(name, "")).strip()[:2000]
                         for name in (*TEXT_FIELDS, *OPENING_FIELDS)},
                   services=list(dict.fromkeys(str(s) for s in services))[:10],
                   flags={name: form.get(name) == "on" for name in FLAG_FIELDS})

    def shown(self) -> dict[str, Any]:
        """The values to put back in the form."""
        return {**self.text, "services": self.services, **self.flags}


def _error_field(loc: tuple[int | str, ...]) -> str:
    name = str(loc[0]) if loc else "coordinates"
    if name == "opening":
        return "opening_grid"
    return "coordinates" if name in ("lat", "lon") else name


def _clock(hours: str, minutes: str | None) -> time:
    return time(int(hours), int(minutes or 0))


def parse_times(text: str) -> list[tuple[time, time]]:
    """"9:00-12:00, 13-16" → [(9:00, 12:00), (13:00, 16:00)]; ValueError when unreadable."""
    spans = []
    for chunk in re.split(r"[,;]", text):
        if not chunk.strip():
            continue
        match = _RANGE.match(chunk)
        if match is None:
            raise ValueError(chunk)
        start, end = _clock(*match.group(1, 2)), _clock(*match.group(3, 4))
        if start >= end:
            raise ValueError(chunk)
        spans.append((start, end))
    return spans


def _opening(text: Mapping[str, str]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The opening grid as windows; errors keyed by the grid cell ("open-walk_in-0")."""
    windows: list[dict[str, Any]] = []
    errors: dict[str, str] = {}
    for mode in OPENING_MODES:
        for day in range(7):
            cell = f"open-{mode}-{day}"
            part, times = text.get(f"{cell}-part", ""), text.get(f"{cell}-times", "")
            if part and part not in DAY_PARTS:
                errors[cell] = "opening"
            elif part and times:
                errors[cell] = "opening_both"
            elif part:
                windows.append({"mode": mode, "day": day, "part": part})
            elif times:
                try:
                    spans = parse_times(times)
                except ValueError:
                    errors[cell] = "opening"
                    continue
                windows.extend({"mode": mode, "day": day, "start": start, "end": end}
                               for start, end in spans)
    return windows, errors


def parse_notes(text: str) -> dict[str, str]:
    """One "code: note" per line → {code: note}; ValueError on a line that is not."""
    notes: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        match = _NOTE_LINE.match(line)
        if match is None:
            raise ValueError(line)
        notes[match.group(1)] = match.group(2)
    return notes


def _tri_state(value: str) -> bool | None:
    return {"yes": True, "no": False}.get(value)


def _parse(data: PartnerFormData) -> tuple[dict[str, Any], dict[str, str]]:
    """Typed values and the errors of what cannot even be typed (numbers)."""
    text = data.text
    errors: dict[str, str] = {}
    values: dict[str, Any] = {name: text[name] for name in
                              ("name", "kind", "city", "postal_code")}
    for name in OPTIONAL_TEXT:
        values[name] = text[name] or None
    values["languages"] = list(dict.fromkeys(
        code for code in re.split(r"[,\s]+", text["languages"]) if code))
    values["services"] = data.services
    values.update(data.flags)
    values["access"] = text["access"] or None
    values["opening_as_of"] = text["opening_as_of"] or None
    values["interpreter"] = _tri_state(text["interpreter"])
    values["accessible"] = _tri_state(text["accessible"])
    values["opening"], errors = _opening(text)
    try:
        values["notes"] = parse_notes(text["notes"])
    except ValueError:
        errors["notes"] = "notes"
    lat, lon = text["lat"].replace(",", "."), text["lon"].replace(",", ".")
    if lat or lon:
        try:
            values["lat"], values["lon"] = float(lat), float(lon)
        except ValueError:
            errors["coordinates"] = "coordinates"
    for name in ("slot_minutes", "capacity_per_slot"):
        try:
            values[name] = int(text[name])
        except ValueError:
            errors[name] = name
    chat = text["notification_chat_id"]
    if chat:
        try:
            values["notification_chat_id"] = int(chat)
        except ValueError:
            errors["notification_chat_id"] = "notification_chat_id"
        else:
            if values["notification_chat_id"] == 0 or abs(values["notification_chat_id"]) >= 2**63:
                errors["notification_chat_id"] = "notification_chat_id"
    else:
        values["notification_chat_id"] = None
    return values, errors


def _validation_errors(exc: ValidationError) -> dict[str, str]:
    errors: dict[str, str] = {}
    for error in exc.errors():
        name = _error_field(tuple(error["loc"]))
        errors.setdefault(name, name)
    return errors


def parse_create(data: PartnerFormData) -> PartnerCreate:
    """A new partner from the form; raises FormInvalid."""
    values, errors = _parse(data)
    values["id"] = data.text["id"]
    try:
        parsed = PartnerCreate.model_validate(values)
    except ValidationError as exc:
        errors = {**_validation_errors(exc), **errors}
    if errors:
        raise FormInvalid(errors, data.shown())
    return parsed


def parse_update(data: PartnerFormData) -> PartnerUpdate:
    """Every field of the edit form; empty coordinates: the centre of the postcode."""
    values, errors = _parse(data)
    try:
        parsed = PartnerUpdate.model_validate(values)
    except ValidationError as exc:
        errors = {**_validation_errors(exc), **errors}
    if errors:
        raise FormInvalid(errors, data.shown())
    return parsed


def location_error(exc: Invalid) -> str:
    """The field of a location error raised by the partner service."""
    return {"unknown_postcode": "postal_code", "outside_belgium": "coordinates"}.get(
        exc.code, "postal_code")


@dataclass(slots=True)
class WindowRow:
    weekday: str
    start: str
    end: str
    error: str | None = None


@dataclass(slots=True)
class AvailabilityForm:
    rows: list[WindowRow] = field(default_factory=list)

    @classmethod
    def from_form(cls, weekdays: Sequence[str], starts: Sequence[str],
                  ends: Sequence[str]) -> AvailabilityForm:
        return cls([WindowRow(str(d).strip(), str(s).strip(), str(e).strip())
                    for d, s, e in zip(weekdays[:100], starts[:100], ends[:100], strict=False)])

    def parse(self) -> list[AvailabilityWindow]:
        """The weekly windows; a row with neither start nor end is left out (that removes it).
        Raises FormInvalid (errors keyed "window-<row>") and marks the rows in error."""
        windows: list[tuple[int, AvailabilityWindow]] = []
        for index, row in enumerate(self.rows):
            if not row.start and not row.end:
                continue
            try:
                windows.append((index, AvailabilityWindow(
                    weekday=int(row.weekday), start=time.fromisoformat(row.start),
                    end=time.fromisoformat(row.end))))
            except (ValueError, ValidationError):
                row.error = "window"
        by_day = sorted(windows, key=lambda item: (item[1].weekday, item[1].start))
        for (_, before), (index, after) in pairwise(by_day):
            if before.weekday == after.weekday and after.start < before.end:
                self.rows[index].error = self.rows[index].error or "overlap"
        errors = {f"window-{i}": row.error for i, row in enumerate(self.rows) if row.error}
        if errors:
            raise FormInvalid(errors, {})
        return [window for _, window in windows]
