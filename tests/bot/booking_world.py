"""The booking world for bot tests: the real referral API on PostgreSQL, the real Dispatcher,
the outbox worker, and the fake Bot API with the partner group."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy import select

from bot.api_client import ReferralsClient
from bot.app import create_bot, create_stores
from bot.settings import Settings
from referral_api.housekeeping import create_worker
from referral_api.outbox.worker import OutboxWorker
from referral_api.referrals.models import Referral
from simulator.botapi import FakeBotAPI, SimUser
from simulator.session import InProcessSession
from tests.harness import Harness, dispatcher_for, web_side
from tests.referral_api.factories import SERVICE_TOKEN, make_partner

GROUP = -1000000001
COUNSELLOR = SimUser(5001, first_name="Counsellor")
STRANGER = SimUser(6666, first_name="Someone")


@dataclass
class Booking:
    h: Harness
    app: FastAPI
    worker: OutboxWorker

    async def deliver(self) -> None:
        await self.worker.drain_once()

    async def referrals(self) -> list[Referral]:
        async with self.app.state.context.sessionmaker() as session:
            return list((await session.scalars(select(Referral))).all())

    def group_texts(self) -> list[str]:
        chat = self.h.fake.open_group(GROUP)
        return [m["text"] for m in chat.messages.values() if m["from"].get("is_bot")]

    def group_card(self) -> dict[str, Any]:
        chat = self.h.fake.open_group(GROUP)
        cards = [m for m in chat.messages.values() if m.get("reply_markup")]
        return cards[-1]

    async def counsellor_press(self, status: str, who: SimUser = COUNSELLOR) -> None:
        card = self.group_card()
        data = next(b["callback_data"] for row in card["reply_markup"]["inline_keyboard"]
                    for b in row if b["callback_data"].endswith(":" + status))
        await self.h.feed(self.h.fake.user_press(who, card["message_id"], data,
                                                 chat_id=GROUP))

    async def counsellor_reply(self, message_id: int, text: str,
                               who: SimUser = COUNSELLOR) -> None:
        await self.h.feed(self.h.fake.user_message(who, text, chat_id=GROUP,
                                                   reply_to=message_id))


@pytest.fixture
async def booking(app: FastAPI, admin: httpx.AsyncClient, redis: Redis, prefix: str,
                  settings: Settings, channel: str) -> AsyncIterator[Booking]:
    await make_partner(admin, "test-desk", name="Ghent return desk", counsellors=(5001,),
                       notification_chat_id=GROUP, services=["general", "medical"],
                       address="Somewhere 1, 9000 Gent", access="both",
                       opening=[*({"mode": "walk_in", "day": d, "start": "09:00", "end": "12:00"}
                                  for d in range(5)),
                                {"mode": "appointment", "day": 1, "part": "afternoon"}],
                       interpreter=True,
                       notes={"nl": "Bel aan bij de zijdeur.", "en": "Ring at the side door."},
                       languages=["nl", "fr", "en"])
    await make_partner(admin, "far-desk", name="Arlon partner", postal_code="6700",
                       city="Arlon", counsellors=(5002,), notification_chat_id=GROUP)
    fake = FakeBotAPI()
    fake.queue_updates = False
    fake.open_group(GROUP)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api")
    referrals = ReferralsClient(http, SERVICE_TOKEN)
    bot = create_bot(settings, session=InProcessSession(fake))
    dp = dispatcher_for(settings, stores=create_stores(settings, redis), referrals=referrals)
    context = app.state.context
    web = web_side(redis, prefix) if channel == "web" else None
    worker = create_worker(context.settings, bot, context.sessionmaker, context.vault,
                           web_bot=web.bot if web is not None else None)
    yield Booking(Harness(fake, bot, dp, web=web), app, worker)
    await http.aclose()


