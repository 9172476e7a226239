"""The staff web app, admin slice: session revocation, account deactivation and password reset,
partner editing, creation and opening windows in the browser, staff texts from the catalogues,
and the permission rules around all of it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from bot.i18n_check import DOMAINS
from bot.i18n_check import check as check_catalogues
from referral_api.admin.forms import AvailabilityForm
from referral_api.admin.service import StaffAdmin
from referral_api.errors import Forbidden, NotFound
from referral_api.partners.models import Partner, PartnerAvailability
from referral_api.staff.models import AuditRecord, StaffAccount
from referral_api.staff.service import AccountService
from referral_api.web.i18n import StaffTexts
from referral_api.web.pages import COOKIE_NAME, _serializer
from referral_api.web.texts import ERROR, FIELD_ERROR, NOTICE
from tests.referral_api.factories import count
from tests.referral_api.staff_pages import PASSWORD, browser, csrf_of, login, make_account, token

NEW_PASSWORD = "another long password"


@pytest.fixture
async def admin_account(app: FastAPI) -> StaffAccount:
    return await make_account(app, "root@conex.example", role="admin")


@pytest.fixture
async def root(app: FastAPI, admin_account: StaffAccount) -> AsyncIterator[httpx.AsyncClient]:
    """An admin, logged in."""
    async with browser(app) as client:
        assert (await login(client, "root@conex.example")).status_code == 303
        yield client


@pytest.fixture
async def coco(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A coordinator, logged in."""
    await make_account(app, "coco@fedasil.example", role="coordinator")
    async with browser(app) as client:
        assert (await login(client, "coco@fedasil.example")).status_code == 303
        yield client


async def audits(app: FastAPI, action: str) -> list[AuditRecord]:
    async with app.state.context.sessionmaker() as session:
        return list(await session.scalars(
            select(AuditRecord).where(AuditRecord.action == action).order_by(AuditRecord.id)))


async def account_row(app: FastAPI, account_id: int) -> StaffAccount:
    async with app.state.context.sessionmaker() as session:
        account = await session.get(StaffAccount, account_id)
        assert account is not None
        return account


async def partner_row(app: FastAPI, partner_id: str = "test-desk") -> Partner:
    async with app.state.context.sessionmaker() as session:
        partner = await session.get(Partner, partner_id)
        assert partner is not None
        return partner


def partner_form(**overrides: Any) -> dict[str, Any]:
    """The edit form of test-desk as the page shows it, with some fields changed."""
    form: dict[str, Any] = {
        "name": "Partner test-desk", "kind": "return_desk", "address": "", "postal_code": "9000",
        "city": "Gent", "lat": "", "lon": "", "phone": "", "hours": "", "languages": "en",
        "services": ["general"], "source": "", "slot_minutes": "30", "capacity_per_slot": "1",
        "notification_chat_id": "-1000000001", "active": "on",
    }
    form.update(overrides)
    return form


def cookie_of(client: httpx.AsyncClient) -> str:
    value = client.cookies.get(COOKIE_NAME, path="/staff")
    assert value
    return value


async def replay(app: FastAPI, cookie: str) -> httpx.Response:
    """A request with a copy of an earlier session cookie (a stolen or old one)."""
    async with browser(app, ip="198.51.100.9") as thief:
        thief.cookies.set(COOKIE_NAME, cookie, domain="staff.test", path="/staff")
        return await thief.get("/staff/inbox")


# --- session revocation -------------------------------------------------------------------

async def test_logout_revokes_every_copy_of_the_cookie(app: FastAPI,
                                                       anna: httpx.AsyncClient) -> None:
    stolen = cookie_of(anna)
    assert (await replay(app, stolen)).status_code == 200  # a copy works while logged in
    await anna.post("/staff/logout", data={"csrf_token": await token(anna)})
    revoked = await replay(app, stolen)
    assert revoked.status_code == 303
    assert revoked.headers["location"] == "/staff/login"


