"""Follow-up use cases: enrol on return, schedule waves, take answers, stop, forget.

A wave is due `months` after the return date. The scheduler (called by the worker) queues the
wave's message in the outbox when it is due *and* the local time in the country of return is
inside the daytime window; the outbox row carries the end of that window (`not_after`): past
it the worker drops the row and the wave is queued again in the next window. The scheduler
sends at most `followup_reminders` reminders, one every `followup_reminder_days`, then gives
the wave up (a `cancelled` response row: approached, not answered). At most one message per
enrolment per run, the latest wave due; a wave already more than `OVERDUE_DAYS` late at
enrolment (a return date entered late) is skipped, never sent. Waves are locked while the
scheduler acts on them (FOR UPDATE SKIP LOCKED on PostgreSQL), so several workers queue a wave
once.

/stop (or the Stop button) ends every enrolment of the person and withdraws the follow-up
consent of their referrals (the referrals domain does that part: `ConsentWithdrawal`, given by
the API's wiring): a later "returned" never enrols them, and a stopped or finished enrolment is
never created again. Pending outbox rows of the waves are deleted; a wave that was
open becomes a `refused` response row. The enrolment ends — its chat id deleted — when every
wave is answered or given up, or at /stop. The keyed chat hash stays, so that /forget can still
delete the person's answers.

Info source and decision reasons are asked in the first wave a person answers only (the bot
asks `GET /v1/followup/waves/{token}`); the service also keeps them from the first answered
wave only, so (c) and (d) of the report count people, (a) and (e) count surveys.

The outbox worker checks each follow-up row it claims (`unwanted_wave_rows`): a row whose wave
is no longer open is dropped (`closed`), a row past its daytime window too (`late`), and its
wave goes back to the scheduler.
"""

from __future__ import annotations

import calendar
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, false, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from referral_api.clock import Clock
from referral_api.crypto import DataVault
from referral_api.errors import Conflict, Invalid, NotFound
from referral_api.followup import questionnaire
from referral_api.followup.models import FollowupEnrolment, FollowupResponse, FollowupWave
from referral_api.followup.timezones import country_timezone
from referral_api.outbox.messages import FollowupWaveNotice
from referral_api.outbox.models import OutboxMessage
from referral_api.outbox.service import enqueue
from referral_api.settings import Settings

logger = logging.getLogger(__name__)

OPEN_WAVE = ("scheduled", "sent")
DONE_WAVE = ("answered", "expired", "stopped", "skipped")
OVERDUE_DAYS = 30  # at enrolment, a wave due longer ago than this is skipped, never sent
PAGE = 500  # waves read per scheduler query

# Withdraws the follow-up consent the person gave with their referrals (by chat key), in the
# caller's transaction; how many referrals had it. The referrals domain's
# (`referrals.service.withdraw_followup_consent`), given by the API's wiring.
ConsentWithdrawal = Callable[[AsyncSession, str], Awaitable[int]]


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def in_window(now: datetime, country: str, settings: Settings) -> bool:
    """Whether `now` is inside the daytime window in the country's time zone."""
    hour = now.astimezone(country_timezone(country)).hour
    return settings.followup_window_start_hour <= hour < settings.followup_window_end_hour


def local_date(now: datetime, country: str) -> date:
    return now.astimezone(country_timezone(country)).date()


def window_end(now: datetime, country: str, settings: Settings) -> datetime:
    """The end of today's daytime window in the country, in UTC."""
    local = now.astimezone(country_timezone(country))
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight + timedelta(hours=settings.followup_window_end_hour)).astimezone(UTC)


@dataclass
class ScheduleResult:
    sent: int = 0
    reminded: int = 0
    expired: int = 0
    finished: int = 0
    skipped: int = 0


def _response(enrolment: FollowupEnrolment, wave: FollowupWave, status: str,
              now: datetime) -> FollowupResponse:
    """A response row of the bot: `refused` (stopped), `cancelled` (given up) or, filled in
    by the caller, `completed`."""
    return FollowupResponse(
        source="bot", wave_id=wave.id, partner=enrolment.partner, country=enrolment.country,
        status=status, language=enrolment.language,
        returned_month=enrolment.return_date.strftime("%Y-%m"), answers={}, created_at=now)


async def _not_answered(session: AsyncSession, enrolment: FollowupEnrolment,
                        wave: FollowupWave, status: str, now: datetime) -> None:
    """Record that the person was approached with `wave` and did not answer it."""
    existing = await session.scalar(
        select(FollowupResponse.id).where(FollowupResponse.wave_id == wave.id))
    if existing is None:
        session.add(_response(enrolment, wave, status, now))


