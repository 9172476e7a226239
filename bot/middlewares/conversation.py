"""One conversation context per update: the conversation is loaded once, handed to the
handler (and its filters) as a :class:`~bot.engine.actions.Turn`, and saved once, only if it
changed. A handler that forgets the person (``/forget``) sets ``turn.forgotten``: the state is
then cleared, never written back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message, TelegramObject

from bot.api_client import ReferralsClient
from bot.channels import channel_of
from bot.engine.actions import Turn
from bot.engine.conversation import Conversation

# What the dispatcher injects that a Turn carries itself (not repeated in turn.extra).
_OWN = frozenset({"bot", "state", "referrals", "locale", "event_from_user", "event_chat",
                  "event_update", "handler", "raw_state", "fsm_storage", "event_router",
                  "dispatcher", "bots", "event_context", "event_thread_id",
                  "event_business_connection_id"})


class ConversationMiddleware(BaseMiddleware):
    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        state: FSMContext | None = data.get("state")
        if state is None or not isinstance(event, Message | CallbackQuery):
            return await handler(event, data)
        before = await state.get_data()
        turn = new_turn(event, data, state, Conversation.from_data(before))
        data["turn"] = turn
        result = await handler(event, data)
        if turn.forgotten:
            await state.clear()
        else:
            after = turn.conversation.to_data()
            if after != before:
                await state.set_data(after)
        return result


def new_turn(event: Message | CallbackQuery, data: dict[str, Any], state: FSMContext,
             conv: Conversation) -> Turn:
    bot: Bot = data["bot"]
    referrals: ReferralsClient = data.get("referrals") or ReferralsClient.unconfigured()
    if isinstance(event, CallbackQuery):
        user_id = event.from_user.id
        if event.message is None:  # too old for Telegram to send: answer in the private chat
            chat_id, message_id = user_id, None
        else:
            chat_id, message_id = event.message.chat.id, event.message.message_id
    else:
        chat_id, message_id = event.chat.id, None
        user_id = event.from_user.id if event.from_user else event.chat.id
    conv.channel = channel_of(chat_id)
    extra = {k: v for k, v in data.items() if k not in _OWN}
    return Turn(bot=bot, chat_id=chat_id, user_id=user_id, locale=data.get("locale", "en"),
                state=state, conversation=conv, referrals=referrals, message_id=message_id,
                extra=extra)
