"""Signals on the API side: what can be written, rollups, reports with suppression, campaigns,
referral status changes, forget."""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI
from PIL import Image
from sqlalchemy import inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from referral_api.campaigns.service import deep_link, qr_png
from referral_api.referrals.models import Referral
from referral_api.signals.models import SignalEvent, SignalJourney
from referral_api.signals.service import (
    ReportFilter,
    anonymise_old_months,
    month_of,
    oldest_forgettable_month,
    record_event,
    report,
)
from referral_api.staff.models import AuditRecord
from tests.referral_api.factories import make_partner, referral_body
from tests.referral_api.signals.conftest import journey, person, send
from tests.referral_api.staff_pages import browser, login, make_account, token

ALLOWED_COLUMNS = {"id", "month", "pseudonym", "event", "value", "language", "province",
                   "campaign", "channel", "hour"}
FUNNEL = ["conversation_started", "topic_viewed", "booking_started", "booking_completed"]


async def create_campaign(client: httpx.AsyncClient, label: str = "Flyers at the station",
                          **fields: str) -> str:
    form = {"city": "Gent", "channel": "flyer", "label": label, **fields,
            "csrf_token": await token(client)}
    response = await client.post("/staff/campaigns", data=form)
    assert response.status_code == 303, response.text
    match = re.search(r"/staff/campaigns/([A-Z0-9]+)", response.headers["location"])
    assert match, response.headers["location"]
    return match.group(1)


# --- what can be written ---------------------------------------------------------------


async def test_the_event_store_has_no_column_for_anything_identifying(
        session: AsyncSession) -> None:
    def columns(sync_session: object) -> dict[str, object]:
        inspector = inspect(sync_session.connection())  # type: ignore[attr-defined]
        return {c["name"]: c["type"] for c in inspector.get_columns("signal_events")}

    found = await session.run_sync(columns)
    assert set(found) == ALLOWED_COLUMNS  # a new column must be argued for in docs/signals.md
    for name in ("value", "language", "province", "event", "channel"):
        assert found[name].length <= 24, name  # type: ignore[attr-defined]  # ids, not text


async def test_the_api_refuses_any_field_or_value_outside_the_closed_lists(
        app: FastAPI, client: httpx.AsyncClient, session: AsyncSession) -> None:
    month = month_of(datetime.now(UTC))
    base = {"month": month, "pseudonym": person(1)}
    for bad in ({**base, "event": "conversation_started", "chat_id": 12345},
                {**base, "event": "conversation_started", "name": "Ali"},
                {**base, "event": "obstacle_named", "value": "my landlord is Mr X"},
                {**base, "pseudonym": "12345", "event": "conversation_started"},
                {**base, "event": "conversation_started", "province": "Gent"},
                {**base, "event": "conversation_started", "channel": "whatsapp"},
                {**base, "event": "conversation_started", "channel": "Web"}):
        response = await client.post("/v1/signals", json={"events": [bad]})
        assert response.status_code == 422, bad
    # Well-formed but outside the catalogue: dropped and counted, the rest of the batch kept.
    result = await send(client, [{**base, "event": "obstacle_named", "value": "lottery"},
                                 {**base, "event": "made_up"},
                                 {**base, "event": "conversation_started"}])
    assert result == {"recorded": 1, "rejected": 2}
    assert [e.event for e in await session.scalars(select(SignalEvent))] == [
        "conversation_started"]


async def test_signals_need_the_service_token(app: FastAPI) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://api") as anonymous:
        response = await anonymous.post("/v1/signals", json={"events": []})
    assert response.status_code == 401


# --- rollups and reports ---------------------------------------------------------------


async def test_a_journey_keeps_the_furthest_stage_and_the_first_campaign(
        client: httpx.AsyncClient, coordinator: httpx.AsyncClient, session: AsyncSession) -> None:
    code = await create_campaign(coordinator)
    await send(client, journey(1, ["conversation_started"], campaign=code))
    await send(client, journey(1, ["topic_viewed", "booking_started"], campaign="ZZZZZZ"))
    await send(client, journey(1, ["topic_viewed"]))  # twice: still one person
    row = (await session.scalars(select(SignalJourney))).one()
    assert (row.stage, row.campaign, row.language) == (3, code, "ar")


