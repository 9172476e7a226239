"""The staff web app: login, sessions, CSRF, rate limits, scoping, audit, relay, escaping."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any
from unittest import mock

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy import select

from referral_api.__main__ import main
from referral_api.referrals.models import ReferralEvent, RelayMessage
from referral_api.staff.models import AuditRecord, StaffAccount
from referral_api.web.ratelimit import Budget, MemoryLoginLimiter, RedisLoginLimiter
from tests.referral_api.factories import book, count, outbox_rows, referral_row
from tests.referral_api.staff_pages import PASSWORD, browser, csrf_of, login, make_account, token

PERSON = 987654321
OTHER_PERSON = 123456789


async def audits(app: FastAPI, action: str | None = None) -> list[AuditRecord]:
    async with app.state.context.sessionmaker() as session:
        query = select(AuditRecord).order_by(AuditRecord.id)
        if action is not None:
            query = query.where(AuditRecord.action == action)
        return list(await session.scalars(query))


async def phone_referral(client: httpx.AsyncClient, **overrides: Any) -> str:
    referral = await book(client, contact_mode="phone", phone="0470 12 34 56",
                          name="Amina Example", **overrides)
    reference: str = referral["reference"]
    return reference


# --- login, sessions --------------------------------------------------------------------

async def test_login_success_sets_a_safe_session_cookie(app: FastAPI,
                                                        counsellor: StaffAccount) -> None:
    async with browser(app) as client:
        page = await client.get("/staff/login")
        assert page.status_code == 200
        assert 'for="email"' in page.text and 'for="password"' in page.text
        response = await client.post("/staff/login", data={
            "email": "  ANNA@desk.example ", "password": PASSWORD, "csrf_token": csrf_of(page)})
        assert response.status_code == 303
        assert response.headers["location"] == "/staff/inbox"
        cookie = response.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "secure" in cookie
        assert "path=/staff" in cookie
        assert csrf_of(await client.get("/staff/inbox")) != csrf_of(page)  # renewed at login
        inbox = await client.get("/staff/inbox")
        assert inbox.status_code == 200
        assert "anna@desk.example" in inbox.text
    [record] = await audits(app, "login")
    assert record.account_id == counsellor.id


async def test_login_failure(app: FastAPI, counsellor: StaffAccount) -> None:
    async with browser(app) as client:
        wrong = await login(client, "anna@desk.example", "not the password")
        assert wrong.status_code == 401
        assert "E-mail address or password is wrong." in wrong.text
        unknown = await login(client, "nobody@desk.example")
        assert unknown.status_code == 401
        inbox = await client.get("/staff/inbox")
        assert inbox.status_code == 303
        assert inbox.headers["location"] == "/staff/login"
    assert await audits(app) == []


async def test_an_inactive_account_cannot_log_in(app: FastAPI, counsellor: StaffAccount) -> None:
    async with app.state.context.sessionmaker() as session:
        account = await session.get(StaffAccount, counsellor.id)
        assert account is not None
        account.active = False
        await session.commit()
    async with browser(app) as client:
        assert (await login(client, "anna@desk.example")).status_code == 401


async def test_logout_ends_the_session(app: FastAPI, anna: httpx.AsyncClient) -> None:
    response = await anna.post("/staff/logout", data={"csrf_token": await token(anna)})
    assert response.status_code == 303
    assert response.headers["location"] == "/staff/login"
    assert (await anna.get("/staff/inbox")).status_code == 303
    assert [a.action for a in await audits(app)] == ["login", "logout"]


async def test_a_forged_cookie_is_no_session(app: FastAPI, counsellor: StaffAccount) -> None:
    async with browser(app) as client:
        client.cookies.set("conex_staff", '{"a": 1, "c": "x"}', domain="staff.test")
        response = await client.get("/staff/inbox")
        assert response.status_code == 303


# --- rate limits, CSRF --------------------------------------------------------------------

@contextlib.contextmanager
def limits(app: FastAPI, trusted_proxies: str = "") -> Iterator[list[float]]:
    """A fresh in-memory limiter on a clock the test moves (`clock[0]`, seconds), and the
    trusted proxies given."""
    clock = [1000.0]
    context = app.state.context
    app.state.context = replace(
        context, login_limiter=MemoryLoginLimiter(15 * 60, monotonic=lambda: clock[0]),
        settings=context.settings.model_copy(update={"trusted_proxies": trusted_proxies}))
    try:
        yield clock
    finally:
        app.state.context = context


def proxied(client: httpx.AsyncClient, forwarded_for: str) -> httpx.AsyncClient:
    client.headers["x-forwarded-for"] = forwarded_for
    return client


async def test_guessing_from_one_place_gets_slower_and_never_locks_the_owner_out(
        app: FastAPI, counsellor: StaffAccount) -> None:
    with limits(app) as clock:
        async with browser(app, ip="198.51.100.7") as client:
            for _ in range(5):
                assert (await login(client, "anna@desk.example", "wrong!")).status_code == 401
            refused = await login(client, "anna@desk.example")  # even the right password
            assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
            assert "Too many attempts. Please wait a moment" in refused.text
            clock[0] += 1
            assert (await login(client, "anna@desk.example", "wrong!")).status_code == 401
            # every attempt counts, refused ones too: the next wait is 4 s, not 2
            assert (await login(client, "anna@desk.example")).headers["retry-after"] == "4"
            clock[0] += 4  # an increasing delay, not a lockout
            assert (await login(client, "anna@desk.example")).status_code == 303


async def test_forty_concurrent_guesses_at_one_account_get_five_checks(
        app: FastAPI, counsellor: StaffAccount) -> None:
    checks = 0
    passwords = app.state.context.passwords
    verify = passwords.verify

    async def counted(password_hash: str, password: str) -> bool:
        nonlocal checks
        checks += 1
        return await verify(password_hash, password)

    with limits(app), mock.patch.object(passwords, "verify", counted):
        async with browser(app, ip="198.51.100.8") as client:
            answers = await asyncio.gather(*(login(client, "anna@desk.example", f"guess{n}")
                                             for n in range(40)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [401] * 5 + [429] * 35
    assert checks == 5  # counted before checking: the other 35 never reached argon2


async def test_a_rotated_forwarded_for_from_an_untrusted_peer_is_one_client(
        app: FastAPI, counsellor: StaffAccount) -> None:
    with limits(app):  # no trusted proxies: the header means nothing
        async with browser(app, ip="127.0.0.1") as client:
            answers = [await login(proxied(client, f"192.0.2.{n}"), f"user{n}@desk.example",
                                   "Winter2026!") for n in range(24)]
    assert [a.status_code for a in answers[:20]] == [401] * 20  # a spray over 20 accounts
    assert {a.status_code for a in answers[20:]} == {429}  # ... and then it slows down


async def test_behind_a_trusted_proxy_each_client_has_its_own_budget(
        app: FastAPI, counsellor: StaffAccount) -> None:
    with limits(app, trusted_proxies="127.0.0.1, 10.0.0.0/8"):
        async with browser(app, ip="127.0.0.1") as client:
            for _ in range(5):  # an attacker behind the proxy, then the proxy's own hop
                response = await login(proxied(client, "198.51.100.66, 10.1.2.3"),
                                       "anna@desk.example", "wrong!")
                assert response.status_code == 401
            attacker = await login(proxied(client, "198.51.100.66"), "anna@desk.example")
            assert attacker.status_code == 429
            owner = await login(proxied(client, "203.0.113.50"), "anna@desk.example")
            assert owner.status_code == 303  # the owner elsewhere is not held back


async def test_many_places_guessing_one_account_slow_it_by_a_minute_at_most(
        app: FastAPI, counsellor: StaffAccount) -> None:
    with limits(app) as clock:
        for n in range(30):
            async with browser(app, ip=f"192.0.2.{n}") as client:
                await login(client, "anna@desk.example", "wrong!")
        async with browser(app, ip="203.0.113.9") as owner:
            assert (await login(owner, "anna@desk.example")).status_code == 429
            clock[0] += 60
            assert (await login(owner, "anna@desk.example")).status_code == 303


async def test_memory_limiter_window_expires() -> None:
    now = [0.0]
    limiter = MemoryLoginLimiter(60, monotonic=lambda: now[0])
    budget = [Budget("k", 2, 900)]
    assert await limiter.attempt(budget) is None
    assert await limiter.attempt(budget) is None
    assert await limiter.attempt(budget) == 1.0
    now[0] = 61.0  # a new window
    assert await limiter.attempt(budget) is None


async def test_redis_limiter_counts_forty_concurrent_attempts_atomically(redis: Redis) -> None:
    prefix = f"test:staff:{id(redis)}"
    limiter = RedisLoginLimiter(redis, 60, prefix=prefix)
    budgets = [Budget("pair:a", 5, 900), Budget("ip:b", 20, 900)]
    try:
        answers = await asyncio.gather(*(limiter.attempt(budgets) for _ in range(40)))
        assert answers.count(None) == 5
        assert all(0 < wait <= 1.0 for wait in answers if wait is not None)
        assert 0 < await redis.ttl(f"{prefix}:pair:a") <= 60
        await limiter.reset(["pair:a"])
        assert await limiter.attempt([Budget("pair:a", 5, 900)]) is None
    finally:
        await redis.delete(*(f"{prefix}:{k}{g}" for k in ("pair:a", "ip:b")
                             for g in ("", ":gate")))


async def test_posts_without_the_csrf_token_are_refused(app: FastAPI, client: httpx.AsyncClient,
                                                        anna: httpx.AsyncClient,
                                                        counsellor: StaffAccount) -> None:
    async with browser(app) as fresh:
        await fresh.get("/staff/login")
        response = await fresh.post("/staff/login", data={"email": "anna@desk.example",
                                                          "password": PASSWORD})
        assert response.status_code == 403
    reference = await phone_referral(client)
    for data in ({"status": "accepted"}, {"status": "accepted", "csrf_token": "forged"}):
        response = await anna.post(f"/staff/referrals/{reference}/status", data=data)
        assert response.status_code == 403
        assert "Not allowed." in response.text
    assert (await referral_row(app, reference)).status == "new"
    response = await anna.post("/staff/logout", data={})
    assert response.status_code == 403


# --- scoping ------------------------------------------------------------------------------

async def test_a_counsellor_sees_only_their_partners_referrals(
        app: FastAPI, client: httpx.AsyncClient, anna: httpx.AsyncClient) -> None:
    own = await phone_referral(client)
    other = await phone_referral(client, partner_id="other-desk", chat_id=OTHER_PERSON)
    inbox = await anna.get("/staff/inbox")
    assert own in inbox.text
    assert other not in inbox.text
    assert (await anna.get(f"/staff/referrals/{other}")).status_code == 404
    assert (await anna.get("/staff/referrals/ZZZZ-ZZZZ")).status_code == 404
    csrf = await token(anna)
    changed = await anna.post(f"/staff/referrals/{other}/status",
                              data={"status": "accepted", "csrf_token": csrf})
    assert changed.status_code == 404
    sent = await anna.post(f"/staff/referrals/{other}/messages",
                           data={"text": "hello", "csrf_token": csrf})
    assert sent.status_code == 404
    assert (await referral_row(app, other)).status == "new"
    assert await outbox_rows(app, "relay") == []


async def test_inbox_tabs(client: httpx.AsyncClient, anna: httpx.AsyncClient) -> None:
    reference = await phone_referral(client)
    await anna.post(f"/staff/referrals/{reference}/status",
                    data={"status": "unreachable", "csrf_token": await token(anna)})
    assert reference not in (await anna.get("/staff/inbox?tab=new")).text
    assert reference not in (await anna.get("/staff/inbox?tab=contacted")).text
    page = (await anna.get("/staff/inbox?tab=unreachable")).text
    assert reference in page and 'aria-current="page" class="current">Could not reach' in page
    assert (await anna.get("/staff/inbox?tab=bogus")).status_code == 404


async def test_the_referral_page_shows_decrypted_facts_and_audits_the_view(
        app: FastAPI, client: httpx.AsyncClient, anna: httpx.AsyncClient,
        counsellor: StaffAccount) -> None:
    reference = await phone_referral(client)
    page = await anna.get(f"/staff/referrals/{reference}")
    assert page.status_code == 200
    assert "Amina Example" in page.text
    assert "+32470123456" in page.text
    assert "Status history" in page.text
    [view] = await audits(app, "view_personal")
    row = await referral_row(app, reference)
    assert (view.account_id, view.referral_id) == (counsellor.id, row.id)


async def test_a_status_change_writes_an_event_and_an_audit_record(
        app: FastAPI, client: httpx.AsyncClient, anna: httpx.AsyncClient,
        counsellor: StaffAccount) -> None:
    reference = await phone_referral(client)
    response = await anna.post(f"/staff/referrals/{reference}/status",
                               data={"status": "accepted", "csrf_token": await token(anna)})
    assert response.status_code == 303
    assert response.headers["location"] == f"/staff/referrals/{reference}?done=saved"
    row = await referral_row(app, reference)
    assert row.status == "accepted"
    assert await count(app, ReferralEvent, ReferralEvent.referral_id == row.id,
                       ReferralEvent.status == "accepted",
                       ReferralEvent.actor == f"staff:{counsellor.id}") == 1
    [record] = await audits(app, "set_status")
    assert (record.account_id, record.referral_id, record.detail) == (
        counsellor.id, row.id, "accepted")
    [notice] = await outbox_rows(app, "person_notice")
    assert notice["chat_id"] == PERSON and notice["payload"]["key"] == "accepted"
    assert len(await outbox_rows(app, "card_update")) == 1
    page = await anna.get(response.headers["location"])
    assert "Saved." in page.text


async def test_an_unknown_status_is_refused(app: FastAPI, client: httpx.AsyncClient,
                                            anna: httpx.AsyncClient) -> None:
    reference = await phone_referral(client)
    response = await anna.post(f"/staff/referrals/{reference}/status",
                               data={"status": "cancelled", "csrf_token": await token(anna)})
    assert response.status_code == 303
    assert "error=invalid_status" in response.headers["location"]
    assert (await referral_row(app, reference)).status == "new"


async def test_a_message_from_the_web_is_queued_for_the_person(
        app: FastAPI, client: httpx.AsyncClient, anna: httpx.AsyncClient) -> None:
    reference = await phone_referral(client, language="fr")
    response = await anna.post(f"/staff/referrals/{reference}/messages",
                               data={"text": "We call you on Monday.",
                                     "csrf_token": await token(anna)})
    assert response.status_code == 303
    [relay] = await outbox_rows(app, "relay")
    assert relay["chat_id"] == PERSON
    assert relay["chat_kind"] == "private"
    assert relay["payload"] == {"key": "relay", "reference": reference,
                                "partner_name": "Partner test-desk",
                                "text": "We call you on Monday.", "locale": "fr"}
    assert await count(app, RelayMessage, RelayMessage.direction == "to_person") == 1
    assert len(await audits(app, "relay_to_person")) == 1
    page = await anna.get(f"/staff/referrals/{reference}")
    assert "We call you on Monday." in page.text
    empty = await anna.post(f"/staff/referrals/{reference}/messages",
                            data={"text": "   ", "csrf_token": await token(anna)})
    assert "error=invalid_text" in empty.headers["location"]


async def test_relay_messages_are_escaped(client: httpx.AsyncClient,
                                          anna: httpx.AsyncClient) -> None:
    reference = await phone_referral(client)
    relayed = await client.post("/v1/relay/to-partner", json={
        "chat_id": PERSON, "reference": reference, "text": "<script>alert(1)</script>"})
    assert relayed.status_code == 202
    page = await anna.get(f"/staff/referrals/{reference}")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "<script>alert(1)" not in page.text


async def test_security_headers_on_every_staff_response(app: FastAPI,
                                                        anna: httpx.AsyncClient) -> None:
    async with browser(app) as anonymous:
        responses = [await anonymous.get("/staff/login"), await anna.get("/staff/inbox"),
                     await anna.get("/staff/referrals/ZZZZ-ZZZZ"),
                     await anna.get("/staff/static/staff.css")]
    for response in responses:
        assert response.headers["content-security-policy"].startswith("default-src 'self'")
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"


async def test_pages_follow_the_accounts_language(app: FastAPI) -> None:
    await make_account(app, "jan@desk.example", locale="nl")
    async with browser(app) as client:
        await login(client, "jan@desk.example")
        page = await client.get("/staff/inbox")
        assert '<html lang="nl">' in page.text
        assert "Afmelden" in page.text


# --- coordinator and admin ----------------------------------------------------------------

async def test_a_coordinator_sees_every_partner_without_personal_details(
        app: FastAPI, client: httpx.AsyncClient) -> None:
    own = await phone_referral(client)
    other = await phone_referral(client, partner_id="other-desk", chat_id=OTHER_PERSON)
    await make_account(app, "coco@fedasil.example", role="coordinator")
    async with browser(app) as coco:
        await login(coco, "coco@fedasil.example")
        inbox = await coco.get("/staff/inbox")
        assert own in inbox.text and other in inbox.text
        page = await coco.get(f"/staff/referrals/{own}")
        assert page.status_code == 200
        assert "Amina Example" not in page.text and "+32470123456" not in page.text
        assert "Personal details are not shown" in page.text
        response = await coco.post(f"/staff/referrals/{own}/status",
                                   data={"status": "accepted", "csrf_token": await token(coco)})
        assert response.status_code == 403
        assert (await coco.get("/staff/admin/accounts")).status_code == 404
    assert await audits(app, "view_personal") == []
    assert (await referral_row(app, own)).status == "new"


async def test_an_admin_creates_accounts(app: FastAPI, anna: httpx.AsyncClient) -> None:
    assert (await anna.get("/staff/admin/accounts")).status_code == 404  # counsellors: none
    admin = await make_account(app, "root@conex.example", role="admin")
    async with browser(app) as client:
        response = await login(client, "root@conex.example")
        assert response.headers["location"] == "/staff/admin/accounts"
        page = await client.get("/staff/admin/accounts")
        assert "anna@desk.example" in page.text
        csrf = csrf_of(page)
        created = await client.post("/staff/admin/accounts", data={
            "email": "Piet@Other.example", "password": "another long password",
            "role": "counsellor", "partner_id": "other-desk", "locale": "nl",
            "csrf_token": csrf})
        assert created.headers["location"] == "/staff/admin/accounts?done=created_ok"
        missing = await client.post("/staff/admin/accounts", data={
            "email": "x@other.example", "password": "another long password",
            "role": "counsellor", "partner_id": "", "locale": "nl", "csrf_token": csrf})
        assert missing.status_code == 422  # the form again, the error next to the field
        assert re.search(r'<select id="new-partner_id" name="partner_id" aria-invalid="true"'
                         r' aria-describedby="new-partner_id-help new-partner_id-error">',
                         missing.text)
        assert ('<p class="field-error" id="new-partner_id-error">A counsellor needs a '
                'partner.</p>') in missing.text
        assert 'value="x@other.example"' in missing.text  # what was typed stays
        assert "another long password" not in missing.text  # never the password
        taken = await client.post("/staff/admin/accounts", data={
            "email": "piet@other.example", "password": "another long password",
            "role": "coordinator", "partner_id": "", "locale": "fr", "csrf_token": csrf})
        assert taken.status_code == 422 and 'id="new-email-error"' in taken.text
        assert '<option value="coordinator" selected>' in taken.text
    async with app.state.context.sessionmaker() as session:
        piet = await session.scalar(select(StaffAccount).where(
            StaffAccount.email == "piet@other.example"))
    assert piet is not None and piet.partner_id == "other-desk" and piet.locale == "nl"
    assert piet.password_hash.startswith("$argon2id$v=19$m=8,t=1,p=1$")  # the tests' cost
    [record] = await audits(app, "create_account")
    assert record.account_id == admin.id


def test_create_admin_command(database_url: str, monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    from tests.referral_api.factories import DATA_KEY, SERVICE_TOKEN

    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("DATA_KEY", DATA_KEY)
    monkeypatch.setenv("SERVICE_TOKEN", SERVICE_TOKEN)
    answers = iter(["the first admin password"] * 2)
    monkeypatch.setattr("getpass.getpass", lambda _prompt="": next(answers))
    assert main(["create-admin", "--email", "First@Conex.example"]) == 0
    assert "admin account" in capsys.readouterr().out
    assert main(["create-admin", "--email", "first@conex.example",
                 "--password", "the first admin password"]) == 1
    assert "email_taken" in capsys.readouterr().err
