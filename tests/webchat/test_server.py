"""The web chat server as a person's browser and the bot meet it, on the production path: the
page's JSON API (FastAPI, over HTTP) → the bot's webhook for the web chat (aiohttp, with its
secret) → the durable inbox on Redis → the real Dispatcher with both bots → the web Bot →
the web chat's Bot API → the conversation on Redis → the page's long poll."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from aiohttp.test_utils import TestServer
from fastapi import FastAPI
from pydantic import SecretStr
from redis.asyncio import Redis

from bot.__main__ import create_webhook_app
from bot.app import create_bot, create_web_bot
from bot.channels import WEB_CHAT_IDS
from bot.settings import Settings
from ops.metrics import registry
from simulator.botapi import FakeBotAPI
from simulator.session import InProcessSession
from tests.conftest import REDIS_URL, TEST_TOKEN
from tests.harness import WEB_TOKEN, dispatcher_for
from webchat.app import CSP, DeliveryFailed, WebhookDelivery, create_app, create_webchat
from webchat.settings import Settings as WebSettings

WEB_SECRET = "web-chat-webhook-secret"
COOKIE = "chat_session"


@dataclass
class World:
    app: FastAPI
    redis: Redis
    prefix: str
    delivery: WebhookDelivery

    def browser(self) -> httpx.AsyncClient:
        """A new browser (its own cookie jar) on the page's origin."""
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app),
                                 base_url="https://chat.example", timeout=30)

    @property
    def store_prefix(self) -> str:
        return f"webchat-{self.prefix}"

    async def chat_events(self, chat_id: int) -> list[dict[str, Any]]:
        raw = await self.redis.lrange(f"{self.store_prefix}:chat:{chat_id}:events", 0, -1)
        return [json.loads(item) for item in raw]


async def events_until(browser: httpx.AsyncClient, found: str, after: int = 0,
                       rounds: int = 40) -> list[dict[str, Any]]:
    """The page's long poll until an event's text contains ``found``."""
    seen: list[dict[str, Any]] = []
    for _ in range(rounds):
        answer = (await browser.get("/chat/api/events",
                                    params={"after": after, "wait": 1})).json()
        seen.extend(answer["events"])
        after = max([after, *(e["seq"] for e in answer["events"])])
        if any(found in str(e) for e in seen):
            return seen
    raise AssertionError(f"{found!r} never came: {seen}")


def last_buttons(events: list[dict[str, Any]]) -> tuple[int, list[dict[str, Any]]]:
    for event in reversed(events):
        message = event.get("message") or {}
        if event["kind"] in ("message", "edit") and message.get("buttons"):
            return message["message_id"], [b for row in message["buttons"] for b in row]
    raise AssertionError("no buttons")


@pytest.fixture
async def world(redis: Redis, prefix: str) -> AsyncIterator[World]:
    settings = Settings(_env_file=None, bot_token=SecretStr(TEST_TOKEN), redis_url=REDIS_URL,
                        redis_prefix=prefix, webhook_secret=SecretStr("telegram-secret"),
                        webchat_bot_token=SecretStr(WEB_TOKEN),
                        webchat_webhook_secret=SecretStr(WEB_SECRET))
    web_settings = WebSettings(_env_file=None, bot_token=SecretStr(WEB_TOKEN),
                               redis_prefix=f"webchat-{prefix}", messages_per_minute=12,
                               codes_per_15_minutes=4, opens_per_hour=50, ttl_days=3)
    fake = FakeBotAPI()
    fake.queue_updates = False
    bot = create_bot(settings, session=InProcessSession(fake))
    holder: dict[str, WebhookDelivery] = {}

    async def deliver(update: dict[str, Any]) -> None:
        await holder["delivery"](update)

    chat = create_webchat(web_settings, redis=redis, deliver=deliver)
    web_bot = create_web_bot(settings, session=InProcessSession(chat.api))
    dp = dispatcher_for(settings)
    hook = TestServer(create_webhook_app(settings, bot, dp, web_bot=web_bot))
    await hook.start_server()
    delivery = WebhookDelivery(str(hook.make_url("/webhook/web")), WEB_SECRET)
    holder["delivery"] = delivery
    try:
        yield World(create_app(web_settings, chat=chat), redis, prefix, delivery)
    finally:
        await hook.close()
        await delivery.aclose()
        keys = [k async for k in redis.scan_iter(match=f"webchat-{prefix}:*")]
        if keys:
            await redis.delete(*keys)