async def test_reports_count_people_and_hide_small_cells(
        app: FastAPI, client: httpx.AsyncClient, coordinator: httpx.AsyncClient) -> None:
    code = await create_campaign(coordinator)
    for n in range(9):  # 9 people start, 7 read, 6 start booking, 2 book
        events = FUNNEL[: 1 + (n < 7) + (n < 6) + (n < 2)]
        await send(client, journey(n, events, campaign=code, obstacles=(
            ("no_money", "debts") if n < 6 else ("no_money",))))
        await send(client, journey(n, ["conversation_started"]))  # again: not a new person
    data = (await coordinator.get(f"/staff/signals/report.json?campaign={code}&by=language")
            ).json()
    assert data["funnel"] == {"started": 9, "informed": 7, "booking_started": 6,
                              "booked": "<5", "contacted": "<5"}
    assert data["obstacles"][:2] == [{"value": "no_money", "people": 9},
                                     {"value": "debts", "people": 6}]
    assert {o["people"] for o in data["obstacles"][2:]} == {"<5"}


async def test_a_total_that_would_reveal_a_hidden_cell_is_hidden_too(
        client: httpx.AsyncClient, coordinator: httpx.AsyncClient) -> None:
    """Two languages: 6 Arabic and 2 Farsi speakers started. Showing 6 and the total 8 would
    reveal the Farsi 2: the complementary suppression hides one more cell in that column."""
    for n in range(6):
        await send(client, journey(n, ["conversation_started"], language="ar"))
    for n in range(6, 8):
        await send(client, journey(n, ["conversation_started"], language="fa"))
    data = (await coordinator.get("/staff/signals/report.json?by=language")).json()
    rows = {row["key"]: row["started"] for row in data["rows"]}
    assert rows["fa"] == "<5"
    assert rows["ar"] == "<5" or data["funnel"]["started"] == "<5"
    csv_rows = list(csv.reader(io.StringIO(
        (await coordinator.get("/staff/signals/report.csv?by=language")).text)))
    assert ["funnel_by_language", "fa", "<5", "<5", "<5", "<5", "<5"] in csv_rows
    shown = [r for r in csv_rows if r[0] in ("funnel", "funnel_by_language")]
    assert sum(r[2] != "<5" for r in shown) <= 1  # never the total next to one cell


async def test_the_rollups_agree_with_the_raw_events(
        app: FastAPI, client: httpx.AsyncClient, session: AsyncSession) -> None:
    from referral_api.signals.service import naive_report, rebuild_rollups

    for n in range(12):
        await send(client, journey(n, FUNNEL[: 1 + n % 4], obstacles=("health",) * (n % 2),
                                   channel=("web", "telegram", None)[n % 3]))
    month = month_of(datetime.now(UTC))
    flt = ReportFilter(since=month, until=month)
    fast = await report(session, flt)
    slow = await naive_report(session, flt)
    assert [c.value for c in fast.funnel] == [slow[s] for s in fast.stages]
    assert next(r.count.value for r in fast.obstacles if r.value == "health") == slow[
        "obstacle:health"]
    by_channel = await report(session, flt, "channel")
    assert [(key, counts[0].value) for key, counts in by_channel.rows] == [
        ("telegram", 8), ("web", 4)]
    channels = {p: c for p, c in await session.execute(
        select(SignalJourney.pseudonym, SignalJourney.channel))}
    await rebuild_rollups(session)  # the bulk path (benchmark, repair) builds the same rollup
    rebuilt = await report(session, flt)
    assert rebuilt.funnel == fast.funnel and rebuilt.obstacles == fast.obstacles
    assert rebuilt.topics == fast.topics
    assert (await report(session, flt, "channel")).rows == by_channel.rows
    assert {p: c for p, c in await session.execute(
        select(SignalJourney.pseudonym, SignalJourney.channel))} == channels


