"""The staff referral page in plain words (issue 13, item 13): what the person chose to share,
topic and language names, Europe/Brussels times, a tap-to-call phone, no empty Name row,
display names in the history, a "Could not reach" tab, "Returned" without a preselected
partner, province names, and a mark when the person wrote and nobody answered yet."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

import httpx
import pytest
from babel.dates import format_datetime
from fastapi import FastAPI

from tests.referral_api.factories import book
from tests.referral_api.staff_pages import browser, login, make_account, token

PERSON = 987654321


async def referral(client: httpx.AsyncClient) -> str:
    booked = await book(client, contact_mode="phone", phone="0470 12 34 56", language="ar",
                        topic="travel_documents",
                        flags=["medical", "children", "children_2", "children_under_6"])
    reference: str = booked["reference"]
    return reference


async def test_the_referral_page_reads_in_plain_words(app: FastAPI, client: httpx.AsyncClient,
                                                      anna: httpx.AsyncClient) -> None:
    reference = await referral(client)
    await anna.post(f"/staff/referrals/{reference}/status",
                    data={"status": "accepted", "csrf_token": await token(anna)})
    page = (await anna.get(f"/staff/referrals/{reference}")).text
    assert "<li>Medical treatment must continue</li>" in page
    assert "<li>2 children, under 6</li>" in page
    assert "Arabic (ar)" in page and "Travel documents" in page
    assert '<a href="tel:+32470123456">+32 470 12 34 56</a>' in page
    assert ">Name<" not in page  # the person gave no name: no empty row
    assert "UTC" not in page
    received = format_datetime(app.state.context.clock().astimezone(
        ZoneInfo("Europe/Brussels")), "EEE d MMM yyyy, HH:mm", locale="en")
    assert f'<dd id="received">{received}</dd>' in page
    history = page[page.index('id="history"'):]
    assert "(The person)" in history and "(anna)" in history and "staff:" not in history
    # Returned: no reintegration partner chosen for the counsellor
    select = re.search(r'<select id="reintegration-partner".*?</select>', page, re.S)
    assert select is not None
    assert '<option value="" selected>' in select.group(0)
    assert 'value="caritas" selected' not in select.group(0)


async def test_a_telegram_counsellor_is_named_in_words(app: FastAPI, client: httpx.AsyncClient,
                                                       anna: httpx.AsyncClient,
                                                       admin: httpx.AsyncClient) -> None:
    reference = await referral(client)
    added = await admin.post("/v1/admin/partners/test-desk/counsellors",
                             json={"telegram_user_id": 900001})
    assert added.status_code == 201
    pressed = await client.post(f"/v1/referrals/{reference}/status",
                                json={"counsellor_telegram_id": 900001, "status": "contacted"})
    assert pressed.status_code == 200
    page = (await anna.get(f"/staff/referrals/{reference}")).text
    assert "(A counsellor in the Telegram group)" in page and "900001" not in page


async def test_a_display_name_is_shown_when_set(app: FastAPI, client: httpx.AsyncClient) -> None:
    account = await make_account(app, "b.peeters@desk.example")
    async with app.state.context.sessionmaker() as session:
        stored = await session.get(type(account), account.id)
        assert stored is not None
        stored.display_name = "Bart P."
        await session.commit()
    reference = await referral(client)
    async with browser(app) as bart:
        await login(bart, "b.peeters@desk.example")
        await bart.post(f"/staff/referrals/{reference}/status",
                        data={"status": "accepted", "csrf_token": await token(bart)})
        page = (await bart.get(f"/staff/referrals/{reference}")).text
    assert "(Bart P.)" in page


async def test_the_person_wrote_and_nobody_answered(client: httpx.AsyncClient,
                                                    anna: httpx.AsyncClient) -> None:
    reference = await referral(client)
    inbox = (await anna.get("/staff/inbox")).text
    assert "Waiting for an answer" not in inbox
    sent = await client.post("/v1/relay/to-partner", json={
        "chat_id": PERSON, "reference": reference, "text": "Can I come on Monday?"})
    assert sent.status_code == 202, sent.text
    assert "Waiting for an answer" in (await anna.get("/staff/inbox")).text
    assert 'id="waiting"' in (await anna.get(f"/staff/referrals/{reference}")).text
    await anna.post(f"/staff/referrals/{reference}/messages",
                    data={"text": "Yes, at 10.", "csrf_token": await token(anna)})
    assert "Waiting for an answer" not in (await anna.get("/staff/inbox")).text
    assert 'id="waiting"' not in (await anna.get(f"/staff/referrals/{reference}")).text


async def test_dutch_staff_read_dutch_names(app: FastAPI, client: httpx.AsyncClient) -> None:
    await make_account(app, "jan@desk.example", locale="nl")
    reference = await referral(client)
    async with browser(app) as jan:
        await login(jan, "jan@desk.example")
        page = (await jan.get(f"/staff/referrals/{reference}")).text
        tabs = (await jan.get("/staff/inbox")).text
    assert "Arabisch (ar)" in page and "Medische behandeling moet doorlopen" in page
    assert "2 kinderen, jonger dan 6" in page
    assert ">Niet bereikt</a>" in tabs


async def test_province_names_in_the_signals_report(app: FastAPI) -> None:
    await make_account(app, "coord@conex.example", role="coordinator")
    async with browser(app) as coordinator:
        await login(coordinator, "coord@conex.example")
        page = (await coordinator.get("/staff/signals")).text
    assert '<option value="VOV" >East Flanders</option>' in page
    assert ">VOV<" not in page


def test_charts_carry_no_style_element_and_fit_their_longest_label() -> None:
    """Item 14: the page's CSP blocks an inline <style>; a long label is never clipped."""
    from referral_api.followup.charts import Chart, svg
    from referral_api.suppression import Count

    label = "Family and friends already back in the country of origin"
    drawn = svg(Chart("t", "Title", "Description", [label, "Other"],
                      [("Answers", [Count(3, False), Count(1, False)])]))
    assert "<style" not in drawn and 'font-family="sans-serif"' in drawn
    width = int(re.search(r'width="(\d+)"', drawn).group(1))  # type: ignore[union-attr]
    label_x = int(re.search(r'x="(\d+)" y="[\d.]+" text-anchor="end"',  # type: ignore[union-attr]
                            drawn).group(1))
    assert label_x >= len(label) * 7 and width > label_x


