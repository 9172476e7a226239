"""The staff web app, second slice: the "returned" action, counsellor Telegram ids on the
admin partner page, and the audit log viewer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from referral_api.countries import country_choices, country_codes
from referral_api.partners.models import PartnerCounsellor
from referral_api.partners.schedule import to_local
from referral_api.referrals.models import ReferralEvent
from referral_api.staff.models import AuditRecord, StaffAccount
from tests.referral_api.factories import book, count, outbox_rows, referral_row
from tests.referral_api.staff_pages import browser, csrf_of, login, make_account, token

PERSON = 987654321
OTHER_PERSON = 123456789
TELEGRAM_ID = 7007


@pytest.fixture
async def root(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An admin, logged in."""
    await make_account(app, "root@conex.example", role="admin")
    async with browser(app) as client:
        assert (await login(client, "root@conex.example")).status_code == 303
        yield client


async def audits(app: FastAPI, action: str) -> list[AuditRecord]:
    async with app.state.context.sessionmaker() as session:
        return list(await session.scalars(
            select(AuditRecord).where(AuditRecord.action == action).order_by(AuditRecord.id)))


async def phone_referral(client: httpx.AsyncClient, **overrides: object) -> str:
    referral = await book(client, contact_mode="phone", phone="0470 12 34 56",
                          name="Amina Example", **overrides)
    reference: str = referral["reference"]
    return reference


def today() -> date:
    """Today in Belgium (the 60-day limit counts from the Europe/Brussels date)."""
    return to_local(datetime.now(UTC)).date()


async def post_returned(client: httpx.AsyncClient, reference: str, *, country: str = "MA",
                        day: str | None = None,
                        partner: str = "iom") -> httpx.Response:
    return await client.post(f"/staff/referrals/{reference}/returned", data={
        "country": country, "return_date": day or today().isoformat(),
        "reintegration_partner": partner, "csrf_token": await token(client)})


# --- countries ----------------------------------------------------------------------------

def test_countries_are_iso_codes_named_in_the_accounts_language() -> None:
    codes = country_codes()
    assert {"MA", "AF", "CD", "XK"} <= codes
    assert not {"BE", "EU", "UN", "ZZ", "001"} & codes
    assert dict(country_choices("nl"))["MA"] == "Marokko"
    assert dict(country_choices("fr"))["MA"] == "Maroc"
    assert dict(country_choices("en"))["DE"] == "Germany"


# --- the "returned" action ----------------------------------------------------------------

async def test_the_referral_page_offers_the_returned_form(client: httpx.AsyncClient,
                                                          app: FastAPI) -> None:
    reference = await phone_referral(client)
    await make_account(app, "jan@desk.example", locale="nl")
    async with browser(app) as jan:
        await login(jan, "jan@desk.example")
        page = await jan.get(f"/staff/referrals/{reference}")
    assert f'action="/staff/referrals/{reference}/returned"' in page.text
    assert '<option value="MA" >Marokko</option>' in page.text
    assert 'for="return-date"' in page.text and 'type="date"' in page.text
    assert f'max="{(today() + timedelta(days=60)).isoformat()}"' in page.text
    assert '<option value="caritas"' in page.text and '<option value="iom"' in page.text


async def test_returned_stores_country_date_and_partner_and_records_the_event(
        app: FastAPI, client: httpx.AsyncClient, anna: httpx.AsyncClient,
        counsellor: StaffAccount) -> None:
    reference = await phone_referral(client)
    day = today() - timedelta(days=2)
    response = await post_returned(anna, reference, country="ma", day=day.isoformat(),
                                   partner="caritas")
    assert response.status_code == 303
    assert response.headers["location"] == f"/staff/referrals/{reference}?done=saved"
    row = await referral_row(app, reference)
    assert (row.status, row.return_country, row.return_date, row.reintegration_partner) == (
        "returned", "MA", day, "caritas")
    assert await count(app, ReferralEvent, ReferralEvent.referral_id == row.id,
                       ReferralEvent.status == "returned",
                       ReferralEvent.actor == f"staff:{counsellor.id}") == 1
    [record] = await audits(app, "set_returned")
    assert (record.account_id, record.referral_id, record.detail) == (counsellor.id, row.id,
                                                                      None)
    [notice] = await outbox_rows(app, "person_notice")
    assert notice["chat_id"] == PERSON and notice["payload"]["key"] == "returned"
    assert len(await outbox_rows(app, "card_update")) == 1
    page = await anna.get(response.headers["location"])
    assert "Morocco (MA)" in page.text and day.isoformat() in page.text
    assert reference in (await anna.get("/staff/inbox?tab=closed")).text

    corrected = await post_returned(anna, reference, country="TN", partner="iom")
    assert corrected.status_code == 303
    row = await referral_row(app, reference)
    assert (row.return_country, row.reintegration_partner) == ("TN", "iom")
    assert await count(app, ReferralEvent, ReferralEvent.status == "returned") == 1
    assert len(await outbox_rows(app, "person_notice")) == 1