async def test_a_deactivated_account_is_logged_out_at_once(
        app: FastAPI, counsellor: StaffAccount, anna: httpx.AsyncClient,
        root: httpx.AsyncClient) -> None:
    page = await root.get(f"/staff/admin/accounts/{counsellor.id}")
    assert page.status_code == 200 and "Deactivate account" in page.text
    done = await root.post(f"/staff/admin/accounts/{counsellor.id}/deactivate",
                           data={"csrf_token": csrf_of(page)})
    assert done.headers["location"] == f"/staff/admin/accounts/{counsellor.id}?done=deactivated"
    shown = await root.get(done.headers["location"])
    assert "Account deactivated. It was logged out everywhere." in shown.text
    assert "Reactivate account" in shown.text

    kicked = await anna.get("/staff/inbox")  # the open session ends on its next request
    assert kicked.status_code == 303 and kicked.headers["location"] == "/staff/login"
    async with browser(app) as again:
        assert (await login(again, "anna@desk.example")).status_code == 401

    await root.post(f"/staff/admin/accounts/{counsellor.id}/reactivate",
                    data={"csrf_token": csrf_of(page)})
    assert (await account_row(app, counsellor.id)).active
    async with browser(app) as again:
        assert (await login(again, "anna@desk.example")).status_code == 303
    [off] = await audits(app, "deactivate_account")
    [on] = await audits(app, "reactivate_account")
    assert off.detail == on.detail == str(counsellor.id)


async def test_an_admin_cannot_deactivate_themself(app: FastAPI, admin_account: StaffAccount,
                                                  root: httpx.AsyncClient) -> None:
    page = await root.get(f"/staff/admin/accounts/{admin_account.id}")
    assert "you cannot deactivate it" in page.text
    assert f"/staff/admin/accounts/{admin_account.id}/deactivate" not in page.text
    refused = await root.post(f"/staff/admin/accounts/{admin_account.id}/deactivate",
                              data={"csrf_token": csrf_of(page)})
    assert refused.headers["location"].endswith("error=cannot_deactivate_self")
    shown = await root.get(refused.headers["location"])
    assert "You cannot deactivate your own account." in shown.text
    assert (await account_row(app, admin_account.id)).active
    assert (await root.get("/staff/inbox")).status_code == 200
    assert await audits(app, "deactivate_account") == []


async def test_a_password_reset_ends_the_sessions_and_sets_the_new_password(
        app: FastAPI, counsellor: StaffAccount, anna: httpx.AsyncClient,
        root: httpx.AsyncClient) -> None:
    csrf = await token(root)
    short = await root.post(f"/staff/admin/accounts/{counsellor.id}/password",
                            data={"password": "short", "csrf_token": csrf})
    assert short.headers["location"].endswith("error=weak_password")
    assert (await anna.get("/staff/inbox")).status_code == 200  # nothing changed

    reset = await root.post(f"/staff/admin/accounts/{counsellor.id}/password",
                            data={"password": NEW_PASSWORD, "csrf_token": csrf})
    assert reset.headers["location"].endswith("done=password_reset")
    assert (await anna.get("/staff/inbox")).status_code == 303
    async with browser(app) as again:
        assert (await login(again, "anna@desk.example", PASSWORD)).status_code == 401
        assert (await login(again, "anna@desk.example", NEW_PASSWORD)).status_code == 303
    [record] = await audits(app, "reset_password")
    assert record.detail == str(counsellor.id)
    assert NEW_PASSWORD not in str(record.detail)


async def test_an_admin_resetting_their_own_password_logs_in_again(
        app: FastAPI, admin_account: StaffAccount, root: httpx.AsyncClient) -> None:
    reset = await root.post(f"/staff/admin/accounts/{admin_account.id}/password",
                            data={"password": NEW_PASSWORD, "csrf_token": await token(root)})
    assert reset.headers["location"] == "/staff/login"
    assert (await root.get("/staff/inbox")).status_code == 303


async def test_a_cookie_without_an_epoch_is_no_session(app: FastAPI,
                                                       counsellor: StaffAccount) -> None:
    """A cookie signed with the right key but without the session epoch (as issued before
    server-side revocation) is refused."""
    old = _serializer(app.state.context.settings).dumps({"a": counsellor.id, "c": "x" * 43})
    assert (await replay(app, old)).status_code == 303


