"""Which channel a chat is on: Telegram or our own web chat (webchat/).

The web chat's Bot API server gives its chats ids from WEB_CHAT_IDS (2^52 up to 2^53 - 1).
Telegram documents that its ids have at most 52 significant bits ("a 64-bit integer or a
double-precision float type are safe"), so the two never meet, and the channel of a chat id
is a pure function: referrals, the outbox and follow-up enrolments need no column for it
(docs/decisions.md, "Web chat ids"). 2^53 - 1 is also JavaScript's largest safe integer.
"""

from __future__ import annotations

from typing import Literal

from aiogram.methods import TelegramMethod

Channel = Literal["telegram", "web"]
CHANNELS: tuple[Channel, ...] = ("telegram", "web")
WEB_CHAT_IDS = range(2**52, 2**53)


def channel_of(chat_id: int) -> Channel:
    return "web" if chat_id in WEB_CHAT_IDS else "telegram"


def is_web(chat_id: int) -> bool:
    return chat_id in WEB_CHAT_IDS


class ForgetChat(TelegramMethod[bool]):
    """The web chat's one method beyond Telegram's (webchat.botapi.FORGET_METHOD): after
    /forget, the conversation's messages and its code are deleted there too."""

    __returning__ = bool
    __api_method__ = "conexForgetChat"

    chat_id: int


class KeepChat(TelegramMethod[bool]):
    """After a booking on the web chat: the conversation's id and code (not its messages)
    are kept ``days`` from now (WEBCHAT_KEEP_DAYS), so that the counsellor's answers and the
    follow-up questions can wait there for the person to come back with the code."""

    __returning__ = bool
    __api_method__ = "conexKeepChat"

    chat_id: int
    days: int
