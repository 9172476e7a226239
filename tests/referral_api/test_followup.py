"""Follow-up after return on the API side: enrolment only with the separate consent, the wave
schedule in the country's daytime window on a controllable clock (reminders, giving up, a late
answer, /stop), the answers endpoint, the pilot import (idempotent, malformed rows) and the
report on the shared pilot file, checked against an independent count."""

from __future__ import annotations

import asyncio
import csv
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from referral_api.__main__ import main as cli
from referral_api.crypto import DataVault
from referral_api.followup.importer import ImportFailed, import_responses
from referral_api.followup.models import FollowupEnrolment, FollowupResponse, FollowupWave
from referral_api.followup.report import build, load_rows, render_csv, render_text
from referral_api.followup.service import schedule_due
from referral_api.settings import Settings
from tests.referral_api.factories import book, make_partner, outbox_rows
from tests.referral_api.followup_world import (
    PILOT,
    RETURNED,
    SetClock,
    at,
    returned,
    set_clock,
)

HEADER = ("response_id,partner,destination_country,status,survey_language,returned_month,"
          "info_source,decision_factor_1,decision_factor_2,decision_factor_3\n")



@pytest.fixture(autouse=True)
def clock(app: FastAPI) -> SetClock:
    return set_clock(app)


async def enrolled(app: FastAPI, client: httpx.AsyncClient, admin: httpx.AsyncClient,
                   chat_id: int = 555, country: str = "GE") -> None:
    await make_partner(admin)
    referral = await book(client, chat_id=chat_id, language="ka", followup_consent=True)
    await returned(app, referral["reference"], country)


async def tick(app: FastAPI, now: str) -> dict[str, int]:
    context = app.state.context
    async with context.sessionmaker() as session:
        result = await schedule_due(session, context.vault, context.settings, at(now))
    return vars(result)


async def waves(session: AsyncSession) -> list[FollowupWave]:
    return list((await session.scalars(select(FollowupWave).order_by(FollowupWave.number))
                 ).all())


# ---- enrolment -----------------------------------------------------------------------------
async def test_only_a_yes_to_the_follow_up_question_enrols(
        app: FastAPI, client: httpx.AsyncClient, admin: httpx.AsyncClient,
        session: AsyncSession, vault: DataVault) -> None:
    await make_partner(admin)
    yes = await book(client, chat_id=101, language="ru", followup_consent=True)
    no = await book(client, chat_id=102)  # the question was not answered yes
    await returned(app, yes["reference"], "RU")
    await returned(app, no["reference"], "RU")
    [enrolment] = (await session.scalars(select(FollowupEnrolment))).all()
    assert (enrolment.language, enrolment.country, enrolment.partner, enrolment.return_date
            ) == ("ru", "RU", "caritas", RETURNED)
    assert enrolment.chat_id_enc and "101" not in enrolment.chat_id_enc  # encrypted
    assert vault.decrypt_chat_id(enrolment.chat_id_enc) == 101
    assert [(w.number, w.due_on) for w in await waves(session)] == [
        (1, date(2026, 4, 10)), (2, date(2026, 7, 10)), (3, date(2027, 1, 10))]
    # a correction of the return date moves the waves; it does not enrol twice
    await returned(app, yes["reference"], "RU", date(2026, 1, 31))
    assert await session.scalar(select(func.count()).select_from(FollowupEnrolment)) == 1
    session.expire_all()
    assert (await waves(session))[0].due_on == date(2026, 4, 30)  # no 31 April


