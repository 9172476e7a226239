"""python -m referral_api.worker: drain the outbox within Telegram's limits, never dropping a
message and repeating at most what was in flight.

Delivers partner cards and updates to partner groups, notices, reminders and relayed messages
to people (rendered in their language by bot.notices), and alerts to the coordinators. Also
queues the follow-up waves that are due, releases held cards and alerts, and purges personal
fields of old closed referrals (retention).

**Claims and leases.** Rows are claimed per chat (``outbox.chat_key``, the chat's keyed hash):
the head of a chat's queue (its lowest pending id) is locked with ``FOR UPDATE SKIP LOCKED``
on PostgreSQL, up to ``rows_per_chat`` of that chat's due rows get ``claimed_until = now +
lease`` and the claim is committed; then they are sent. A heartbeat extends the leases of
what this worker still holds. Each message's outcome is committed as soon as Telegram answered
(group commit; the chat's next message waits for it), so a crash (kill -9) repeats at most the
messages that were being sent at that instant, one per chat in flight, once the lease is over;
several workers may run at once without sending anything twice.

**Per-chat queues.** Each chat in flight has its own task (at most ``chats_in_flight``): a group
at its 20 a minute sleeps in its own task while other chats' messages go on, and the drain is
continuous (new messages are picked up every ``interval`` and whenever capacity frees up). A
chat's message N+1 is never sent before message N is sent or has failed for good, including
while N waits for a retry (a pending row with a lower id holds its chat's queue).

**Pacing.** Every send goes through the governor (``governor.Governor``, shared through Redis
with the bot) in the class of its kind (``DELIVERY_CLASSES``), after the worker's own
in-process spacing (``delivery.ChatPacer``). The governor waits out Telegram's 429s itself.
Without Redis (the SQLite demo) the in-process spacing is all there is, and a 429 that reaches
the worker puts the message back in its chat's queue after ``retry_after``. A 429 is never a
failure and never counts as an attempt.

**Retries by a time budget**, not a count (``DELIVERY_CLASSES``; ``give_up_at`` is set at the
first claim from ``created_at``): a message whose send fails transiently (network, Telegram's
5xx, …) comes back after ``delivery.backoff`` and is failed only when it fails again past its
deadline. Permanent failures (blocked, chat not found, …) are failed at once with a reason from
a fixed vocabulary. Follow-up questionnaires have no budget of their own: their daytime window
(``not_after``) rules, as below.

**Held.** A message with no target (a partner without a Telegram group, an alert without
COORDINATOR_CHAT_ID) is ``held``, never failed: ``outbox.service.release_held*`` give it a
chat later (at start-up and once a minute here).

Follow-up messages (``followup_wave``) are checked when claimed: a row whose wave is no longer
open (answered, stopped, given up) is dropped (``closed``); a row past the end of the country's
daytime window (``not_after``) is dropped (``late``) and its wave goes back to the scheduler for
the next window. Once delivered or dropped, the row's chat id and payload (with the wave's
token) are blanked; the rows themselves are deleted after the retention period.

Logs carry outcomes, kinds, reasons and exception types only: no chat id, reference, phone
number or message text.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, cast

from aiogram import Bot
from cryptography.fernet import InvalidToken
from redis.asyncio import Redis
from sqlalchemy import Table, bindparam, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from governor import Governor, Priority
from governor.session import GovernorMiddleware
from referral_api.clock import Clock, system_clock
from referral_api.crypto import DataVault
from referral_api.delivery import (
    ChatPacer,
    Outgoing,
    RealClock,
    Sender,
    SendResult,
    SendSlots,
    backoff,
)
from referral_api.delivery import Clock as Timer
from referral_api.outbox.models import OutboxMessage
from referral_api.outbox.service import release_held_alerts, release_held_to_partner_groups
from referral_api.referrals.service import purge_expired
from referral_api.settings import Settings
from referral_api.signals.service import anonymise_old_months
from referral_api.surveys.models import FollowupEnrolment, FollowupWave
from referral_api.surveys.service import ScheduleResult, purge_followup_outbox, schedule_due

log = logging.getLogger(__name__)

PERSON_KINDS = ("person_notice", "reminder", "followup_wave")


@dataclass(frozen=True)
class DeliveryClass:
    """How one kind of message is sent: its class at the governor, and how long it is retried
    (from its creation) before a transient failure is final. ``budget=None``: the row's
    ``not_after`` rules instead (follow-up questionnaires, with their wave logic)."""

    priority: Priority
    budget: timedelta | None


# The one table of delivery classes (docs/decisions.md, "An outbox that repeats at most what
# was in flight"). 429s never count: only network, server and configuration errors do.
DELIVERY_CLASSES: dict[str, DeliveryClass] = {
    "person_notice": DeliveryClass(Priority.NOTICE, timedelta(hours=48)),
    "reminder": DeliveryClass(Priority.NOTICE, timedelta(hours=48)),
    "relay": DeliveryClass(Priority.NOTICE, timedelta(hours=48)),
    "partner_card": DeliveryClass(Priority.CARD, timedelta(hours=48)),
    "card_update": DeliveryClass(Priority.CARD, timedelta(hours=48)),
    "coordinator_alert": DeliveryClass(Priority.CARD, timedelta(hours=48)),
    "followup_wave": DeliveryClass(Priority.WAVE, None),
}
UNKNOWN_KIND = DeliveryClass(Priority.CARD, timedelta(hours=48))
NO_WINDOW_BUDGET = timedelta(hours=48)  # a follow-up row without `not_after`
LINGER, BUSY_CHATS = 0.25, 16  # group commit: wait 0.25 s for more outcomes when > 16 chats

RenderPerson = Callable[[dict[str, Any]], str]
Buttons = list[list[dict[str, str]]]
RenderButtons = Callable[[dict[str, Any]], Buttons | None]
Values = dict[str, Any]  # one row's new column values, with its "id"


def delivery_class(kind: str) -> DeliveryClass:
    return DELIVERY_CLASSES.get(kind, UNKNOWN_KIND)


@dataclass
class DrainResult:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    dropped: int = 0  # follow-up messages no longer wanted (wave closed, window over)
    held: int = 0  # no target chat yet: kept until one is known


@dataclass
class _Claim:
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


@dataclass
class _Queue:
    """What one claim gave for one chat: its rows, and whether more were due behind them."""

    claims: list[_Claim] = field(default_factory=list)
    more: bool = False


class _Step(Enum):
    NEXT = "next"  # on to the chat's next message
    RECLAIM = "reclaim"  # let go of the rest and claim the chat's queue again now
    STOP = "stop"  # let go of the rest: the chat waits (a retry is due later)


class _Recorder:
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


class OutboxWorker:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        vault: DataVault,
        sender: Sender,
        render_person: RenderPerson,
        *,
        clock: Clock = system_clock,
        timer: Timer | None = None,
        coordinator_chat_id: int | None = None,
        chats_in_flight: int = 200,
        rows_per_chat: int = 10,
        lease: timedelta = timedelta(seconds=60),
        pacer: ChatPacer | None = None,
        send_slots: int | None = None,
        render_buttons: RenderButtons | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.vault = vault
        self.sender = sender
        self.render_person = render_person
        self.clock = clock  # database times (claims, retries, budgets)
        self.timer: Timer = timer or RealClock()  # waits (pacing, polling, heartbeat)
        self.coordinator_chat_id = coordinator_chat_id
        self.chats_in_flight = chats_in_flight
        self.rows_per_chat = rows_per_chat
        self.lease = lease
        self.pacer = pacer or ChatPacer(self.timer)
        self.slots = SendSlots(send_slots) if send_slots else SendSlots()
        self.render_buttons = render_buttons
        self.settings = settings  # with settings, the worker also schedules follow-up waves
        self.redis: Redis | None = None  # closed by aclose() (create_worker made it)
        self._recorder = _Recorder(sessionmaker, self.timer, self._linger)
        self._chats: dict[str, asyncio.Task[None]] = {}  # chat_key -> its task
        self._claims: dict[int, _Claim] = {}  # every row this worker holds a lease on
        self._errors: list[BaseException] = []
        self._stopping = False
        self._backlog = False  # the last pick was full: pick again when capacity frees up
        self._freed = asyncio.Event()
        self._claiming = asyncio.Lock()  # one claim at a time (a few database connections)
        self._empty_payload: str | None = None  # what a blanked row keeps (encrypted {})

    def _linger(self) -> float:
        """How long an outcome may wait for others to share its commit: a little while when
        many chats are in flight, else not at all."""
        return LINGER if len(self._chats) > BUSY_CHATS else 0.0

    # ---- what to send --------------------------------------------------------------------
    def _target(self, chat_id_enc: str | None, kind: str) -> int | None:
        if chat_id_enc is not None:
            return self.vault.decrypt_chat_id(chat_id_enc)
        if kind == "coordinator_alert":
            return self.coordinator_chat_id
        return None

    def _outgoing(self, claim: _Claim, chat_id: int) -> Outgoing | None:
        payload = self.vault.decrypt_json(claim.payload_enc)
        if claim.chat_kind == "private" and (claim.kind in PERSON_KINDS or "key" in payload):
            text = self.render_person(payload)
            buttons = self.render_buttons(payload) if self.render_buttons else None
            return Outgoing(chat_id, text, buttons, parse_mode="HTML") if text else None
        return Outgoing(chat_id, str(payload.get("text", "")), payload.get("buttons"),
                        parse_mode=payload.get("parse_mode"))

    def _blank(self, kind: str) -> Values:
        """A follow-up row done with: no chat id, no token kept."""
        if kind != "followup_wave":
            return {}
        if self._empty_payload is None:
            self._empty_payload = self.vault.encrypt_json({})
        return {"chat_id_enc": None, "payload_enc": self._empty_payload}

    # ---- claiming ------------------------------------------------------------------------
    async def _pick(self, result: DrainResult, chat_key: str | None = None,
                    ) -> dict[str, _Queue]:
        """Claim the heads of chats' queues that are due (only ``chat_key``'s, when given),
        with up to ``rows_per_chat`` rows each, and commit the claim."""
        limit = 1 if chat_key is not None else self.chats_in_flight - len(self._chats)
        if limit <= 0 or self._stopping:
            return {}
        async with self._claiming:
            return await self._claim(result, chat_key, limit)

    async def _claim(self, result: DrainResult, chat_key: str | None,
                     limit: int) -> dict[str, _Queue]:
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
                                                earlier.id < OutboxMessage.id))
                         .order_by(OutboxMessage.id).limit(limit))
                if chat_key is not None:
                    query = query.where(OutboxMessage.chat_key == chat_key)
                elif self._chats:
                    query = query.where(OutboxMessage.chat_key.not_in(list(self._chats)))
                if postgres:
                    query = query.with_for_update(skip_locked=True, of=OutboxMessage)
                heads = {row.chat_key: row for row in await session.scalars(query)
                         if row.chat_key is not None
                         and (chat_key is not None or row.chat_key not in self._chats)}
                rows, more = await self._queues(session, heads, now)
                rows = await self._wanted_followups(session, rows, now, result)
                claimed_until = now + self.lease
                picked: dict[str, _Queue] = {}
                for row in rows:
                    if row.give_up_at is None:
                        row.give_up_at = self._give_up_at(row)
                    row.claimed_until = claimed_until
                    key = str(row.chat_key)  # not null: selected so
                    queue = picked.setdefault(key, _Queue(more=key in more))
                    queue.claims.append(_Claim(
                        row.id, row.kind, row.chat_kind, row.chat_id_enc, row.payload_enc,
                        row.attempts, row.not_after, row.give_up_at, claimed_until))
                await session.commit()
        for queue in picked.values():
            for claim in queue.claims:
                self._claims[claim.id] = claim
        if chat_key is None:
            self._backlog = len(heads) >= limit
        return picked

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
                         OutboxMessage.status == "pending").subquery())
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
                target = self._target(row.chat_id_enc, row.kind)
            except (InvalidToken, ValueError):
                row.status, row.last_error = "failed", "invalid"
                result.failed += 1
                log.warning("outbox failed: invalid (%s, undecryptable chat)", row.kind)
                continue
            if target is None:
                row.status, row.last_error = "held", "no_target"
                result.held += 1
                log.info("outbox held: no_target (%s)", row.kind)
            else:
                row.chat_key = self.vault.chat_key(target)

    def _give_up_at(self, row: OutboxMessage) -> datetime | None:
        budget = delivery_class(row.kind).budget
        if budget is not None:
            return row.created_at + budget
        return None if row.not_after is not None else row.created_at + NO_WINDOW_BUDGET

    async def _wanted_followups(self, session: AsyncSession, rows: list[OutboxMessage],
                                now: datetime, result: DrainResult) -> list[OutboxMessage]:
        """The rows to deliver: follow-up rows of a closed wave, or past their window, are
        dropped here (a late one's wave is handed back to the scheduler)."""
        ids = {r.followup_wave_id for r in rows
               if r.kind == "followup_wave" and r.followup_wave_id is not None}
        if not ids:
            return rows
        waves = {wave.id: (wave, status) for wave, status in (await session.execute(
            select(FollowupWave, FollowupEnrolment.status)
            .join(FollowupEnrolment, FollowupEnrolment.id == FollowupWave.enrolment_id)
            .where(FollowupWave.id.in_(ids)))).all()}
        gap = timedelta(days=self.settings.followup_reminder_days if self.settings else 7)
        wanted = []
        for row in rows:
            if row.kind != "followup_wave" or row.followup_wave_id is None:
                wanted.append(row)
                continue
            wave, status = waves.get(row.followup_wave_id, (None, None))
            if wave is None or status != "active" or wave.status != "sent":
                reason = "closed"
            elif row.not_after is not None and now >= row.not_after:
                reason = "late"
                if wave.sends <= 1:  # the first message: the wave is queued again
                    wave.status, wave.sends, wave.last_sent_at = "scheduled", 0, None
                else:  # a reminder: due again at once, in the next window
                    wave.sends, wave.last_sent_at = wave.sends - 1, now - gap
            else:
                wanted.append(row)
                continue
            row.status, row.last_error, row.claimed_until = "failed", reason, None
            for column, value in self._blank(row.kind).items():
                setattr(row, column, value)
            result.dropped += 1
            log.info("outbox dropped: %s (followup_wave)", reason)
        return wanted

    # ---- one chat's queue ------------------------------------------------------------------
    def _start_chat(self, key: str, queue: _Queue, result: DrainResult) -> None:
        task = asyncio.create_task(self._run_chat(key, queue, result))
        self._chats[key] = task
        task.add_done_callback(lambda t: self._chat_done(key, t))

    def _chat_done(self, key: str, task: asyncio.Task[None]) -> None:
        if self._chats.get(key) is task:
            del self._chats[key]
        exc = None if task.cancelled() else task.exception()
        if exc is not None:
            self._errors.append(exc)
            log.error("outbox chat queue stopped: %s", type(exc).__name__)
        if self._backlog and len(self._chats) <= self.chats_in_flight * 3 // 4:
            self._freed.set()

    async def _run_chat(self, key: str, queue: _Queue, result: DrainResult) -> None:
        """Send one chat's claimed rows in id order; then claim its next rows while more are
        due, until its queue is empty or waits (a retry due later). Rows queued for the chat
        meanwhile are the dispatcher's (its next pick)."""
        try:
            while queue.claims:
                claims = queue.claims
                step = _Step.NEXT
                for i, claim in enumerate(claims):
                    if self._stopping or claim.claimed_until - self.clock() < self.lease / 4:
                        # Stopping, or the lease is no longer renewed (heartbeat failing).
                        await self._record([], claims[i:])
                        return
                    step = await self._deliver(key, claim, claims[i + 1:], result)
                    if step is not _Step.NEXT:
                        break
                if step is _Step.STOP or (step is _Step.NEXT and not queue.more):
                    return
                queue = (await self._pick(result, key)).get(key, _Queue())
        except Exception:
            # The database is gone, most likely: stop renewing these leases, so that once
            # they are over the rows go to whoever can send them.
            for claim in queue.claims:
                self._claims.pop(claim.id, None)
            raise

    async def _deliver(self, key: str, claim: _Claim, rest: list[_Claim],
                       result: DrainResult) -> _Step:
        now = self.clock()
        if claim.not_after is not None and now >= claim.not_after:
            await self._record([], [claim, *rest])  # the claim drops it with its wave logic
            return _Step.RECLAIM
        try:
            chat_id = self._target(claim.chat_id_enc, claim.kind)
            outgoing = None if chat_id is None else self._outgoing(claim, chat_id)
        except (InvalidToken, ValueError):
            result.failed += 1
            log.warning("outbox failed: invalid (%s, undecryptable)", claim.kind)
            await self._record([self._failed(claim, "invalid")], [])
            return _Step.NEXT
        if chat_id is None:
            result.held += 1
            log.info("outbox held: no_target (%s)", claim.kind)
            await self._record([{"id": claim.id, "status": "held", "last_error": "no_target",
                                 "claimed_until": None}], [])
            return _Step.NEXT
        if outgoing is None:
            # A notice the person's side has no text for (such as "returned", which is for
            # statistics): nothing to send, recorded as such.
            result.failed += 1
            log.info("outbox not sent: no_text (%s)", claim.kind)
            await self._record([self._failed(claim, "no_text")], [])
            return _Step.NEXT

        level = delivery_class(claim.kind).priority
        group = chat_id < 0
        await self.pacer.wait_chat(key)
        async with self.slots.take(level):
            await self.pacer.wait_overall()
            claim.sending = True
            sent: SendResult = await self.sender.send(outgoing, attempt=claim.attempts,
                                                      level=level)
            claim.sending = False
        self.pacer.sent(key, group)
        return await self._outcome(claim, rest, sent, result)

    async def _outcome(self, claim: _Claim, rest: list[_Claim], sent: SendResult,
                       result: DrainResult) -> _Step:
        now = self.clock()
        if sent.sent:
            result.sent += 1
            await self._record([{"id": claim.id, "status": "sent", "sent_at": now,
                                 "last_error": None, "claimed_until": None,
                                 **self._blank(claim.kind)}], [])
            return _Step.NEXT
        if sent.retry and sent.reason == "flood":
            # Only without the governor: Telegram's "slow down" is no failed attempt.
            result.retried += 1
            wait = sent.retry_after if sent.retry_after is not None else 1.0
            await self._record([{"id": claim.id, "not_before": now + timedelta(seconds=wait),
                                 "last_error": "flood", "claimed_until": None}], rest)
            return _Step.STOP
        if sent.retry:
            attempts = claim.attempts + 1
            if claim.give_up_at is None or now < claim.give_up_at:
                result.retried += 1
                delay = sent.retry_after if sent.retry_after is not None else backoff(attempts)
                await self._record([{"id": claim.id, "attempts": attempts,
                                     "not_before": now + timedelta(seconds=delay),
                                     "last_error": sent.reason, "claimed_until": None}], rest)
                return _Step.STOP
            claim.attempts = attempts
            log.warning("outbox failed: %s (%s), past its delivery budget", sent.reason,
                        claim.kind)
        else:
            log.warning("outbox failed: %s (%s)", sent.reason, claim.kind)
        result.failed += 1
        await self._record([self._failed(claim, sent.reason)], [])
        return _Step.NEXT

    def _failed(self, claim: _Claim, reason: str) -> Values:
        return {"id": claim.id, "status": "failed", "last_error": reason,
                "attempts": claim.attempts, "claimed_until": None, **self._blank(claim.kind)}

    async def _record(self, outcomes: list[Values], release: list[_Claim]) -> None:
        """Commit outcomes (and let go of claims not sent), then forget those claims."""
        rows = [*outcomes, *({"id": c.id, "claimed_until": None} for c in release)]
        await self._recorder.write(rows)
        for values in rows:
            self._claims.pop(values["id"], None)

    # ---- leases ----------------------------------------------------------------------------
    async def _renew(self) -> None:
        """Extend the lease of every row this worker still holds."""
        claims = list(self._claims.values())
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
                await self._renew()
            except Exception as exc:
                log.error("outbox lease renewal failed: %s", type(exc).__name__)

    @contextlib.asynccontextmanager
    async def _leases(self) -> AsyncIterator[None]:
        heartbeat = asyncio.create_task(self._heartbeat())
        try:
            yield
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat

    # ---- draining --------------------------------------------------------------------------
    async def _dispatch(self, result: DrainResult) -> int:
        picked = await self._pick(result)
        for key, queue in picked.items():
            self._start_chat(key, queue, result)
        return len(picked)

    async def drain_once(self) -> DrainResult:
        """Deliver everything that is due now, one task per chat, and return when done."""
        result = DrainResult()
        self._errors.clear()
        async with self._leases():
            try:
                while True:
                    if not self._chats or (
                            self._backlog
                            and len(self._chats) <= self.chats_in_flight * 3 // 4):
                        await self._dispatch(result)
                        if not self._chats:
                            break
                    await asyncio.wait(list(self._chats.values()),
                                       return_when=asyncio.FIRST_COMPLETED)
            finally:
                await self._settle()
        if self._errors:
            raise self._errors[0]
        return result

    async def _settle(self, grace: float | None = None) -> None:
        """Wait for the chat tasks (at most ``grace`` seconds, then cancel them), and let go
        of the claims not being sent (a send cut off midway keeps its lease: it may have
        reached Telegram, so it comes back only once the lease is over)."""
        tasks = list(self._chats.values())
        if tasks and grace is not None:
            deadline = asyncio.ensure_future(self.timer.sleep(grace))
            pending: set[asyncio.Future[None]] = set(tasks)
            while pending and not deadline.done():
                _, pending = await asyncio.wait(pending | {deadline},
                                                return_when=asyncio.FIRST_COMPLETED)
                pending.discard(deadline)
            deadline.cancel()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        idle = [c for c in self._claims.values() if not c.sending]
        self._claims.clear()
        if idle:
            try:
                with self.timer.hold():
                    async with self.sessionmaker() as session:
                        await apply(session, ({"id": c.id, "claimed_until": None}
                                              for c in idle))
                        await session.commit()
            except Exception as exc:
                log.error("outbox claims not released: %s", type(exc).__name__)

    async def release_held(self) -> int:
        """Held alerts go to COORDINATOR_CHAT_ID when it is set; held cards of partners that
        now have a group go to it."""
        now = self.clock()
        with self.timer.hold():
            async with self.sessionmaker() as session:
                released = await release_held_to_partner_groups(session, self.vault, now)
                if self.coordinator_chat_id is not None:
                    released += await release_held_alerts(session, self.vault,
                                                          self.coordinator_chat_id, now)
                await session.commit()
        if released:
            log.info("outbox: %d held messages released", released)
        return released

    async def schedule_followup(self) -> ScheduleResult:
        """Queue the follow-up waves and reminders due now (in their daytime window)."""
        if self.settings is None:
            return ScheduleResult()
        with self.timer.hold():
            async with self.sessionmaker() as session:
                return await schedule_due(session, self.vault, self.settings, self.clock())

    async def purge(self, retention_days: int) -> int:
        with self.timer.hold():
            async with self.sessionmaker() as session:
                purged = await purge_expired(session, self.clock(), retention_days)
                await purge_followup_outbox(session, self.clock(), retention_days)
                await session.commit()
                await anonymise_old_months(session, self.clock())  # beyond /forget's reach
        return purged

    async def run(self, stop: asyncio.Event, *, interval: float = 1.0,
                  retention_days: int = 90, grace: float = 10.0) -> None:
        """Drain continuously until ``stop`` is set: look for new messages every ``interval``
        seconds (sooner when capacity frees up after a full pick); once a minute queue the
        follow-up waves due and release held messages; purge once an hour. On stop, the chats
        in flight get ``grace`` seconds to finish."""
        self._stopping = False
        last_purge: datetime | None = None
        last_minute: datetime | None = None
        result = DrainResult()
        async with self._leases():
            while not stop.is_set():
                self._errors.clear()  # logged as they came
                self._freed.clear()
                try:
                    if last_minute is None or self.clock() - last_minute > timedelta(minutes=1):
                        last_minute = self.clock()
                        await self.release_held()
                        await self.schedule_followup()
                    await self._dispatch(result)
                    if last_purge is None or self.clock() - last_purge > timedelta(hours=1):
                        last_purge = self.clock()
                        purged = await self.purge(retention_days)
                        if purged:
                            log.info("retention: purged personal fields of %d referrals",
                                     purged)
                except Exception as exc:
                    log.error("outbox drain failed: %s", type(exc).__name__)
                await self._idle(stop, interval)
            self._stopping = True
            await self._settle(grace)
        self._stopping = False

    async def _idle(self, stop: asyncio.Event, interval: float) -> None:
        waits = [asyncio.ensure_future(stop.wait()),
                 asyncio.ensure_future(self.timer.sleep(interval)),
                 asyncio.ensure_future(self._freed.wait())]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()
            await asyncio.gather(*waits, return_exceptions=True)

    async def aclose(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()


def create_worker(settings: Settings, bot: Bot, sessionmaker: async_sessionmaker[AsyncSession],
                  vault: DataVault, *, clock: Clock = system_clock,
                  redis: Redis | None = None) -> OutboxWorker:
    """The worker with the bot's translations for person notices, sending through the
    governor: the bot's own (``bot.app.create_bot(governor=…)``), else one on ``redis`` or
    ``settings.redis_url`` added to the bot's session. Without Redis (the SQLite demo, one
    worker process) the worker's in-process pacing is all there is; a 429 is waited out by the
    bot's ``RetryAfterMiddleware`` (``create_bot``) or, on a bare session, puts the message
    back in its chat's queue after ``retry_after``."""
    from bot.i18n import create_i18n, shipped_locales
    from bot.notices import render_notice, render_notice_buttons
    from bot.settings import DEFAULT_LOCALES_DIR

    i18n = create_i18n(DEFAULT_LOCALES_DIR)
    available = [c for c in shipped_locales(DEFAULT_LOCALES_DIR)
                 if c == "en" or c in i18n.available_locales]
    owned: Redis | None = None
    limits = next((m.governor.limits for m in bot.session.middleware
                   if isinstance(m, GovernorMiddleware)), None)
    if limits is None:
        if redis is None and settings.redis_url:
            redis = owned = Redis.from_url(settings.redis_url)
        if redis is not None:
            governor = Governor(redis, settings.redis_prefix)
            limits = governor.limits
            bot.session.middleware(GovernorMiddleware(governor))
        else:
            log.info("outbox: no REDIS_URL, the worker paces its sends in process only")
    timer = RealClock()
    pacer = ChatPacer(timer, limits)
    worker = OutboxWorker(sessionmaker, vault, Sender(bot),
                          lambda payload: render_notice(payload, i18n, available), clock=clock,
                          timer=timer, pacer=pacer,
                          coordinator_chat_id=settings.coordinator_chat_id,
                          chats_in_flight=settings.outbox_chats_in_flight,
                          lease=timedelta(seconds=settings.outbox_lease_seconds),
                          render_buttons=lambda payload: render_notice_buttons(payload, i18n,
                                                                               available),
                          settings=settings)
    worker.redis = owned
    return worker


async def _main(settings: Settings) -> None:
    from bot.app import create_bot, create_governor, create_redis
    from bot.settings import Settings as BotSettings
    from referral_api.app import create_context

    if settings.bot_token is None:
        raise SystemExit("error: BOT_TOKEN is not set: the worker sends through the bot")
    if not settings.is_demo and not settings.redis_url:
        raise SystemExit("error: REDIS_URL is not set: the worker shares Telegram's limits "
                         "with the bot through Redis")
    # The bot's own settings (BULK_RATE, the Redis pool) with the worker's Redis and token.
    bot_settings = BotSettings(bot_token=settings.bot_token,
                               telegram_api_url=settings.telegram_api_url,
                               redis_url=settings.redis_url, redis_prefix=settings.redis_prefix)
    redis = create_redis(bot_settings)
    bot = create_bot(bot_settings, governor=create_governor(bot_settings, redis)
                     if redis is not None else None)
    context = create_context(settings)
    worker = create_worker(settings, bot, context.sessionmaker, context.vault)
    worker.redis = redis
    stop = asyncio.Event()
    try:
        await worker.run(stop, retention_days=settings.retention_days)
    finally:
        await worker.aclose()
        await bot.session.close()
        await context.aclose()


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(prog="python -m referral_api.worker").parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(Settings()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