async def test_once_cancelled_the_phone_is_gone_and_writing_is_refused(
        app: FastAPI, client: httpx.AsyncClient, anna: httpx.AsyncClient) -> None:
    reference = await referral(client)
    assert (await client.post(f"/v1/referrals/{reference}/cancel",
                              json={"chat_id": PERSON})).status_code == 200
    page = (await anna.get(f"/staff/referrals/{reference}")).text
    assert "tel:" not in page and "470" not in page
    sent = await anna.post(f"/staff/referrals/{reference}/messages",
                           data={"text": "Are you still there?", "csrf_token": await token(anna)})
    assert sent.status_code == 303 and "error=referral_cancelled" in sent.headers["location"]
    shown = (await anna.get(sent.headers["location"])).text
    assert "The person cancelled this request. Nothing was sent." in shown


@pytest.mark.parametrize("day", ["0001-01-01", "1999-12-31", "9999-12-31"])
async def test_a_return_date_out_of_range_is_refused(client: httpx.AsyncClient,
                                                     anna: httpx.AsyncClient, day: str) -> None:
    reference = await referral(client)
    answer = await anna.post(f"/staff/referrals/{reference}/returned", data={
        "country": "GE", "return_date": day, "reintegration_partner": "iom",
        "csrf_token": await token(anna)})
    assert answer.status_code == 303
    assert "error=invalid_return_date" in answer.headers["location"]
    shown = (await anna.get(answer.headers["location"])).text
    assert "Enter a return date from the last two years up to 60 days from today." in shown
