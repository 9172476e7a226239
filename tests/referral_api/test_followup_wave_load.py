"""A wave of 10,000 questionnaires: the scheduler queues them in the outbox, the outbox worker
sends them through the governor (Redis) to the fake Bot API that enforces Telegram's limits
(30 a second overall, 1 a second per chat; a 429 otherwise), on a simulated clock: zero 429s,
every message sent once, in the person's language with the wave's buttons."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, timedelta

from aiogram import Bot
from fastapi import FastAPI
from sqlalchemy import func, insert, select, text

from bot.notices import render_notice, render_notice_buttons
from bot.settings import DEFAULT_LOCALES_DIR
from governor import Governor
from governor.session import GovernorMiddleware
from referral_api.followup.models import FollowupEnrolment, FollowupWave
from referral_api.followup.service import schedule_due
from referral_api.outbox.delivery import ChatPacer, FakeClock, Sender
from referral_api.outbox.models import OutboxMessage
from referral_api.outbox.worker import OutboxWorker
from simulator.botapi import FakeBotAPI, SimUser
from simulator.session import InProcessSession
from tests.conftest import REDIS_URL
from tests.harness import catalogues_at
from tests.referral_api.virtual_time import held_redis

PEOPLE = 10_000
NOW = datetime(2026, 4, 10, 8, 0, tzinfo=UTC)  # 12:00 in Tbilisi
START = 1_000_000.0


async def test_a_wave_of_ten_thousand_stays_within_telegrams_limits(app: FastAPI,
                                                                      prefix: str) -> None:
    context = app.state.context
    vault = context.vault
    async with context.sessionmaker() as session:
        ids = list(await session.scalars(insert(FollowupEnrolment).returning(
            FollowupEnrolment.id), [
            {"chat_id_enc": vault.encrypt_chat_id(chat), "chat_key": vault.chat_key(chat),
             "language": "ru" if chat % 2 else "en", "country": "GE", "partner": "iom",
             "return_date": date(2026, 1, 10), "status": "active", "created_at": NOW}
            for chat in range(1, PEOPLE + 1)]))
        await session.execute(insert(FollowupWave), [
            {"enrolment_id": i, "number": 1, "months": 3, "due_on": date(2026, 4, 10),
             "token": secrets.token_urlsafe(16), "status": "scheduled", "sends": 0}
            for i in ids])
        await session.commit()
        scheduled = await schedule_due(session, vault, context.settings, NOW, limit=PEOPLE)
    assert scheduled.sent == PEOPLE
    async with context.sessionmaker() as session:  # as autovacuum would after such an insert
        await session.execute(text("ANALYZE outbox"))
        await session.commit()

    clock = FakeClock(START)
    fake = FakeBotAPI(enforce_limits=True, clock=clock.now)
    fake.queue_updates = False
    for chat in range(1, PEOPLE + 1):
        fake.open_chat(SimUser(chat))
    redis = held_redis(REDIS_URL, clock)
    session = InProcessSession(fake)
    session.middleware(GovernorMiddleware(Governor(redis, prefix, clock=clock)))
    bot = Bot(token="1:x", session=session)
    i18n = catalogues_at(DEFAULT_LOCALES_DIR, "en")
    available = ["en", "ru"]
    worker = OutboxWorker(
        context.sessionmaker, vault, Sender(bot),
        lambda notice: render_notice(notice, i18n, available),
        render_buttons=lambda notice: render_notice_buttons(notice, i18n, available),
        clock=lambda: NOW + timedelta(seconds=clock.now() - START), timer=clock,
        pacer=ChatPacer(clock))
    try:
        result = await worker.drain_once()
    finally:
        keys = [k async for k in redis.scan_iter(match=f"{prefix}:*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()
    assert (result.sent, result.failed, result.retried) == (PEOPLE, 0, 0)
    assert fake.too_many_requests == 0
    took = clock.now() - START
    print(f"\n{PEOPLE} wave messages in {took:.0f} virtual seconds")
    assert took >= PEOPLE / 30 - 1  # 30 a second overall: no faster than that
    assert took <= PEOPLE / 28 * 1.02  # and close to the governor's 28 a second
    async with context.sessionmaker() as session:
        pending = await session.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.status != "sent"))
    assert pending == 0
    [message] = fake.chats[4242].messages.values()
    buttons = [b["text"] for row in message["reply_markup"]["inline_keyboard"] for b in row]
    assert len(buttons) == 3 and "questions" in message["text"]
