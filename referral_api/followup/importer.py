"""Import past follow-up responses in the pilot's CSV format (../shared/data/README.md).

Columns: response_id, partner, destination_country, status, survey_language, returned_month,
info_source, decision_factor_1..3. Every row is checked before anything is written: a
malformed row stops the import with an error naming its line, and nothing is imported.
Rows are keyed by `response_id`, so importing the same file again changes nothing
(a row whose values changed is updated).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from referral_api.clock import Clock
from referral_api.countries import country_codes
from referral_api.followup.models import REINTEGRATION_PARTNERS, RESPONSE_STATUSES, FollowupResponse
from referral_api.followup.questionnaire import DECISION_FACTORS, INFO_SOURCES

COLUMNS = ("response_id", "partner", "destination_country", "status", "survey_language",
           "returned_month", "info_source", "decision_factor_1", "decision_factor_2",
           "decision_factor_3")
RESPONSE_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
LANGUAGE = re.compile(r"^[a-z]{2,3}([-_][A-Za-z]{2,4})?$")
FIELDS = ("partner", "country", "status", "language", "returned_month", "info_source",
          "decision_1", "decision_2", "decision_3")


class ImportFailed(ValueError):
    """A malformed file or row; the message names the line (1 = the header)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


def _row_values(line: int, row: dict[str, str]) -> dict[str, Any]:
    def value(column: str) -> str:
        return (row.get(column) or "").strip()

    response_id = value("response_id")
    if not RESPONSE_ID.match(response_id):
        raise ImportFailed(line, f"response_id {response_id!r} is missing or not valid")
    partner = value("partner").lower()
    if partner not in REINTEGRATION_PARTNERS:
        raise ImportFailed(line, f"partner must be caritas or iom, not {value('partner')!r}")
    country = value("destination_country").upper()
    if country not in country_codes():
        raise ImportFailed(line, f"destination_country {value('destination_country')!r} is "
                                 "not an ISO 3166-1 alpha-2 code")
    status = value("status").lower()
    if status not in RESPONSE_STATUSES:
        raise ImportFailed(line, "status must be completed, cancelled or refused, not "
                                 f"{value('status')!r}")
    language = value("survey_language").lower() or None
    if language is not None and not LANGUAGE.match(language):
        raise ImportFailed(line, f"survey_language {language!r} is not a language code")
    month = value("returned_month") or None
    if month is not None and not MONTH.match(month):
        raise ImportFailed(line, f"returned_month {month!r} is not YYYY-MM")
    info = value("info_source") or None
    factors = [value(f"decision_factor_{i}") or None for i in (1, 2, 3)]
    if status != "completed":
        if info or any(factors):
            raise ImportFailed(line, f"a {status} response has no answers")
    else:
        if info is not None and info not in INFO_SOURCES:
            raise ImportFailed(line, f"info_source {info!r} is not one of: "
                                     + ", ".join(INFO_SOURCES))
        seen: list[str] = []
        for i, factor in enumerate(factors, start=1):
            if factor is None:
                continue
            if factor not in DECISION_FACTORS:
                raise ImportFailed(line, f"decision_factor_{i} {factor!r} is not one of: "
                                         + ", ".join(DECISION_FACTORS))
            if len(seen) != i - 1:
                raise ImportFailed(line, f"decision_factor_{i} is given but an earlier one "
                                         "is empty")
            if factor in seen:
                raise ImportFailed(line, f"decision_factor_{i} repeats {factor!r}")
            seen.append(factor)
    return {"external_id": response_id, "partner": partner, "country": country,
            "status": status, "language": language, "returned_month": month,
            "info_source": info, "decision_1": factors[0], "decision_2": factors[1],
            "decision_3": factors[2]}


def parse(text: str) -> list[dict[str, Any]]:
    """Every row of the file as values, or ImportFailed naming the first bad line."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [name.strip() for name in (reader.fieldnames or [])]
    missing = [column for column in COLUMNS if column not in header]
    if missing:
        raise ImportFailed(1, "missing column(s): " + ", ".join(missing))
    reader.fieldnames = header
    rows: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        if None in row:
            raise ImportFailed(line, "more values than columns")
        if not any((v or "").strip() for v in row.values()):
            continue  # a blank line
        values = _row_values(line, row)
        if values["external_id"] in seen:
            raise ImportFailed(line, f"response_id {values['external_id']!r} already on line "
                                     f"{seen[values['external_id']]}")
        seen[values["external_id"]] = line
        rows.append(values)
    return rows


async def import_responses(session: AsyncSession, text: str, clock: Clock) -> ImportResult:
    """Validate the whole file, then upsert by response_id in one transaction (commits)."""
    rows = parse(text)
    existing = {r.external_id: r for r in (await session.scalars(
        select(FollowupResponse).where(FollowupResponse.source == "import"))).all()}
    result = ImportResult()
    now = clock()
    for values in rows:
        current = existing.get(values["external_id"])
        if current is None:
            session.add(FollowupResponse(source="import", answers={}, created_at=now, **values))
            result.created += 1
        elif all(getattr(current, name) == values[name] for name in FIELDS):
            result.unchanged += 1
        else:
            for name in FIELDS:
                setattr(current, name, values[name])
            result.updated += 1
    await session.commit()
    return result
