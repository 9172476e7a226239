"""python -m referral_api.worker: drain the outbox within Telegram's limits.

Delivers partner cards and updates to partner groups, notices, reminders and relayed messages
to people (rendered in their language by bot.notices), and alerts to the coordinators. A
message is marked sent only after Telegram accepted it; transient failures come back later
with backoff (429: after retry_after); permanent failures are marked failed with a reason from
a fixed vocabulary. Rows are claimed with FOR UPDATE SKIP LOCKED on PostgreSQL, so several
workers may run. Also purges personal fields of old closed referrals (retention).

Follow-up messages (`followup_wave`) are checked before delivery: a row whose wave is no longer
open (answered, stopped, given up) is dropped (`closed`); a row past the end of the country's
daytime window (`not_after`) is dropped (`late`) and its wave goes back to the scheduler for the
next window. Once delivered or dropped, the row's chat id and payload (with the wave's token)
are blanked; the rows themselves are deleted after the retention period.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aiogram import Bot
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from referral_api.clock import Clock, system_clock
from referral_api.crypto import DataVault
from referral_api.delivery import Outgoing, RateLimiter, Sender, SendResult, backoff
from referral_api.outbox.models import OutboxMessage
from referral_api.referrals.service import purge_expired
from referral_api.settings import Settings
from referral_api.signals.service import anonymise_old_months
from referral_api.surveys.models import FollowupEnrolment, FollowupWave
from referral_api.surveys.service import ScheduleResult, purge_followup_outbox, schedule_due

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 12
PERSON_KINDS = ("person_notice", "reminder", "followup_wave")

RenderPerson = Callable[[dict[str, Any]], str]
Buttons = list[list[dict[str, str]]]
RenderButtons = Callable[[dict[str, Any]], Buttons | None]


@dataclass
class DrainResult:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    dropped: int = 0  # follow-up messages no longer wanted (wave closed, window over)


class OutboxWorker:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        vault: DataVault,
        sender: Sender,
        render_person: RenderPerson,
        *,
        clock: Clock = system_clock,
        coordinator_chat_id: int | None = None,
        batch: int = 100,
        render_buttons: RenderButtons | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.vault = vault
        self.sender = sender
        self.render_person = render_person
        self.clock = clock
        self.coordinator_chat_id = coordinator_chat_id
        self.batch = batch
        self.render_buttons = render_buttons
        self.settings = settings  # with settings, the worker also schedules follow-up waves

    def _outgoing(self, row: OutboxMessage) -> Outgoing | None:
        payload = self.vault.decrypt_json(row.payload_enc)
        if row.chat_id_enc is not None:
            chat_id = self.vault.decrypt_chat_id(row.chat_id_enc)
        elif row.kind == "coordinator_alert" and self.coordinator_chat_id is not None:
            chat_id = self.coordinator_chat_id
        else:
            return None
        if row.chat_kind == "private" and (row.kind in PERSON_KINDS or "key" in payload):
            text = self.render_person(payload)
            buttons = self.render_buttons(payload) if self.render_buttons else None
            return Outgoing(chat_id, text, buttons, parse_mode="HTML") if text else None
        return Outgoing(chat_id, str(payload.get("text", "")), payload.get("buttons"),
                        parse_mode=payload.get("parse_mode"))

    async def drain_once(self) -> DrainResult:
        """Deliver what is due now; one chat's messages in order, chats in parallel."""
        now = self.clock()
        result = DrainResult()
        async with self.sessionmaker() as session:
            query = (select(OutboxMessage)
                     .where(OutboxMessage.status == "pending",
                            or_(OutboxMessage.not_before.is_(None),
                                OutboxMessage.not_before <= now))
                     .order_by(OutboxMessage.id).limit(self.batch))
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            rows = list((await session.scalars(query)).all())
            rows = await self._wanted_followups(session, rows, now, result)
            by_chat: dict[str, list[OutboxMessage]] = defaultdict(list)
            for row in rows:
                by_chat[row.chat_id_enc or f"none:{row.id}"].append(row)

            async def deliver(chat_rows: list[OutboxMessage]) -> None:
                for row in chat_rows:
                    await self._deliver(row, now, result)

            await asyncio.gather(*(deliver(chat_rows) for chat_rows in by_chat.values()))
            await session.commit()
        return result

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
            row.status, row.last_error = "failed", reason
            self._blank(row)
            result.dropped += 1
            log.info("outbox %s (followup_wave) dropped: %s", row.id, reason)
        return wanted

    def _blank(self, row: OutboxMessage) -> None:
        """A follow-up row done with: no chat id, no token kept."""
        if row.kind == "followup_wave":
            row.chat_id_enc, row.payload_enc = None, self.vault.encrypt_json({})

    async def _deliver(self, row: OutboxMessage, now: datetime, result: DrainResult) -> None:
        outgoing = self._outgoing(row)
        if outgoing is None:
            # No chat to send to, or a notice the person's side has no text for (such as
            # "returned", which is for statistics): nothing to send, recorded as such.
            row.status = "failed"
            row.last_error = "no_target" if row.chat_id_enc is None and not (
                row.kind == "coordinator_alert" and self.coordinator_chat_id) else "no_text"
            result.failed += 1
            log.info("outbox %s (%s) not sent: %s", row.id, row.kind, row.last_error)
            return
        sent: SendResult = await self.sender.send(outgoing, attempt=row.attempts)
        row.attempts += 1
        if sent.sent:
            row.status, row.sent_at, row.last_error = "sent", self.clock(), None
            self._blank(row)
            result.sent += 1
        elif sent.retry and row.attempts < MAX_ATTEMPTS:
            delay = sent.retry_after if sent.retry_after is not None else backoff(row.attempts)
            row.not_before = self.clock() + timedelta(seconds=delay)
            row.last_error = sent.reason
            result.retried += 1
        else:
            row.status, row.last_error = "failed", sent.reason
            self._blank(row)
            result.failed += 1
            log.warning("outbox %s (%s) failed: %s", row.id, row.kind, sent.reason)

    async def schedule_followup(self) -> ScheduleResult:
        """Queue the follow-up waves and reminders due now (in their daytime window)."""
        if self.settings is None:
            return ScheduleResult()
        async with self.sessionmaker() as session:
            return await schedule_due(session, self.vault, self.settings, self.clock())

    async def purge(self, retention_days: int) -> int:
        async with self.sessionmaker() as session:
            purged = await purge_expired(session, self.clock(), retention_days)
            await purge_followup_outbox(session, self.clock(), retention_days)
            await session.commit()
            await anonymise_old_months(session, self.clock())  # signals beyond /forget's reach
        return purged

    async def run(self, stop: asyncio.Event, *, interval: float = 1.0,
                  retention_days: int = 90) -> None:
        """Drain every ``interval`` seconds until ``stop`` is set; purge once an hour."""
        last_purge: datetime | None = None
        last_schedule: datetime | None = None
        while not stop.is_set():
            try:
                if last_schedule is None or self.clock() - last_schedule > timedelta(minutes=1):
                    await self.schedule_followup()
                    last_schedule = self.clock()
                await self.drain_once()
                if last_purge is None or self.clock() - last_purge > timedelta(hours=1):
                    purged = await self.purge(retention_days)
                    last_purge = self.clock()
                    if purged:
                        log.info("retention: purged personal fields of %d referrals", purged)
            except Exception as exc:
                log.error("outbox drain failed: %s", type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)


