"""The outbox's due messages and their age by delivery class, and the held ones, read when
/metrics is scraped (ops.metrics): counts only, no chat, no reference."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ops.metrics import OUTBOX_DUE, OUTBOX_HELD, OUTBOX_OLDEST
from referral_api.outbox.delivery import DELIVERY_CLASSES, UNKNOWN_KIND
from referral_api.outbox.models import OutboxMessage

CLASSES = tuple(sorted({c.priority.name.lower() for c in DELIVERY_CLASSES.values()}))


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


async def read_outbox(session: AsyncSession, now: datetime) -> None:
    rows = await session.execute(
        select(OutboxMessage.kind, func.count(), func.min(OutboxMessage.not_before))
        .where(OutboxMessage.status == "pending", OutboxMessage.not_before <= now)
        .group_by(OutboxMessage.kind))
    due = dict.fromkeys(CLASSES, 0)
    oldest = dict.fromkeys(CLASSES, 0.0)
    for kind, n, first in rows:
        name = DELIVERY_CLASSES.get(str(kind), UNKNOWN_KIND).priority.name.lower()
        due[name] = due.get(name, 0) + int(n)
        if first is not None:
            oldest[name] = max(oldest.get(name, 0.0), (now - _aware(first)).total_seconds())
    for name in due:
        OUTBOX_DUE.labels(name).set(due[name])
        OUTBOX_OLDEST.labels(name).set(max(oldest[name], 0.0))
    held = await session.scalar(select(func.count()).select_from(OutboxMessage)
                                .where(OutboxMessage.status == "held"))
    OUTBOX_HELD.set(int(held or 0))
