"""Webhook mode: the secret header is verified and each update_id is handled once."""

from __future__ import annotations

import asyncio

from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from bot.__main__ import create_webhook_app
from bot.app import create_bot
from bot.settings import Settings
from simulator.botapi import FakeBotAPI, SimUser
from simulator.session import InProcessSession
from tests.conftest import REDIS_URL, TEST_TOKEN
from tests.harness import dispatcher_for

SECRET = "s3cret-header-value"
HEADER = "X-Telegram-Bot-Api-Secret-Token"


async def bot_replies(fake: FakeBotAPI, user: SimUser, count: int) -> int:
    chat = fake.open_chat(user)
    for _ in range(100):
        mine = [e for e in chat.events if e["kind"] == "message" and not e["message"]["mine"]]
        if len(mine) >= count:
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.1)  # and nothing more arrives
    return len([e for e in chat.events if e["kind"] == "message" and not e["message"]["mine"]])


async def test_webhook_checks_the_secret_and_handles_each_update_once(prefix: str) -> None:
    settings = Settings(_env_file=None, bot_token=SecretStr(TEST_TOKEN), redis_url=REDIS_URL,
                        redis_prefix=prefix, webhook_secret=SecretStr(SECRET))
    fake = FakeBotAPI()
    fake.queue_updates = False
    bot = create_bot(settings, session=InProcessSession(fake))
    dp = dispatcher_for(settings)
    app = create_webhook_app(settings, bot, dp)
    user = SimUser(8001)
    async with TestClient(TestServer(app)) as client:
        update = fake.user_message(user, "/start")
        refused = await client.post("/webhook", json=update)
        assert refused.status == 401
        wrong = await client.post("/webhook", json=update, headers={HEADER: "guess"})
        assert wrong.status == 401
        assert await bot_replies(fake, user, 1) == 0

        for _ in range(3):  # Telegram retrying the same update
            ok = await client.post("/webhook", json=update, headers={HEADER: SECRET})
            assert ok.status == 200
        assert await bot_replies(fake, user, 1) == 1
    await dp.storage.close()


async def test_a_malformed_body_with_the_right_secret_is_400_not_500(prefix: str) -> None:
    for redis_url in (REDIS_URL, None):  # through the inbox, and handled in the request
        settings = Settings(_env_file=None, bot_token=SecretStr(TEST_TOKEN), redis_url=redis_url,
                            redis_prefix=prefix, webhook_secret=SecretStr(SECRET))
        fake = FakeBotAPI()
        bot = create_bot(settings, session=InProcessSession(fake))
        dp = dispatcher_for(settings)
        app = create_webhook_app(settings, bot, dp, consume=False)
        async with TestClient(TestServer(app)) as client:
            for body in (b"{not json", b"[]", b'{"update_id": "1"}', b'{"update_id": true}',
                         b"\xff\xfe", b""):
                answer = await client.post("/webhook", data=body, headers={HEADER: SECRET})
                assert answer.status == 400, (redis_url, body, answer.status)
            assert (await client.post("/webhook", data=b"{not json")).status == 401
        await dp.storage.close()


async def test_health_and_readiness_for_the_probes(prefix: str) -> None:
    settings = Settings(_env_file=None, bot_token=SecretStr(TEST_TOKEN), redis_url=REDIS_URL,
                        redis_prefix=prefix, webhook_secret=SecretStr(SECRET))
    fake = FakeBotAPI()
    bot = create_bot(settings, session=InProcessSession(fake))
    dp = dispatcher_for(settings)
    down = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})  # nobody there
    async with TestClient(TestServer(create_webhook_app(settings, bot, dp, consume=False))) as up:
        assert (await up.get("/healthz")).status == 200
        assert (await up.get("/readyz")).status == 200
    async with TestClient(TestServer(create_webhook_app(down, bot, dp, consume=False))) as no:
        assert (await no.get("/healthz")).status == 200
        assert (await no.get("/readyz")).status == 503
    await dp.storage.close()