async def _delete_pending(session: AsyncSession, wave_ids: list[int]) -> None:
    if wave_ids:
        await session.execute(delete(OutboxMessage).where(
            OutboxMessage.followup_wave_id.in_(wave_ids), OutboxMessage.status == "pending"))


class FollowupService:
    def __init__(self, session: AsyncSession, vault: DataVault, settings: Settings,
                 clock: Clock) -> None:
        self.session = session
        self.vault = vault
        self.settings = settings
        self.clock = clock

    # --- enrolment ------------------------------------------------------------------------
    async def enrol(self, *, chat_id: int, language: str, country: str, partner: str,
                    return_date: date) -> FollowupEnrolment | None:
        """Enrol (or, for a correction of the return data, update) the person. Waves not sent
        yet move with the return date; a wave already more than OVERDUE_DAYS late is skipped.
        A person whose enrolment was stopped or finished is never enrolled again (None).
        The caller commits."""
        chat_key = self.vault.chat_key(chat_id)
        now = self.clock()
        existing = list((await self.session.scalars(
            select(FollowupEnrolment).where(FollowupEnrolment.chat_key == chat_key)
            .order_by(FollowupEnrolment.id))).all())
        enrolment = next((e for e in existing if e.status == "active"), None)
        if enrolment is None and existing:
            logger.info("follow-up: not enrolled again (an enrolment was %s)",
                        existing[-1].status)
            return None
        if enrolment is None:
            enrolment = FollowupEnrolment(
                chat_id_enc=self.vault.encrypt_chat_id(chat_id), chat_key=chat_key,
                language=language, country=country, partner=partner, return_date=return_date,
                status="active", created_at=now)
            self.session.add(enrolment)
            await self.session.flush()
            waves = []
            for number, months in enumerate(self.settings.followup_wave_months, start=1):
                wave = FollowupWave(
                    enrolment_id=enrolment.id, number=number, months=months,
                    due_on=add_months(return_date, months), token=secrets.token_urlsafe(16),
                    status="scheduled", sends=0)
                self.session.add(wave)
                waves.append(wave)
            logger.info("follow-up: enrolment %s created", enrolment.id)
        else:
            enrolment.language, enrolment.country = language, country
            enrolment.partner, enrolment.return_date = partner, return_date
            waves = await self._waves(enrolment.id)
            for wave in waves:
                if wave.status == "scheduled":
                    wave.due_on = add_months(return_date, wave.months)
        overdue = now.date() - timedelta(days=OVERDUE_DAYS)
        for wave in waves:
            if wave.status == "scheduled" and wave.due_on < overdue:
                wave.status = "skipped"
        await self.session.flush()
        await _finish_if_done(self.session, enrolment, waves, now)
        return enrolment

    async def _waves(self, enrolment_id: int) -> list[FollowupWave]:
        return list((await self.session.scalars(
            select(FollowupWave).where(FollowupWave.enrolment_id == enrolment_id)
            .order_by(FollowupWave.number))).all())

    # --- the person -----------------------------------------------------------------------
    async def _wave_by_token(self, token: str) -> tuple[FollowupWave, FollowupEnrolment]:
        """The wave of an opaque token and its enrolment. Raises NotFound."""
        row = (await self.session.execute(
            select(FollowupWave, FollowupEnrolment)
            .join(FollowupEnrolment, FollowupEnrolment.id == FollowupWave.enrolment_id)
            .where(FollowupWave.token == token))).first()
        if row is None:
            raise NotFound()
        return row[0], row[1]

    async def wave_state(self, token: str) -> dict[str, Any]:
        """For the bot's Start button: whether the wave of `token` can be started ("open":
        sent or scheduled, enrolment active) or not ("closed": answered, given up, stopped,
        skipped), and whether the background questions (info source, reasons) are still to
        be asked (no answered wave yet). Raises NotFound."""
        wave, enrolment = await self._wave_by_token(token)
        is_open = enrolment.status == "active" and wave.status in OPEN_WAVE
        return {"status": "open" if is_open else "closed",
                "background": not await self._answered_before(enrolment.id, wave.id)}

    async def _answered_before(self, enrolment_id: int, wave_id: int) -> bool:
        """Whether another wave of the enrolment was answered (background questions given)."""
        return bool(await self.session.scalar(
            select(func.count()).select_from(FollowupResponse)
            .join(FollowupWave, FollowupWave.id == FollowupResponse.wave_id)
            .where(FollowupWave.enrolment_id == enrolment_id, FollowupWave.id != wave_id,
                   FollowupResponse.status == "completed")))

    async def submit(self, token: str, version: int, answers: dict[str, str]) -> bool:
        """Save a completed questionnaire for the wave of `token`. Returns False when that
        wave was answered already (nothing changes). A wave given up meanwhile is still taken
        (its `cancelled` row becomes the answer). Info source and reasons are kept from the
        first answered wave only. Raises NotFound, Conflict ("followup_stopped") or Invalid
        (unknown version, answer or question)."""
        wave, enrolment = await self._wave_by_token(token)
        if enrolment.status == "stopped":
            raise Conflict("followup_stopped")
        if version != questionnaire.VERSION:
            raise Invalid("unknown_version")
        try:
            clean = questionnaire.clean(answers)
        except questionnaire.InvalidAnswers as exc:
            raise Invalid(exc.code) from None
        response = await self.session.scalar(
            select(FollowupResponse).where(FollowupResponse.wave_id == wave.id))
        if response is not None and response.status == "completed":
            return False
        now = self.clock()
        if response is None:
            response = _response(enrolment, wave, "completed", now)
            self.session.add(response)
        background = not await self._answered_before(enrolment.id, wave.id)
        response.status, response.created_at = "completed", now
        response.questionnaire_version = version
        response.info_source = clean.info_source if background else None
        decisions = clean.decisions if background else (None, None, None)
        response.decision_1, response.decision_2, response.decision_3 = decisions[:3]
        response.answers = clean.dimensions
        wave.status, wave.answered_at = "answered", now
        await self.session.flush()
        await _delete_pending(self.session, [wave.id])  # a reminder not sent yet
        await _finish_if_done(self.session, enrolment, await self._waves(enrolment.id), now)
        await self.session.commit()
        logger.info("follow-up: wave %s answered", wave.number)
        return True

    async def stop(self, *, withdraw_consent: ConsentWithdrawal, chat_id: int | None = None,
                   token: str | None = None) -> int:
        """Stop every active enrolment of the person (by chat, or by a wave token): no more
        waves, pending messages deleted, the chat id deleted, an open wave recorded as
        `refused`; and withdraw the follow-up consent of the person's referrals
        (`withdraw_consent`), so that a later "returned" does not enrol them. Answers given
        stay (for statistics) until /forget. Returns how many enrolments were stopped, or 1
        when only a consent was withdrawn (before the return), 0 when there was nothing to
        stop."""
        if chat_id is not None:
            chat_key: str | None = self.vault.chat_key(chat_id)
        elif token is not None:
            chat_key = await self.session.scalar(
                select(FollowupEnrolment.chat_key)
                .join(FollowupWave, FollowupWave.enrolment_id == FollowupEnrolment.id)
                .where(FollowupWave.token == token))
        else:
            raise Invalid("missing_person")
        if chat_key is None:
            return 0
        enrolments = list((await self.session.scalars(
            select(FollowupEnrolment).where(FollowupEnrolment.chat_key == chat_key,
                                            FollowupEnrolment.status == "active"))).all())
        now = self.clock()
        for enrolment in enrolments:
            enrolment.status, enrolment.ended_at, enrolment.chat_id_enc = "stopped", now, None
            waves = await self._waves(enrolment.id)
            for wave in waves:
                if wave.status == "sent":
                    await _not_answered(self.session, enrolment, wave, "refused", now)
                if wave.status in OPEN_WAVE:
                    wave.status = "stopped"
            await _delete_pending(self.session, [w.id for w in waves])
        withdrawn = await withdraw_consent(self.session, chat_key)
        await self.session.commit()
        if enrolments:
            logger.info("follow-up: %d enrolment(s) stopped", len(enrolments))
        if enrolments:
            return len(enrolments)
        return 1 if withdrawn else 0

    async def forget(self, chat_id: int) -> int:
        """Delete the person's enrolments, waves, answers and pending follow-up messages
        (ON DELETE CASCADE, and explicitly). The caller commits."""
        chat_key = self.vault.chat_key(chat_id)
        wave_ids = list(await self.session.scalars(
            select(FollowupWave.id).join(FollowupEnrolment,
                                         FollowupEnrolment.id == FollowupWave.enrolment_id)
            .where(FollowupEnrolment.chat_key == chat_key)))
        if wave_ids:
            await self.session.execute(delete(OutboxMessage).where(
                OutboxMessage.followup_wave_id.in_(wave_ids)))
        result = await self.session.execute(
            delete(FollowupEnrolment).where(FollowupEnrolment.chat_key == chat_key))
        return int(getattr(result, "rowcount", 0) or 0)

    # --- demo -----------------------------------------------------------------------------
    async def send_next_wave_now(self, chat_id: int) -> int | None:
        """Demo and support: queue the person's next open wave now, whatever its date and the
        local hour. Returns the wave number, or None when nothing is open."""
        query = select(FollowupEnrolment).where(
            FollowupEnrolment.chat_key == self.vault.chat_key(chat_id),
            FollowupEnrolment.status == "active")
        if _is_postgresql(self.session):
            query = query.with_for_update()
        enrolment = await self.session.scalar(query)
        if enrolment is None or enrolment.chat_id_enc is None:
            return None
        for wave in await self._waves(enrolment.id):
            if wave.status in OPEN_WAVE:
                now = self.clock()
                _queue_wave(self.session, self.vault, enrolment, wave, now,
                            reminder=wave.sends > 0, not_after=None)
                wave.status, wave.sends, wave.last_sent_at = "sent", wave.sends + 1, now
                await self.session.commit()
                return wave.number
        return None


