"""The coordinators' follow-up page: exact counts and charts for coordinators and admins, a
publication CSV with small cells hidden, nothing for counsellors."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from referral_api.followup.importer import import_responses
from referral_api.referrals.service import ReferralService
from referral_api.staff.models import AuditRecord
from tests.referral_api.factories import book, outbox_rows
from tests.referral_api.followup_world import PILOT
from tests.referral_api.staff_pages import browser, csrf_of, login, make_account


async def pilot_imported(app: FastAPI) -> None:
    async with app.state.context.sessionmaker() as session:
        await import_responses(session, PILOT.read_text(encoding="utf-8"),
                               app.state.context.clock)


async def test_a_coordinator_sees_the_report_and_its_charts(app: FastAPI) -> None:
    await pilot_imported(app)
    await make_account(app, "coord@programme.example", role="coordinator")
    async with browser(app) as client:
        assert (await login(client, "coord@programme.example")).status_code == 303
        inbox = await client.get("/staff/inbox")
        assert 'href="/staff/followup"' in inbox.text
        page = await client.get("/staff/followup")
        assert page.status_code == 200
        assert "4 countries represent 81% of completed surveys" in page.text
        assert "GE Georgia" in page.text and ">96<" in page.text
        assert '<svg xmlns="http://www.w3.org/2000/svg" role="img"' in page.text
        assert "<title id=\"chart-sources-title\">" in page.text
        exact = await client.get("/staff/followup/report.csv")
        assert exact.text.splitlines()[0] == "country,caritas,iom,total"
        assert "MK,0,4,4" in exact.text
        published = await client.get("/staff/followup/report.csv?publication=1")
        assert "MK,<5,<5,<5" in published.text
        assert "followup_publication.csv" in published.headers["content-disposition"]
        png = await client.get("/staff/followup/charts/decision_factors.png")
        assert png.headers["content-type"] == "image/png" and png.content[:4] == b"\x89PNG"
        svg = await client.get("/staff/followup/charts/sources.svg")
        assert svg.headers["content-type"].startswith("image/svg+xml")
        assert (await client.get("/staff/followup/charts/nothing.svg")).status_code == 404


async def test_counsellors_do_not_see_the_report(anna: httpx.AsyncClient) -> None:
    assert 'href="/staff/followup"' not in (await anna.get("/staff/inbox")).text
    assert (await anna.get("/staff/followup")).status_code == 403
    assert (await anna.get("/staff/followup/report.csv")).status_code == 403


async def test_the_page_needs_a_login(app: FastAPI) -> None:
    async with browser(app) as client:
        response = await client.get("/staff/followup")
        assert response.status_code in (303, 401)


async def test_the_demo_button_sends_the_next_wave_now(app: FastAPI,
                                                       admin: httpx.AsyncClient,
                                                       client: httpx.AsyncClient) -> None:
    """In the demo (SQLite) a coordinator can queue a returnee's next wave at once."""
    referral = await book(client, chat_id=4711, followup_consent=True)
    context = app.state.context
    async with context.sessionmaker() as session:
        await ReferralService(session, context.vault, context.settings, context.clock
                              ).set_returned_for_partner(
            referral["reference"], "test-desk", country="AM",
            return_date=datetime.now(UTC).date() - timedelta(days=10),  # not overdue
            reintegration_partner="iom", actor="staff:1")
    await make_account(app, "coord@programme.example", role="coordinator")
    async with browser(app) as staff:
        await login(staff, "coord@programme.example")
        page = await staff.get("/staff/followup")
        assert "Send the next wave now" not in page.text  # not outside the demo
        demo = context.settings.model_copy(update={"database_url": "sqlite+aiosqlite://"})
        app.state.context = replace(context, settings=demo)
        try:
            page = await staff.get("/staff/followup")
            sent = await staff.post("/staff/followup/demo-wave", data={
                "reference": referral["reference"], "csrf_token": csrf_of(page)})
            assert sent.status_code == 303
            assert "Wave 1 queued" in (await staff.get(sent.headers["location"])).text
        finally:
            app.state.context = context
    [wave] = await outbox_rows(app, "followup_wave")
    assert wave["chat_id"] == 4711 and wave["payload"]["wave"] == 1
    async with context.sessionmaker() as session:  # audited, without personal data
        [record] = (await session.scalars(select(AuditRecord).where(
            AuditRecord.action == "demo_wave"))).all()
    assert record.referral_id is not None and record.detail is None