async def test_an_admin_changes_an_accounts_role_and_the_rights_follow_at_once(
        app: FastAPI, counsellor: StaffAccount, admin_account: StaffAccount,
        anna: httpx.AsyncClient, root: httpx.AsyncClient) -> None:
    assert (await anna.get("/staff/followup")).status_code in (403, 404)
    csrf = await token(root)
    page = f"/staff/admin/accounts/{counsellor.id}"
    no_partner = await root.post(page, data={"role": "counsellor", "partner_id": "",
                                             "locale": "nl", "csrf_token": csrf})
    assert no_partner.headers["location"].endswith("error=partner_required")
    own = await root.post(f"/staff/admin/accounts/{admin_account.id}", data={
        "role": "coordinator", "partner_id": "", "locale": "en", "csrf_token": csrf})
    assert own.headers["location"].endswith("error=cannot_change_own_role")
    assert (await account_row(app, admin_account.id)).role == "admin"

    saved = await root.post(page, data={"role": "coordinator", "partner_id": "",
                                        "locale": "fr", "csrf_token": csrf})
    assert saved.headers["location"].endswith("done=account_updated")
    assert (await root.get(saved.headers["location"])).status_code == 200
    row = await account_row(app, counsellor.id)
    assert (row.role, row.partner_id, row.locale) == ("coordinator", None, "fr")
    assert (await anna.get("/staff/followup")).status_code == 200  # same session, new rights
    [record] = await audits(app, "update_account")
    assert record.detail == f"{counsellor.id}:role,partner_id,locale"


async def test_staff_change_their_own_password_and_log_in_again(
        app: FastAPI, counsellor: StaffAccount, anna: httpx.AsyncClient) -> None:
    assert "Change your password" in (await anna.get("/staff/password")).text
    csrf = await token(anna)
    wrong = await anna.post("/staff/password", data={"current": "not my password",
                                                     "new": NEW_PASSWORD, "csrf_token": csrf})
    assert wrong.headers["location"].endswith("error=wrong_password")
    short = await anna.post("/staff/password", data={"current": PASSWORD, "new": "short",
                                                     "csrf_token": csrf})
    assert short.headers["location"].endswith("error=weak_password")
    assert (await anna.get("/staff/inbox")).status_code == 200  # nothing changed yet

    changed = await anna.post("/staff/password", data={"current": PASSWORD, "new": NEW_PASSWORD,
                                                       "csrf_token": csrf})
    assert changed.headers["location"] == "/staff/login?done=password_changed"
    assert "log in with the new password" in (await anna.get(changed.headers["location"])).text
    assert (await anna.get("/staff/inbox")).status_code == 303  # this session ended too
    async with browser(app) as again:
        assert (await login(again, "anna@desk.example", PASSWORD)).status_code == 401
        assert (await login(again, "anna@desk.example", NEW_PASSWORD)).status_code == 303
    [record] = await audits(app, "change_password")
    assert record.detail is None
    assert (await anna.post("/staff/password", data={"current": PASSWORD, "new": NEW_PASSWORD})
            ).status_code == 403  # no CSRF token, no session: refused


# --- permissions --------------------------------------------------------------------------

ADMIN_POSTS = (
    "/staff/admin/accounts/{id}",
    "/staff/admin/accounts/{id}/deactivate",
    "/staff/admin/accounts/{id}/reactivate",
    "/staff/admin/accounts/{id}/password",
    "/staff/admin/partners/test-desk",
    "/staff/admin/partners/test-desk/availability",
    "/staff/admin/new-partner",
)