async def test_pseudonyms_of_different_months_are_different_journeys(
        client: httpx.AsyncClient, session: AsyncSession) -> None:
    month = month_of(datetime.now(UTC))
    await send(client, journey(1, ["conversation_started"], month=month))
    await send(client, journey(2, ["conversation_started"], month=month - 1 if month % 100 > 1
                               else month - 89))
    assert len((await session.scalars(select(SignalJourney))).all()) == 2


async def test_each_event_and_journey_keeps_its_channel_and_old_bots_count_as_telegram(
        client: httpx.AsyncClient, session: AsyncSession) -> None:
    await send(client, journey(1, ["conversation_started", "topic_viewed"], channel="web"))
    await send(client, journey(2, ["conversation_started"], channel="telegram"))
    await send(client, journey(3, ["conversation_started"]))  # a bot from before the web chat
    # A server-side event (no channel) opens a journey before the bot's events arrive:
    month = month_of(datetime.now(UTC))
    await record_event(session, month=month, pseudonym=person(4), event="booking_completed",
                       value="visit", now=datetime.now(UTC))
    await session.commit()
    await send(client, journey(4, ["booking_started"], channel="web"))
    # (A person's user id is on one channel only; were it not, the first would stay.)
    await send(client, journey(4, ["topic_viewed"], channel="telegram"))
    events = [(e.pseudonym, e.event, e.channel) for e in await session.scalars(
        select(SignalEvent).order_by(SignalEvent.id))]
    assert events == [
        (person(1), "conversation_started", "web"), (person(1), "topic_viewed", "web"),
        (person(2), "conversation_started", "telegram"),
        (person(3), "conversation_started", "telegram"),
        (person(4), "booking_completed", None),
        (person(4), "booking_started", "web"), (person(4), "topic_viewed", "telegram")]
    journeys = {p: c for p, c in await session.execute(
        select(SignalJourney.pseudonym, SignalJourney.channel))}
    assert journeys == {person(1): "web", person(2): "telegram", person(3): "telegram",
                        person(4): "web"}


async def test_the_report_breaks_the_funnel_down_by_channel_with_small_counts_hidden(
        app: FastAPI, client: httpx.AsyncClient, coordinator: httpx.AsyncClient) -> None:
    """8 people on Telegram (6 of them from an old bot that names no channel) and 6 on the web
    chat started; 2 on Telegram and 6 on the web read. The Telegram 2 is hidden, and so is the
    web 6 next to it, since the column total (8) is shown."""
    for n in range(6):
        await send(client, journey(n, FUNNEL[:2], channel="web"))
    for n in range(6, 12):
        await send(client, journey(n, FUNNEL[:1]))
    for n in range(12, 14):
        await send(client, journey(n, FUNNEL[:2], channel="telegram"))
    data = (await coordinator.get("/staff/signals/report.json?by=channel")).json()
    assert data["by"] == "channel"
    assert data["rows"] == [
        {"key": "telegram", "started": 8, "informed": "<5", "booking_started": "<5",
         "booked": "<5", "contacted": "<5"},
        {"key": "web", "started": 6, "informed": "<5", "booking_started": "<5",
         "booked": "<5", "contacted": "<5"}]
    assert data["funnel"] == {"started": 14, "informed": 8, "booking_started": "<5",
                              "booked": "<5", "contacted": "<5"}
    csv_rows = list(csv.reader(io.StringIO(
        (await coordinator.get("/staff/signals/report.csv?by=channel")).text)))
    assert ["funnel_by_channel", "web", "6", "<5", "<5", "<5", "<5"] in csv_rows
    assert ["funnel_by_channel", "telegram", "8", "<5", "<5", "<5", "<5"] in csv_rows
    page = await coordinator.get("/staff/signals?by=channel")
    assert page.status_code == 200
    assert '<th scope="row">Telegram</th>' in page.text
    assert '<th scope="row">Web chat</th>' in page.text
    assert '<option value="channel" selected>' in page.text
    await make_account(app, "jan@conex.example", role="coordinator", locale="nl")
    async with browser(app, ip="203.0.113.9") as jan:
        assert (await login(jan, "jan@conex.example")).status_code == 303
        dutch = await jan.get("/staff/signals?by=channel")
    assert '<th scope="row">Webchat</th>' in dutch.text


