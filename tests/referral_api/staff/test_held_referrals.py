"""No referral lost in silence (issue 15): a referral to a partner without a Telegram group is in
the partner's staff inbox, raises an alert for coordinators in the staff app, and its card is
held, then sent to the group as soon as an admin sets one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from bot.app import create_bot
from bot.settings import Settings as BotSettings
from referral_api.admin.service import seed_partners
from referral_api.outbox.models import OutboxMessage
from referral_api.partners.models import Partner
from referral_api.referrals.held import release_held_alerts, release_held_to_partner_groups
from referral_api.staff.models import AuditRecord
from simulator.botapi import FakeBotAPI
from simulator.session import InProcessSession
from tests.referral_api.conftest import make_settings
from tests.referral_api.factories import COORDINATOR_CHAT_ID, book, make_partner
from tests.referral_api.staff_pages import browser, csrf_of, login, make_account, token

NEW_GROUP = -1009998887776
PERSON = 987654321  # the chat id factories.book books with
PHONE = "0470 12 34 56"


@pytest.fixture(autouse=True)
async def quiet_desk(partners: None, admin: httpx.AsyncClient) -> None:
    """A partner without a Telegram group (like the seeded partners), and its counsellor."""
    await make_partner(admin, "quiet-desk", counsellors=(), notification_chat_id=None)


@asynccontextmanager
async def logged_in(app: FastAPI, email: str, role: str = "counsellor",
                    partner_id: str | None = "quiet-desk", locale: str = "en",
                    ) -> AsyncIterator[httpx.AsyncClient]:
    await make_account(app, email, role=role, partner_id=partner_id, locale=locale)
    async with browser(app) as client:
        assert (await login(client, email)).status_code == 303
        yield client


@pytest.fixture
async def coco(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with logged_in(app, "coco@fedasil.example", role="coordinator") as client:
        yield client


@pytest.fixture
async def root(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with logged_in(app, "root@conex.example", role="admin") as client:
        yield client


@pytest.fixture
async def quiet(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Counsellor Quinn of quiet-desk, logged in."""
    async with logged_in(app, "quinn@quiet.example") as client:
        yield client


async def rows(app: FastAPI, kind: str) -> list[OutboxMessage]:
    async with app.state.context.sessionmaker() as session:
        return list(await session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)))


def chat_of(app: FastAPI, row: OutboxMessage) -> int | None:
    if row.chat_id_enc is None:
        return None
    chat_id: int = app.state.context.vault.decrypt_chat_id(row.chat_id_enc)
    return chat_id


def quiet_desk_form(**overrides: Any) -> dict[str, Any]:
    """The edit form of quiet-desk as the page shows it, with some fields changed."""
    form: dict[str, Any] = {
        "name": "Partner quiet-desk", "kind": "return_desk", "address": "",
        "postal_code": "9000", "city": "Gent", "lat": "", "lon": "", "phone": "", "hours": "",
        "languages": "en", "services": ["general"], "source": "", "slot_minutes": "30",
        "capacity_per_slot": "1", "notification_chat_id": "", "active": "on",
    }
    form.update(overrides)
    return form


async def set_group(root: httpx.AsyncClient, chat_id: int | str) -> httpx.Response:
    """An admin types the partner's Telegram group into its page and saves."""
    page = await root.get("/staff/admin/partners/quiet-desk")
    assert page.status_code == 200
    return await root.post("/staff/admin/partners/quiet-desk", data={
        **quiet_desk_form(notification_chat_id=str(chat_id)), "csrf_token": csrf_of(page)})


def nav_alerts(page: httpx.Response) -> str:
    """The Alerts link of the navigation, as text ('' when there is none)."""
    start = page.text.find('<a href="/staff/alerts">')
    if start < 0:
        return ""
    return page.text[start:page.text.find("</a>", start)].replace(
        '<a href="/staff/alerts">', "").replace('<span class="count">', "").replace(
        "</span>", "")


