"""Referrals by status, read when /metrics is scraped (ops.metrics): counts only."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ops.metrics import REFERRALS
from referral_api.referrals.models import STATUSES, Referral


async def read_referrals(session: AsyncSession) -> None:
    rows = await session.execute(select(Referral.status, func.count()).group_by(Referral.status))
    counts = {str(status): int(n) for status, n in rows}
    for status in sorted({*STATUSES, *counts}):
        REFERRALS.labels(status).set(counts.get(status, 0))
