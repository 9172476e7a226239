"""The fake Bot API: the subset of Telegram's methods the bot uses, with Telegram's limits
and error messages, plus the user side (a person typing and pressing buttons).

Pure state and methods; the HTTP edge is simulator.server, the in-process edge for tests and
benchmarks is simulator.session.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import math
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from webchat.wire import (  # noqa: F401 - tests import them from here too
    MAX_CALLBACK_DATA,
    MAX_TEXT,
    ApiError,
    Result,
    check_markup,
    check_text,
    decode_params,
    safe_html,
    view,
    visible_text,
)

# Sending limits, enforced only when asked (FakeBotAPI(limits=...)): one message a second to
# one chat (private or group), 20 a minute to one group (negative chat id), 30 a second overall.
#   "strict":     every message counts against the 30 a second (the worst case);
#   "documented": as Telegram documents it: only bulk messages count against the 30 a second;
#                 a message to a person who wrote to the bot in the last REPLY_WINDOW seconds is
#                 a reply, and one chat may take a short burst (PER_CHAT_BURST) before 1 a second.
LIMIT_MODES = ("strict", "documented")
REPLY_WINDOW = 10.0
PER_CHAT_BURST = 3
PER_CHAT_INTERVAL = 1.0
GROUP_LIMIT, GROUP_WINDOW = 20, 60.0
GLOBAL_LIMIT, GLOBAL_WINDOW = 30, 1.0

@dataclass
class SimUser:
    id: int
    first_name: str = "Demo"
    language_code: str | None = "en"

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.language_code:
            data["language_code"] = self.language_code
        return data


@dataclass
class ChatLog:
    """Everything shown in one private chat, as a list of events for the web view."""

    chat_id: int
    messages: dict[int, dict[str, Any]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def add_event(self, kind: str, **payload: Any) -> None:
        self.events.append({"seq": len(self.events) + 1, "kind": kind, **payload})
        self.changed.set()
        self.changed = asyncio.Event()


class FakeBotAPI:
    def __init__(self, username: str = "conex_demo_bot", first_name: str = "CONEX info", *,
                 enforce_limits: bool = False, limits: str | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.username = username
        self.first_name = first_name
        # Opt-in: sendMessage answers 429 (with retry_after) past Telegram's sending limits,
        # measured with `clock` (seconds; tests share a virtual clock with the sender).
        # enforce_limits=True is limits="strict".
        if limits is None and enforce_limits:
            limits = "strict"
        if limits is not None and limits not in LIMIT_MODES:
            raise ValueError(f"limits must be one of {LIMIT_MODES}")
        self.limits = limits
        self.enforce_limits = limits is not None
        self.clock = clock
        self.too_many_requests = 0
        self.sent_messages = 0
        self._last_update: dict[int, float] = {}  # chat id -> when the person last wrote
        self._chat_sent: dict[int, deque[float]] = {}
        self._last_sent: dict[int, float] = {}
        self._group_sent: dict[int, deque[float]] = {}
        self._all_sent: deque[float] = deque(maxlen=GLOBAL_LIMIT)
        self.queue_updates = True
        self.updates: list[dict[str, Any]] = []
        self.update_ids = itertools.count(1)
        self.message_ids = itertools.count(1)
        self.callback_ids = itertools.count(1)
        self.new_update = asyncio.Event()
        self.chats: dict[int, ChatLog] = {}
        self.commands: dict[str | None, list[dict[str, Any]]] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.callbacks: dict[str, int] = {}  # callback_query_id -> chat id
        self.files: dict[str, bytes] = {}  # uploaded voice messages by file_id
        self.uploads = 0  # how many sends carried the file itself (not a file_id)
        # Tests: make the next call of a method (None: of any method) fail with this error.
        self.failures: list[tuple[str | None, ApiError]] = []
        self._methods: dict[str, Callable[[str, dict[str, Any]], Awaitable[Any]]] = {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "deleteWebhook": self._true,
            "setWebhook": self._true,
            "close": self._true,
            "logOut": self._true,
            "sendChatAction": self._true,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._true,
            "sendMessage": self._send_message,
            "sendVoice": self._send_voice,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_reply_markup,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
        }

    # ---- the Bot API side ------------------------------------------------------------
    @staticmethod
    def bot_id(token: str) -> int:
        head = token.split(":", 1)[0]
        if not head.isdigit() or ":" not in token:
            raise ApiError(401, "Unauthorized")
        return int(head)

    async def call(self, token: str, method: str, params: dict[str, Any]) -> Result:
        try:
            self.bot_id(token)
            handler = self._methods.get(method)
            if handler is None:
                raise ApiError(404, "Not Found: method not found")
            for i, (failing, error) in enumerate(self.failures):
                if failing in (None, method):
                    del self.failures[i]
                    raise error
            self.calls.append((method, params))
            return 200, {"ok": True, "result": await handler(token, params)}
        except ApiError as exc:
            return exc.status, exc.payload()

    async def _true(self, token: str, params: dict[str, Any]) -> bool:
        return True

    async def _get_me(self, token: str, params: dict[str, Any]) -> dict[str, Any]:
        return {"id": self.bot_id(token), "is_bot": True, "first_name": self.first_name,
                "username": self.username, "can_join_groups": True,
                "can_read_all_group_messages": False, "supports_inline_queries": False}

    async def _get_updates(self, token: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        timeout = float(params.get("timeout") or 0)
        if offset:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        if not self.updates and timeout > 0:
            event = self.new_update
            try:
                await asyncio.wait_for(event.wait(), timeout=timeout)
            except TimeoutError:
                return []
        return self.updates[:limit]

    async def _set_my_commands(self, token: str, params: dict[str, Any]) -> bool:
        commands = params.get("commands") or []
        for command in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", command.get("command", "")):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(command.get("description", "")) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands[params.get("language_code")] = commands
        return True

    async def _get_my_commands(self, token: str, params: dict[str, Any]) -> list[Any]:
        return self.commands.get(params.get("language_code"), [])

    def _chat(self, chat_id: Any) -> ChatLog:
        if not isinstance(chat_id, int) or chat_id not in self.chats:
            raise ApiError(400, "Bad Request: chat not found")
        return self.chats[chat_id]

    def _bot_user(self, token: str) -> dict[str, Any]:
        return {"id": self.bot_id(token), "is_bot": True, "first_name": self.first_name,
                "username": self.username}

    def _is_reply(self, chat_id: int, now: float) -> bool:
        last = self._last_update.get(chat_id)
        return (self.limits == "documented" and chat_id > 0 and last is not None
                and now - last < REPLY_WINDOW)

    def _check_limits(self, chat_id: int) -> float:
        """Sliding windows, as Telegram counts: raise 429 if this send would go over a limit;
        otherwise return the time to record once the message is accepted."""
        now = self.clock()
        ready = -math.inf
        if self.limits == "documented":  # a short burst, then one a second
            sent = self._chat_sent.get(chat_id)
            if sent is not None and len(sent) >= PER_CHAT_BURST:
                ready = max(ready, sent[0] + PER_CHAT_BURST * PER_CHAT_INTERVAL)
        else:
            last = self._last_sent.get(chat_id)
            if last is not None:
                ready = max(ready, last + PER_CHAT_INTERVAL)
        group = self._group_sent.get(chat_id)
        if group is not None and len(group) >= GROUP_LIMIT:
            ready = max(ready, group[0] + GROUP_WINDOW)
        if not self._is_reply(chat_id, now) and len(self._all_sent) >= GLOBAL_LIMIT:
            ready = max(ready, self._all_sent[0] + GLOBAL_WINDOW)
        if ready > now:
            self.too_many_requests += 1
            retry_after = max(1, math.ceil(ready - now))
            raise ApiError(429, f"Too Many Requests: retry after {retry_after}",
                           retry_after=retry_after)
        return now

    def _record_sent(self, chat_id: int, now: float) -> None:
        self._last_sent[chat_id] = now
        self._chat_sent.setdefault(chat_id, deque(maxlen=PER_CHAT_BURST)).append(now)
        if not self._is_reply(chat_id, now):
            self._all_sent.append(now)
        if chat_id < 0:
            self._group_sent.setdefault(chat_id, deque(maxlen=GROUP_LIMIT)).append(now)

    async def _send_message(self, token: str, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(params.get("chat_id"))
        sent_at = self._check_limits(chat.chat_id) if self.enforce_limits else None
        text, rendered = check_text(params)
        markup = check_markup(params.get("reply_markup"))
        if sent_at is not None:
            self._record_sent(chat.chat_id, sent_at)
        self.sent_messages += 1
        chat_info: dict[str, Any] = (
            {"id": chat.chat_id, "type": "group", "title": "Demo group"} if chat.chat_id < 0
            else {"id": chat.chat_id, "type": "private", "first_name": "Demo"})
        message: dict[str, Any] = {
            "message_id": next(self.message_ids), "date": int(time.time()),
            "chat": chat_info, "from": self._bot_user(token), "text": text,
        }
        if markup and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        replying = (params.get("reply_parameters") or {}).get("message_id") or params.get(
            "reply_to_message_id")
        if replying in chat.messages:  # Telegram gives the quoted message back, with presses
            message["reply_to_message"] = dict(chat.messages[replying])
        chat.messages[message["message_id"]] = message
        chat.add_event("message", message=view(message, rendered, markup, mine=False))
        return message

    async def _send_voice(self, token: str, params: dict[str, Any]) -> dict[str, Any]:
        """A voice message: an upload (bytes, as aiogram's multipart file) or a file_id of an
        earlier upload; the answer carries the file_id to send it again without uploading."""
        chat = self._chat(params.get("chat_id"))
        sent_at = self._check_limits(chat.chat_id) if self.enforce_limits else None
        voice = params.get("voice")
        if isinstance(voice, bytes | bytearray):
            if not bytes(voice).startswith(b"OggS"):
                raise ApiError(400, "Bad Request: VOICE_INVALID")
            file_id = f"voice-{len(self.files) + 1}-{hash(bytes(voice)) & 0xFFFFFF:06x}"
            self.files[file_id] = bytes(voice)
            self.uploads += 1
        elif isinstance(voice, str) and voice in self.files:
            file_id = voice
        else:
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        if sent_at is not None:
            self._record_sent(chat.chat_id, sent_at)
        self.sent_messages += 1
        message: dict[str, Any] = {
            "message_id": next(self.message_ids), "date": int(time.time()),
            "chat": {"id": chat.chat_id, "type": "private", "first_name": "Demo"},
            "from": self._bot_user(token),
            "voice": {"file_id": file_id, "file_unique_id": file_id, "duration": 1,
                      "mime_type": "audio/ogg", "file_size": len(self.files[file_id])},
        }
        chat.messages[message["message_id"]] = message
        shown = view(message, "🔊", None, mine=False)
        shown["voice"] = f"/simulator/api/voice/{file_id}"
        chat.add_event("message", message=shown)
        return message

    async def _edit_message_text(self, token: str, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(params.get("chat_id"))
        message = chat.messages.get(params.get("message_id"))  # type: ignore[arg-type]
        if message is None or message["from"].get("is_bot") is not True:
            raise ApiError(400, "Bad Request: message to edit not found")
        text, rendered = check_text(params)
        markup = check_markup(params.get("reply_markup"))
        if text == message["text"] and markup == message.get("reply_markup"):
            raise ApiError(400, "Bad Request: message is not modified: specified new message "
                                "content and reply markup are exactly the same as a current "
                                "content and reply markup of the message")
        message["text"] = text
        message.pop("reply_markup", None)
        if markup and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        message["edit_date"] = int(time.time())
        chat.add_event("edit", message=view(message, rendered, markup, mine=False))
        return message

    async def _edit_reply_markup(self, token: str, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(params.get("chat_id"))
        message = chat.messages.get(params.get("message_id"))  # type: ignore[arg-type]
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        markup = check_markup(params.get("reply_markup"))
        message.pop("reply_markup", None)
        if markup:
            message["reply_markup"] = markup
        chat.add_event("edit", message=view(message, None, markup, mine=False))
        return message

    async def _delete_message(self, token: str, params: dict[str, Any]) -> bool:
        chat = self._chat(params.get("chat_id"))
        if chat.messages.pop(params.get("message_id"), None) is None:  # type: ignore[arg-type]
            raise ApiError(400, "Bad Request: message to delete not found")
        chat.add_event("delete", message_id=params.get("message_id"))
        return True

    async def _answer_callback_query(self, token: str, params: dict[str, Any]) -> bool:
        query_id = str(params.get("callback_query_id"))
        chat_id = self.callbacks.get(query_id)
        if chat_id is None:
            raise ApiError(400, "Bad Request: query is too old and response timeout expired "
                                "or query ID is invalid")
        if params.get("text"):
            self.chats[chat_id].add_event("toast", text=str(params["text"]))
        return True

    # ---- the person's side -----------------------------------------------------------
    def _push(self, update: dict[str, Any]) -> dict[str, Any]:
        if self.enforce_limits:  # the person just wrote: the bot's answers are replies
            event = update.get("message") or update.get("callback_query", {}).get("message")
            user = (update.get("message") or update.get("callback_query") or {}).get("from", {})
            chat_id = (event or {}).get("chat", {}).get("id", user.get("id"))
            if isinstance(chat_id, int):
                self._last_update[chat_id] = self.clock()
        if self.queue_updates:
            self.updates.append(update)
            self.new_update.set()
            self.new_update = asyncio.Event()
        return update

    def open_chat(self, user: SimUser) -> ChatLog:
        return self.chats.setdefault(user.id, ChatLog(user.id))

    def open_group(self, chat_id: int) -> ChatLog:
        """A group the bot is a member of (chat ids of groups are negative)."""
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        return self.chats.setdefault(chat_id, ChatLog(chat_id))

    def user_message(self, user: SimUser, text: str | None = None, *,
                     chat_id: int | None = None, reply_to: int | None = None,
                     **content: Any) -> dict[str, Any]:
        """The person sends a message: text, or other content (sticker=..., location=...).
        ``chat_id`` (negative) sends it in a group; ``reply_to`` quotes a message."""
        chat = self.open_group(chat_id) if chat_id is not None else self.open_chat(user)
        chat_info: dict[str, Any] = (
            {"id": chat.chat_id, "type": "group", "title": "Demo group"} if chat.chat_id < 0
            else {"id": chat.chat_id, "type": "private", "first_name": user.first_name})
        message: dict[str, Any] = {
            "message_id": next(self.message_ids), "date": int(time.time()),
            "chat": chat_info, "from": user.as_dict(),
        }
        if text is not None:
            message["text"] = text
            if text.startswith("/"):
                command = text.split()[0]
                message["entities"] = [{"type": "bot_command", "offset": 0,
                                        "length": len(command)}]
        if reply_to is not None and reply_to in chat.messages:
            message["reply_to_message"] = dict(chat.messages[reply_to])
        message.update(content)
        chat.messages[message["message_id"]] = message
        label = text if text is not None else "[" + ", ".join(content) + "]"
        chat.add_event("message", message={"message_id": message["message_id"],
                                           "html": html.escape(label), "buttons": [],
                                           "mine": True, "sender": user.first_name})
        return self._push({"update_id": next(self.update_ids), "message": message})

    def user_press(self, user: SimUser, message_id: int, data: str,
                   chat_id: int | None = None) -> dict[str, Any]:
        """The person presses an inline button (any data: the bot must cope with forgeries).
        ``chat_id`` (negative) presses a button on a message in a group."""
        chat = self.open_group(chat_id) if chat_id is not None else self.open_chat(user)
        message = chat.messages.get(message_id)
        query_id = str(next(self.callback_ids))
        self.callbacks[query_id] = chat.chat_id
        query: dict[str, Any] = {"id": query_id, "from": user.as_dict(),
                                 "chat_instance": str(chat.chat_id), "data": data}
        if message is not None:
            query["message"] = message
        return self._push({"update_id": next(self.update_ids), "callback_query": query})