async def test_a_first_message_opens_a_private_conversation_and_the_bot_answers(
        world: World) -> None:
    async with world.browser() as browser:
        sent = await browser.post("/chat/api/send", json={"text": "/start"},
                                  headers={"Accept-Language": "fr-BE,fr;q=0.9"})
        assert sent.status_code == 200, sent.text
        cookie = sent.headers["set-cookie"]
        assert re.search(r"\bHttpOnly\b", cookie) and re.search(r"\bSecure\b", cookie)
        assert "SameSite=strict" in cookie and "Path=/chat" in cookie
        events = await events_until(browser, "centre d")  # the welcome question, in French
        assert events[0]["kind"] == "code"
        assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}", events[0]["code"])
        assert events[1]["message"]["mine"] and events[1]["message"]["html"] == "/start"
    # The web person's chat id is in the web range; only a hash of the session is stored.
    keys = {k.decode() async for k in world.redis.scan_iter(match=f"{world.store_prefix}:*")}
    chats = {int(m.group(1)) for k in keys if (m := re.search(r":chat:(\d+)$", k))}
    assert len(chats) == 1 and next(iter(chats)) in WEB_CHAT_IDS
    session = browser.cookies.get(COOKIE) or re.search(r"chat_session=([^;]+)", cookie)[1]
    assert not any(session in k for k in keys)


async def test_every_key_expires_with_the_conversation(world: World) -> None:
    async with world.browser() as browser:
        await browser.post("/chat/api/send", json={"text": "/start"})
        await events_until(browser, "reception centre")
    lasting = []
    async for key in world.redis.scan_iter(match=f"{world.store_prefix}:*"):
        name = key.decode()
        ttl = await world.redis.ttl(key)
        if name.endswith((":update_id",)) or ":commands:" in name:
            continue  # a counter and the bot's menu: nothing about anyone
        if not 0 < ttl <= 3 * 86400:
            lasting.append((name, ttl))
    assert lasting == []


async def test_the_page_and_its_files_ask_nothing_of_any_other_host(world: World) -> None:
    async with world.browser() as browser:
        page = await browser.get("/chat?start=QR_gent_7")
        assert page.status_code == 200
        assert page.headers["content-security-policy"] == CSP
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["cache-control"] == "no-store"
        assert '"start": "QR_gent_7"' in page.text
        css = await browser.get("/chat/static/chat.css")
        js = await browser.get("/chat/static/chat.js")
        assert css.status_code == js.status_code == 200
        total = len(page.content) + len(css.content) + len(js.content)
        assert total < 100_000, total
        for body in (page.text, css.text, js.text):
            assert not re.search(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", body, re.I), \
                re.search(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", body, re.I)
            assert "<script>" not in body and " style=" not in body
        bad = await browser.get("/chat?start=%3Cscript%3E")
        assert '"start": null' in bad.text and "<script>alert" not in bad.text


async def test_coming_back_with_the_code_and_leaving_quickly(world: World) -> None:
    async with world.browser() as phone:
        await phone.post("/chat/api/send", json={"text": "/start"})
        events = await events_until(phone, "reception centre")
        code = events[0]["code"]
        left = await phone.post("/chat/api/leave", json={})
        assert left.status_code == 200
        assert 'chat_session=""' in left.headers["set-cookie"] or \
            "Max-Age=0" in left.headers["set-cookie"]
        assert (await phone.get("/chat/api/events", params={"wait": 0})).json()[
            "session"] is False
    async with world.browser() as other:
        wrong = await other.post("/chat/api/resume", json={"code": "AAAA-AAAA"})
        assert wrong.status_code == 404 and wrong.json() == {"error": "bad_code"}
        back = await other.post("/chat/api/resume", json={"code": code.lower().replace("-", " ")})
        assert back.status_code == 200
        again = (await other.get("/chat/api/events", params={"wait": 0})).json()
        assert any("reception centre" in str(e) for e in again["events"])
        # Guessing codes is slow: 4 tries per 15 minutes from one address here.
        answers = [(await other.post("/chat/api/resume", json={"code": "BBBB-BBBB"})).status_code
                   for _ in range(4)]
        assert answers[-1] == 429 and 404 in answers


