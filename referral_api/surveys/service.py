"""Follow-up use cases: enrol on return, schedule waves, take answers, stop, forget.

A wave is due `months` after the return date. The scheduler (called by the worker) queues the
wave's message in the outbox when it is due *and* the local time in the country of return is
inside the daytime window; it sends at most `followup_reminders` reminders, one every
`followup_reminder_days`, then gives the wave up. The outbox worker delivers the messages
within Telegram's limits. A wave's token (opaque, in the buttons) stays valid after the wave
was given up, so that a late answer is still taken. The enrolment ends — its chat id deleted —
when every wave is answered or given up, or at /stop. The keyed chat hash stays, so that
/forget can still delete the person's answers.
"""

from __future__ import annotations

import calendar
import logging
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from referral_api.clock import Clock
from referral_api.crypto import DataVault
from referral_api.errors import Conflict, Invalid, NotFound
from referral_api.outbox.service import enqueue
from referral_api.settings import Settings
from referral_api.surveys import questionnaire
from referral_api.surveys.models import FollowupEnrolment, FollowupResponse, FollowupWave
from referral_api.surveys.timezones import country_timezone

logger = logging.getLogger(__name__)

OPEN_WAVE = ("scheduled", "sent")
DONE_WAVE = ("answered", "expired", "stopped")


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def in_window(now: datetime, country: str, settings: Settings) -> bool:
    """Whether `now` is inside the daytime window in the country's time zone."""
    hour = now.astimezone(country_timezone(country)).hour
    return settings.followup_window_start_hour <= hour < settings.followup_window_end_hour


@dataclass
class ScheduleResult:
    sent: int = 0
    reminded: int = 0
    expired: int = 0
    finished: int = 0


class FollowupService:
    def __init__(self, session: AsyncSession, vault: DataVault, settings: Settings,
                 clock: Clock) -> None:
        self.session = session
        self.vault = vault
        self.settings = settings
        self.clock = clock

    # --- enrolment ------------------------------------------------------------------------
    async def enrol(self, *, chat_id: int, language: str, country: str, partner: str,
                    return_date: date) -> FollowupEnrolment:
        """Enrol (or, for a correction of the return data, update) the person. Waves not sent
        yet move with the return date. The caller commits."""
        chat_key = self.vault.chat_key(chat_id)
        now = self.clock()
        enrolment = await self.session.scalar(
            select(FollowupEnrolment).where(FollowupEnrolment.chat_key == chat_key,
                                            FollowupEnrolment.status == "active"))
        if enrolment is None:
            enrolment = FollowupEnrolment(
                chat_id_enc=self.vault.encrypt_chat_id(chat_id), chat_key=chat_key,
                language=language, country=country, partner=partner, return_date=return_date,
                status="active", created_at=now)
            self.session.add(enrolment)
            await self.session.flush()
            for number, months in enumerate(self.settings.followup_wave_months, start=1):
                self.session.add(FollowupWave(
                    enrolment_id=enrolment.id, number=number, months=months,
                    due_on=add_months(return_date, months), token=secrets.token_urlsafe(16),
                    status="scheduled", sends=0))
            logger.info("follow-up: enrolment %s created", enrolment.id)
            return enrolment
        enrolment.language, enrolment.country = language, country
        enrolment.partner, enrolment.return_date = partner, return_date
        for wave in await self._waves(enrolment.id):
            if wave.status == "scheduled":
                wave.due_on = add_months(return_date, wave.months)
        return enrolment

    async def _waves(self, enrolment_id: int) -> list[FollowupWave]:
        return list((await self.session.scalars(
            select(FollowupWave).where(FollowupWave.enrolment_id == enrolment_id)
            .order_by(FollowupWave.number))).all())

    # --- the person -----------------------------------------------------------------------
    async def submit(self, token: str, version: int, answers: dict[str, str]) -> bool:
        """Save a completed questionnaire for the wave of `token`. Returns False when that
        wave was answered already (nothing changes). Raises NotFound, Conflict
        ("followup_stopped") or Invalid (unknown version, answer or question)."""
        row = (await self.session.execute(
            select(FollowupWave, FollowupEnrolment)
            .join(FollowupEnrolment, FollowupEnrolment.id == FollowupWave.enrolment_id)
            .where(FollowupWave.token == token))).first()
        if row is None:
            raise NotFound()
        wave, enrolment = row
        if enrolment.status == "stopped":
            raise Conflict("followup_stopped")
        if version != questionnaire.VERSION:
            raise Invalid("unknown_version")
        try:
            clean = questionnaire.clean(answers)
        except questionnaire.InvalidAnswers as exc:
            raise Invalid(exc.code) from None
        existing = await self.session.scalar(
            select(FollowupResponse.id).where(FollowupResponse.wave_id == wave.id))
        if existing is not None:
            return False
        now = self.clock()
        response = FollowupResponse(
            source="bot", wave_id=wave.id, partner=enrolment.partner, country=enrolment.country,
            status="completed", language=enrolment.language,
            returned_month=enrolment.return_date.strftime("%Y-%m"),
            questionnaire_version=version, info_source=clean.info_source,
            decision_1=clean.decisions[0], decision_2=clean.decisions[1],
            decision_3=clean.decisions[2], answers=clean.dimensions, created_at=now)
        self.session.add(response)
        wave.status, wave.answered_at = "answered", now
        await self.session.flush()
        await _finish_if_done(self.session, enrolment, await self._waves(enrolment.id), now)
        await self.session.commit()
        logger.info("follow-up: wave %s answered", wave.number)
        return True

    async def stop(self, *, chat_id: int | None = None, token: str | None = None) -> int:
        """Stop every active enrolment of the person (by chat, or by a wave token): no more
        waves, the chat id deleted. Answers given stay (for statistics) until /forget.
        Returns how many enrolments were stopped."""
        query = select(FollowupEnrolment).where(FollowupEnrolment.status == "active")
        if chat_id is not None:
            query = query.where(FollowupEnrolment.chat_key == self.vault.chat_key(chat_id))
        elif token is not None:
            query = query.join(FollowupWave, FollowupWave.enrolment_id == FollowupEnrolment.id
                               ).where(FollowupWave.token == token)
        else:
            raise Invalid("missing_person")
        enrolments = list((await self.session.scalars(query)).all())
        now = self.clock()
        for enrolment in enrolments:
            enrolment.status, enrolment.ended_at, enrolment.chat_id_enc = "stopped", now, None
            for wave in await self._waves(enrolment.id):
                if wave.status in OPEN_WAVE:
                    wave.status = "stopped"
        await self.session.commit()
        if enrolments:
            logger.info("follow-up: %d enrolment(s) stopped", len(enrolments))
        return len(enrolments)

    async def forget(self, chat_id: int) -> int:
        """Delete the person's enrolments, waves and answers (ON DELETE CASCADE). The caller
        commits."""
        result = await self.session.execute(
            delete(FollowupEnrolment).where(
                FollowupEnrolment.chat_key == self.vault.chat_key(chat_id)))
        return int(getattr(result, "rowcount", 0) or 0)

    # --- demo -----------------------------------------------------------------------------
    async def send_next_wave_now(self, chat_id: int) -> int | None:
        """Demo and support: queue the person's next open wave now, whatever its date and the
        local hour. Returns the wave number, or None when nothing is open."""
        enrolment = await self.session.scalar(
            select(FollowupEnrolment).where(
                FollowupEnrolment.chat_key == self.vault.chat_key(chat_id),
                FollowupEnrolment.status == "active"))
        if enrolment is None or enrolment.chat_id_enc is None:
            return None
        for wave in await self._waves(enrolment.id):
            if wave.status in OPEN_WAVE:
                now = self.clock()
                _queue_wave(self.session, self.vault, enrolment, wave, now,
                            reminder=wave.sends > 0)
                wave.status, wave.sends, wave.last_sent_at = "sent", wave.sends + 1, now
                await self.session.commit()
                return wave.number
        return None


