"""Which outbox rows one worker holds, and how their outcomes reach the database.

**Claims and leases.** Rows are claimed per chat (``outbox.chat_key``, the chat's keyed hash):
the head of a chat's queue (its lowest pending id) is locked with ``FOR UPDATE SKIP LOCKED``
on PostgreSQL, up to ``rows_per_chat`` of that chat's due rows get ``claimed_until = now +
lease`` and the claim is committed; then they are sent (``outbox.worker``). A heartbeat extends
the leases of what this worker still holds. Each message's outcome is committed as soon as
Telegram answered (group commit, ``Recorder``; the chat's next message waits for it), so a
crash (kill -9) repeats at most the messages that were being sent at that instant, one per chat
in flight, once the lease is over; several workers may run at once without sending anything
twice.

Rows are checked when claimed: the worker's jobs may say a row is no longer wanted (a
follow-up row whose wave closed or whose daytime window ended: ``Jobs.check_claimed``); such a
row is dropped (``failed``, with the reason) in the claim's transaction. Rows queued without a
chat key (before migration 0007, or an alert addressed at delivery time) get one from their
chat; rows with no chat are ``held``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from cryptography.fernet import InvalidToken
from sqlalchemy import Table, bindparam, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from ops.metrics import DELIVERIES
from referral_api.crypto import DataVault
from referral_api.outbox.delivery import NO_WINDOW_BUDGET, delivery_class
from referral_api.outbox.delivery import Clock as Timer
from referral_api.outbox.jobs import Jobs
from referral_api.outbox.models import CARD_KINDS, OutboxMessage

log = logging.getLogger(__name__)

Values = dict[str, Any]  # one row's new column values, with its "id"
Target = Callable[[str | None, str], int | None]  # (chat_id_enc, kind) -> chat id, or None


def _in_line(row: Any, now: datetime) -> Any:
    """Whether a pending row holds its chat's place in line: it is due, or it was tried and
    waits to be tried again (a retry keeps the chat's order). A row scheduled for later and
    never tried (a reminder the day before a visit, a follow-up wave) does not: the messages
    queued after it (a counsellor's answer, a status notice) go now, not after it."""
    return or_(row.not_before <= now, row.attempts > 0)


@dataclass
class DrainResult:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    dropped: int = 0  # follow-up messages no longer wanted (wave closed, window over)
    held: int = 0  # no target chat yet: kept until one is known


@dataclass
class Claim:
    """A row this worker holds a lease on (plain values: no ORM object outlives its session)."""

    id: int
    kind: str
    chat_kind: str
    chat_id_enc: str | None
    payload_enc: str
    attempts: int
    not_after: datetime | None
    give_up_at: datetime | None
    claimed_until: datetime
    sending: bool = False
    referral_id: int | None = None
    chat_key: str | None = None


@dataclass
class Queue:
    """What one claim gave for one chat: its rows, and whether more were due behind them."""

    claims: list[Claim] = field(default_factory=list)
    more: bool = False


class Recorder:
    """Group commit of outcomes: each caller waits until its rows are committed, and every
    caller that came meanwhile shares the next transaction. While the outbox is busy
    (``linger()`` > 0) a transaction waits that long for more rows first: a chat's next
    message is a second away anyway."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], timer: Timer,
                 linger: Callable[[], float]) -> None:
        self.sessionmaker = sessionmaker
        self.timer = timer
        self.linger = linger
        self._queue: list[tuple[list[Values], asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None

    async def write(self, rows: list[Values]) -> None:
        if not rows:
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.add_done_callback(_retrieved)  # a caller cancelled meanwhile never reads it
        self._queue.append((rows, done))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())
        await asyncio.shield(done)

    async def _run(self) -> None:
        while self._queue:
            linger = self.linger()
            if linger > 0:
                await self.timer.sleep(linger)
            batch, self._queue = self._queue, []
            try:
                with self.timer.hold():
                    async with self.sessionmaker() as session:
                        await apply(session, [values for rows, _ in batch for values in rows])
                        await session.commit()
            except Exception as exc:  # the callers decide; each one gets the error
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
            else:
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)


def _retrieved(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()


async def apply(session: AsyncSession, rows: Iterable[Values]) -> None:
    """Row updates by id, one executemany per set of columns; only rows still pending (a row
    deleted or released meanwhile is left alone)."""
    table = cast(Table, OutboxMessage.__table__)
    by_columns: dict[tuple[str, ...], list[Values]] = defaultdict(list)
    for values in rows:
        by_columns[tuple(sorted(k for k in values if k != "id"))].append(values)
    for columns, group in by_columns.items():
        statement = (update(table)
                     .where(table.c.id == bindparam("row_id"), table.c.status == "pending")
                     .values({c: bindparam(f"v_{c}") for c in columns}))
        await session.execute(statement, [
            {"row_id": v["id"], **{f"v_{c}": v[c] for c in columns}} for v in group])


class Leases:
    """The rows one worker holds a lease on: claiming them, keeping their leases, and writing
    their outcomes (then forgetting them)."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], vault: DataVault,
                 timer: Timer, jobs: Jobs, *, clock: Callable[[], datetime], target: Target,
                 linger: Callable[[], float], lease: timedelta, rows_per_chat: int) -> None:
        self.sessionmaker = sessionmaker
        self.vault = vault
        self.timer = timer
        self.jobs = jobs
        self.clock = clock  # the worker's (database times), read when needed
        self.target = target
        self.lease = lease
        self.rows_per_chat = rows_per_chat
        self.held: dict[int, Claim] = {}  # every row this worker holds a lease on
        self._recorder = Recorder(sessionmaker, timer, linger)
        self._claiming = asyncio.Lock()  # one claim at a time (a few database connections)
        self._empty_payload: str | None = None  # what a blanked row keeps (encrypted {})

    def blank(self, row: Claim | OutboxMessage) -> Values:
        """A row done with that must not keep what it carried: a follow-up wave (no chat id,
        no token kept), and the "withdrawn" card of a referral deleted by /forget or the
        retention purge (no reference kept once the group has it)."""
        forgotten = row.kind == "card_update" and row.referral_id is None
        if row.kind != "followup_wave" and not forgotten:
            return {}
        if self._empty_payload is None:
            self._empty_payload = self.vault.encrypt_json({})
        return {"chat_id_enc": None, "payload_enc": self._empty_payload}

    async def card_message_id(self, claim: Claim) -> int | None:
        """The Telegram message that is the referral's card in this chat (the last partner
        card or card update of the referral sent there), for a card update to edit; None
        when there is none (never sent, or sent to another chat)."""
        if claim.kind != "card_update" or claim.referral_id is None or claim.chat_key is None:
            return None
        with self.timer.hold():
            async with self.sessionmaker() as session:
                found = await session.scalar(
                    select(OutboxMessage.message_id)
                    .where(OutboxMessage.referral_id == claim.referral_id,
                           OutboxMessage.kind.in_(CARD_KINDS),
                           OutboxMessage.chat_key == claim.chat_key,
                           OutboxMessage.status == "sent",
                           OutboxMessage.message_id.is_not(None))
                    .order_by(OutboxMessage.id.desc()).limit(1))
        return None if found is None else int(found)

    # ---- claiming ------------------------------------------------------------------------
    async def claim(self, result: DrainResult, chat_key: str | None, limit: int,
                    busy: Collection[str]) -> tuple[dict[str, Queue], int]:
        """Claim the heads of chats' queues that are due (only ``chat_key``'s, when given;
        never a chat in ``busy``), with up to ``rows_per_chat`` rows each, and commit the
        claim. Returns the queues claimed and how many heads were found."""
        async with self._claiming:
            return await self._claim(result, chat_key, limit, busy)

    async def _claim(self, result: DrainResult, chat_key: str | None, limit: int,
                     busy: Collection[str]) -> tuple[dict[str, Queue], int]:
        now = self.clock()
        with self.timer.hold():
            async with self.sessionmaker() as session:
                postgres = session.get_bind().dialect.name == "postgresql"
                if chat_key is None:
                    await self._key_unkeyed(session, postgres, result)
                earlier = aliased(OutboxMessage)
                query = (select(OutboxMessage)
                         .where(OutboxMessage.status == "pending",
                                OutboxMessage.chat_key.is_not(None),
                                OutboxMessage.not_before <= now,
                                or_(OutboxMessage.claimed_until.is_(None),
                                    OutboxMessage.claimed_until <= now),
                                ~exists().where(earlier.chat_key == OutboxMessage.chat_key,
                                                earlier.status == "pending",
                                                earlier.id < OutboxMessage.id,
                                                _in_line(earlier, now)))
                         .order_by(OutboxMessage.id).limit(limit))
                if chat_key is not None:
                    query = query.where(OutboxMessage.chat_key == chat_key)
                elif busy:
                    query = query.where(OutboxMessage.chat_key.not_in(list(busy)))
                if postgres:
                    query = query.with_for_update(skip_locked=True, of=OutboxMessage)
                heads = {row.chat_key: row for row in await session.scalars(query)
                         if row.chat_key is not None
                         and (chat_key is not None or row.chat_key not in busy)}
                rows, more = await self._queues(session, heads, now)
                rows = await self._wanted(session, rows, now, result)
                claimed_until = now + self.lease
                picked: dict[str, Queue] = {}
                for row in rows:
                    if row.give_up_at is None:
                        row.give_up_at = _give_up_at(row)
                    row.claimed_until = claimed_until
                    key = str(row.chat_key)  # not null: selected so
                    queue = picked.setdefault(key, Queue(more=key in more))
                    queue.claims.append(Claim(
                        row.id, row.kind, row.chat_kind, row.chat_id_enc, row.payload_enc,
                        row.attempts, row.not_after, row.give_up_at, claimed_until,
                        referral_id=row.referral_id, chat_key=row.chat_key))
                await session.commit()
        for queue in picked.values():
            for claim in queue.claims:
                self.held[claim.id] = claim
        return picked, len(heads)

    async def _queues(self, session: AsyncSession, heads: dict[str, OutboxMessage],
                      now: datetime) -> tuple[list[OutboxMessage], set[str]]:
        """Each locked head, then the chat's next due rows in id order (the lock on the head
        is what gives this worker the chat: nobody claims rows behind someone else's head);
        and the chats with more rows due than were claimed."""
        if not heads:
            return [], set()
        rank = func.row_number().over(partition_by=OutboxMessage.chat_key,
                                      order_by=OutboxMessage.id).label("rank")
        queued = (select(OutboxMessage.id, rank)
                  .where(OutboxMessage.chat_key.in_(list(heads)),
                         OutboxMessage.status == "pending",
                         _in_line(OutboxMessage, now)).subquery())
        following = await session.scalars(
            select(OutboxMessage).join(queued, queued.c.id == OutboxMessage.id)
            .where(queued.c.rank <= self.rows_per_chat)
            .order_by(OutboxMessage.chat_key, OutboxMessage.id))
        by_chat: dict[str, list[OutboxMessage]] = defaultdict(list)
        for row in following:
            if row.chat_key is not None:
                by_chat[row.chat_key].append(row)
        rows: list[OutboxMessage] = []
        more: set[str] = set()
        for key, head in heads.items():
            queue = by_chat.get(key, [])
            if not queue or queue[0].id != head.id:
                continue  # the queue moved meanwhile: next time
            due = 0
            for row in queue:
                if row.not_before > now or (row.claimed_until is not None
                                            and row.claimed_until > now):
                    break
                rows.append(row)
                due += 1
            if due == self.rows_per_chat:
                more.add(key)
        return rows, more

    async def _key_unkeyed(self, session: AsyncSession, postgres: bool,
                           result: DrainResult) -> None:
        """Rows queued without a chat key (before migration 0007, or a coordinator alert
        addressed at delivery time) get one from their chat; rows with no chat are held."""
        query = (select(OutboxMessage)
                 .where(OutboxMessage.status == "pending", OutboxMessage.chat_key.is_(None))
                 .order_by(OutboxMessage.id).limit(1000))
        if postgres:
            query = query.with_for_update(skip_locked=True)
        for row in await session.scalars(query):
            try:
                target = self.target(row.chat_id_enc, row.kind)
            except (InvalidToken, ValueError):
                row.status, row.last_error = "failed", "invalid"
                result.failed += 1
                DELIVERIES.labels(row.kind, "failed", "invalid").inc()
                log.warning("outbox failed: invalid (%s, undecryptable chat)", row.kind)
                continue
            if target is None:
                row.status, row.last_error = "held", "no_target"
                result.held += 1
                DELIVERIES.labels(row.kind, "held", "no_target").inc()
                log.info("outbox held: no_target (%s)", row.kind)
            else:
                row.chat_key = self.vault.chat_key(target)

    async def _wanted(self, session: AsyncSession, rows: list[OutboxMessage], now: datetime,
                      result: DrainResult) -> list[OutboxMessage]:
        """The rows to deliver: those the jobs say are no longer wanted (a follow-up row of a
        closed wave, or past its window) are dropped here."""
        unwanted = await self.jobs.check_claimed(session, rows, now)
        if not unwanted:
            return rows
        wanted = []
        for row in rows:
            reason = unwanted.get(row.id)
            if reason is None:
                wanted.append(row)
                continue
            row.status, row.last_error, row.claimed_until = "failed", reason, None
            for column, value in self.blank(row).items():
                setattr(row, column, value)
            result.dropped += 1
            DELIVERIES.labels(row.kind, "dropped", reason).inc()
            log.info("outbox dropped: %s (%s)", reason, row.kind)
        return wanted

    # ---- outcomes --------------------------------------------------------------------------
    async def record(self, outcomes: list[Values], release: list[Claim]) -> None:
        """Commit outcomes (and let go of claims not sent), then forget those claims."""
        rows = [*outcomes, *({"id": c.id, "claimed_until": None} for c in release)]
        await self._recorder.write(rows)
        for values in rows:
            self.held.pop(values["id"], None)

    def forget(self, claims: Iterable[Claim]) -> None:
        """Stop renewing these leases (once they are over, the rows go to whoever can send
        them)."""
        for claim in claims:
            self.held.pop(claim.id, None)

    async def release_unsent(self) -> None:
        """Let go of the claims not being sent (a send cut off midway keeps its lease: it may
        have reached Telegram, so it comes back only once the lease is over)."""
        idle = [c for c in self.held.values() if not c.sending]
        self.held.clear()
        if idle:
            try:
                with self.timer.hold():
                    async with self.sessionmaker() as session:
                        await apply(session, ({"id": c.id, "claimed_until": None}
                                              for c in idle))
                        await session.commit()
            except Exception as exc:
                log.error("outbox claims not released: %s", type(exc).__name__)

    # ---- leases ----------------------------------------------------------------------------
    async def renew(self) -> None:
        """Extend the lease of every row this worker still holds."""
        claims = list(self.held.values())
        if not claims:
            return
        until = self.clock() + self.lease
        with self.timer.hold():
            async with self.sessionmaker() as session:
                # Not a row whose outcome was committed meanwhile (let go: claimed_until null).
                await session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id.in_([c.id for c in claims]),
                           OutboxMessage.status == "pending",
                           OutboxMessage.claimed_until.is_not(None))
                    .values(claimed_until=until)
                    .execution_options(synchronize_session=False))
                await session.commit()
        for claim in claims:
            claim.claimed_until = max(claim.claimed_until, until)

    async def _heartbeat(self) -> None:
        while True:
            await self.timer.sleep(self.lease.total_seconds() / 4)
            try:
                await self.renew()
            except Exception as exc:
                log.error("outbox lease renewal failed: %s", type(exc).__name__)

    @contextlib.asynccontextmanager
    async def kept(self) -> AsyncIterator[None]:
        """While inside, a heartbeat renews the leases."""
        heartbeat = asyncio.create_task(self._heartbeat())
        try:
            yield
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat


def _give_up_at(row: OutboxMessage) -> datetime | None:
    budget = delivery_class(row.kind).budget
    if budget is not None:
        return row.created_at + budget
    return None if row.not_after is not None else row.created_at + NO_WINDOW_BUDGET