async def test_a_press_is_only_of_a_button_the_page_was_shown(world: World) -> None:
    async with world.browser() as browser:
        await browser.post("/chat/api/send", json={"text": "/start"})
        events = await events_until(browser, "reception centre")
        message_id, buttons = last_buttons(events)
        forged = await browser.post("/chat/api/press",
                                    json={"message_id": message_id, "data": "forget:1"})
        assert forged.status_code == 409
        no = next(b for b in buttons if b["text"] == "No")
        pressed = await browser.post("/chat/api/press",
                                     json={"message_id": message_id, "data": no["data"]})
        assert pressed.status_code == 200
        await events_until(browser, "What would you like to know?")
    async with world.browser() as stranger:  # no conversation: nothing to press
        assert (await stranger.post("/chat/api/press", json={
            "message_id": message_id, "data": no["data"]})).status_code == 401


async def test_bad_input_gets_a_clear_answer_and_nothing_is_lost(world: World) -> None:
    async with world.browser() as browser:
        too_long = await browser.post("/chat/api/send", json={"text": "x" * 5000})
        assert too_long.status_code == 413 and too_long.json() == {"error": "too_long"}
        assert (await browser.post("/chat/api/send", json={"text": "  "})).status_code == 422
        # Another site's form can post text/plain that parses as JSON: refused.
        forged = await browser.post("/chat/api/send", content=b'{"text": "hi", "x": "="}',
                                    headers={"content-type": "text/plain"})
        assert forged.status_code == 403 and "set-cookie" not in forged.headers
        cross = await browser.post("/chat/api/send", json={"text": "hi"},
                                   headers={"Sec-Fetch-Site": "cross-site"})
        assert cross.status_code == 403
        await browser.post("/chat/api/send", json={"text": "/start"})
        await events_until(browser, "reception centre")
        # The bot is unreachable: the page is told "not sent" (and can send it again).
        url = world.delivery.url
        world.delivery.url = "http://127.0.0.1:9/webhook/web"
        failed = await browser.post("/chat/api/send", json={"text": "/help"})
        assert failed.status_code == 503 and failed.json() == {"error": "unsent"}
        world.delivery.url = url
        events = (await browser.get("/chat/api/events", params={"wait": 0})).json()["events"]
        assert events[-1]["kind"] == "unsent"
        again = await browser.post("/chat/api/send", json={"text": "/help"})
        assert again.status_code == 200
        # Too many messages from one conversation: 12 a minute here.
        statuses = [(await browser.post("/chat/api/send", json={"text": "hello"})).status_code
                    for _ in range(12)]
        assert statuses[-1] == 429 and statuses.count(200) >= 9


async def test_a_shared_place_is_used_once_and_not_kept(world: World) -> None:
    async with world.browser() as browser:
        await browser.post("/chat/api/send", json={"text": "/start"})
        await events_until(browser, "reception centre")
        placed = await browser.post("/chat/api/send",
                                    json={"latitude": 51.0543, "longitude": 3.7174})
        assert placed.status_code == 200
    found = []
    async for key in world.redis.scan_iter(match=f"{world.store_prefix}:*"):
        if await world.redis.type(key) == b"hash":
            found.extend(v for v in (await world.redis.hgetall(key)).values())
        elif await world.redis.type(key) == b"list":
            found.extend(await world.redis.lrange(key, 0, -1))
    assert found and not any(b"51.05" in v or b"3.717" in v for v in found)