async def test_counsellors_and_coordinators_cannot_manage_accounts_or_partners(
        app: FastAPI, counsellor: StaffAccount, admin_account: StaffAccount,
        anna: httpx.AsyncClient, coco: httpx.AsyncClient) -> None:
    for staff in (anna, coco):
        for path in (f"/staff/admin/accounts/{admin_account.id}", "/staff/admin/new-partner",
                     "/staff/admin/partners/test-desk"):
            assert (await staff.get(path)).status_code == 404, path
        csrf = await token(staff)
        for path in ADMIN_POSTS:
            response = await staff.post(path.format(id=admin_account.id), data={
                **partner_form(name="Taken over", id="evil-desk"), "password": NEW_PASSWORD,
                "weekday": "0", "start": "08:00", "end": "09:00", "csrf_token": csrf})
            assert response.status_code == 404, path
    assert (await account_row(app, admin_account.id)).active
    assert (await partner_row(app)).name == "Partner test-desk"
    assert await count(app, Partner) == 2
    async with browser(app) as again:  # the admin's password is unchanged
        assert (await login(again, "root@conex.example")).status_code == 303
    assert await count(app, AuditRecord, AuditRecord.action.not_in(("login", "view_referral"))) == 0


async def test_admin_forms_need_the_csrf_token(app: FastAPI, counsellor: StaffAccount,
                                              root: httpx.AsyncClient) -> None:
    for path in ADMIN_POSTS:
        response = await root.post(path.format(id=counsellor.id), data={
            **partner_form(name="Forged", id="forged-desk"), "password": NEW_PASSWORD,
            "weekday": "0", "start": "08:00", "end": "09:00"})
        assert response.status_code == 403, path
        wrong = await root.post(path.format(id=counsellor.id), data={
            **partner_form(name="Forged"), "csrf_token": "not-the-token" * 4})
        assert wrong.status_code == 403, path
    assert (await account_row(app, counsellor.id)).active
    assert (await partner_row(app)).name == "Partner test-desk"
    assert await count(app, Partner) == 2


async def test_unknown_accounts_and_partners_are_404(root: httpx.AsyncClient) -> None:
    csrf = await token(root)
    assert (await root.get("/staff/admin/accounts/999999")).status_code == 404
    assert (await root.post("/staff/admin/accounts/999999/deactivate",
                            data={"csrf_token": csrf})).status_code == 404
    assert (await root.post("/staff/admin/partners/nobody",
                            data={**partner_form(), "csrf_token": csrf})).status_code == 404
    assert (await root.post("/staff/admin/partners/nobody/availability", data={
        "weekday": "0", "start": "09:00", "end": "12:00", "csrf_token": csrf})).status_code == 404


# --- partners in the browser --------------------------------------------------------------

async def test_an_admin_edits_a_partners_directory_data(app: FastAPI,
                                                       root: httpx.AsyncClient) -> None:
    page = await root.get("/staff/admin/partners/test-desk")
    assert page.status_code == 200
    for label in ('for="f-name"', 'for="f-postal_code"', 'for="f-lat"', 'for="f-lon"',
                  'for="f-notification_chat_id"', 'for="f-capacity_per_slot"'):
        assert label in page.text
    saved = await root.post("/staff/admin/partners/test-desk", data={
        **partner_form(name="Fedasil Gent <desk>", address="Kongostraat 42",
                       phone="+32 9 123 45 67", hours="Mon–Fri 9:00–12:00",
                       languages="nl, fr,ar", services=["general", "families"],
                       notification_chat_id="-1009876543210", slot_minutes="45",
                       capacity_per_slot="3", lat="51.05", lon="3.72", verified="on"),
        "csrf_token": csrf_of(page)})
    assert saved.status_code == 303, saved.text
    assert saved.headers["location"] == "/staff/admin/partners/test-desk?done=saved"
    partner = await partner_row(app)
    assert (partner.name, partner.address, partner.phone) == (
        "Fedasil Gent <desk>", "Kongostraat 42", "+32 9 123 45 67")
    assert partner.languages == ["nl", "fr", "ar"]
    assert partner.services == ["general", "families"]
    assert partner.notification_chat_id == -1009876543210
    assert (partner.slot_minutes, partner.capacity_per_slot) == (45, 3)
    assert (partner.lat, partner.lon, partner.verified) == (51.05, 3.72, True)
    shown = await root.get(saved.headers["location"])
    assert "Fedasil Gent &lt;desk&gt;" in shown.text and "<desk>" not in shown.text
    assert 'value="-1009876543210"' in shown.text
    [record] = await audits(app, "update_partner")
    assert record.detail == ("test-desk:address,capacity_per_slot,hours,languages,lat,lon,name,"
                             "notification_chat_id,phone,services,slot_minutes,verified")[:100]
    assert "Kongostraat" not in (record.detail or "")

    # saving again unchanged changes nothing and audits nothing more
    again = await root.post("/staff/admin/partners/test-desk", data={
        **partner_form(name="Fedasil Gent <desk>", address="Kongostraat 42",
                       phone="+32 9 123 45 67", hours="Mon–Fri 9:00–12:00",
                       languages="nl, fr, ar", services=["general", "families"],
                       notification_chat_id="-1009876543210", slot_minutes="45",
                       capacity_per_slot="3", lat="51.05", lon="3.72", verified="on"),
        "csrf_token": csrf_of(page)})
    assert again.status_code == 303
    assert len(await audits(app, "update_partner")) == 1


