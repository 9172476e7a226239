"""What an operator scrapes: /metrics of the API, the outbox worker and the bot's webhook
server, in Prometheus text, counting what happened and nothing personal."""

from __future__ import annotations

import asyncio

import httpx
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from redis.asyncio import Redis

from bot.__main__ import create_webhook_app
from bot.app import create_bot
from bot.settings import Settings
from ops.metrics import render
from referral_api.outbox.__main__ import serve_operator_endpoints
from simulator.botapi import FakeBotAPI, SimUser
from simulator.session import InProcessSession
from tests.bot.booking_world import Booking
from tests.bot.test_journey import ask_to_be_written_to
from tests.conftest import REDIS_URL, TEST_TOKEN
from tests.harness import dispatcher_for, free_port

SECRET = "metrics-test-secret"
HEADER = "X-Telegram-Bot-Api-Secret-Token"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text exposition (the parser fails on a malformed one)."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(found: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str,
          **labels: str) -> float | None:
    return found.get((name, tuple(sorted(labels.items()))))


async def test_the_api_and_the_worker_count_referrals_cards_and_requests(
        booking: Booking, redis: Redis) -> None:
    api = httpx.AsyncClient(transport=httpx.ASGITransport(app=booking.app), base_url="http://a")
    # Counters live as long as the process (here: the whole test session): compare to before.
    booked_before = value(samples((await api.get("/metrics")).text), "conex_http_requests_total",
                          method="POST", route="/v1/referrals", status="201") or 0
    await ask_to_be_written_to(booking.h.person(7301))
    [referral] = await booking.referrals()
    try:
        before = await api.get("/metrics")
        assert before.status_code == 200
        assert before.headers["content-type"].startswith("text/plain")
        found = samples(before.text)
        assert value(found, "conex_referrals", status="new") == 1
        assert value(found, "conex_outbox_due", priority="card") == 1  # the card, not sent
        assert value(found, "conex_http_requests_total", method="POST", route="/v1/referrals",
                     status="201") == booked_before + 1
        assert referral.reference not in before.text and "7301" not in before.text

        await booking.deliver()
        found = samples((await api.get("/metrics")).text)
        assert value(found, "conex_outbox_due", priority="card") == 0
    finally:
        await api.aclose()

    context = booking.app.state.context
    port = free_port()
    settings = context.settings.model_copy(update={"worker_http_port": port,
                                                   "metrics_token": SecretStr("scrape-me")})
    runner = await serve_operator_endpoints(settings, context, redis)
    assert runner is not None
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as worker:
            assert (await worker.get("/healthz")).status_code == 200
            assert (await worker.get("/readyz")).status_code == 200
            assert (await worker.get("/metrics")).status_code == 401  # the token is asked for
            scraped = await worker.get("/metrics",
                                       headers={"Authorization": "Bearer scrape-me"})
            found = samples(scraped.text)
            sent = value(found, "conex_outbox_deliveries_total", kind="partner_card",
                         outcome="sent", reason="")
            assert sent is not None and sent >= 1
            assert value(found, "conex_outbox_due", priority="card") == 0
            assert "conex_http_requests_total" not in scraped.text  # the API's, not the worker's
    finally:
        await runner.cleanup()


async def test_the_bot_counts_updates_and_shows_its_inbox(prefix: str) -> None:
    settings = Settings(_env_file=None, bot_token=SecretStr(TEST_TOKEN), redis_url=REDIS_URL,
                        redis_prefix=prefix, webhook_secret=SecretStr(SECRET))
    fake = FakeBotAPI()
    fake.queue_updates = False
    bot = create_bot(settings, session=InProcessSession(fake))
    dp = dispatcher_for(settings)
    waiting = create_webhook_app(settings, bot, dp, consume=False)
    async with TestClient(TestServer(waiting)) as client:
        for i in range(3):
            update = fake.user_message(SimUser(8100 + i), "/start")
            assert (await client.post("/webhook", json=update, headers={HEADER: SECRET})
                    ).status == 200
        await asyncio.sleep(0.05)
        found = samples(await (await client.get("/metrics")).text())
        assert value(found, "conex_inbox_depth") == 3  # received, not handled: no consumer
        oldest = value(found, "conex_inbox_oldest_seconds")
        assert oldest is not None and 0 < oldest < 30

    before = value(samples((await render("bot")).decode()), "conex_updates_total",
                   update_type="message", outcome="handled") or 0
    handling = create_webhook_app(settings, bot, dp)  # a consumer: the three are handled
    async with TestClient(TestServer(handling)) as client:
        for _ in range(200):
            found = samples(await (await client.get("/metrics")).text())
            if value(found, "conex_inbox_depth") == 0:
                break
            await asyncio.sleep(0.05)
        assert value(found, "conex_inbox_depth") == 0
        handled = value(found, "conex_updates_total", update_type="message", outcome="handled")
        assert handled == before + 3
        count = value(found, "conex_update_seconds_count", update_type="message")
        assert count is not None and count >= 3
        text = await (await client.get("/metrics")).text()
        assert "8100" not in text and "conex_referrals" not in text
    await dp.storage.close()



async def test_metrics_keep_to_closed_labels_and_to_this_machine_without_a_token(
        booking: Booking) -> None:
    app = booking.app
    local = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://a")
    remote = httpx.AsyncClient(transport=httpx.ASGITransport(
        app=app, client=("203.0.113.9", 40000)), base_url="http://a")
    async with local, remote:
        for method in ("FOOBAR", "BREW", "PROPFIND"):  # invented methods: one "other" series
            await local.request(method, "/healthz")
        text = (await local.get("/metrics")).text
        assert 'method="FOOBAR"' not in text and 'method="other"' in text
        assert (await remote.get("/metrics")).status_code == 404  # no METRICS_TOKEN set