# ---- schedule ------------------------------------------------------------------------------
async def test_waves_go_out_in_the_daytime_window_with_two_reminders_at_most(
        app: FastAPI, client: httpx.AsyncClient, admin: httpx.AsyncClient,
        session: AsyncSession) -> None:
    await enrolled(app, client, admin, country="GE")  # Asia/Tbilisi, UTC+4
    assert (await tick(app, "2026-04-09T12:00"))["sent"] == 0  # not due yet
    assert (await tick(app, "2026-04-10T05:59"))["sent"] == 0  # 09:59 in Tbilisi
    assert (await tick(app, "2026-04-10T06:00"))["sent"] == 1  # 10:00 in Tbilisi
    assert (await tick(app, "2026-04-10T07:00"))["sent"] == 0  # never twice
    [message] = await outbox_rows(app, "followup_wave")
    assert message["chat_id"] == 555 and message["payload"]["locale"] == "ka"
    assert message["payload"]["reminder"] is False and message["referral_id"] is None
    assert (await tick(app, "2026-04-16T12:00"))["reminded"] == 0  # a week has not passed
    assert (await tick(app, "2026-04-17T16:00"))["reminded"] == 0  # 20:00 local: too late
    assert (await tick(app, "2026-04-18T06:30"))["reminded"] == 1
    assert (await tick(app, "2026-04-25T07:00"))["reminded"] == 1
    reminders = [m["payload"]["reminder"] for m in await outbox_rows(app, "followup_wave")]
    assert reminders == [False, True, True]
    result = await tick(app, "2026-05-02T07:00")
    assert (result["reminded"], result["expired"]) == (0, 1)  # two reminders, then given up
    assert await outbox_rows(app, "followup_wave") == []  # not sent yet: no longer wanted
    cancelled = await session.scalar(select(FollowupResponse))
    assert cancelled is not None and cancelled.status == "cancelled"  # approached: n.a.
    # the person answers late: still taken
    [first, *_] = await waves(session)
    answered = await client.post("/v1/followup/answers", json={
        "token": first.token, "questionnaire_version": 1,
        "answers": {"info_source": "website", "reason_1": "no_legal_stay"}})
    assert answered.status_code == 201, answered.text
    session.expire_all()
    response = await session.scalar(select(FollowupResponse))
    assert response is not None and response.decision_1 == "no_prospect_of_legal_stay"
    assert response.status == "completed"  # the late answer replaces the `cancelled` row


async def test_the_window_follows_the_country_not_the_phone(
        app: FastAPI, client: httpx.AsyncClient, admin: httpx.AsyncClient) -> None:
    await enrolled(app, client, admin, country="MN")  # Asia/Ulaanbaatar, UTC+8
    assert (await tick(app, "2026-04-10T01:59"))["sent"] == 0  # 09:59 local
    assert (await tick(app, "2026-04-10T02:00"))["sent"] == 1  # 10:00 local


async def test_the_enrolment_ends_after_the_last_wave(
        app: FastAPI, client: httpx.AsyncClient, admin: httpx.AsyncClient,
        session: AsyncSession) -> None:
    await enrolled(app, client, admin, country="GE")
    for wave in await waves(session):
        wave.status = "answered" if wave.number < 3 else "sent"
        wave.sends, wave.last_sent_at = 3, at("2027-01-10T07:00")
    await session.commit()
    assert (await tick(app, "2027-01-17T07:00"))["finished"] == 1
    session.expire_all()
    enrolment = await session.scalar(select(FollowupEnrolment))
    assert enrolment is not None and enrolment.status == "finished"
    assert enrolment.chat_id_enc is None and enrolment.chat_key is not None  # /forget works


async def test_stop_stops_every_wave(app: FastAPI, client: httpx.AsyncClient,
                                     admin: httpx.AsyncClient, session: AsyncSession) -> None:
    await enrolled(app, client, admin)
    stopped = await client.post("/v1/followup/stop", json={"chat_id": 555})
    assert stopped.json() == {"stopped": 1}
    assert (await tick(app, "2026-04-10T07:00"))["sent"] == 0
    assert {w.status for w in await waves(session)} == {"stopped"}
    token = (await waves(session))[0].token
    late = await client.post("/v1/followup/answers", json={
        "token": token, "questionnaire_version": 1, "answers": {}})
    assert late.status_code == 409 and late.json()["detail"]["code"] == "followup_stopped"
    bad = await client.post("/v1/followup/stop", json={})
    assert bad.status_code == 422


async def test_answers_are_checked_against_the_questionnaire(
        app: FastAPI, client: httpx.AsyncClient, admin: httpx.AsyncClient,
        session: AsyncSession) -> None:
    await enrolled(app, client, admin)
    token = (await waves(session))[0].token

    async def post(answers: dict[str, str], version: int = 1) -> httpx.Response:
        return await client.post("/v1/followup/answers", json={
            "token": token, "questionnaire_version": version, "answers": answers})

    assert (await post({"housing": "castle"})).json()["detail"]["code"] == "invalid_answer"
    assert (await post({"shoe_size": "large"})).json()["detail"]["code"] == "unknown_question"
    assert (await post({"reason_1": "health", "reason_2": "health"})).json()["detail"][
        "code"] == "repeated_reason"
    assert (await post({}, version=99)).json()["detail"]["code"] == "unknown_version"
    unknown = await client.post("/v1/followup/answers", json={
        "token": "x" * 22, "questionnaire_version": 1, "answers": {}})
    assert unknown.status_code == 404
    assert (await post({"housing": "good"})).status_code == 201
    again = await post({"housing": "poor"})
    assert again.status_code == 200 and again.json() == {"status": "already_saved"}
    no_token = await client.post("/v1/followup/answers", json={
        "questionnaire_version": 1, "answers": {}})
    assert no_token.status_code == 422


