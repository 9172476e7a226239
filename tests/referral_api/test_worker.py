"""The outbox worker: delivered rows are marked sent, a 429 or a 5xx comes back later (a 429
never as a failed attempt), a blocked bot fails for good, a transient failure is final only
past the message's delivery budget, and a message with no target is held, never failed."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from aiogram import Bot
from fastapi import FastAPI
from sqlalchemy import select, update

from bot.app import create_bot
from bot.settings import Settings as BotSettings
from referral_api.app import create_context
from referral_api.db.migrate import upgrade_database
from referral_api.housekeeping import create_worker
from referral_api.outbox.delivery import DELIVERY_CLASSES
from referral_api.outbox.messages import StaffMessage, StatusNotice
from referral_api.outbox.models import KINDS, OutboxMessage
from referral_api.outbox.service import enqueue
from referral_api.outbox.worker import OutboxWorker
from referral_api.settings import Settings
from simulator.botapi import ApiError, FakeBotAPI, SimUser
from simulator.session import InProcessSession
from tests.referral_api.factories import COORDINATOR_CHAT_ID, make_partner

GROUP = -1000000001


async def rows(app: FastAPI) -> list[OutboxMessage]:
    async with app.state.context.sessionmaker() as session:
        return list((await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
                    .all())


async def book(client: httpx.AsyncClient, admin: httpx.AsyncClient) -> None:
    await make_partner(admin, "w-desk", notification_chat_id=GROUP)
    created = await client.post("/v1/referrals", json={
        "partner_id": "w-desk", "contact_mode": "telegram", "language": "fr",
        "interpreter": False, "topic": "information", "flags": [], "chat_id": 4242,
        "consent_version": "booking-1"})
    assert created.status_code == 201, created.text


def partner_group() -> FakeBotAPI:
    """A fake Bot API where the bot is a member of the partner's group."""
    fake = FakeBotAPI()
    fake.open_group(GROUP)
    return fake


def worker_for(app: FastAPI, fake: FakeBotAPI, bot: Bot | None = None) -> OutboxWorker:
    bot = bot or create_bot(BotSettings(_env_file=None, bot_token="77:worker"),
                            session=InProcessSession(fake))
    context = app.state.context
    return create_worker(context.settings, bot, context.sessionmaker, context.vault)


def later(worker: OutboxWorker, row: OutboxMessage) -> None:
    """The worker's clock, just after the row is due again."""
    due = row.not_before + timedelta(seconds=1)
    worker.clock = lambda: due


async def test_card_delivered_and_marked_sent(app: FastAPI, client: httpx.AsyncClient,
                                              admin: httpx.AsyncClient) -> None:
    await book(client, admin)
    fake = partner_group()
    result = await worker_for(app, fake).drain_once()
    assert result.sent == 1
    [row] = await rows(app)
    assert row.status == "sent" and row.sent_at is not None and row.claimed_until is None
    assert row.give_up_at == row.created_at + timedelta(hours=48)  # a card's budget
    [card] = [m for m in fake.chats[GROUP].messages.values()]
    assert "New referral" in card["text"] and card["reply_markup"]
    assert (await worker_for(app, fake).drain_once()).sent == 0  # never twice


async def test_a_429_comes_back_later_and_is_no_attempt_a_5xx_is_one(
        app: FastAPI, client: httpx.AsyncClient, admin: httpx.AsyncClient) -> None:
    await book(client, admin)
    fake = partner_group()
    # A bare session (no governor, no RetryAfterMiddleware): the 429 reaches the worker,
    # which puts the message back in its chat's queue instead of waiting in place.
    worker = worker_for(app, fake, Bot(token="77:worker", session=InProcessSession(fake)))
    fake.failures.append(("sendMessage", ApiError(429, "Too Many Requests: retry after 30",
                                                  retry_after=30)))
    assert (await worker.drain_once()).retried == 1
    [row] = await rows(app)
    assert (row.status, row.attempts, row.last_error) == ("pending", 0, "flood")
    assert row.not_before >= worker.clock() + timedelta(seconds=29)
    assert row.claimed_until is None
    assert (await worker.drain_once()).sent == 0  # not due yet
    later(worker, row)
    fake.failures.append(("sendMessage", ApiError(502, "Bad Gateway")))
    assert (await worker.drain_once()).retried == 1
    [row] = await rows(app)
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, "server")
    later(worker, row)
    assert (await worker.drain_once()).sent == 1


async def test_a_blocked_bot_fails_for_good(app: FastAPI, client: httpx.AsyncClient,
                                            admin: httpx.AsyncClient) -> None:
    await book(client, admin)
    fake = partner_group()
    fake.failures.append(("sendMessage", ApiError(403, "Forbidden: bot was kicked from the "
                                                       "group chat")))
    assert (await worker_for(app, fake).drain_once()).failed == 1
    [row] = await rows(app)
    assert row.status == "failed" and row.last_error == "forbidden"