async def test_a_referral_to_a_partner_without_a_group_is_never_lost(
        app: FastAPI, client: httpx.AsyncClient, quiet: httpx.AsyncClient,
        coco: httpx.AsyncClient, root: httpx.AsyncClient) -> None:
    referral = await book(client, partner_id="quiet-desk", contact_mode="phone", phone=PHONE,
                          name="Amina Example")
    reference = referral["reference"]

    # The partner's staff find it in their inbox, with the person's details on its page.
    inbox = await quiet.get("/staff/inbox")
    assert reference in inbox.text
    page = await quiet.get(f"/staff/referrals/{reference}")
    assert "Amina Example" in page.text and "+32470123456" in page.text

    # The card waits for a group (held), it is not dropped.
    [card] = await rows(app, "partner_card")
    assert (card.status, chat_of(app, card)) == ("held", None)

    # Coordinators are alerted in the staff app, without personal details.
    coco_inbox = await coco.get("/staff/inbox")
    assert nav_alerts(coco_inbox) == "Alerts 1"
    assert ("Referrals waiting for a partner that gets no Telegram notification: 1."
            in coco_inbox.text)
    alerts = await coco.get("/staff/alerts")
    assert alerts.status_code == 200
    assert reference in alerts.text and "Partner quiet-desk" in alerts.text
    assert "Phone call" in alerts.text and "The partner has no Telegram group" in alerts.text
    assert "Amina Example" not in alerts.text and "+32470123456" not in alerts.text
    assert "/staff/admin/partners/quiet-desk" not in alerts.text  # coordinators: no admin link
    assert nav_alerts(await root.get("/staff/admin/accounts")) == "Alerts 1"  # admins too

    # The admin sees it on the partner's page and sets the group: the card goes out to it.
    partner_page = await root.get("/staff/admin/partners/quiet-desk")
    assert "New referrals whose card did not reach a Telegram group: 1." in partner_page.text
    saved = await set_group(root, NEW_GROUP)
    assert saved.status_code == 303, saved.text
    assert saved.headers["location"] == "/staff/admin/partners/quiet-desk?done=cards_released"
    shown = await root.get(saved.headers["location"])
    assert "The referral cards that were waiting are being sent" in shown.text
    assert "did not reach a Telegram group" not in shown.text

    [card] = await rows(app, "partner_card")
    assert card.status == "pending" and chat_of(app, card) == NEW_GROUP
    assert card.chat_kind == "group"
    assert card.chat_key == app.state.context.vault.chat_key(NEW_GROUP)

    # The alert is gone.
    after = await coco.get("/staff/alerts")
    assert reference not in after.text
    assert "No referral is waiting" in after.text
    assert nav_alerts(after) == "Alerts"


async def test_a_released_card_is_delivered_to_the_group_by_the_worker(
        app: FastAPI, client: httpx.AsyncClient, root: httpx.AsyncClient) -> None:
    """The whole way, with today's worker (`OutboxWorker.drain_once`) and the fake Bot API.
    The worker is imported here so that the outbox-level tests above do not depend on it."""
    from referral_api.housekeeping import create_worker

    referral = await book(client, partner_id="quiet-desk", contact_mode="phone", phone=PHONE,
                          name="Amina Example")
    fake = FakeBotAPI()
    fake.open_group(NEW_GROUP)
    fake.open_group(COORDINATOR_CHAT_ID)
    bot = create_bot(BotSettings(_env_file=None, bot_token="77:worker"),
                     session=InProcessSession(fake))
    context = app.state.context
    worker = create_worker(context.settings, bot, context.sessionmaker, context.vault)
    try:
        await worker.drain_once()  # the coordinators' alert goes; the card waits
        assert not fake.chats[NEW_GROUP].messages
        [card] = await rows(app, "partner_card")
        assert card.status == "held"
        assert (await set_group(root, NEW_GROUP)).status_code == 303
        await worker.drain_once()
    finally:
        await bot.session.close()
    [delivered] = list(fake.chats[NEW_GROUP].messages.values())
    assert "New referral" in delivered["text"] and referral["reference"] in delivered["text"]
    assert "Amina Example" in delivered["text"]  # the counsellors' card, as for any partner
    [card] = await rows(app, "partner_card")
    assert card.status == "sent"