# ---- import --------------------------------------------------------------------------------
async def test_import_is_idempotent(app: FastAPI, session: AsyncSession) -> None:
    text = PILOT.read_text(encoding="utf-8")
    first = await import_responses(session, text, app.state.context.clock)
    assert (first.created, first.updated, first.unchanged) == (344, 0, 0)
    second = await import_responses(session, text, app.state.context.clock)
    assert (second.created, second.updated, second.unchanged) == (0, 0, 344)
    changed = text.replace("P0002,caritas,IQ,completed", "P0002,iom,IQ,completed")
    third = await import_responses(session, changed, app.state.context.clock)
    assert (third.created, third.updated, third.unchanged) == (0, 1, 343)
    assert await session.scalar(select(func.count()).select_from(FollowupResponse)) == 344


@pytest.mark.parametrize(("row", "message"), [
    ("X2,unicef,GE,completed,ka,2020-01,website,,,", "line 3: partner must be caritas or iom"),
    ("X2,iom,ZZ,completed,ka,2020-01,website,,,", "line 3: destination_country 'ZZ'"),
    ("X2,iom,GE,done,ka,2020-01,website,,,", "line 3: status must be completed"),
    ("X2,iom,GE,completed,ka,2020-13,website,,,", "line 3: returned_month '2020-13'"),
    ("X2,iom,GE,completed,ka,2020-01,radio,,,", "line 3: info_source 'radio'"),
    ("X2,iom,GE,completed,ka,2020-01,website,health,health,", "line 3: decision_factor_2 "
                                                               "repeats"),
    ("X2,iom,GE,completed,ka,2020-01,website,,health,", "line 3: decision_factor_2 is given"),
    ("X2,iom,GE,refused,ka,2020-01,website,,,", "line 3: a refused response has no answers"),
    ("X1,iom,GE,completed,ka,2020-01,website,,,", "line 3: response_id 'X1' already on line 2"),
    ("X2,iom,GE,completed,ka,2020-01,website,,,,extra", "line 3: more values than columns"),
])
async def test_a_malformed_row_is_named_and_nothing_is_imported(
        app: FastAPI, session: AsyncSession, row: str, message: str) -> None:
    text = HEADER + "X1,iom,GE,completed,ka,2020-01,website,health,,\n" + row + "\n"
    with pytest.raises(ImportFailed) as failure:
        await import_responses(session, text, app.state.context.clock)
    assert str(failure.value).startswith(message)
    assert await session.scalar(select(func.count()).select_from(FollowupResponse)) == 0


async def test_a_missing_column_is_named(app: FastAPI, session: AsyncSession) -> None:
    with pytest.raises(ImportFailed, match="line 1: missing column"):
        await import_responses(session, "response_id,partner\nX,iom\n",
                               app.state.context.clock)


# ---- report --------------------------------------------------------------------------------
def independent_counts() -> dict[str, Any]:
    """The pilot file counted with the csv module alone."""
    with PILOT.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    completed = [r for r in rows if r["status"] == "completed"]
    by_country = Counter((r["destination_country"], r["partner"]) for r in completed)
    countries = {c for c, _ in by_country}
    totals = {c: by_country[c, "caritas"] + by_country[c, "iom"] for c in countries}
    na = Counter(r["partner"] for r in rows if r["status"] != "completed")
    top1 = Counter(r["decision_factor_1"] for r in completed if r["decision_factor_1"])
    top3 = Counter(r[f"decision_factor_{i}"] for r in completed for i in (1, 2, 3)
                   if r[f"decision_factor_{i}"])
    return {"rows": rows, "completed": completed, "by_country": by_country, "totals": totals,
            "na": na, "info": Counter(r["info_source"] for r in completed if r["info_source"]),
            "top1": top1, "top3": top3}


