"""The web chat's Bot API: what the bot's second aiogram Bot calls (WEBCHAT_API_URL), the
subset of Telegram's methods the bot uses, with Telegram's answers and errors, on
conversations kept in webchat.store. Also the person's side: what they type or press becomes
a Telegram-shaped update, delivered to the bot (webchat.app's ``Deliver``).

Two extra methods (bot.channels): ``conexForgetChat``: after /forget the bot asks the web
chat to delete the conversation too (Telegram's equivalent is the person's own "Delete chat");
``conexKeepChat``: after consent to the follow-up questions, the conversation and its code are
kept longer than the TTL, so that the questions can wait for the person to come back.
"""

from __future__ import annotations

import hmac
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bot.engine.callbacks import LangCb
from webchat.store import ChatStore
from webchat.wire import ApiError, Result, check_markup, check_text, view

FORGET_METHOD = "conexForgetChat"
KEEP_METHOD = "conexKeepChat"
PERSON_NAME = "Web"  # Telegram requires a first name; the bot never keeps it
MAX_VOICE = 1_000_000

Handler = Callable[[dict[str, Any]], Awaitable[Any]]


class WebBotAPI:
    def __init__(self, store: ChatStore, token: str, *, first_name: str = "CONEX",
                 username: str = "conex_web", keep_days: int = 730) -> None:
        head = token.split(":", 1)[0]
        if not head.isdigit() or ":" not in token:
            raise ValueError("WEBCHAT_BOT_TOKEN must look like a bot token: <digits>:<secret>")
        self.store = store
        self.token = token
        self.bot_id = int(head)
        self.first_name = first_name
        self.username = username
        self.keep_days = keep_days
        self._methods: dict[str, Handler] = {
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
            FORGET_METHOD: self._forget_chat,
            KEEP_METHOD: self._keep_chat,
        }

    # ---- the bot's side ----------------------------------------------------------------
    def is_token(self, token: str) -> bool:
        return hmac.compare_digest(token.encode("utf-8"), self.token.encode("utf-8"))

    async def call(self, token: str, method: str, params: dict[str, Any]) -> Result:
        try:
            if not self.is_token(token):
                raise ApiError(401, "Unauthorized")
            handler = self._methods.get(method)
            if handler is None:
                raise ApiError(404, "Not Found: method not found")
            return 200, {"ok": True, "result": await handler(params)}
        except ApiError as exc:
            return exc.status, exc.payload()

    def _bot_user(self) -> dict[str, Any]:
        return {"id": self.bot_id, "is_bot": True, "first_name": self.first_name,
                "username": self.username}

    async def _true(self, params: dict[str, Any]) -> bool:
        return True

    async def _get_me(self, params: dict[str, Any]) -> dict[str, Any]:
        return {**self._bot_user(), "can_join_groups": False,
                "can_read_all_group_messages": False, "supports_inline_queries": False}

    async def _get_updates(self, params: dict[str, Any]) -> list[Any]:
        raise ApiError(409, "Conflict: the web chat delivers updates to the bot's webhook "
                            "(WEBCHAT_BOT_WEBHOOK_URL)")

    async def _set_my_commands(self, params: dict[str, Any]) -> bool:
        commands = params.get("commands") or []
        if not isinstance(commands, list):
            raise ApiError(400, "Bad Request: can't parse commands JSON object")
        for command in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(command.get("command", ""))):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        await self.store.set_commands(params.get("language_code"), [
            {"command": c["command"], "description": c["description"]} for c in commands])
        return True

    async def _get_my_commands(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        return await self.store.commands(params.get("language_code"))

    async def _chat(self, params: dict[str, Any]) -> int:
        chat_id = params.get("chat_id")
        if not isinstance(chat_id, int) or not await self.store.exists(chat_id):
            raise ApiError(400, "Bad Request: chat not found")
        return chat_id

    def _chat_info(self, chat_id: int) -> dict[str, Any]:
        return {"id": chat_id, "type": "private", "first_name": PERSON_NAME}

    async def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = await self._chat(params)
        text, rendered = check_text(params)
        markup = check_markup(params.get("reply_markup"))
        message: dict[str, Any] = {
            "message_id": await self.store.next_message_id(chat_id), "date": int(time.time()),
            "chat": self._chat_info(chat_id), "from": self._bot_user(), "text": text,
        }
        if markup and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        replying = (params.get("reply_parameters") or {}).get("message_id") or params.get(
            "reply_to_message_id")
        quoted = await self.store.message(chat_id, replying)
        if quoted is not None:  # Telegram gives the quoted message back, with presses
            quoted.pop("reply_to_message", None)
            message["reply_to_message"] = quoted
        await self.store.save_message(chat_id, message)
        await self.store.add_event(chat_id, "message",
                                   message=view(message, rendered, markup, mine=False))
        await self.store.touch(chat_id)
        return message

    async def _send_voice(self, params: dict[str, Any]) -> dict[str, Any]:
        """A voice message: an upload (OGG bytes) or the file_id of an earlier one."""
        chat_id = await self._chat(params)
        voice = params.get("voice")
        if isinstance(voice, bytes | bytearray):
            if not bytes(voice).startswith(b"OggS") or len(voice) > MAX_VOICE:
                raise ApiError(400, "Bad Request: VOICE_INVALID")
            data = bytes(voice)
            file_id = await self.store.save_file(data)
        elif isinstance(voice, str) and (found := await self.store.file(voice)) is not None:
            file_id, data = voice, found
        else:
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        message: dict[str, Any] = {
            "message_id": await self.store.next_message_id(chat_id), "date": int(time.time()),
            "chat": self._chat_info(chat_id), "from": self._bot_user(),
            "voice": {"file_id": file_id, "file_unique_id": file_id, "duration": 1,
                      "mime_type": "audio/ogg", "file_size": len(data)},
        }
        await self.store.save_message(chat_id, message)
        shown = view(message, "🔊", None, mine=False)
        shown["voice"] = f"/chat/api/voice/{file_id}"
        await self.store.add_event(chat_id, "message", message=shown)
        await self.store.touch(chat_id)
        return message

    async def _edit_message_text(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = await self._chat(params)
        message = await self.store.message(chat_id, params.get("message_id"))
        if message is None or message["from"].get("is_bot") is not True:
            raise ApiError(400, "Bad Request: message to edit not found")
        text, rendered = check_text(params)
        markup = check_markup(params.get("reply_markup"))
        if text == message.get("text") and markup == message.get("reply_markup"):
            raise ApiError(400, "Bad Request: message is not modified: specified new message "
                                "content and reply markup are exactly the same as a current "
                                "content and reply markup of the message")
        message["text"] = text
        message.pop("reply_markup", None)
        if markup and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        message["edit_date"] = int(time.time())
        await self.store.save_message(chat_id, message)
        await self.store.add_event(chat_id, "edit",
                                   message=view(message, rendered, markup, mine=False))
        return message

    async def _edit_reply_markup(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = await self._chat(params)
        message = await self.store.message(chat_id, params.get("message_id"))
        if message is None or message["from"].get("is_bot") is not True:
            raise ApiError(400, "Bad Request: message to edit not found")
        markup = check_markup(params.get("reply_markup"))
        message.pop("reply_markup", None)
        if markup:
            message["reply_markup"] = markup
        await self.store.save_message(chat_id, message)
        await self.store.add_event(chat_id, "edit",
                                   message=view(message, None, markup, mine=False))
        return message

    async def _delete_message(self, params: dict[str, Any]) -> bool:
        chat_id = await self._chat(params)
        message_id = params.get("message_id")
        if not isinstance(message_id, int) or not await self.store.drop_message(chat_id,
                                                                                 message_id):
            raise ApiError(400, "Bad Request: message to delete not found")
        await self.store.add_event(chat_id, "delete", message_id=message_id)
        return True

    async def _answer_callback_query(self, params: dict[str, Any]) -> bool:
        query_id = str(params.get("callback_query_id"))
        chat_id = await self.store.callback_chat(query_id)
        if chat_id is None:
            raise ApiError(400, "Bad Request: query is too old and response timeout expired "
                                "or query ID is invalid")
        if params.get("text"):
            await self.store.add_event(chat_id, "toast", text=str(params["text"])[:200])
        return True

    async def _forget_chat(self, params: dict[str, Any]) -> bool:
        chat_id = await self._chat(params)
        await self.store.forget(chat_id)
        return True

    async def _keep_chat(self, params: dict[str, Any]) -> bool:
        """``days``: how long from now (at most WEBCHAT_KEEP_DAYS); it never shortens."""
        chat_id = await self._chat(params)
        days = params.get("days")
        if type(days) is not int or not days >= 1:
            raise ApiError(400, "Bad Request: days must be a positive integer")
        await self.store.keep(chat_id, min(days, self.keep_days) * 86400)
        return True

    # ---- the person's side -------------------------------------------------------------
    def _person(self, chat_id: int, lang: str | None) -> dict[str, Any]:
        person: dict[str, Any] = {"id": chat_id, "is_bot": False, "first_name": PERSON_NAME}
        if lang:
            person["language_code"] = lang.replace("_", "-")
        return person

    async def person_message(self, chat_id: int, *, text: str | None = None,
                             location: dict[str, float] | None = None,
                             shown: str = "") -> dict[str, Any]:
        """What the person wrote (or the place they shared), as the update for the bot; it
        is shown in the conversation at once (``shown``: how, for a shared place)."""
        lang = await self.store.lang(chat_id)
        message: dict[str, Any] = {
            "message_id": await self.store.next_message_id(chat_id), "date": int(time.time()),
            "chat": self._chat_info(chat_id), "from": self._person(chat_id, lang),
        }
        if text is not None:
            message["text"] = text
            if text.startswith("/"):
                command = text.split()[0]
                message["entities"] = [{"type": "bot_command", "offset": 0,
                                        "length": len(command)}]
        if location is not None:
            message["location"] = location
        # Kept for presses and replies, without the place: a shared location is used once,
        # by the bot, and never stored (docs/decisions.md).
        await self.store.save_message(chat_id, {k: v for k, v in message.items()
                                                if k != "location"})
        await self.store.add_event(chat_id, "message", message=view(
            {**message, "text": text if text is not None else shown}, None, None, mine=True))
        await self.store.touch(chat_id)
        return {"update_id": await self.store.next_update_id(), "message": message}

    async def person_press(self, chat_id: int, message_id: int,
                           data: str) -> dict[str, Any] | None:
        """A press on one of the bot's buttons, as the update for the bot; None when that
        message has no such button (a page may only press what it was shown, as in
        Telegram). A language button also sets the page's language."""
        message = await self.store.message(chat_id, message_id)
        if message is None or message["from"].get("is_bot") is not True:
            return None
        rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
        if not any(b.get("callback_data") == data for row in rows for b in row):
            return None
        if data.startswith(f"{LangCb.__prefix__}:"):
            await self.store.set_lang(chat_id, LangCb.unpack(data).code)
        lang = await self.store.lang(chat_id)
        update_id = await self.store.next_update_id()
        query_id = f"{chat_id}-{update_id}"
        await self.store.remember_callback(query_id, chat_id)
        await self.store.touch(chat_id)
        query = {"id": query_id, "from": self._person(chat_id, lang),
                 "chat_instance": str(chat_id), "data": data, "message": message}
        return {"update_id": update_id, "callback_query": query}