def _is_postgresql(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _queue_wave(session: AsyncSession, vault: DataVault, enrolment: FollowupEnrolment,
                wave: FollowupWave, now: datetime, *, reminder: bool,
                not_after: datetime | None) -> None:
    assert enrolment.chat_id_enc is not None
    enqueue(session, vault, kind="followup_wave",
            message=FollowupWaveNotice(token=wave.token, wave=wave.number, reminder=reminder,
                                       locale=enrolment.language),
            chat_id=vault.decrypt_chat_id(enrolment.chat_id_enc), chat_kind="private", now=now,
            followup_wave_id=wave.id, not_after=not_after)


async def _finish_if_done(session: AsyncSession, enrolment: FollowupEnrolment,
                          waves: list[FollowupWave], now: datetime) -> bool:
    if enrolment.status != "active" or any(w.status in OPEN_WAVE for w in waves):
        return False
    enrolment.status, enrolment.ended_at, enrolment.chat_id_enc = "finished", now, None
    return True


async def schedule_due(session: AsyncSession, vault: DataVault, settings: Settings,
                       now: datetime, *, limit: int = 2000) -> ScheduleResult:
    """Queue the waves and reminders that are due and inside their daytime window; give up
    waves whose reminders are spent; end enrolments with no open wave left. Only waves that
    can act now are read (due in their country's local date, window open; or reminders
    spent), page after page until `limit` waves were acted on. Commits."""
    result = ScheduleResult()
    gap = timedelta(days=settings.followup_reminder_days)
    countries = list(await session.scalars(
        select(FollowupEnrolment.country).where(FollowupEnrolment.status == "active")
        .distinct()))
    open_by_date: dict[date, list[str]] = {}
    for country in countries:
        if in_window(now, country, settings):
            open_by_date.setdefault(local_date(now, country), []).append(country)
    open_countries = [c for codes in open_by_date.values() for c in codes]
    first_due = or_(false(), *(and_(FollowupEnrolment.country.in_(codes),
                                    FollowupWave.due_on <= day)
                               for day, codes in open_by_date.items()))
    reminder_due = and_(FollowupWave.status == "sent", FollowupWave.last_sent_at <= now - gap,
                        or_(FollowupWave.sends > settings.followup_reminders,
                            FollowupEnrolment.country.in_(open_countries)))
    base = (select(FollowupWave, FollowupEnrolment)
            .join(FollowupEnrolment, FollowupEnrolment.id == FollowupWave.enrolment_id)
            .where(FollowupEnrolment.status == "active",
                   FollowupEnrolment.chat_id_enc.is_not(None),
                   or_(and_(FollowupWave.status == "scheduled", first_due), reminder_due))
            .order_by(FollowupWave.due_on, FollowupWave.id))
    if _is_postgresql(session):  # several workers: each wave (and enrolment) acted on once
        base = base.with_for_update(skip_locked=True, of=[FollowupWave, FollowupEnrolment])
    touched: dict[int, FollowupEnrolment] = {}
    acted: set[int] = set()  # enrolments with a message queued (or a wave given up) this run
    after: tuple[date, int] | None = None
    while len(acted) < limit:
        query = base if after is None else base.where(
            tuple_(FollowupWave.due_on, FollowupWave.id) > tuple_(*after))
        rows = (await session.execute(query.limit(PAGE))).all()
        if not rows:
            break
        after = (rows[-1][0].due_on, rows[-1][0].id)
        siblings: dict[int, list[FollowupWave]] = {}
        for wave in (await session.scalars(
                select(FollowupWave).where(FollowupWave.enrolment_id.in_(
                    {e.id for _, e in rows})).order_by(FollowupWave.number))).all():
            siblings.setdefault(wave.enrolment_id, []).append(wave)
        for wave, enrolment in rows:
            if enrolment.id in acted or len(acted) >= limit:
                continue
            if wave.status == "scheduled":
                today = local_date(now, enrolment.country)
                due = [w for w in siblings[enrolment.id]
                       if w.status == "scheduled" and w.due_on <= today]
                latest = max(due, key=lambda w: w.number, default=wave)
                for earlier in siblings[enrolment.id]:
                    if earlier.number >= latest.number:
                        continue
                    if earlier.status == "scheduled":
                        earlier.status = "skipped"
                        result.skipped += 1
                    elif earlier.status == "sent":
                        earlier.status = "expired"
                        await _not_answered(session, enrolment, earlier, "cancelled", now)
                        await _delete_pending(session, [earlier.id])
                        result.expired += 1
                _queue_wave(session, vault, enrolment, latest, now, reminder=False,
                            not_after=window_end(now, enrolment.country, settings))
                latest.status, latest.sends, latest.last_sent_at = "sent", 1, now
                result.sent += 1
                acted.add(enrolment.id)
                continue
            if wave.sends > settings.followup_reminders:
                wave.status = "expired"
                await _not_answered(session, enrolment, wave, "cancelled", now)
                await _delete_pending(session, [wave.id])
                result.expired += 1
                touched[enrolment.id] = enrolment
                acted.add(enrolment.id)
                continue
            _queue_wave(session, vault, enrolment, wave, now, reminder=True,
                        not_after=window_end(now, enrolment.country, settings))
            wave.sends, wave.last_sent_at = wave.sends + 1, now
            result.reminded += 1
            acted.add(enrolment.id)
        await session.flush()
        if len(rows) < PAGE:
            break
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


async def purge_followup_outbox(session: AsyncSession, now: datetime, days: int) -> int:
    """Retention: delete follow-up outbox rows delivered or failed more than `days` ago
    (their chat id and payload were already blanked at delivery). The caller commits."""
    result = await session.execute(delete(OutboxMessage).where(
        OutboxMessage.kind == "followup_wave", OutboxMessage.status != "pending",
        OutboxMessage.created_at < now - timedelta(days=days)))
    return int(getattr(result, "rowcount", 0) or 0)


async def unwanted_wave_rows(session: AsyncSession, rows: Sequence[OutboxMessage],
                             now: datetime, reminder_gap: timedelta) -> dict[int, str]:
    """Of outbox rows being claimed by the worker, the follow-up rows not to send, by id:
    `closed` when their wave is no longer open (answered, stopped, given up), `late` when
    their daytime window (`not_after`) is over — then the wave is handed back to the
    scheduler: a first message is queued again, a reminder is due again at once (in the next
    window). In the worker's claim transaction."""
    ids = {r.followup_wave_id for r in rows
           if r.kind == "followup_wave" and r.followup_wave_id is not None}
    if not ids:
        return {}
    waves = {wave.id: (wave, status) for wave, status in (await session.execute(
        select(FollowupWave, FollowupEnrolment.status)
        .join(FollowupEnrolment, FollowupEnrolment.id == FollowupWave.enrolment_id)
        .where(FollowupWave.id.in_(ids)))).all()}
    unwanted: dict[int, str] = {}
    for row in rows:
        if row.kind != "followup_wave" or row.followup_wave_id is None:
            continue
        wave, status = waves.get(row.followup_wave_id, (None, None))
        if wave is None or status != "active" or wave.status != "sent":
            unwanted[row.id] = "closed"
        elif row.not_after is not None and now >= row.not_after:
            unwanted[row.id] = "late"
            if wave.sends <= 1:  # the first message: the wave is queued again
                wave.status, wave.sends, wave.last_sent_at = "scheduled", 0, None
            else:  # a reminder: due again at once, in the next window
                wave.sends, wave.last_sent_at = wave.sends - 1, now - reminder_gap
    return unwanted