async def test_the_report_on_the_pilot_file(app: FastAPI, session: AsyncSession) -> None:
    await import_responses(session, PILOT.read_text(encoding="utf-8"), app.state.context.clock)
    report = build(await load_rows(session))
    expected = independent_counts()

    table = {line.label: (line.caritas.value, line.iom.value, line.total.value)
             for line in report.countries}
    assert table == {c: (expected["by_country"][c, "caritas"], expected["by_country"][c, "iom"],
                         total) for c, total in expected["totals"].items()}
    totals = [line.total.value for line in report.countries]
    assert totals == sorted(totals, reverse=True)
    assert (report.not_applicable.caritas.value, report.not_applicable.iom.value) == (
        expected["na"]["caritas"], expected["na"]["iom"])
    assert report.total.total.value == len(expected["rows"])
    assert report.completed == len(expected["completed"])
    # (b) the smallest set of top countries covering at least 80 %
    ranked = sorted(expected["totals"].values(), reverse=True)
    needed = next(n for n in range(1, len(ranked) + 1)
                  if sum(ranked[:n]) >= 0.8 * len(expected["completed"]))
    assert len(report.pareto_codes) == needed
    assert [s for s, c in report.info_sources if c.value] == [
        s for s, _ in sorted(expected["info"].items(), key=lambda kv: -kv[1])]
    assert {d: (one.value, three.value) for d, one, three in report.decisions} == {
        d: (expected["top1"][d], expected["top3"][d]) for d in expected["top3"]}

    # A few hard numbers, read off the file by hand.
    assert table["GE"] == (50, 46, 96) and table["IQ"] == (20, 39, 59)
    assert report.countries[0].label == "GE" and report.countries[-1].label == "MN"
    assert (report.total.caritas.value, report.total.iom.value, report.completed) == (
        177, 167, 276)
    assert report.pareto_sentence == "4 countries represent 81% of completed surveys"
    assert report.pareto_codes == ["GE", "IQ", "RU", "AM"]
    assert report.info_sources[0][0] == "word_of_mouth" and report.info_sources[0][1].value == 115
    assert report.decisions[0][0] == "no_prospect_of_legal_stay"
    assert (report.decisions[0][1].value, report.decisions[0][2].value) == (54, 121)

    text = render_text(report)
    assert "4 countries represent 81% of completed surveys: GE, IQ, RU, AM." in text
    lines = render_csv(report).splitlines()
    assert lines[0] == "country,caritas,iom,total"
    assert lines[1] == "GE,50,46,96"
    assert lines[-2:] == ["n.a.,31,37,68", "total,177,167,344"]

    published = render_csv(build(await load_rows(session), publication=True)).splitlines()
    assert "MK,<5,<5,<5" in published and "GE,50,46,96" in published
    assert published[-1] == "total,177,167,344"


async def test_the_command_line_imports_and_reports(
        app: FastAPI, api_settings: Settings, tmp_path: Path,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", api_settings.database_url)
    monkeypatch.setenv("DATA_KEY", api_settings.resolved_data_key().decode())

    async def run(*args: str) -> int:
        return await asyncio.to_thread(cli, list(args))  # the CLI runs its own event loop

    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "X1,iom,GE,completed,ka,2020-01,radio,,,\n", encoding="utf-8")
    assert await run("followup", "import", str(bad)) == 1
    assert "line 2: info_source 'radio'" in capsys.readouterr().err
    assert await run("followup", "import", str(PILOT)) == 0
    assert "344 created" in capsys.readouterr().out
    assert await run("followup", "import", str(PILOT)) == 0
    assert "344 unchanged" in capsys.readouterr().out
    assert await run("followup", "report", "--format", "csv", "--out", str(tmp_path / "c")) == 0
    assert capsys.readouterr().out.startswith("country,caritas,iom,total\nGE,50,46,96\n")
    assert (tmp_path / "c" / "sources.png").read_bytes().startswith(b"\x89PNG")
    svg = (tmp_path / "c" / "decision_factors.svg").read_text(encoding="utf-8")
    assert "<title" in svg and "<desc" in svg and ">121</text>" in svg
    assert await run("followup", "report", "--publication") == 0
    assert "<5" in capsys.readouterr().out
