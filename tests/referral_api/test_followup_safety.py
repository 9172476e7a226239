"""Follow-up after return, the review's findings: /stop withdraws the consent and is never
undone by a correction, pending messages go with /stop and /forget, the worker drops a message
whose wave closed or whose daytime window is over, a late return date sends one wave, the
scheduler acts once per wave with two workers and is not starved by night-time countries,
Kosovo's time zone, the publication order and charts, counting (refused / cancelled rows;
background questions once per person)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date, datetime

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import create_bot
from bot.settings import Settings as BotSettings
from referral_api.followup.charts import charts, svg
from referral_api.followup.models import FollowupEnrolment, FollowupResponse, FollowupWave
from referral_api.followup.report import ResponseRow, build
from referral_api.followup.service import schedule_due
from referral_api.followup.timezones import country_timezone
from referral_api.housekeeping import create_worker
from referral_api.outbox.models import OutboxMessage
from referral_api.outbox.worker import OutboxWorker
from referral_api.referrals.models import Referral
from simulator.botapi import FakeBotAPI, SimUser
from simulator.session import InProcessSession
from tests.referral_api.factories import book, make_partner, outbox_rows
from tests.referral_api.followup_world import (
    PILOT,
    SetClock,
    at,
    returned,
    set_clock,
)


@pytest.fixture(autouse=True)
def clock(app: FastAPI) -> SetClock:
    return set_clock(app)


async def booked(client: httpx.AsyncClient, admin: httpx.AsyncClient,
                 chat_id: int = 555) -> str:
    await make_partner(admin)
    referral = await book(client, chat_id=chat_id, language="ka", followup_consent=True)
    return str(referral["reference"])


async def tick(app: FastAPI, now: str, limit: int = 2000) -> dict[str, int]:
    context = app.state.context
    async with context.sessionmaker() as session:
        result = await schedule_due(session, context.vault, context.settings, at(now),
                                    limit=limit)
    return vars(result)


async def waves(app: FastAPI) -> list[FollowupWave]:
    async with app.state.context.sessionmaker() as session:
        return list((await session.scalars(
            select(FollowupWave).order_by(FollowupWave.enrolment_id, FollowupWave.number))
        ).all())


async def count(app: FastAPI, model: type, *where: object) -> int:
    async with app.state.context.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(
            *where)) or 0)


def worker(app: FastAPI, fake: FakeBotAPI, now: Callable[[], datetime]) -> OutboxWorker:
    bot = create_bot(BotSettings(_env_file=None, bot_token="77:worker"),
                     session=InProcessSession(fake))
    context = app.state.context
    return create_worker(context.settings, bot, context.sessionmaker, context.vault,
                         clock=now)


# ---- 1. /stop withdraws the consent ----------------------------------------------------------
async def test_stop_before_the_return_means_no_enrolment(
        app: FastAPI, client: httpx.AsyncClient, admin: httpx.AsyncClient) -> None:
    reference = await booked(client, admin)
    stopped = await client.post("/v1/followup/stop", json={"chat_id": 555})
    assert stopped.json() == {"stopped": 1}  # the consent was withdrawn
    await returned(app, reference)
    assert await count(app, FollowupEnrolment) == 0
    assert await count(app, Referral, Referral.followup_consent.is_(True)) == 0
    again = await client.post("/v1/followup/stop", json={"chat_id": 555})
    assert again.json() == {"stopped": 0}  # nothing left to stop


@pytest.mark.parametrize("ended", ["stopped", "finished"])
async def test_a_correction_never_enrols_again(
        app: FastAPI, client: httpx.AsyncClient, admin: httpx.AsyncClient,
        ended: str) -> None:
    reference = await booked(client, admin)
    await returned(app, reference)
    if ended == "stopped":
        assert (await client.post("/v1/followup/stop", json={"chat_id": 555})).json() == {
            "stopped": 1}
    else:
        async with app.state.context.sessionmaker() as session:
            await session.execute(update(FollowupWave).values(status="answered"))
            await session.execute(update(FollowupEnrolment).values(status="finished",
                                                                  chat_id_enc=None))
            await session.commit()
            await session.execute(update(Referral).values(followup_consent=True))
            await session.commit()
    await returned(app, reference, day=date(2026, 1, 31))  # the counsellor corrects the date
    assert await count(app, FollowupEnrolment) == 1
    assert await count(app, FollowupEnrolment, FollowupEnrolment.status == "active") == 0
    assert (await tick(app, "2026-05-10T07:00"))["sent"] == 0


# ---- 2. pending messages go with /stop, the Stop button, /forget ---------------------------
@pytest.mark.parametrize("how", ["chat", "token", "forget"])
async def test_pending_wave_messages_are_deleted(
        app: FastAPI, client: httpx.AsyncClient, admin: httpx.AsyncClient,
        how: str) -> None:
    await returned(app, await booked(client, admin))
    assert (await tick(app, "2026-04-10T07:00"))["sent"] == 1
    [row] = await outbox_rows(app, "followup_wave")
    assert row["status"] == "pending"
    [first, *_] = await waves(app)
    if how == "forget":
        assert (await client.post("/v1/forget", json={"chat_id": 555})
                ).status_code == 200
    else:
        body = {"chat_id": 555} if how == "chat" else {"token": first.token}
        assert (await client.post("/v1/followup/stop", json=body)).json() == {"stopped": 1}
        async with app.state.context.sessionmaker() as session:
            refused = await session.scalar(select(FollowupResponse))
        assert refused is not None and refused.status == "refused"  # approached: n.a.
    assert await outbox_rows(app, "followup_wave") == []


async def test_the_worker_drops_a_message_of_a_closed_wave_and_blanks_sent_rows(
        app: FastAPI, client: httpx.AsyncClient, admin: httpx.AsyncClient) -> None:
    await returned(app, await booked(client, admin))
    await returned(app, await book(client, chat_id=556, language="ka",
                                   followup_consent=True) and (await _reference(app, 556)))
    assert (await tick(app, "2026-04-10T07:00"))["sent"] == 2
    async with app.state.context.sessionmaker() as session:  # 555 answered meanwhile
        await session.execute(update(FollowupWave).where(
            FollowupWave.id == (await waves(app))[0].id).values(status="answered"))
        await session.commit()
    fake = FakeBotAPI()
    fake.open_chat(SimUser(555))
    fake.open_chat(SimUser(556))
    result = await worker(app, fake, lambda: at("2026-04-10T07:00:05")).drain_once()
    assert (result.sent, result.dropped) == (1, 1)
    assert not fake.chats[555].messages and fake.chats[556].messages
    async with app.state.context.sessionmaker() as session:
        rows = list((await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
                     ).all())
    followups = [r for r in rows if r.kind == "followup_wave"]
    assert [r.last_error for r in followups] == ["closed", None]
    vault = app.state.context.vault
    assert all(r.chat_id_enc is None and vault.decrypt_json(r.payload_enc) == {}
               for r in followups)  # no chat id, no token kept


async def _reference(app: FastAPI, chat_id: int) -> str:
    context = app.state.context
    async with context.sessionmaker() as session:
        return str(await session.scalar(select(Referral.reference).where(
            Referral.chat_key == context.vault.chat_key(chat_id))))


# ---- 7. no delivery at night ---------------------------------------------------------------
async def test_a_wave_past_its_window_is_not_delivered_at_night(
        app: FastAPI, client: httpx.AsyncClient, admin: httpx.AsyncClient) -> None:
    await returned(app, await booked(client, admin))  # GE: Asia/Tbilisi, UTC+4
    assert (await tick(app, "2026-04-10T14:59"))["sent"] == 1  # 18:59 local
    fake = FakeBotAPI()
    fake.open_chat(SimUser(555))
    now = SetClock(at("2026-04-10T23:00"))  # 03:00 local: the worker was down
    result = await worker(app, fake, now).drain_once()
    assert (result.sent, result.dropped) == (0, 1)
    assert not fake.chats[555].messages
    [first, *_] = await waves(app)
    assert (first.status, first.sends) == ("scheduled", 0)  # back to the scheduler
    assert (await tick(app, "2026-04-11T05:00"))["sent"] == 0  # 09:00 local
    assert (await tick(app, "2026-04-11T06:00"))["sent"] == 1  # the next window
    now.now = at("2026-04-11T06:00:01")
    assert (await worker(app, fake, now).drain_once()).sent == 1
    assert fake.chats[555].messages


# ---- 8. a return date long past ------------------------------------------------------------
async def test_a_return_date_long_past_sends_one_wave(
        app: FastAPI, client: httpx.AsyncClient, admin: httpx.AsyncClient,
        clock: SetClock) -> None:
    clock.now = at("2026-11-27T09:00")
    await returned(app, await booked(client, admin), day=date(2025, 11, 20))
    assert [w.status for w in await waves(app)] == ["skipped", "skipped", "scheduled"]
    result = await tick(app, "2026-11-27T09:00")
    assert result["sent"] == 1
    [row] = await outbox_rows(app, "followup_wave")
    assert row["payload"]["wave"] == 3


async def test_one_wave_per_enrolment_per_run_the_latest_due(
        app: FastAPI, client: httpx.AsyncClient, admin: httpx.AsyncClient) -> None:
    await returned(app, await booked(client, admin))
    result = await tick(app, "2026-07-10T07:00")  # waves 1 and 2 both due (worker down)
    assert (result["sent"], result["reminded"], result["skipped"]) == (1, 0, 1)
    [row] = await outbox_rows(app, "followup_wave")
    assert row["payload"]["wave"] == 2
    assert [w.status for w in await waves(app)] == ["skipped", "sent", "scheduled"]


# ---- 9. several workers --------------------------------------------------------------------
async def test_a_wave_locked_by_another_worker_is_skipped(
        app: FastAPI, client: httpx.AsyncClient, admin: httpx.AsyncClient) -> None:
    await returned(app, await booked(client, admin))
    context = app.state.context
    async with context.sessionmaker() as other:  # another worker, halfway through its run
        await other.execute(select(FollowupWave).with_for_update())
        result = await asyncio.wait_for(tick(app, "2026-04-10T07:00"), timeout=10)
        assert result["sent"] == 0
        await other.rollback()
    assert (await tick(app, "2026-04-10T07:00"))["sent"] == 1


async def test_two_schedulers_at_once_queue_a_wave_once(
        app: FastAPI, client: httpx.AsyncClient, admin: httpx.AsyncClient) -> None:
    await make_partner(admin)
    for chat in range(600, 640):
        referral = await book(client, chat_id=chat, followup_consent=True)
        await returned(app, referral["reference"])
    results = await asyncio.gather(*(tick(app, "2026-04-10T07:00") for _ in range(3)))
    assert sum(r["sent"] for r in results) == 40
    assert len(await outbox_rows(app, "followup_wave")) == 40


# ---- 17. the batch limit counts waves that can act -----------------------------------------
async def test_night_time_countries_do_not_starve_the_others(
        app: FastAPI, client: httpx.AsyncClient, admin: httpx.AsyncClient) -> None:
    await make_partner(admin)
    for chat in (701, 702):  # Mongolia (UTC+8), due first, at night at 14:00 UTC
        referral = await book(client, chat_id=chat, followup_consent=True)
        await returned(app, referral["reference"], "MN", date(2026, 1, 5))
    referral = await book(client, chat_id=703, followup_consent=True)
    await returned(app, referral["reference"], "GE")  # 18:00 in Tbilisi
    assert (await tick(app, "2026-04-10T14:00", limit=1))["sent"] == 1
    [row] = await outbox_rows(app, "followup_wave")
    assert row["chat_id"] == 703


# ---- 13. Kosovo ----------------------------------------------------------------------------
def test_kosovo_has_its_time_zone() -> None:
    assert country_timezone("XK").key == "Europe/Belgrade"
    assert country_timezone("xk").key == "Europe/Belgrade"


# ---- 10 and 14. the wave's state; background questions once --------------------------------
async def test_background_questions_are_kept_from_the_first_answered_wave(
        app: FastAPI, client: httpx.AsyncClient, admin: httpx.AsyncClient) -> None:
    await returned(app, await booked(client, admin))
    first, second, _third = await waves(app)
    state = await client.get(f"/v1/followup/waves/{first.token}")
    assert state.json() == {"status": "open", "background": True}
    answers = {"info_source": "website", "reason_1": "health", "housing": "good"}
    assert (await client.post("/v1/followup/answers", json={
        "token": first.token, "questionnaire_version": 1, "answers": answers})
            ).status_code == 201
    assert (await client.get(f"/v1/followup/waves/{first.token}")).json()["status"] == "closed"
    assert (await client.get(f"/v1/followup/waves/{second.token}")).json() == {
        "status": "open", "background": False}
    assert (await client.post("/v1/followup/answers", json={
        "token": second.token, "questionnaire_version": 1, "answers": answers})
            ).status_code == 201
    async with app.state.context.sessionmaker() as session:
        rows = list((await session.scalars(select(FollowupResponse).order_by(
            FollowupResponse.id))).all())
    assert [(r.info_source, r.decision_1, r.answers["housing"]) for r in rows] == [
        ("website", "health", "good"), (None, None, "good")]
    report = build([ResponseRow(r.partner, r.country, r.status, r.info_source,
                                (r.decision_1, r.decision_2, r.decision_3), r.answers)
                    for r in rows])
    assert report.completed == 2  # (a) counts surveys
    assert dict((s, c.value) for s, c in report.info_sources)["website"] == 1  # (c) people
    unknown = await client.get("/v1/followup/waves/" + "x" * 22)
    assert unknown.status_code == 404
    assert (await admin.get(f"/v1/followup/waves/{first.token}")).status_code in (401, 403)


# ---- 3 and 4. publication ------------------------------------------------------------------
def _rows(sources: dict[str, int], **extra: ResponseRow) -> list[ResponseRow]:
    return [ResponseRow("iom", "GE", "completed", info_source=source)
            for source, n in sources.items() for _ in range(n)]


def test_the_publication_order_does_not_reveal_hidden_counts() -> None:
    rows = _rows({"word_of_mouth": 20, "website": 9, "other": 6, "freephone": 3})
    rows += [ResponseRow("caritas", code, "completed", decisions=(factor, None, None))
             for code, factor, n in (("AM", "health", 7), ("SN", "homesickness", 1),
                                     ("AF", "debts_or_money", 3)) for _ in range(n)]
    report = build(rows, publication=True)
    assert [s for s, _ in report.info_sources] == [
        "word_of_mouth", "website", "other",  # shown, by count
        "reception_social_worker", "return_desk", "ngo_or_city_partner",  # hidden: catalogue
        "immigration_office", "freephone"]
    assert [str(c) for _, c in report.info_sources][3:] == ["<5"] * 5
    decisions = [d for d, one, _ in report.decisions]
    hidden = [d for d, one, _ in report.decisions if one.hidden]
    assert decisions[0] == "health"
    assert hidden == [d for d in decisions if d in hidden]  # hidden after the shown ones
    assert decisions.index("homesickness") < decisions.index("debts_or_money")  # catalogue
    exact_order = [d for d, _, _ in build(rows).decisions]
    assert exact_order.index("debts_or_money") < exact_order.index("homesickness")
    codes = [line.label for line in report.countries]
    shown = [line.label for line in report.countries if not line.total.hidden]
    assert codes[:len(shown)] == shown
    assert codes[len(shown):] == sorted(codes[len(shown):])  # hidden rows by ISO code
    exact = build(rows)
    assert [s for s, _ in exact.info_sources][3] == "freephone"  # coordinators: by count


def test_publication_charts_print_no_small_n() -> None:
    rows = [ResponseRow("iom", "GE", "completed", answers={"income": "yes"}) for _ in range(3)]
    [income] = [c for c in charts(build(rows, publication=True))
                if c.slug == "dimension_income"]
    text = svg(income)
    assert "Answers of <5" in income.description or "&lt;5" in text
    assert " 3 " not in text and ">3<" not in text and "of 3" not in text
    [exact] = [c for c in charts(build(rows)) if c.slug == "dimension_income"]
    assert "Answers of 3 " in exact.description


async def test_the_pilot_report_is_unchanged_by_the_publication_order(
        app: FastAPI, session: AsyncSession) -> None:
    from referral_api.followup.importer import import_responses
    from referral_api.followup.report import load_rows, render_csv

    await import_responses(session, PILOT.read_text(encoding="utf-8"),
                           app.state.context.clock)
    published = render_csv(build(await load_rows(session), publication=True)).splitlines()
    assert published[1] == "GE,50,46,96" and published[-2:] == [
        "n.a.,31,37,68", "total,177,167,344"]
    hidden = [line.split(",")[0] for line in published[1:-2] if line.endswith("<5")]
    assert hidden == sorted(hidden)