@pytest.mark.parametrize(("fields", "code"), [
    ({"country": "XX"}, "invalid_country"),
    ({"country": "BE"}, "invalid_country"),
    ({"country": ""}, "invalid_country"),
    ({"day": "not a date"}, "invalid_return_date"),
    ({"day": (today() + timedelta(days=90)).isoformat()}, "invalid_return_date"),
    ({"partner": "fedasil"}, "invalid_reintegration_partner"),
])
async def test_invalid_returned_data_is_refused(app: FastAPI, client: httpx.AsyncClient,
                                                anna: httpx.AsyncClient,
                                                fields: dict[str, str], code: str) -> None:
    reference = await phone_referral(client)
    response = await post_returned(anna, reference, **fields)
    assert response.status_code == 303
    assert response.headers["location"] == f"/staff/referrals/{reference}?error={code}"
    page = await anna.get(response.headers["location"])
    assert 'role="alert"' in page.text and "returned-form" in page.text
    row = await referral_row(app, reference)
    assert (row.status, row.return_country, row.return_date) == ("new", None, None)
    assert await audits(app, "set_returned") == []
    assert await outbox_rows(app, "person_notice") == []


async def test_returned_on_another_partners_referral_is_404(
        app: FastAPI, client: httpx.AsyncClient, anna: httpx.AsyncClient) -> None:
    other = await phone_referral(client, partner_id="other-desk", chat_id=OTHER_PERSON)
    response = await post_returned(anna, other)
    assert response.status_code == 404
    row = await referral_row(app, other)
    assert (row.status, row.return_country) == ("new", None)


async def test_a_coordinator_cannot_set_returned(app: FastAPI,
                                                 client: httpx.AsyncClient) -> None:
    reference = await phone_referral(client)
    await make_account(app, "coco@fedasil.example", role="coordinator")
    async with browser(app) as coco:
        await login(coco, "coco@fedasil.example")
        page = await coco.get(f"/staff/referrals/{reference}")
        assert "returned-form" not in page.text
        response = await post_returned(coco, reference)
        assert response.status_code == 403
    assert (await referral_row(app, reference)).status == "new"


async def test_returned_needs_the_csrf_token(app: FastAPI, client: httpx.AsyncClient,
                                             anna: httpx.AsyncClient) -> None:
    reference = await phone_referral(client)
    response = await anna.post(f"/staff/referrals/{reference}/returned", data={
        "country": "MA", "return_date": today().isoformat(), "reintegration_partner": "iom"})
    assert response.status_code == 403
    assert (await referral_row(app, reference)).status == "new"


async def test_a_cancelled_referral_cannot_be_returned(app: FastAPI, client: httpx.AsyncClient,
                                                       anna: httpx.AsyncClient) -> None:
    reference = await phone_referral(client)
    cancelled = await client.post(f"/v1/referrals/{reference}/cancel", json={"chat_id": PERSON})
    assert cancelled.status_code == 200, cancelled.text
    response = await post_returned(anna, reference)
    assert response.headers["location"].endswith("error=referral_cancelled")
    row = await referral_row(app, reference)
    assert (row.status, row.return_country) == ("cancelled", None)


# --- counsellor Telegram ids --------------------------------------------------------------

async def set_status_by_telegram(client: httpx.AsyncClient, reference: str) -> httpx.Response:
    return await client.post(f"/v1/referrals/{reference}/status",
                             json={"counsellor_telegram_id": TELEGRAM_ID, "status": "accepted"})


async def test_an_admin_adds_and_removes_counsellor_telegram_ids(
        app: FastAPI, client: httpx.AsyncClient, root: httpx.AsyncClient) -> None:
    reference = await phone_referral(client)
    assert (await set_status_by_telegram(client, reference)).status_code == 403
    listing = await root.get("/staff/admin/partners")
    assert 'href="/staff/admin/partners/test-desk"' in listing.text
    page = await root.get("/staff/admin/partners/test-desk")
    assert page.status_code == 200 and "Counsellor Telegram ids" in page.text
    added = await root.post("/staff/admin/partners/test-desk/counsellors", data={
        "telegram_user_id": f" {TELEGRAM_ID} ", "csrf_token": csrf_of(page)})
    assert added.headers["location"] == "/staff/admin/partners/test-desk?done=counsellor_added"
    page = await root.get(added.headers["location"])
    assert f'<span class="tg-id">{TELEGRAM_ID}</span>' in page.text
    assert "Counsellor added." in page.text
    again = await root.post("/staff/admin/partners/test-desk/counsellors", data={
        "telegram_user_id": str(TELEGRAM_ID), "csrf_token": csrf_of(page)})
    assert again.status_code == 303
    assert await count(app, PartnerCounsellor,
                       PartnerCounsellor.telegram_user_id == TELEGRAM_ID) == 1

    response = await set_status_by_telegram(client, reference)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "accepted"

    removed = await root.post("/staff/admin/partners/test-desk/counsellors/remove", data={
        "telegram_user_id": str(TELEGRAM_ID), "csrf_token": csrf_of(page)})
    assert removed.headers["location"].endswith("done=counsellor_removed")
    assert await count(app, PartnerCounsellor) == 0
    other = await phone_referral(client, chat_id=OTHER_PERSON)
    assert (await set_status_by_telegram(client, other)).status_code == 403

    records = await audits(app, "add_counsellor") + await audits(app, "remove_counsellor")
    assert [r.detail for r in records] == ["test-desk", "test-desk", "test-desk"]
    assert all(str(TELEGRAM_ID) not in (r.detail or "") for r in records)


