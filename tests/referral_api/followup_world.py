"""Shared by the follow-up tests: the pilot file, a clock the test sets, and the counsellor's
"returned" action."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from pathlib import Path

from fastapi import FastAPI

from referral_api.referrals.service import ReferralService

PILOT = Path(__file__).resolve().parents[3] / "shared" / "data" / "followup_pilot_responses.csv"
RETURNED = date(2026, 1, 10)  # waves due 2026-04-10, 2026-07-10, 2027-01-10


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class SetClock:
    """The API's clock, set by the test (enrolment, answers, /stop)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def set_clock(app: FastAPI, now: str = "2026-01-12T09:00") -> SetClock:
    """Two days after RETURNED by default: the waves are in the future at enrolment."""
    clock = SetClock(at(now))
    app.state.context = dataclasses.replace(app.state.context, clock=clock)
    return clock


async def returned(app: FastAPI, reference: str, country: str = "GE",
                   day: date = RETURNED) -> None:
    context = app.state.context
    async with context.sessionmaker() as session:
        await ReferralService(session, context.vault, context.settings, context.clock
                              ).set_returned_for_partner(
            reference, "test-desk", country=country, return_date=day,
            reintegration_partner="caritas", actor="staff:1")