# --- referrals count in the journey ----------------------------------------------------


async def test_a_booking_and_its_status_changes_count_in_the_persons_journey(
        app: FastAPI, admin: httpx.AsyncClient, client: httpx.AsyncClient,
        session: AsyncSession) -> None:
    await make_partner(admin, counsellors=(5001,))
    month = month_of(datetime.now(UTC))
    await send(client, journey(1, ["conversation_started", "booking_started"], channel="web"))
    created = await client.post("/v1/referrals", json=referral_body(
        signal={"month": month, "pseudonym": person(1)}))
    assert created.status_code == 201, created.text
    reference = created.json()["reference"]
    for status in ("accepted", "contacted"):
        changed = await client.post(f"/v1/referrals/{reference}/status", json={
            "counsellor_telegram_id": 5001, "status": status})
        assert changed.status_code == 200, changed.text
    row = (await session.scalars(select(SignalJourney))).one()
    assert (row.stage, row.province) == (5, "VOV")  # contacted; Gent is in East Flanders
    assert row.channel == "web"  # server-side events name no channel: the journey keeps it
    events = [e.event for e in await session.scalars(select(SignalEvent).order_by(
        SignalEvent.id))]
    assert events[-3:] == ["booking_completed", "referral_accepted", "referral_contacted"]


async def test_the_link_to_the_journey_is_dropped_when_the_referral_ends(
        app: FastAPI, admin: httpx.AsyncClient, client: httpx.AsyncClient,
        session: AsyncSession) -> None:
    """The referral keeps the (encrypted) journey key only while a later funnel stage can
    still happen: closed or cancelled referrals no longer link to the anonymous signals."""
    await make_partner(admin, counsellors=(5001,))
    month = month_of(datetime.now(UTC))
    references = []
    for n in (1, 2):
        created = await client.post("/v1/referrals", json=referral_body(
            chat_id=900 + n, signal={"month": month, "pseudonym": person(n)}))
        assert created.status_code == 201, created.text
        references.append(created.json()["reference"])
    closed = await client.post(f"/v1/referrals/{references[0]}/status", json={
        "counsellor_telegram_id": 5001, "status": "closed"})
    assert closed.status_code == 200, closed.text
    cancelled = await client.post(f"/v1/referrals/{references[1]}/cancel",
                                  json={"chat_id": 902})
    assert cancelled.status_code == 200, cancelled.text
    keys = (await session.scalars(select(Referral.signal_key_enc))).all()
    assert keys == [None, None]
    events = [e.event for e in await session.scalars(select(SignalEvent))]
    assert events.count("referral_closed") == 1  # still counted before the link went


async def test_forget_deletes_the_persons_signals_and_counts_only_that_it_happened(
        client: httpx.AsyncClient, session: AsyncSession) -> None:
    await send(client, journey(1, FUNNEL, obstacles=("debts",)))
    await send(client, journey(2, ["conversation_started"]))
    response = await client.post("/v1/signals/forget", json={"pseudonyms": [person(1)]})
    assert response.json() == {"deleted_events": 5}
    left = {(e.pseudonym, e.event) for e in await session.scalars(select(SignalEvent))}
    assert (person(2), "conversation_started") in left
    assert not any(p == person(1) for p, _ in left)
    assert sum(event == "forget" for _, event in left) == 1