def create_worker(settings: Settings, bot: Bot, sessionmaker: async_sessionmaker[AsyncSession],
                  vault: DataVault, *, clock: Clock = system_clock) -> OutboxWorker:
    """The worker with the bot's translations for person notices."""
    from bot.i18n import create_i18n, shipped_locales
    from bot.notices import render_notice, render_notice_buttons
    from bot.settings import DEFAULT_LOCALES_DIR

    i18n = create_i18n(DEFAULT_LOCALES_DIR)
    available = [c for c in shipped_locales(DEFAULT_LOCALES_DIR)
                 if c == "en" or c in i18n.available_locales]
    sender = Sender(bot, RateLimiter())
    return OutboxWorker(sessionmaker, vault, sender,
                        lambda payload: render_notice(payload, i18n, available), clock=clock,
                        coordinator_chat_id=settings.coordinator_chat_id,
                        render_buttons=lambda payload: render_notice_buttons(payload, i18n,
                                                                             available),
                        settings=settings)


async def _main(settings: Settings) -> None:
    from bot.app import create_bot
    from bot.settings import Settings as BotSettings
    from referral_api.app import create_context

    if settings.bot_token is None:
        raise SystemExit("error: BOT_TOKEN is not set: the worker sends through the bot")
    bot = create_bot(BotSettings(bot_token=settings.bot_token,
                                 telegram_api_url=settings.telegram_api_url))
    context = create_context(settings)
    worker = create_worker(settings, bot, context.sessionmaker, context.vault)
    stop = asyncio.Event()
    try:
        await worker.run(stop, retention_days=settings.retention_days)
    finally:
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