async def test_empty_coordinates_and_chat_mean_the_postcode_centre_and_no_group(
        app: FastAPI, root: httpx.AsyncClient) -> None:
    saved = await root.post("/staff/admin/partners/test-desk", data={
        **partner_form(postal_code="1000", city="Brussel", notification_chat_id=""),
        "csrf_token": await token(root)})
    assert saved.status_code == 303
    partner = await partner_row(app)
    assert partner.postal_code == "1000" and partner.province is not None
    assert partner.notification_chat_id is None
    assert abs(partner.lat - 50.85) < 0.2 and abs(partner.lon - 4.35) < 0.2


async def test_invalid_partner_fields_are_shown_next_to_the_field(
        app: FastAPI, root: httpx.AsyncClient) -> None:
    response = await root.post("/staff/admin/partners/test-desk", data={
        **partner_form(name="", postal_code="12", notification_chat_id="my group",
                       slot_minutes="2", capacity_per_slot="many", lat="51", lon="",
                       languages="nl, not a language!", services=["general", "spa"]),
        "csrf_token": await token(root)})
    assert response.status_code == 422
    text = response.text
    assert "Please correct the fields marked below." in text
    for field in ("name", "postal_code", "notification_chat_id", "slot_minutes",
                  "capacity_per_slot", "coordinates", "languages", "services"):
        assert f'id="f-{field}-error"' in text, field
    assert 'aria-invalid="true"' in text
    assert "Enter a Belgian postcode of 4 digits." in text
    assert 'value="my group"' in text  # what was typed is shown again
    assert (await partner_row(app)).name == "Partner test-desk"
    assert await audits(app, "update_partner") == []


async def test_an_unknown_postcode_and_a_point_abroad_are_refused(
        app: FastAPI, root: httpx.AsyncClient) -> None:
    csrf = await token(root)
    unknown = await root.post("/staff/admin/partners/test-desk",
                              data={**partner_form(postal_code="0001"), "csrf_token": csrf})
    assert unknown.status_code == 422
    assert "This postcode is not a Belgian postcode we know." in unknown.text
    abroad = await root.post("/staff/admin/partners/test-desk",
                             data={**partner_form(lat="48.85", lon="2.35"), "csrf_token": csrf})
    assert abroad.status_code == 422
    assert "These coordinates are not in Belgium." in abroad.text
    assert (await partner_row(app)).postal_code == "9000"
    assert await audits(app, "update_partner") == []


async def test_field_errors_follow_the_admins_language(app: FastAPI) -> None:
    await make_account(app, "beheer@conex.example", role="admin", locale="nl")
    async with browser(app) as client:
        await login(client, "beheer@conex.example")
        response = await client.post("/staff/admin/partners/test-desk", data={
            **partner_form(postal_code="12"), "csrf_token": await token(client)})
        assert '<html lang="nl">' in response.text
        assert "Geef een Belgische postcode van 4 cijfers." in response.text
        assert "Verbeter de velden die hieronder gemarkeerd zijn." in response.text