async def test_a_transient_failure_is_final_only_past_the_budget(
        app: FastAPI, client: httpx.AsyncClient, admin: httpx.AsyncClient) -> None:
    await book(client, admin)
    fake = partner_group()
    worker = worker_for(app, fake, Bot(token="77:worker", session=InProcessSession(fake)))
    [row] = await rows(app)
    # 47 hours of failures: still pending.
    start = row.created_at + timedelta(hours=47)
    worker.clock = lambda: start
    fake.failures.append(("sendMessage", ApiError(500, "Internal Server Error")))
    assert (await worker.drain_once()).retried == 1
    # A 429 past the deadline is still no failure ...
    [row] = await rows(app)
    past = row.created_at + timedelta(hours=49)
    worker.clock = lambda: past
    fake.failures.append(("sendMessage", ApiError(429, "Too Many Requests: retry after 5",
                                                  retry_after=5)))
    assert (await worker.drain_once()).retried == 1
    [row] = await rows(app)
    assert (row.status, row.attempts) == ("pending", 1)
    # ... a server error past it is.
    later(worker, row)
    fake.failures.append(("sendMessage", ApiError(500, "Internal Server Error")))
    assert (await worker.drain_once()).failed == 1
    [row] = await rows(app)
    assert (row.status, row.last_error, row.attempts) == ("failed", "server", 2)
    assert not fake.chats[GROUP].messages


async def test_a_message_without_a_target_is_held_and_alerts_are_released_at_start(
        app: FastAPI, client: httpx.AsyncClient, admin: httpx.AsyncClient) -> None:
    context = app.state.context
    await make_partner(admin, "no-group", notification_chat_id=None)
    created = await client.post("/v1/referrals", json={
        "partner_id": "no-group", "contact_mode": "telegram", "language": "fr",
        "interpreter": False, "topic": "information", "flags": [], "chat_id": 4243,
        "consent_version": "booking-1"})
    assert created.status_code == 201, created.text
    async with context.sessionmaker() as session:
        # An alert queued while COORDINATOR_CHAT_ID was unset, and a notice of an older
        # release without a chat key nor a chat: the worker holds it, never fails it.
        await session.execute(update(OutboxMessage).where(
            OutboxMessage.kind == "coordinator_alert").values(
            status="held", chat_id_enc=None, chat_key=None))
        enqueue(session, context.vault, kind="person_notice",
                message=StatusNotice(key="accepted", reference="ABCD-2345",
                                     partner_name="x", locale="en"),
                chat_id=None, now=context.clock())
        await session.commit()
    fake = FakeBotAPI()
    fake.open_group(COORDINATOR_CHAT_ID)
    worker = worker_for(app, fake)
    result = await worker.drain_once()
    assert (result.sent, result.held, result.failed) == (0, 1, 0)
    statuses = {r.kind: r.status for r in await rows(app)}
    assert statuses == {"partner_card": "held", "coordinator_alert": "held",
                        "person_notice": "held"}

    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop, interval=0.05))
    for _ in range(200):
        if fake.chats[COORDINATOR_CHAT_ID].messages:
            break
        await asyncio.sleep(0.02)
    stop.set()
    await running
    [alert] = fake.chats[COORDINATOR_CHAT_ID].messages.values()
    assert "Partner no-group" in alert["text"]
    statuses = {r.kind: r.status for r in await rows(app)}
    assert statuses["coordinator_alert"] == "sent"
    assert statuses["partner_card"] == "held"  # until the partner has a group


def test_every_kind_has_a_delivery_class_of_at_least_48_hours() -> None:
    assert set(DELIVERY_CLASSES) == set(KINDS)
    for kind, delivery in DELIVERY_CLASSES.items():
        if kind == "followup_wave":
            assert delivery.budget is None  # its daytime window rules
        else:
            assert delivery.budget is not None
            assert delivery.budget >= timedelta(hours=48)


async def test_worker_logs_carry_no_chat_id_nor_text(
        app: FastAPI, client: httpx.AsyncClient, admin: httpx.AsyncClient,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await book(client, admin)
    fake = FakeBotAPI()  # the group is unknown: chat not found
    await worker_for(app, fake).drain_once()
    [row] = await rows(app)
    assert (row.status, row.last_error) == ("failed", "chat_not_found")
    logged = "\n".join(r.getMessage() for r in caplog.records
                       if r.name.startswith(("referral_api.outbox", "referral_api.housekeeping",
                                             "governor")))
    assert "chat_not_found" in logged
    for secret in (str(GROUP), "4242", "New referral"):
        assert secret not in logged


async def test_the_worker_on_the_sqlite_demo(tmp_path: Path) -> None:
    """No Redis, no row locks: the claims, the per-chat queues and the keying of old rows
    work on SQLite too."""
    settings = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path}/c.db")
    await upgrade_database(settings.database_url)
    context = create_context(settings)
    try:
        async with context.sessionmaker() as session:
            for n in range(3):
                enqueue(session, context.vault, kind="card_update",
                        message=StaffMessage(text=f"c{n}"), chat_id=GROUP, now=context.clock())
            old = enqueue(session, context.vault, kind="relay", message=StaffMessage(text="hi"),
                          chat_id=4242, now=context.clock())
            old.chat_key = None  # queued before migration 0007
            await session.commit()
        fake = partner_group()
        fake.open_chat(SimUser(4242))
        bot = create_bot(BotSettings(_env_file=None, bot_token="77:worker"),
                         session=InProcessSession(fake))
        worker = create_worker(settings, bot, context.sessionmaker, context.vault)
        assert worker.redis is None
        assert (await worker.drain_once()).sent == 4
        assert [m["text"] for m in fake.chats[GROUP].messages.values()] == ["c0", "c1", "c2"]
        assert [m["text"] for m in fake.chats[4242].messages.values()] == ["hi"]
        assert (await worker.drain_once()).sent == 0
        async with context.sessionmaker() as session:
            done = list(await session.scalars(select(OutboxMessage)))
        assert all(r.status == "sent" and r.sent_at is not None and r.sent_at.tzinfo
                   and r.claimed_until is None and r.chat_key is not None for r in done)
    finally:
        await context.aclose()
