"""The outbox worker: drain the outbox within Telegram's limits, never dropping a message and
repeating at most what was in flight (``python -m referral_api.outbox`` runs it).

Delivers partner cards and updates to partner groups, notices, reminders and relayed messages
to people (rendered in their language by a renderer it is given: ``bot.notices``), and alerts
to the coordinators. Between deliveries it runs the domains' jobs it is given
(``outbox.jobs``): queue the follow-up waves that are due, release held cards and alerts (once
a minute), purge personal fields of old closed referrals (once an hour).

**Claims and leases**: ``outbox.claims``. **Per-chat queues.** Each chat in flight has its own
task (at most ``chats_in_flight``): a group at its 20 a minute sleeps in its own task while
other chats' messages go on, and the drain is continuous (new messages are picked up every
``interval`` and whenever capacity frees up). A chat's message N+1 is never sent before
message N is sent or has failed for good, including while N waits for a retry (a pending row
with a lower id holds its chat's queue).

**Pacing.** Every send goes through the governor (``governor.Governor``, shared through Redis
with the bot) in the class of its kind (``delivery.DELIVERY_CLASSES``), after the worker's own
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
COORDINATOR_CHAT_ID) is ``held``, never failed: the jobs give it a chat later
(``referrals.held``, at start-up and once a minute).

Follow-up messages (``followup_wave``) are checked when claimed (``Jobs.check_claimed``): a
row whose wave is no longer open (answered, stopped, given up) is dropped (``closed``); a row
past the end of the country's daytime window (``not_after``) is dropped (``late``) and its wave
goes back to the scheduler for the next window. Once delivered or dropped, the row's chat id
and payload (with the wave's token) are blanked; the rows themselves are deleted after the
retention period.

Logs carry outcomes, kinds, reasons and exception types only: no chat id, reference, phone
number or message text.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from enum import Enum

from cryptography.fernet import InvalidToken
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ops.metrics import DELIVERIES
from referral_api.clock import Clock, system_clock
from referral_api.crypto import DataVault
from referral_api.outbox.claims import Claim, DrainResult, Leases, Queue, Values
from referral_api.outbox.delivery import (
    ChatPacer,
    Outgoing,
    RealClock,
    Sender,
    SendResult,
    SendSlots,
    backoff,
    delivery_class,
)
from referral_api.outbox.delivery import Clock as Timer
from referral_api.outbox.jobs import Jobs, NoJobs
from referral_api.outbox.messages import Buttons, PersonNotice, StaffMessage, read_payload
from referral_api.outbox.models import CARD_KINDS

log = logging.getLogger(__name__)

LINGER, BUSY_CHATS = 0.25, 16  # group commit: wait 0.25 s for more outcomes when > 16 chats

RenderPerson = Callable[[PersonNotice], str]
RenderButtons = Callable[[PersonNotice], Buttons | None]

__all__ = ["DrainResult", "OutboxWorker"]


class _Step(Enum):
    NEXT = "next"  # on to the chat's next message
    RECLAIM = "reclaim"  # let go of the rest and claim the chat's queue again now
    STOP = "stop"  # let go of the rest: the chat waits (a retry is due later)


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
        jobs: Jobs | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.vault = vault
        self.sender = sender
        self.render_person = render_person
        self.clock = clock  # database times (claims, retries, budgets)
        self.timer: Timer = timer or RealClock()  # waits (pacing, polling, heartbeat)
        self.coordinator_chat_id = coordinator_chat_id
        self.chats_in_flight = chats_in_flight
        self.pacer = pacer or ChatPacer(self.timer)
        self.slots = SendSlots(send_slots) if send_slots else SendSlots()
        self.render_buttons = render_buttons
        self.jobs: Jobs = jobs or NoJobs()
        self.redis: Redis | None = None  # closed by aclose() (create_worker made it)
        self.leases = Leases(sessionmaker, vault, self.timer, self.jobs,
                             clock=lambda: self.clock(), target=self._target,
                             linger=self._linger, lease=lease, rows_per_chat=rows_per_chat)
        self._chats: dict[str, asyncio.Task[None]] = {}  # chat_key -> its task
        self._errors: list[BaseException] = []
        self._stopping = False
        self._backlog = False  # the last pick was full: pick again when capacity frees up
        self._freed = asyncio.Event()

    @property
    def lease(self) -> timedelta:
        return self.leases.lease

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

    def _outgoing(self, claim: Claim, chat_id: int) -> Outgoing | None:
        """The message to send: a staff message as it was written, a person notice rendered
        in the person's language (None when it has no text for them). Raises ValueError for
        a payload of neither kind."""
        message = read_payload(self.vault.decrypt_json(claim.payload_enc))
        if isinstance(message, StaffMessage):
            return Outgoing(chat_id, message.text, message.buttons,
                            parse_mode=message.parse_mode,
                            edit_message_id=message.edit_message_id)
        text = self.render_person(message)
        buttons = self.render_buttons(message) if self.render_buttons else None
        return Outgoing(chat_id, text, buttons, parse_mode="HTML") if text else None

    # ---- claiming ------------------------------------------------------------------------
    async def _pick(self, result: DrainResult, chat_key: str | None = None,
                    ) -> dict[str, Queue]:
        """Claim the heads of chats' queues that are due (only ``chat_key``'s, when given),
        with up to ``rows_per_chat`` rows each, and commit the claim."""
        limit = 1 if chat_key is not None else self.chats_in_flight - len(self._chats)
        if limit <= 0 or self._stopping:
            return {}
        picked, heads = await self.leases.claim(result, chat_key, limit, self._chats)
        if chat_key is None:
            self._backlog = heads >= limit
        return picked

    # ---- one chat's queue ------------------------------------------------------------------
    def _start_chat(self, key: str, queue: Queue, result: DrainResult) -> None:
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

    async def _run_chat(self, key: str, queue: Queue, result: DrainResult) -> None:
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
                        await self.leases.record([], claims[i:])
                        return
                    step = await self._deliver(key, claim, claims[i + 1:], result)
                    if step is not _Step.NEXT:
                        break
                if step is _Step.STOP or (step is _Step.NEXT and not queue.more):
                    return
                queue = (await self._pick(result, key)).get(key, Queue())
        except Exception:
            # The database is gone, most likely: stop renewing these leases, so that once
            # they are over the rows go to whoever can send them.
            self.leases.forget(queue.claims)
            raise

    async def _deliver(self, key: str, claim: Claim, rest: list[Claim],
                       result: DrainResult) -> _Step:
        now = self.clock()
        if claim.not_after is not None and now >= claim.not_after:
            await self.leases.record([], [claim, *rest])  # the claim drops it (its jobs)
            return _Step.RECLAIM
        try:
            chat_id = self._target(claim.chat_id_enc, claim.kind)
            outgoing = None if chat_id is None else self._outgoing(claim, chat_id)
        except (InvalidToken, ValueError):
            result.failed += 1
            DELIVERIES.labels(claim.kind, "failed", "invalid").inc()
            log.warning("outbox failed: invalid (%s, undecryptable)", claim.kind)
            await self.leases.record([self._failed(claim, "invalid")], [])
            return _Step.NEXT
        if chat_id is None:
            result.held += 1
            DELIVERIES.labels(claim.kind, "held", "no_target").inc()
            log.info("outbox held: no_target (%s)", claim.kind)
            await self.leases.record([{"id": claim.id, "status": "held",
                                       "last_error": "no_target", "claimed_until": None}], [])
            return _Step.NEXT
        if outgoing is None:
            # A notice the person's side has no text for (such as "returned", which is for
            # statistics): nothing to send, recorded as such.
            result.failed += 1
            DELIVERIES.labels(claim.kind, "failed", "no_text").inc()
            log.info("outbox not sent: no_text (%s)", claim.kind)
            await self.leases.record([self._failed(claim, "no_text")], [])
            return _Step.NEXT

        if outgoing.edit_message_id is None and claim.kind == "card_update":
            # One card per referral: an update edits the card already in the group.
            card = await self.leases.card_message_id(claim)
            if card is not None:
                outgoing = dataclasses.replace(outgoing, edit_message_id=card)
        level = delivery_class(claim.kind).priority
        group = chat_id < 0
        await self.pacer.wait_chat(key)
        async with self.slots.take(level):
            await self.pacer.wait_overall()
            # "sending" from the moment the governor lets the call go (a stop hands back what
            # still waits in line, and keeps the lease of what may have reached Telegram).
            sent: SendResult = await self.sender.send(
                outgoing, attempt=claim.attempts, level=level,
                on_sending=lambda: setattr(claim, "sending", True))
        self.pacer.sent(key, group)
        return await self._outcome(claim, rest, sent, result)

    async def _outcome(self, claim: Claim, rest: list[Claim], sent: SendResult,
                       result: DrainResult) -> _Step:
        now = self.clock()
        if sent.sent:
            result.sent += 1
            DELIVERIES.labels(claim.kind, "sent", "").inc()
            card = ({"message_id": sent.message_id}
                    if claim.kind in CARD_KINDS and sent.message_id is not None else {})
            await self.leases.record([{"id": claim.id, "status": "sent", "sent_at": now,
                                       "last_error": None, "claimed_until": None, **card,
                                       **self.leases.blank(claim)}], [])
            return _Step.NEXT
        if sent.retry and sent.reason == "flood":
            # Only without the governor: Telegram's "slow down" is no failed attempt.
            result.retried += 1
            DELIVERIES.labels(claim.kind, "retry", "flood").inc()
            wait = sent.retry_after if sent.retry_after is not None else 1.0
            await self.leases.record([{"id": claim.id,
                                       "not_before": now + timedelta(seconds=wait),
                                       "last_error": "flood", "claimed_until": None}], rest)
            return _Step.STOP
        if sent.retry:
            attempts = claim.attempts + 1
            if claim.give_up_at is None or now < claim.give_up_at:
                result.retried += 1
                DELIVERIES.labels(claim.kind, "retry", sent.reason).inc()
                delay = sent.retry_after if sent.retry_after is not None else backoff(attempts)
                await self.leases.record([{"id": claim.id, "attempts": attempts,
                                           "not_before": now + timedelta(seconds=delay),
                                           "last_error": sent.reason, "claimed_until": None}],
                                         rest)
                return _Step.STOP
            claim.attempts = attempts
            log.warning("outbox failed: %s (%s), past its delivery budget", sent.reason,
                        claim.kind)
        else:
            log.warning("outbox failed: %s (%s)", sent.reason, claim.kind)
        result.failed += 1
        DELIVERIES.labels(claim.kind, "failed", sent.reason).inc()
        await self.leases.record([self._failed(claim, sent.reason)], [])
        return _Step.NEXT

    def _failed(self, claim: Claim, reason: str) -> Values:
        return {"id": claim.id, "status": "failed", "last_error": reason,
                "attempts": claim.attempts, "claimed_until": None,
                **self.leases.blank(claim)}

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
        async with self.leases.kept():
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
        await self.leases.release_unsent()

    async def run(self, stop: asyncio.Event, *, interval: float = 1.0,
                  retention_days: int = 90, grace: float = 10.0) -> None:
        """Drain continuously until ``stop`` is set: look for new messages every ``interval``
        seconds (sooner when capacity frees up after a full pick); once a minute run the
        jobs' minute (release held messages, queue the follow-up waves due); their hour (the
        retention purge) once an hour. On stop, the chats in flight get ``grace`` seconds to
        finish."""
        self._stopping = False
        last_purge: datetime | None = None
        last_minute: datetime | None = None
        result = DrainResult()
        async with self.leases.kept():
            while not stop.is_set():
                self._errors.clear()  # logged as they came
                self._freed.clear()
                try:
                    if last_minute is None or self.clock() - last_minute > timedelta(minutes=1):
                        last_minute = self.clock()
                        with self.timer.hold():
                            await self.jobs.every_minute(self.clock)
                    await self._dispatch(result)
                    if last_purge is None or self.clock() - last_purge > timedelta(hours=1):
                        last_purge = self.clock()
                        with self.timer.hold():
                            await self.jobs.every_hour(self.clock, retention_days)
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