async def test_months_beyond_forgets_reach_keep_their_counts_but_lose_their_pseudonyms(
        app: FastAPI, client: httpx.AsyncClient, session: AsyncSession) -> None:
    now = datetime(2026, 11, 27, 12, tzinfo=UTC)
    assert oldest_forgettable_month(now) == 202510  # this month and the 13 before
    for n, month in ((1, 202509), (2, 202509), (3, 202510), (4, 202611)):
        await send(client, journey(n, FUNNEL, month=month))
    before = await report(session, ReportFilter(202501, 202612))
    deleted, anonymised = await anonymise_old_months(session, now)
    assert (deleted, anonymised) == (8, 2)
    months = sorted(e.month for e in await session.scalars(select(SignalEvent)))
    assert months == [202510] * 4 + [202611] * 4  # raw events (with their hour) deleted
    old = (await session.scalars(select(SignalJourney.pseudonym).where(
        SignalJourney.month == 202509))).all()
    assert len(old) == 2 and all(p.startswith("anon-") for p in old)
    assert person(1) not in old and old[0] != old[1]
    after = await report(session, ReportFilter(202501, 202612))
    assert [c.json() for c in after.funnel] == [c.json() for c in before.funnel]
    assert await anonymise_old_months(session, now) == (0, 0)  # done once


# --- campaigns -------------------------------------------------------------------------


async def test_a_campaign_has_a_link_a_qr_code_that_decodes_to_it_and_a_flyer(
        coordinator: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    import zxingcpp

    code = await create_campaign(coordinator, "Outreach at the park",
                                 partner_id="test-desk")
    assert re.fullmatch(r"[A-Z2-9]{6}", code)
    link = deep_link("conex_return_bot", code)
    page = await coordinator.get(f"/staff/campaigns/{code}")
    assert link in page.text
    png = await coordinator.get(f"/staff/campaigns/{code}/qr.png")
    assert png.headers["content-type"] == "image/png"
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.content)))
    assert [b.text for b in decoded] == [link]
    svg = await coordinator.get(f"/staff/campaigns/{code}/qr.svg")
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert "<svg" in svg.text
    flyer = await coordinator.get(f"/staff/campaigns/{code}/flyer?lang=en&lang=ar")
    assert flyer.status_code == 200
    assert code in flyer.text and "@conex_return_bot" in flyer.text
    assert "<style" not in flyer.text  # print CSS comes from the stylesheet (CSP)
    # The bot's lookup: any case, only active, known codes.
    assert (await client.get(f"/v1/campaigns/{code.lower()}")).json() == {"code": code}
    assert (await client.get("/v1/campaigns/NOPE42")).status_code == 404


async def test_the_flyer_says_what_the_settings_say(app: FastAPI,
                                                    coordinator: httpx.AsyncClient) -> None:
    """The bot's @username and the flyer's own wording come from settings (BOT_USERNAME,
    FLYER_TITLE, FLYER_BODY); a language without that wording stays English and says so."""
    context = app.state.context
    app.state.context = dataclasses.replace(context, settings=context.settings.model_copy(
        update={"bot_username": "retour_be_bot", "flyer_title": "Questions about going home?",
                "flyer_body": "Free advice in your language. You decide."}))
    try:
        code = await create_campaign(coordinator, "Station flyers", partner_id="test-desk")
        flyer = await coordinator.get(f"/staff/campaigns/{code}/flyer?lang=en&lang=nl")
    finally:
        app.state.context = context
    assert flyer.status_code == 200
    assert "@retour_be_bot" in flyer.text and "@conex_return_bot" not in flyer.text
    assert "Questions about going home?" in flyer.text
    assert "Free advice in your language. You decide." in flyer.text
    assert "Thinking about going back" not in flyer.text
    assert "Not translated yet, shown in English: Nederlands" in flyer.text


def test_the_qr_code_of_a_long_link_still_decodes() -> None:
    import zxingcpp

    link = deep_link("a_rather_long_bot_username_bot", "A" * 64)
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(qr_png(link, scale=4))))
    assert [b.text for b in decoded] == [link]


