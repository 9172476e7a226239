"""Slots: generated from a partner's weekly windows in Europe/Brussels time, minus claimed seats.

Slots are handled as aware datetimes in UTC inside the API and shown in Brussels time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from referral_api.partners.models import Partner, PartnerAvailability, SlotClaim
from referral_api.settings import SLOT_TIMEZONE


@cache
def slot_zone() -> ZoneInfo:
    return ZoneInfo(SLOT_TIMEZONE)


def to_local(moment: datetime) -> datetime:
    """An aware datetime in Brussels time (how slots are shown: +01:00 or +02:00)."""
    return moment.astimezone(slot_zone())


@dataclass(frozen=True, slots=True)
class Window:
    weekday: int  # 0 = Monday
    start: time
    end: time


def slots_on(day: date, windows: Iterable[Window], slot_minutes: int) -> list[datetime]:
    """The slot starts of one local day, in UTC, sorted, without duplicates."""
    step = timedelta(minutes=slot_minutes)
    found: set[datetime] = set()
    for window in windows:
        if window.weekday != day.weekday():
            continue
        start = datetime.combine(day, window.start)
        end = datetime.combine(day, window.end)
        while start + step <= end:
            found.add(start.replace(tzinfo=slot_zone()).astimezone(UTC))
            start += step
    return sorted(found)


def scheduled_between(windows: Iterable[Window], slot_minutes: int, first: datetime,
                      last: datetime) -> list[datetime]:
    """Every slot start with first <= start <= last (UTC, sorted)."""
    windows = list(windows)
    day = to_local(first).date()
    last_day = to_local(last).date()
    slots: list[datetime] = []
    while day <= last_day:
        slots.extend(s for s in slots_on(day, windows, slot_minutes) if first <= s <= last)
        day += timedelta(days=1)
    return slots


def is_scheduled(windows: Iterable[Window], slot_minutes: int, moment: datetime) -> bool:
    return moment.astimezone(UTC) in slots_on(to_local(moment).date(), windows, slot_minutes)


async def load_windows(session: AsyncSession, partner_id: str) -> list[Window]:
    rows = await session.scalars(
        select(PartnerAvailability)
        .where(PartnerAvailability.partner_id == partner_id)
        .order_by(PartnerAvailability.weekday, PartnerAvailability.start)
    )
    return [Window(row.weekday, row.start, row.end) for row in rows]


async def free_slots(session: AsyncSession, partner: Partner, *, first: datetime,
                     last: datetime, limit: int) -> list[datetime]:
    """Up to `limit` slots between `first` and `last` with a seat left (UTC, sorted)."""
    windows = await load_windows(session, partner.id)
    candidates = scheduled_between(windows, partner.slot_minutes, first, last)
    if not candidates:
        return []
    rows = await session.execute(
        select(SlotClaim.slot_start, func.count())
        .where(SlotClaim.partner_id == partner.id,
               SlotClaim.slot_start >= candidates[0],
               SlotClaim.slot_start <= candidates[-1])
        .group_by(SlotClaim.slot_start)
    )
    claimed = {start.astimezone(UTC): count for start, count in rows}
    free = [s for s in candidates if claimed.get(s, 0) < partner.capacity_per_slot]
    return free[:limit]