async def test_the_bot_api_answers_only_the_web_bot_and_as_telegram_does(world: World) -> None:
    async with world.browser() as bot_side:
        wrong = await bot_side.post(f"/bot{TEST_TOKEN}/getMe")
        assert wrong.status_code == 401 and wrong.json()["ok"] is False
        me = (await bot_side.post(f"/bot{WEB_TOKEN}/getMe")).json()
        assert me["ok"] and me["result"]["id"] == int(WEB_TOKEN.split(":")[0])
        lost = await bot_side.post(f"/bot{WEB_TOKEN}/sendMessage",
                                   json={"chat_id": WEB_CHAT_IDS.start + 5, "text": "hi"})
        assert lost.status_code == 400 and lost.json()["description"].endswith("chat not found")
        polled = await bot_side.post(f"/bot{WEB_TOKEN}/getUpdates")
        assert polled.status_code == 409
        too_big = await bot_side.post(f"/bot{TEST_TOKEN}/sendVoice",
                                      content=b"x" * 3_000_000)
        assert too_big.status_code == 401  # the token first: nothing read for a stranger
        big = await bot_side.post(f"/bot{WEB_TOKEN}/sendVoice", content=b"x" * 3_000_000)
        assert big.status_code == 413
    async with world.browser() as browser:  # an open conversation
        await browser.post("/chat/api/send", json={"text": "/start"})
        events = await events_until(browser, "reception centre")
    [chat_id] = [int(k.decode().rsplit(":", 1)[1]) async for k in world.redis.scan_iter(
        match=f"{world.store_prefix}:chat:*") if k.decode().count(":") == 2]
    async with world.browser() as bot_side:
        unsafe = await bot_side.post(f"/bot{WEB_TOKEN}/sendMessage", json={
            "chat_id": chat_id, "text": "x",
            "reply_markup": {"inline_keyboard": [[{"text": "x", "url": "javascript:1"}]]}})
        assert unsafe.status_code == 400
        assert unsafe.json()["description"].endswith("BUTTON_URL_INVALID")
        # The bot's map link is a working link on the page, and nothing else becomes one.
        linked = await bot_side.post(f"/bot{WEB_TOKEN}/sendMessage", json={
            "chat_id": chat_id, "parse_mode": "HTML",
            "text": 'Here: <a href="https://www.openstreetmap.org/?mlat=51&amp;mlon=3">map</a>'
                    ' &lt;a href="javascript:x"&gt;'})
        assert linked.status_code == 200
    shown = [e for e in (await world.chat_events(chat_id)) if "openstreetmap" in str(e)][-1]
    assert ('<a href="https://www.openstreetmap.org/?mlat=51&amp;mlon=3" '
            'rel="noopener noreferrer" target="_blank">map</a>') in shown["message"]["html"]
    assert '&lt;a href="javascript:x"&gt;' in shown["message"]["html"]
    assert events


async def test_the_bot_takes_from_the_web_chat_only_a_web_persons_own_updates(
        world: World) -> None:
    """Whoever holds the web chat's secret still cannot speak as a Telegram person, in a
    partner group, or for another web person."""
    web_person = WEB_CHAT_IDS.start + 77
    forged = [
        {"update_id": 1, "message": {"message_id": 1, "date": 0, "text": "hi",
                                     "chat": {"id": 5001, "type": "private"},
                                     "from": {"id": 5001, "is_bot": False, "first_name": "W"}}},
        {"update_id": 2, "message": {"message_id": 1, "date": 0, "text": "hi",
                                     "chat": {"id": -100123, "type": "group", "title": "g"},
                                     "from": {"id": web_person, "is_bot": False,
                                              "first_name": "W"}}},
        {"update_id": 3, "message": {"message_id": 1, "date": 0, "text": "hi",
                                     "chat": {"id": web_person + 1, "type": "private"},
                                     "from": {"id": web_person, "is_bot": False,
                                              "first_name": "W"}}},
        {"update_id": 4, "edited_message": {"message_id": 1, "date": 0, "text": "hi",
                                            "chat": {"id": web_person, "type": "private"},
                                            "from": {"id": web_person, "is_bot": False,
                                                     "first_name": "W"}}},
    ]
    for update in forged:
        with pytest.raises(DeliveryFailed, match="status 400"):
            await world.delivery(update)
    await world.delivery({"update_id": 5, "message": {
        "message_id": 1, "date": 0, "text": "/start", "chat": {"id": web_person,
                                                              "type": "private"},
        "from": {"id": web_person, "is_bot": False, "first_name": "Web"}}})