def _queue_wave(session: AsyncSession, vault: DataVault, enrolment: FollowupEnrolment,
                wave: FollowupWave, now: datetime, *, reminder: bool) -> None:
    assert enrolment.chat_id_enc is not None
    enqueue(session, vault, kind="followup_wave",
            payload={"key": "followup_wave", "token": wave.token, "wave": wave.number,
                     "reminder": reminder, "locale": enrolment.language},
            chat_id=vault.decrypt_chat_id(enrolment.chat_id_enc), chat_kind="private", now=now)


async def _finish_if_done(session: AsyncSession, enrolment: FollowupEnrolment,
                          waves: list[FollowupWave], now: datetime) -> bool:
    if enrolment.status != "active" or any(w.status in OPEN_WAVE for w in waves):
        return False
    enrolment.status, enrolment.ended_at, enrolment.chat_id_enc = "finished", now, None
    return True


async def schedule_due(session: AsyncSession, vault: DataVault, settings: Settings,
                       now: datetime, *, limit: int = 2000) -> ScheduleResult:
    """Queue the waves and reminders that are due and inside their daytime window; give up
    waves whose reminders are spent; end enrolments with no open wave left. Commits."""
    result = ScheduleResult()
    gap = timedelta(days=settings.followup_reminder_days)
    horizon = (now + timedelta(days=1)).date()  # local dates run up to a day ahead of UTC
    rows = (await session.execute(
        select(FollowupWave, FollowupEnrolment)
        .join(FollowupEnrolment, FollowupEnrolment.id == FollowupWave.enrolment_id)
        .where(FollowupEnrolment.status == "active", FollowupWave.due_on <= horizon,
               or_(FollowupWave.status == "scheduled",
                   and_(FollowupWave.status == "sent", FollowupWave.last_sent_at <= now - gap)))
        .order_by(FollowupWave.due_on, FollowupWave.id).limit(limit))).all()
    touched: dict[int, FollowupEnrolment] = {}
    for wave, enrolment in rows:
        if enrolment.chat_id_enc is None:
            continue
        if wave.status == "scheduled":
            local_today = now.astimezone(country_timezone(enrolment.country)).date()
            if local_today < wave.due_on or not in_window(now, enrolment.country, settings):
                continue
            _queue_wave(session, vault, enrolment, wave, now, reminder=False)
            wave.status, wave.sends, wave.last_sent_at = "sent", 1, now
            result.sent += 1
            continue
        if wave.last_sent_at is not None and now < wave.last_sent_at + gap:
            continue
        if wave.sends > settings.followup_reminders:
            wave.status = "expired"
            result.expired += 1
            touched[enrolment.id] = enrolment
            continue
        if not in_window(now, enrolment.country, settings):
            continue
        _queue_wave(session, vault, enrolment, wave, now, reminder=True)
        wave.sends, wave.last_sent_at = wave.sends + 1, now
        result.reminded += 1
    await session.flush()
    for enrolment in touched.values():
        waves = list((await session.scalars(
            select(FollowupWave).where(FollowupWave.enrolment_id == enrolment.id))).all())
        if await _finish_if_done(session, enrolment, waves, now):
            result.finished += 1
    await session.commit()
    if result.sent or result.reminded or result.expired:
        logger.info("follow-up: %d wave(s) sent, %d reminder(s), %d given up, %d ended",
                    result.sent, result.reminded, result.expired, result.finished)
    return result