async def test_an_admin_creates_a_partner(app: FastAPI, root: httpx.AsyncClient) -> None:
    page = await root.get("/staff/admin/new-partner")
    assert page.status_code == 200 and 'for="f-id"' in page.text
    bad = await root.post("/staff/admin/new-partner", data={
        **partner_form(name="Desk Leuven", city="Leuven", postal_code="3000"),
        "id": "Desk Leuven!", "csrf_token": csrf_of(page)})
    assert bad.status_code == 422 and 'id="f-id-error"' in bad.text
    taken = await root.post("/staff/admin/new-partner", data={
        **partner_form(name="Desk Leuven"), "id": "other-desk", "csrf_token": csrf_of(page)})
    assert taken.status_code == 422
    assert "A partner with this id exists already." in taken.text
    created = await root.post("/staff/admin/new-partner", data={
        **partner_form(name="Desk Leuven", city="Leuven", postal_code="3000",
                       notification_chat_id="-100333"),
        "id": "desk-leuven", "csrf_token": csrf_of(page)})
    assert created.headers["location"] == "/staff/admin/partners/desk-leuven?done=partner_created"
    partner = await partner_row(app, "desk-leuven")
    assert (partner.name, partner.city, partner.notification_chat_id) == (
        "Desk Leuven", "Leuven", -100333)
    shown = await root.get(created.headers["location"])
    assert "No opening windows" in shown.text
    [record] = await audits(app, "create_partner")
    assert record.detail == "desk-leuven"


async def windows_of(app: FastAPI, partner_id: str = "test-desk") -> list[tuple[int, str, str]]:
    async with app.state.context.sessionmaker() as session:
        rows = await session.scalars(
            select(PartnerAvailability).where(PartnerAvailability.partner_id == partner_id)
            .order_by(PartnerAvailability.weekday, PartnerAvailability.start))
        return [(w.weekday, w.start.strftime("%H:%M"), w.end.strftime("%H:%M")) for w in rows]


async def test_an_admin_sets_the_weekly_opening_windows(app: FastAPI, client: httpx.AsyncClient,
                                                       root: httpx.AsyncClient) -> None:
    page = await root.get("/staff/admin/partners/test-desk")
    assert page.text.count('name="weekday"') == 10 + 3  # Mon–Fri twice, 3 empty rows
    saved = await root.post("/staff/admin/partners/test-desk/availability", data={
        "weekday": ["2", "0", "4"], "start": ["13:00", "09:00", ""], "end": ["17:00", "12:30", ""],
        "csrf_token": csrf_of(page)})
    assert saved.headers["location"].endswith("done=availability_saved")
    assert await windows_of(app) == [(0, "09:00", "12:30"), (2, "13:00", "17:00")]
    slots = (await client.get("/v1/partners/test-desk/slots?days=14")).json()["slots"]
    assert slots and {s[11:16] for s in slots} <= {
        f"{h:02d}:{m:02d}" for h in range(9, 17) for m in (0, 30)}
    [record] = await audits(app, "set_availability")
    assert record.detail == "test-desk:2"


async def test_invalid_or_overlapping_windows_are_refused_row_by_row(
        app: FastAPI, root: httpx.AsyncClient) -> None:
    before = await windows_of(app)
    response = await root.post("/staff/admin/partners/test-desk/availability", data={
        "weekday": ["0", "0", "1", "9"], "start": ["09:00", "11:00", "15:00", "09:00"],
        "end": ["12:00", "13:00", "14:00", "10:00"], "csrf_token": await token(root)})
    assert response.status_code == 422
    assert "This window overlaps another window on the same day." in response.text
    assert response.text.count("Choose a day, and a start time before the end time.") == 2
    assert await windows_of(app) == before
    assert await audits(app, "set_availability") == []


# --- staff texts --------------------------------------------------------------------------