async def test_forget_deletes_the_conversation_and_its_code(world: World) -> None:
    async with world.browser() as browser:
        await browser.post("/chat/api/send", json={"text": "/start"})
        events = await events_until(browser, "reception centre")
        code = events[0]["code"]
        cursor = events[-1]["seq"]
        await browser.post("/chat/api/send", json={"text": "/forget"})
        events = await events_until(browser, "cannot be undone", after=cursor)
        message_id, buttons = last_buttons(events)
        yes = next(b for b in buttons if b["text"] == "Yes, delete")
        await browser.post("/chat/api/press", json={"message_id": message_id, "data": yes["data"]})
        for _ in range(40):  # the page goes back to "Start": the session has no conversation
            answer = (await browser.get("/chat/api/events", params={"wait": 0})).json()
            if answer["session"] is False:
                break
            await asyncio.sleep(0.05)
        assert answer["session"] is False
        assert [k async for k in world.redis.scan_iter(
            match=f"{world.store_prefix}:chat:*")] == []
        # Start again: a new conversation with a new code.
        await browser.post("/chat/api/send", json={"text": "/start"})
        fresh = await events_until(browser, "reception centre")
        assert fresh[0]["code"] != code
    async with world.browser() as other:
        assert (await other.post("/chat/api/resume", json={"code": code})).status_code == 404


async def test_a_session_lives_on_with_its_use(world: World) -> None:
    async with world.browser() as browser:
        await browser.post("/chat/api/send", json={"text": "/start"})
        await events_until(browser, "reception centre")
        [session_key] = [k async for k in world.redis.scan_iter(
            match=f"{world.store_prefix}:session:*")]
        await world.redis.expire(session_key, 60)  # nearly at its end
        answer = await browser.get("/chat/api/events", params={"wait": 0})
        assert answer.json()["session"] is True
        assert await world.redis.ttl(session_key) > 2 * 86400  # the TTL again, from now
        sent = await browser.post("/chat/api/send", json={"text": "/help"})
        assert "Max-Age=259200" in sent.headers["set-cookie"]  # and the cookie with it


async def test_a_code_used_elsewhere_is_told_and_can_be_replaced(world: World) -> None:
    """Someone who read the code over a shoulder opens the conversation: the person's page
    says so, and "New code" ends that other session and the old code."""
    async with world.browser() as phone, world.browser() as other:
        await phone.post("/chat/api/send", json={"text": "/start"})
        events = await events_until(phone, "reception centre")
        code, cursor = events[0]["code"], events[-1]["seq"]
        assert (await other.post("/chat/api/resume", json={"code": code})).status_code == 200
        told = (await phone.get("/chat/api/events", params={"after": cursor, "wait": 0})
                ).json()["events"]
        assert [e["kind"] for e in told] == ["resumed"]
        assert (await phone.post("/chat/api/new-code", json={})).status_code == 200
        gone = (await other.get("/chat/api/events", params={"wait": 0})).json()
        assert gone["session"] is False  # the other browser is signed out
        mine = (await phone.get("/chat/api/events", params={"after": cursor + 1, "wait": 0})
                ).json()["events"]
        [fresh] = [e["code"] for e in mine if e["kind"] == "code"]
        assert fresh != code
        assert (await other.post("/chat/api/resume", json={"code": code})).status_code == 404
        assert (await other.post("/chat/api/resume", json={"code": fresh})).status_code == 200
        # Each limit says which it is, so the page tells how long to wait.
        statuses = [(await other.post("/chat/api/resume", json={"code": "CCCC-CCCC"}))
                    for _ in range(4)]
        assert statuses[-1].status_code == 429
        assert statuses[-1].json() == {"error": "slow_codes"}


async def test_metrics_count_what_pages_asked_and_nothing_about_anyone(world: World) -> None:
    def count(action: str, outcome: str) -> float:
        return registry("webchat").get_sample_value(
            "conex_webchat_requests_total", {"action": action, "outcome": outcome}) or 0.0

    sent, wrong = count("send", "ok"), count("resume", "refused")
    async with world.browser() as browser:
        await browser.post("/chat/api/send", json={"text": "/start"})
        events = await events_until(browser, "reception centre")
        await browser.post("/chat/api/resume", json={"code": "ZZZZ-ZZZZ"})
        scraped = await browser.get("/metrics")  # from this machine: no token needed
    assert scraped.status_code == 200
    assert count("send", "ok") == sent + 1 and count("resume", "refused") == wrong + 1
    text = scraped.text
    assert 'conex_webchat_requests_total{action="send",outcome="ok"}' in text
    code = events[0]["code"]
    assert code not in text and code.replace("-", "") not in text
    assert not re.search(r"\d{16}", text)  # no chat id
