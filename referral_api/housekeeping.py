"""The outbox worker as its process runs it: the delivery machinery (``outbox``) with the
domains' housekeeping jobs and the bot's renderer of person notices, wired (``create_worker``).

The wiring of the worker process, as ``referral_api.app`` is the API's: the outbox imports no
other domain, so what it runs besides delivering comes from here —

- at each claim, follow-up rows no longer wanted (``followup.service.unwanted_wave_rows``);
- once a minute, held cards and alerts released (``referrals.held``), then the follow-up waves
  that are due queued (``followup.service.schedule_due``);
- once an hour, the retention purge (``referrals.service.purge_expired``, the follow-up rows
  delivered long ago, and the signals' months past their retention).

Person notices are rendered by ``bot.notices`` (it imports no handler) in the bot's catalogues.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from aiogram import Bot
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from governor import Governor
from governor.session import GovernorMiddleware
from referral_api.clock import Clock, system_clock
from referral_api.crypto import DataVault
from referral_api.followup.service import (
    purge_followup_outbox,
    schedule_due,
    unwanted_wave_rows,
)
from referral_api.outbox.delivery import ChatPacer, RealClock, Sender
from referral_api.outbox.jobs import Now
from referral_api.outbox.models import OutboxMessage
from referral_api.outbox.worker import OutboxWorker
from referral_api.referrals.held import release_held_alerts, release_held_to_partner_groups
from referral_api.referrals.service import purge_expired
from referral_api.settings import LOCALES_DIR, Settings
from referral_api.signals.service import anonymise_old_months

log = logging.getLogger(__name__)


class DomainJobs:
    """The domains' jobs of the worker process (``outbox.jobs.Jobs``)."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], vault: DataVault,
                 settings: Settings) -> None:
        self.sessionmaker = sessionmaker
        self.vault = vault
        self.settings = settings

    async def check_claimed(self, session: AsyncSession, rows: Sequence[OutboxMessage],
                            now: datetime) -> dict[int, str]:
        gap = timedelta(days=self.settings.followup_reminder_days)
        return await unwanted_wave_rows(session, rows, now, gap)

    async def every_minute(self, now: Now) -> None:
        await self.release_held(now)
        await self.schedule_followup(now)

    async def release_held(self, now: Now) -> int:
        """Held alerts go to COORDINATOR_CHAT_ID when it is set; held cards of partners that
        now have a group go to it."""
        at = now()
        async with self.sessionmaker() as session:
            released = await release_held_to_partner_groups(session, self.vault, at)
            chat_id = self.settings.coordinator_chat_id
            if chat_id is not None:
                released += await release_held_alerts(session, self.vault, chat_id, at)
            await session.commit()
        if released:
            log.info("outbox: %d held messages released", released)
        return released

    async def schedule_followup(self, now: Now) -> None:
        """Queue the follow-up waves and reminders due now (in their daytime window)."""
        async with self.sessionmaker() as session:
            await schedule_due(session, self.vault, self.settings, now())

    async def every_hour(self, now: Now, retention_days: int) -> None:
        async with self.sessionmaker() as session:
            purged = await purge_expired(session, now(), retention_days, self.vault)
            await purge_followup_outbox(session, now(), retention_days)
            await session.commit()
            await anonymise_old_months(session, now())  # beyond /forget's reach
        if purged:
            log.info("retention: purged personal fields of %d referrals", purged)


def create_worker(settings: Settings, bot: Bot, sessionmaker: async_sessionmaker[AsyncSession],
                  vault: DataVault, *, clock: Clock = system_clock,
                  redis: Redis | None = None, web_bot: Bot | None = None) -> OutboxWorker:
    """The worker with the bot's translations for person notices and the domains' jobs,
    sending through the governor: the bot's own (``governor.wiring.create_bot(governor=…)``),
    else one on ``redis`` or ``settings.redis_url`` added to the bot's session. Without Redis
    (the SQLite demo, one worker process) the worker's in-process pacing is all there is; a
    429 is waited out by the bot's ``RetryAfterMiddleware`` (``create_bot``) or, on a bare
    session, puts the message back in its chat's queue after ``retry_after``. ``web_bot``:
    the web chat's Bot, for the messages to web chats (bot.channels)."""
    from bot.i18n import create_i18n, shipped_locales
    from bot.notices import render_notice, render_notice_buttons

    i18n = create_i18n(LOCALES_DIR)
    available = [c for c in shipped_locales(LOCALES_DIR)
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
    worker = OutboxWorker(sessionmaker, vault, Sender(bot, web_bot=web_bot),
                          lambda notice: render_notice(notice, i18n, available), clock=clock,
                          timer=timer, pacer=pacer,
                          coordinator_chat_id=settings.coordinator_chat_id,
                          chats_in_flight=settings.outbox_chats_in_flight,
                          lease=timedelta(seconds=settings.outbox_lease_seconds),
                          render_buttons=lambda notice: render_notice_buttons(notice, i18n,
                                                                              available),
                          jobs=DomainJobs(sessionmaker, vault, settings))
    worker.redis = owned
    return worker