def test_every_code_has_a_translated_text() -> None:
    for locale in ("nl", "fr"):
        texts = StaffTexts(locale)
        for kind, labels in (("notice", NOTICE), ("error", ERROR), ("field", FIELD_ERROR)):
            for code, english in labels.items():
                assert texts.label(kind, code) != english or english in ("Caritas",), (
                    locale, code)
    english = StaffTexts("en")
    assert english.label("error", "no such code") == "Something is wrong with this request."
    assert english.label("status", "accepted") == "Accepted"
    assert StaffTexts("fr").pgettext("inbox tab", "New") == "Nouvelles"
    assert StaffTexts("fr").label("status", "new") == "Nouvelle"
    assert StaffTexts("nl").gettext("Reference %(reference)s", reference="AB-12") == (
        "Referentie AB-12")


def test_the_staff_catalogue_is_fresh_and_complete() -> None:
    coverage, problems = check_catalogues(domain=DOMAINS["staff"])
    assert problems == []
    assert {c.locale for c in coverage} == {"nl", "fr"}
    assert all(c.percent == 100 for c in coverage)


async def test_pages_before_login_follow_accept_language(app: FastAPI) -> None:
    async with browser(app) as client:
        page = await client.get("/staff/login", headers={"Accept-Language": "fr-BE,fr;q=0.9"})
        assert '<html lang="fr">' in page.text and "Se connecter" in page.text
        page = await client.get("/staff/login", headers={"Accept-Language": "de, nl;q=0.5"})
        assert "Aanmelden" in page.text


async def test_a_new_partner_with_an_unknown_postcode_is_not_created(
        app: FastAPI, root: httpx.AsyncClient) -> None:
    response = await root.post("/staff/admin/new-partner", data={
        **partner_form(name="Nowhere desk", postal_code="0001"), "id": "nowhere",
        "csrf_token": await token(root)})
    assert response.status_code == 422
    assert "This postcode is not a Belgian postcode we know." in response.text
    assert "root@conex.example" in response.text
    assert await count(app, Partner) == 2
    assert await audits(app, "create_partner") == []


# --- the same rules in the service layer (not only in the routes) -------------------------

async def test_the_services_refuse_non_admins(app: FastAPI, counsellor: StaffAccount,
                                              admin_account: StaffAccount) -> None:
    coordinator = await make_account(app, "coco@fedasil.example", role="coordinator")
    context = app.state.context
    async with context.sessionmaker() as session:
        accounts = AccountService(session, context.clock)
        for caller in (counsellor, coordinator):
            with pytest.raises(NotFound):
                await accounts.set_active(admin_account.id, False, by=caller)
            with pytest.raises(NotFound):
                await accounts.reset_password(admin_account.id, NEW_PASSWORD, by=caller)
            with pytest.raises(NotFound):
                StaffAdmin(session, context.settings, context.clock, caller)
        admin = StaffAdmin(session, context.settings, context.clock, admin_account)
        with pytest.raises(NotFound):
            await admin.set_availability("nobody", AvailabilityForm.from_form(
                ["0"], ["09:00"], ["12:00"]))
    assert (await account_row(app, admin_account.id)).active


async def test_the_service_keeps_an_admin_from_deactivating_themself(
        app: FastAPI, admin_account: StaffAccount) -> None:
    context = app.state.context
    async with context.sessionmaker() as session:
        with pytest.raises(Forbidden):
            await AccountService(session, context.clock).set_active(
                admin_account.id, False, by=admin_account)
    assert (await account_row(app, admin_account.id)).active


async def test_services_and_languages_are_not_doubled(app: FastAPI,
                                                      root: httpx.AsyncClient) -> None:
    saved = await root.post("/staff/admin/partners/test-desk", data={
        **partner_form(languages="nl, nl fr", services=["general", "general", "minors"]),
        "csrf_token": await token(root)})
    assert saved.status_code == 303
    partner = await partner_row(app)
    assert (partner.languages, partner.services) == (["nl", "fr"], ["general", "minors"])


# --- opening hours shown to people (issue 13, item 4) -------------------------------------

