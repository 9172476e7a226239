"""Conversation tests over the real Dispatcher: a person sends text, presses buttons and reads
the bot's replies. The fake sits at the Bot API edge (simulator.botapi), never in handlers."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from aiogram import Bot, Dispatcher
from aiogram.types import Update
from aiogram.utils.i18n import I18n
from pydantic import SecretStr
from redis.asyncio import Redis

from bot.app import create_dispatcher, create_web_bot
from bot.channels import WEB_CHAT_IDS
from bot.engine.flows import FlowSet, load_flows
from bot.i18n import LANGUAGE_ORDER, create_i18n
from bot.settings import Settings
from simulator.botapi import ApiError, ChatLog, FakeBotAPI, SimUser
from simulator.session import InProcessSession
from webchat.botapi import WebBotAPI
from webchat.store import ChatStore

WEB_TOKEN = "4343:web-test-token"

# Every shipped language, in the order of the language picker.
LANGS = list(LANGUAGE_ORDER)  # test_screens checks that each has its catalogue


def free_port() -> int:
    """A TCP port nobody listens on now (for a server the test starts)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@cache
def flows_at(directory: Path) -> FlowSet:
    """The flows of a directory, parsed once per test session (a FlowSet is immutable)."""
    return load_flows(directory)


@cache
def catalogues_at(locales_dir: Path, default_locale: str) -> I18n:
    """The compiled gettext catalogues, loaded once per test session (conftest compiles them
    before any test runs)."""
    return create_i18n(locales_dir, default_locale)


def dispatcher_for(settings: Settings, **kwargs: Any) -> Dispatcher:
    """``create_dispatcher`` with the flows and catalogues of ``settings`` parsed once per
    session instead of once per test; everything else is built fresh."""
    return create_dispatcher(settings, flows=flows_at(settings.flows_dir),
                             i18n=catalogues_at(settings.locales_dir, settings.default_locale),
                             **kwargs)