async def test_updates_wait_with_the_card_and_follow_it_in_order(
        app: FastAPI, client: httpx.AsyncClient, quiet: httpx.AsyncClient,
        coco: httpx.AsyncClient, root: httpx.AsyncClient) -> None:
    referral = await book(client, partner_id="quiet-desk")
    reference = referral["reference"]
    accepted = await quiet.post(f"/staff/referrals/{reference}/status",
                                data={"status": "accepted", "csrf_token": await token(quiet)})
    assert accepted.status_code == 303
    # Someone acted on it: it no longer waits, and no alert is shown.
    assert reference not in (await coco.get("/staff/alerts")).text
    assert "Referrals waiting" not in (await coco.get("/staff/inbox")).text
    cards = await rows(app, "partner_card") + await rows(app, "card_update")
    assert [row.status for row in cards] == ["held", "held"]

    assert (await set_group(root, NEW_GROUP)).headers["location"].endswith(
        "done=cards_released")
    cards = sorted(await rows(app, "partner_card") + await rows(app, "card_update"),
                   key=lambda row: row.id)
    assert [(row.kind, row.status, chat_of(app, row)) for row in cards] == [
        ("partner_card", "pending", NEW_GROUP), ("card_update", "pending", NEW_GROUP)]
    # The person's own notice was never held: it had their chat from the start.
    [notice] = await rows(app, "person_notice")
    assert notice.status == "pending" and notice.chat_key is not None


async def test_a_card_that_could_not_be_delivered_is_an_alert_until_it_is_sent_again(
        app: FastAPI, client: httpx.AsyncClient, coco: httpx.AsyncClient,
        root: httpx.AsyncClient) -> None:
    referral = await book(client, partner_id="other-desk")  # other-desk has a group
    [card] = await rows(app, "partner_card")
    assert card.status == "pending" and chat_of(app, card) == -100222
    assert reference_absent(referral, await coco.get("/staff/alerts"))
    async with app.state.context.sessionmaker() as session:  # the bot was removed from it
        await session.execute(update(OutboxMessage).where(OutboxMessage.id == card.id)
                              .values(status="failed", last_error="forbidden", attempts=1))
        await session.commit()
    alerts = await coco.get("/staff/alerts")
    assert referral["reference"] in alerts.text
    assert "The card could not be delivered to the partner&#39;s Telegram group" in alerts.text

    # The admin puts the bot back in the group and saves the partner's page as it is.
    page = await root.get("/staff/admin/partners/other-desk")
    assert "could not be delivered to this Telegram group: 1." in page.text
    saved = await root.post("/staff/admin/partners/other-desk", data={
        **quiet_desk_form(name="Partner other-desk", notification_chat_id="-100222"),
        "csrf_token": csrf_of(page)})
    assert saved.headers["location"] == "/staff/admin/partners/other-desk?done=cards_released"
    [card] = await rows(app, "partner_card")
    assert (card.status, card.attempts, card.last_error) == ("pending", 0, None)
    assert chat_of(app, card) == -100222
    assert reference_absent(referral, await coco.get("/staff/alerts"))
    async with app.state.context.sessionmaker() as session:
        [record] = await session.scalars(
            select(AuditRecord).where(AuditRecord.action.in_(("resend_cards",
                                                              "update_partner"))))
    assert (record.action, record.detail) == ("resend_cards", "other-desk:1")


def reference_absent(referral: dict[str, Any], page: httpx.Response) -> bool:
    return page.status_code == 200 and referral["reference"] not in page.text


async def test_cards_dropped_before_the_held_status_are_sent_when_a_group_is_set(
        app: FastAPI, client: httpx.AsyncClient, admin: httpx.AsyncClient) -> None:
    """Cards the old worker marked failed (`no_target`) are sent too: the seeded partners'
    referrals of before this change reach the group their admin sets."""
    await book(client, partner_id="quiet-desk")
    async with app.state.context.sessionmaker() as session:
        await session.execute(update(OutboxMessage).where(OutboxMessage.kind == "partner_card")
                              .values(status="failed", last_error="no_target", attempts=0))
        await session.commit()
    await book(client, partner_id="quiet-desk", chat_id=1234)  # held, after the change
    changed = await admin.put("/v1/admin/partners/quiet-desk",  # the admin API this time
                              json={"notification_chat_id": NEW_GROUP})
    assert changed.status_code == 200
    cards = await rows(app, "partner_card")
    assert [(card.status, chat_of(app, card)) for card in cards] == [
        ("pending", NEW_GROUP), ("pending", NEW_GROUP)]