async def test_an_admin_sets_the_opening_people_read_in_their_language(
        app: FastAPI, root: httpx.AsyncClient) -> None:
    page = await root.get("/staff/admin/partners/test-desk")
    assert "Opening hours shown to people" in page.text
    saved = await root.post("/staff/admin/partners/test-desk", data={
        **partner_form(access="both", opening_as_of="2015", interpreter="yes", accessible="no",
                       notes="nl: Bel aan bij de zijdeur.\nfr : Sonnez à la porte latérale.",
                       **{"open-walk_in-0-part": "morning", "open-walk_in-2-part": "morning",
                          "open-appointment-1-times": "9-12, 13:30-16.00"}),
        "csrf_token": csrf_of(page)})
    assert saved.status_code == 303, saved.text
    partner = await partner_row(app)
    assert (partner.access, partner.opening_as_of) == ("both", "2015")
    assert (partner.interpreter, partner.accessible) == (True, False)
    assert partner.notes == {"nl": "Bel aan bij de zijdeur.", "fr": "Sonnez à la porte latérale."}
    assert {(w["mode"], w["day"], w["part"], w["start"], w["end"]) for w in partner.opening} == {
        ("walk_in", 0, "morning", None, None), ("walk_in", 2, "morning", None, None),
        ("appointment", 1, None, "09:00", "12:00"), ("appointment", 1, None, "13:30", "16:00")}
    shown = (await root.get(saved.headers["location"])).text
    assert 'value="09:00-12:00, 13:30-16:00"' in shown  # the grid shows what was saved
    assert 'value="morning" selected' in shown
    [record] = await audits(app, "update_partner")
    assert record.detail is not None and "opening" in record.detail
    bot_view = await root.get("/v1/partners/test-desk")  # what the bot reads (no staff text)
    assert bot_view.status_code in (401, 403)  # the bot's API needs the service token


async def test_unreadable_hours_are_shown_on_their_cell_in_the_admins_language(
        app: FastAPI) -> None:
    await make_account(app, "beheer2@conex.example", role="admin", locale="nl")
    async with browser(app) as client:
        await login(client, "beheer2@conex.example")
        response = await client.post("/staff/admin/partners/test-desk", data={
            **partner_form(opening_as_of="long ago", notes="just a note without a language",
                           **{"open-walk_in-3-times": "16-9",
                              "open-appointment-4-part": "morning",
                              "open-appointment-4-times": "9-12"}),
            "csrf_token": await token(client)})
    assert response.status_code == 422
    text = response.text
    for cell in ("open-walk_in-3", "open-appointment-4"):
        assert f'id="{cell}-error"' in text, cell
    assert 'id="f-opening_as_of-error"' in text and 'id="f-notes-error"' in text
    assert "Kies een deel van de dag of schrijf uren, niet allebei." in text
    assert 'value="16-9"' in text  # what was typed is shown again
    assert (await partner_row(app)).opening == []


# --- passwords people can guess (issue 17, item 7) ----------------------------------------

@pytest.mark.parametrize("weak", ["aaaaaaaaaaaa", "password1234", "anna@desk.example",
                                  "qwertyuiop12", "Password2026"])
async def test_common_and_own_address_passwords_are_refused(
        counsellor: StaffAccount, anna: httpx.AsyncClient, root: httpx.AsyncClient,
        weak: str) -> None:
    csrf = await token(root)
    refused = await root.post(f"/staff/admin/accounts/{counsellor.id}/password",
                              data={"password": weak, "csrf_token": csrf})
    assert refused.headers["location"].endswith("error=weak_password")
    page = (await root.get(refused.headers["location"])).text
    assert "hard to guess" in page
    own = await anna.post("/staff/password", data={"current": PASSWORD, "new": weak,
                                                   "csrf_token": await token(anna)})
    assert own.headers["location"].endswith("error=weak_password")


async def test_guessing_the_current_password_is_limited(counsellor: StaffAccount,
                                                        anna: httpx.AsyncClient) -> None:
    csrf = await token(anna)
    for n in range(5):
        wrong = await anna.post("/staff/password", data={
            "current": f"guess number {n}", "new": NEW_PASSWORD, "csrf_token": csrf})
        assert wrong.headers["location"].endswith("error=wrong_password")
    held = await anna.post("/staff/password", data={"current": PASSWORD, "new": NEW_PASSWORD,
                                                    "csrf_token": csrf})
    assert held.headers["location"].endswith("error=too_many")  # even the right one, now
