"""Conversation tests over the real Dispatcher: a person sends text, presses buttons and reads
the bot's replies. The fake sits at the Bot API edge (simulator.botapi), never in handlers."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.types import Update
from aiogram.utils.i18n import I18n

from bot.app import create_dispatcher
from bot.engine.flows import FlowSet, load_flows
from bot.i18n import LANGUAGE_ORDER, create_i18n
from bot.settings import Settings
from simulator.botapi import FakeBotAPI, SimUser

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


@dataclass
class Harness:
    fake: FakeBotAPI
    bot: Bot
    dp: Dispatcher

    def person(self, user_id: int = 1001, language_code: str | None = "en") -> Person:
        return Person(self, SimUser(user_id, language_code=language_code))

    async def feed(self, update: dict[str, Any]) -> None:
        await self.dp.feed_update(self.bot, Update.model_validate(update,
                                                                  context={"bot": self.bot}))


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

    async def press_data(self, data: str, message_id: int | None = None) -> list[str]:
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