async def test_partner_staff_see_only_their_own_campaigns_and_reports(
        coordinator: httpx.AsyncClient, counsellor: httpx.AsyncClient,
        client: httpx.AsyncClient) -> None:
    theirs = await create_campaign(coordinator, "Other desk flyers", partner_id="other-desk")
    own = await create_campaign(counsellor, "Our own flyers", partner_id="other-desk")
    page = await counsellor.get("/staff/campaigns")
    assert own in page.text and theirs not in page.text
    assert (await counsellor.get(f"/staff/campaigns/{theirs}")).status_code == 404
    assert (await counsellor.get(f"/staff/signals/report.json?campaign={theirs}")
            ).status_code == 404
    for n in range(6):
        await send(client, journey(n, ["conversation_started"], campaign=theirs))
    data = (await counsellor.get("/staff/signals/report.json")).json()
    assert data["funnel"]["started"] == "<5"  # their report covers only their campaigns
    assert data["filter"]["campaigns"] == [own]  # made for test-desk, whatever was posted


async def test_a_stopped_campaign_code_is_refused_and_only_its_organisation_can_stop_it(
        coordinator: httpx.AsyncClient, counsellor: httpx.AsyncClient,
        client: httpx.AsyncClient, session: AsyncSession) -> None:
    theirs = await create_campaign(coordinator, "Other desk flyers", partner_id="other-desk")
    own = await create_campaign(counsellor, "Our own flyers")
    assert (await client.get(f"/v1/campaigns/{own}")).status_code == 200
    refused = await counsellor.post(f"/staff/campaigns/{theirs}/active",
                                    data={"active": "0", "csrf_token": await token(counsellor)})
    assert refused.status_code == 404
    no_csrf = await counsellor.post(f"/staff/campaigns/{own}/active", data={"active": "0"})
    assert no_csrf.status_code == 403
    stopped = await counsellor.post(f"/staff/campaigns/{own}/active",
                                    data={"active": "0", "csrf_token": await token(counsellor)})
    assert stopped.status_code == 303
    page = await counsellor.get(stopped.headers["location"])
    assert "the bot no longer accepts its code" in page.text
    assert "Restart this campaign" in page.text
    assert (await client.get(f"/v1/campaigns/{own}")).status_code == 404  # the bot refuses it
    assert (await client.get(f"/v1/campaigns/{theirs}")).status_code == 200
    actions = [a for a, in await session.execute(select(AuditRecord.action))]
    assert actions.count("create_campaign") == 2 and "deactivate_campaign" in actions


async def test_the_report_page_shows_charts_and_says_what_is_wrong_with_bad_filters(
        coordinator: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    code = await create_campaign(coordinator)
    for n in range(5):
        await send(client, journey(n, FUNNEL[:2], campaign=code, obstacles=("no_documents",)))
    page = await coordinator.get(f"/staff/signals?campaign={code}")
    assert page.status_code == 200
    assert page.text.count("<svg") == 3 and "<title" in page.text
    assert "No passport or documents" in page.text
    bad = await coordinator.get("/staff/signals?since=2026-13")
    assert bad.status_code == 422 and "invalid_period" in bad.text


async def test_creating_a_campaign_needs_the_csrf_token_and_a_city(
        coordinator: httpx.AsyncClient) -> None:
    form = {"city": "Gent", "channel": "flyer", "label": "x"}
    assert (await coordinator.post("/staff/campaigns", data=form)).status_code == 403
    response = await coordinator.post("/staff/campaigns", data={
        **form, "city": "  ", "csrf_token": await token(coordinator)})
    assert response.headers["location"].endswith("error=invalid_city")
    page = await coordinator.get(response.headers["location"])
    assert "Please give the city." in page.text


@pytest.mark.parametrize("path", ["/staff/campaigns", "/staff/signals"])
async def test_the_pages_need_a_login(app: FastAPI, path: str) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="https://staff.test") as anonymous:
        response = await anonymous.get(path)
    assert response.status_code == 303