async def test_a_seed_file_that_sets_the_group_releases_the_cards(
        app: FastAPI, client: httpx.AsyncClient) -> None:
    await book(client, partner_id="quiet-desk")
    context = app.state.context
    async with context.sessionmaker() as session:
        result = await seed_partners(session, context.settings, context.clock, [{
            "id": "quiet-desk", "name": "Partner quiet-desk", "kind": "return_desk",
            "city": "Gent", "postal_code": "9000", "languages": ["en"],
            "notification_chat_id": NEW_GROUP}])
    assert result.updated == 1
    [card] = await rows(app, "partner_card")
    assert card.status == "pending" and chat_of(app, card) == NEW_GROUP


async def test_a_card_held_by_a_booking_that_raced_the_group_is_swept_out(
        app: FastAPI, client: httpx.AsyncClient) -> None:
    await book(client, partner_id="quiet-desk")
    context = app.state.context
    async with context.sessionmaker() as session:  # the group set without the release
        await session.execute(update(Partner).where(Partner.id == "quiet-desk")
                              .values(notification_chat_id=NEW_GROUP))
        await session.commit()
        assert await release_held_to_partner_groups(session, context.vault,
                                                    context.clock()) == 1
        await session.commit()
    [card] = await rows(app, "partner_card")
    assert card.status == "pending" and chat_of(app, card) == NEW_GROUP


async def test_coordinator_alerts_wait_for_a_coordinator_chat(
        app: FastAPI, client: httpx.AsyncClient, database_url: str) -> None:
    context = app.state.context
    app.state.context = replace(context, settings=make_settings(database_url,
                                                                coordinator_chat_id=None))
    try:
        waiting = await book(client, partner_id="quiet-desk")
        overtaken = await book(client, partner_id="quiet-desk", chat_id=1234)
    finally:
        app.state.context = context
    alerts = await rows(app, "coordinator_alert")
    assert [(row.status, row.chat_id_enc) for row in alerts] == [("held", None)] * 2
    # One of them was cancelled by the person: that alert no longer matters.
    cancelled = await client.post(f"/v1/referrals/{overtaken['reference']}/cancel",
                                  json={"chat_id": 1234})
    assert cancelled.status_code == 200

    async with context.sessionmaker() as session:  # what the worker does at start-up
        assert await release_held_alerts(session, context.vault, COORDINATOR_CHAT_ID,
                                         context.clock()) == 1
        await session.commit()
    alerts = await rows(app, "coordinator_alert")
    assert [(row.status, chat_of(app, row)) for row in alerts] == [
        ("pending", COORDINATOR_CHAT_ID), ("held", None)]
    payload = context.vault.decrypt_json(alerts[0].payload_enc)
    assert waiting["reference"] in payload["text"]


async def test_alerts_are_for_coordinators_and_admins(
        app: FastAPI, client: httpx.AsyncClient, quiet: httpx.AsyncClient) -> None:
    await book(client, partner_id="quiet-desk")
    assert (await quiet.get("/staff/alerts")).status_code == 403
    inbox = await quiet.get("/staff/inbox")
    assert nav_alerts(inbox) == "" and "Referrals waiting" not in inbox.text
    async with logged_in(app, "jan@fedasil.example", role="coordinator",
                               locale="nl") as jan:
        page = await jan.get("/staff/alerts")
        assert page.status_code == 200 and '<html lang="nl">' in page.text
        assert "Partner quiet-desk" in page.text
        assert "Alerts" not in page.text  # in Dutch


async def test_a_persons_message_to_a_partner_without_a_group_waits_for_the_group(
        app: FastAPI, client: httpx.AsyncClient, root: httpx.AsyncClient) -> None:
    referral = await book(client, partner_id="quiet-desk", contact_mode="phone", phone=PHONE)
    sent = await client.post("/v1/relay/to-partner", json={
        "chat_id": PERSON, "reference": referral["reference"], "text": "Can I come on Monday?"})
    assert sent.status_code == 202
    [relay] = await rows(app, "relay")
    assert (relay.status, relay.chat_id_enc) == ("held", None)  # held, not dropped

    assert (await set_group(root, NEW_GROUP)).status_code in (200, 303)
    [card] = await rows(app, "partner_card")
    [relay] = await rows(app, "relay")
    assert relay.status == "pending" and chat_of(app, relay) == NEW_GROUP
    assert card.id < relay.id  # the card goes first, then the message about it
