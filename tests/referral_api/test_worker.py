"""The outbox worker: delivered rows are marked sent, a 429 or a 5xx comes back later, a
blocked bot fails for good, and nothing is lost when delivery fails."""

from __future__ import annotations

from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from bot.app import create_bot
from bot.settings import Settings as BotSettings
from referral_api.outbox.models import OutboxMessage
from referral_api.worker import create_worker
from simulator.botapi import ApiError, FakeBotAPI
from simulator.session import InProcessSession
from tests.referral_api.factories import make_partner

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


def worker_for(app: FastAPI, fake: FakeBotAPI):  # type: ignore[no-untyped-def]
    bot = create_bot(BotSettings(_env_file=None, bot_token="77:worker"),
                     session=InProcessSession(fake))
    context = app.state.context
    return create_worker(context.settings, bot, context.sessionmaker, context.vault)


async def test_card_delivered_and_marked_sent(app: FastAPI, client: httpx.AsyncClient,
                                              admin: httpx.AsyncClient) -> None:
    await book(client, admin)
    fake = FakeBotAPI()
    fake.open_group(GROUP)
    result = await worker_for(app, fake).drain_once()
    assert result.sent == 1
    [row] = await rows(app)
    assert row.status == "sent" and row.sent_at is not None
    [card] = [m for m in fake.chats[GROUP].messages.values()]
    assert "New referral" in card["text"] and card["reply_markup"]
    assert (await worker_for(app, fake).drain_once()).sent == 0  # never twice


async def test_flood_and_server_errors_come_back_later(app: FastAPI, client: httpx.AsyncClient,
                                                       admin: httpx.AsyncClient) -> None:
    await book(client, admin)
    fake = FakeBotAPI()
    fake.open_group(GROUP)
    worker = worker_for(app, fake)
    fake.failures.append(("sendMessage", ApiError(429, "Too Many Requests: retry after 30",
                                                  retry_after=30)))
    assert (await worker.drain_once()).retried == 1
    [row] = await rows(app)
    assert row.status == "pending" and row.attempts == 1 and row.last_error == "flood"
    assert row.not_before >= worker.clock() + timedelta(seconds=29)
    assert (await worker.drain_once()).sent == 0  # not due yet
    later = row.not_before + timedelta(seconds=1)
    worker.clock = lambda: later
    fake.failures.append(("sendMessage", ApiError(502, "Bad Gateway")))
    assert (await worker.drain_once()).retried == 1
    [row] = await rows(app)
    worker.clock = lambda: row.not_before + timedelta(seconds=1)
    assert (await worker.drain_once()).sent == 1


async def test_a_blocked_bot_fails_for_good(app: FastAPI, client: httpx.AsyncClient,
                                            admin: httpx.AsyncClient) -> None:
    await book(client, admin)
    fake = FakeBotAPI()
    fake.open_group(GROUP)
    fake.failures.append(("sendMessage", ApiError(403, "Forbidden: bot was kicked from the "
                                                       "group chat")))
    assert (await worker_for(app, fake).drain_once()).failed == 1
    [row] = await rows(app)
    assert row.status == "failed" and row.last_error == "forbidden"
