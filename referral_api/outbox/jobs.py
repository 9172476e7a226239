"""What the worker process does besides delivering, as the outbox sees it.

The outbox imports no other domain: the jobs (queue the follow-up waves that are due, check a
claimed follow-up row is still wanted, release held cards and alerts, the retention purge) are
the domains' own functions, handed to the worker as one ``Jobs`` object by the process's wiring
(``referral_api.housekeeping``). ``NoJobs``: a worker that only delivers (tests, benchmarks).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from referral_api.outbox.models import OutboxMessage

Now = Callable[[], datetime]  # the worker's clock, read when the job needs the time


class Jobs(Protocol):
    async def check_claimed(self, session: AsyncSession, rows: Sequence[OutboxMessage],
                            now: datetime) -> dict[int, str]:
        """Of rows being claimed, in the claim's transaction: the ids of those no longer to
        be sent, each with why (a short code: it is logged and stored as `last_error`). May
        change other rows in that transaction (a follow-up wave queued again)."""
        ...

    async def every_minute(self, now: Now) -> None:
        """At start-up and then once a minute (each job opens and commits its sessions)."""
        ...

    async def every_hour(self, now: Now, retention_days: int) -> None:
        """At start-up and then once an hour: the retention purge."""
        ...


class NoJobs:
    async def check_claimed(self, session: AsyncSession, rows: Sequence[OutboxMessage],
                            now: datetime) -> dict[int, str]:
        return {}

    async def every_minute(self, now: Now) -> None:
        return None

    async def every_hour(self, now: Now, retention_days: int) -> None:
        return None