class WatchingSession(InProcessSession):
    """The web bot's session in tests: every answer of the web chat's Bot API (real, on
    Redis) is also kept in a ChatLog per chat, so that a test reads a web person's screen as
    it reads a Telegram person's (Person's properties are not async)."""

    def __init__(self, api: WebBotAPI, chats: dict[int, ChatLog]) -> None:
        super().__init__(api)
        self.chats = chats
        # Tests: make the next call of a method fail with this error (as FakeBotAPI.failures).
        self.failures: list[tuple[str | None, ApiError]] = []

    async def call(self, token: str, method: str,
                   params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        for i, (failing, error) in enumerate(self.failures):
            if failing in (None, method):
                del self.failures[i]
                return error.status, error.payload()
        return await super().call(token, method, params)

    def answered(self, method: str, params: dict[str, Any], status: int,
                 body: dict[str, Any]) -> None:
        if status != 200:
            return
        result = body["result"]
        if method == "answerCallbackQuery":
            if params.get("text"):
                asked = int(str(params["callback_query_id"]).split("-")[0])
                self.chats[asked].add_event("toast", text=str(params["text"]))
            return
        chat_id = params.get("chat_id")
        if not isinstance(chat_id, int):
            return
        chat = self.chats.setdefault(chat_id, ChatLog(chat_id))
        if method in ("sendMessage", "sendVoice"):
            chat.messages[result["message_id"]] = result
            chat.add_event("message", message={"message_id": result["message_id"],
                                               "mine": False})
        elif method in ("editMessageText", "editMessageReplyMarkup"):
            chat.messages[result["message_id"]] = result
            chat.add_event("edit", message={"message_id": result["message_id"], "mine": False})
        elif method == "deleteMessage":
            chat.messages.pop(params["message_id"], None)
            chat.add_event("delete", message_id=params["message_id"])


@dataclass
class WebSide:
    """The web chat in a test: its Bot API on Redis, the web Bot, and what it showed."""

    api: WebBotAPI
    bot: Bot
    chats: dict[int, ChatLog] = field(default_factory=dict)


def web_side(redis: Redis, prefix: str) -> WebSide:
    """The web chat's Bot API on Redis and the web Bot talking to it in process."""
    chats: dict[int, ChatLog] = {}
    # Its own prefix: a test that makes the bot's Redis lose everything keeps the web chat.
    api = WebBotAPI(ChatStore(redis, f"webchat-{prefix}", ttl_seconds=3600), WEB_TOKEN)
    web_settings = Settings(_env_file=None, webchat_bot_token=SecretStr(WEB_TOKEN))
    web_bot = create_web_bot(web_settings, session=WatchingSession(api, chats))
    assert web_bot is not None
    return WebSide(api, web_bot, chats)


@dataclass
class Harness:
    fake: FakeBotAPI
    bot: Bot
    dp: Dispatcher
    web: WebSide | None = None  # the person's channel is the web chat (channel fixture)

    @property
    def channel(self) -> str:
        return "web" if self.web is not None else "telegram"

    def person(self, user_id: int = 1001, language_code: str | None = "en") -> Person:
        user = SimUser(user_id, language_code=language_code)
        if self.web is not None:
            return WebPerson(self, user)
        return Person(self, user)

    def fail_next(self, method: str | None, error: ApiError) -> None:
        """The next call of ``method`` to the person's Bot API server fails with ``error``."""
        if self.web is not None:
            session = self.web.bot.session
            assert isinstance(session, WatchingSession)
            session.failures.append((method, error))
        else:
            self.fake.failures.append((method, error))

    @property
    def person_bot(self) -> Bot:
        """The bot a person talks to: Telegram's, or the web chat's."""
        return self.web.bot if self.web is not None else self.bot

    def chat_id_of(self, user_id: int) -> int:
        """The private chat of the person with this test id, on the harness's channel."""
        return WEB_CHAT_IDS.start + user_id if self.web is not None else user_id

    async def feed(self, update: dict[str, Any]) -> None:
        await self.dp.feed_update(self.bot, Update.model_validate(update,
                                                                  context={"bot": self.bot}))

    async def feed_web(self, update: dict[str, Any]) -> None:
        assert self.web is not None
        bot = self.web.bot
        await self.dp.feed_update(bot, Update.model_validate(update, context={"bot": bot}))


@dataclass
class Person:
    h: Harness
    user: SimUser
    seen: int = 0
    toasts: list[str] = field(default_factory=list)

    @property
    def chat(self) -> Any:
        return self.h.fake.open_chat(self.user)

    def _collect(self) -> list[dict[str, Any]]:
        events = self.chat.events[self.seen:]
        self.seen = len(self.chat.events)
        self.toasts.extend(e["text"] for e in events if e["kind"] == "toast")
        return events

    async def send(self, text: str | None = None, **content: Any) -> list[str]:
        """Send a message; return the texts of the bot messages that appeared or changed."""
        self._collect()
        await self.h.feed(self.h.fake.user_message(self.user, text, **content))
        return self.replies()

    async def press(self, label: str) -> list[str]:
        """Press the button with this label on the newest bot message that has buttons."""
        for text, data in self.buttons_with_data():
            if text == label:
                return await self.press_data(data)
        raise AssertionError(f"no button {label!r}; buttons: {self.buttons}")

    async def press_data(self, data: str, message_id: int | None = None,
                         forge: bool = False) -> list[str]:
        self._collect()
        message_id = message_id or self.last_message_id()
        await self.h.feed(self.h.fake.user_press(self.user, message_id, data))
        return self.replies()

    def replies(self) -> list[str]:
        events = self._collect()
        out = []
        for event in events:
            if event["kind"] in ("message", "edit") and not event["message"]["mine"]:
                message = self.chat.messages[event["message"]["message_id"]]
                out.append(message.get("text", "🔊 (voice)" if "voice" in message else ""))
        return out

    def bot_messages(self) -> list[dict[str, Any]]:
        return [m for m in self.chat.messages.values() if m["from"].get("is_bot")]

    def last_message_id(self) -> int:
        with_buttons = [m for m in self.bot_messages() if m.get("reply_markup")]
        return int((with_buttons or self.bot_messages())[-1]["message_id"])

    @property
    def text(self) -> str:
        """The newest bot message's text (a voice message has none: the one before)."""
        return str([m for m in self.bot_messages() if "text" in m][-1]["text"])

    def buttons_with_data(self) -> list[tuple[str, str]]:
        with_buttons = [m for m in self.bot_messages() if m.get("reply_markup")]
        if not with_buttons:
            return []
        rows = with_buttons[-1]["reply_markup"]["inline_keyboard"]
        return [(b["text"], b["callback_data"]) for row in rows for b in row]

    @property
    def buttons(self) -> list[str]:
        return [text for text, _ in self.buttons_with_data()]

    @property
    def chat_id(self) -> int:
        return self.user.id


@dataclass
class WebPerson(Person):
    """The same person on the web chat: what they type and press goes through the web
    chat's own person side (webchat.botapi: the update the page's POST makes), and the bot
    answers through the web Bot to the web chat's Bot API."""

    opened: bool = False

    @property
    def web(self) -> WebSide:
        assert self.h.web is not None
        return self.h.web

    @property
    def chat_id(self) -> int:
        return WEB_CHAT_IDS.start + self.user.id

    @property
    def chat(self) -> Any:
        return self.web.chats.setdefault(self.chat_id, ChatLog(self.chat_id))

    async def _open(self) -> None:
        if not self.opened:
            await self.web.api.store.open(self.user.language_code, chat_id=self.chat_id)
            self.opened = True

    async def send(self, text: str | None = None, **content: Any) -> list[str]:
        if set(content) - {"location"}:
            pytest.skip("the web chat sends text and places only (no stickers, photos, "
                        "contacts or quoted replies)")
        await self._open()
        self._collect()
        update = await self.web.api.person_message(self.chat_id, text=text,
                                                   location=content.get("location"),
                                                   shown="📍")
        message = update["message"]
        self.chat.messages[message["message_id"]] = message
        self.chat.add_event("message", message={"message_id": message["message_id"],
                                                "mine": True})
        await self.h.feed_web(update)
        return self.replies()

    async def press_data(self, data: str, message_id: int | None = None,
                         forge: bool = False) -> list[str]:
        await self._open()
        self._collect()
        message_id = message_id or self.last_message_id()
        update = await self.web.api.person_press(self.chat_id, message_id, data)
        if update is None:
            # Not a button of that message: the web chat refuses it (409). A test that means
            # a forged press (the bot must cope) says so; anything else is a failure.
            assert forge, f"the web chat refuses a press of {data!r} on {message_id}"
            update = {"update_id": await self.web.api.store.next_update_id(),
                      "callback_query": {"id": f"{self.chat_id}-forged-{message_id}",
                                         "from": {"id": self.chat_id, "is_bot": False,
                                                  "first_name": "Web"},
                                         "chat_instance": str(self.chat_id), "data": data,
                                         **({"message": self.chat.messages[message_id]}
                                            if message_id in self.chat.messages else {})}}
            await self.web.api.store.remember_callback(update["callback_query"]["id"],
                                                       self.chat_id)
        await self.h.feed_web(update)
        return self.replies()