async def test_counsellor_ids_are_validated_and_csrf_checked(app: FastAPI,
                                                             root: httpx.AsyncClient) -> None:
    csrf = await token(root)
    for bad in ("abc", "-5", "0", "", "²"):
        response = await root.post("/staff/admin/partners/test-desk/counsellors",
                                   data={"telegram_user_id": bad, "csrf_token": csrf})
        assert response.headers["location"].endswith("error=invalid_telegram_id"), bad
    page = await root.get("/staff/admin/partners/test-desk?error=invalid_telegram_id")
    assert "A Telegram user id is a positive whole number." in page.text
    forged = await root.post("/staff/admin/partners/test-desk/counsellors",
                             data={"telegram_user_id": "42"})
    assert forged.status_code == 403
    assert (await root.get("/staff/admin/partners/nobody")).status_code == 404
    missing = await root.post("/staff/admin/partners/nobody/counsellors",
                              data={"telegram_user_id": "42", "csrf_token": csrf})
    assert missing.status_code == 404
    assert await count(app, PartnerCounsellor) == 0


async def test_partner_pages_are_for_admins_only(app: FastAPI, client: httpx.AsyncClient,
                                                 anna: httpx.AsyncClient) -> None:
    await make_account(app, "coco@fedasil.example", role="coordinator")
    async with browser(app) as coco:
        await login(coco, "coco@fedasil.example")
        for staff in (anna, coco):
            assert (await staff.get("/staff/admin/partners")).status_code == 404
            assert (await staff.get("/staff/admin/partners/test-desk")).status_code == 404
            response = await staff.post("/staff/admin/partners/test-desk/counsellors", data={
                "telegram_user_id": "42", "csrf_token": await token(staff)})
            assert response.status_code == 404
    assert await count(app, PartnerCounsellor) == 0


# --- audit log viewer ---------------------------------------------------------------------

async def test_the_audit_viewer_lists_records_newest_first(
        app: FastAPI, client: httpx.AsyncClient, anna: httpx.AsyncClient,
        root: httpx.AsyncClient) -> None:
    reference = await phone_referral(client)
    await anna.get(f"/staff/referrals/{reference}")
    await post_returned(anna, reference)
    page = await root.get("/staff/admin/audit")
    assert page.status_code == 200
    text = page.text
    assert "anna@desk.example" in text and reference in text
    assert text.index("set_returned") < text.index("view_personal") < text.index(
        "<code>login</code>")
    assert "Amina Example" not in text and "+32470123456" not in text
    assert "Morocco" not in text and "MA" not in text.split("<tbody>")[1]


async def test_the_audit_viewer_shows_at_most_200_records(app: FastAPI,
                                                          root: httpx.AsyncClient) -> None:
    async with app.state.context.sessionmaker() as session:
        account = await session.scalar(select(StaffAccount).where(
            StaffAccount.email == "root@conex.example"))
        assert account is not None
        session.add_all(AuditRecord(account_id=account.id, action="logout",
                                    at=app.state.context.clock()) for _ in range(205))
        await session.commit()
    page = await root.get("/staff/admin/audit")
    assert page.text.count("<tr>") == 200 + 1  # the header row


async def test_the_audit_viewer_is_admin_only(app: FastAPI, anna: httpx.AsyncClient) -> None:
    assert (await anna.get("/staff/admin/audit")).status_code == 404
    assert "/staff/admin/audit" not in (await anna.get("/staff/inbox")).text
    await make_account(app, "coco@fedasil.example", role="coordinator")
    async with browser(app) as coco:
        await login(coco, "coco@fedasil.example")
        assert (await coco.get("/staff/admin/audit")).status_code == 404
    async with browser(app) as anonymous:
        response = await anonymous.get("/staff/admin/audit")
        assert response.status_code == 303
        assert response.headers["location"] == "/staff/login"
