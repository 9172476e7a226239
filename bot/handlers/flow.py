"""One callback handler serves every flow button."""

from __future__ import annotations

import asyncio
from typing import Any

from aiogram import Bot, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery
from aiogram.utils.i18n import gettext as _

from bot.engine.actions import ActionContext
from bot.engine.callbacks import NodeCb
from bot.engine.conversation import Conversation
from bot.engine.core import TOGGLE, Engine
from bot.engine.flows import HOME, NodeRef
from bot.replies import answer_quietly, callback_place, load, present_screen, save
from bot.screening import SENSITIVE, flags_from
from bot.signals import current as signals

SCREENING_DONE = "screening.done"


async def show_home(
    bot: Bot, chat_id: int, conv: Conversation, engine: Engine, locale: str,
    edit_message_id: int | None = None, notice: str | None = None,
) -> None:
    """Show the main menu, optionally under a short notice, and reset the Back trail."""
    conv.trail.clear()
    conv.awaiting = None
    screen = engine.show(conv, NodeRef.parse(HOME), locale).after(notice)
    await present_screen(bot, chat_id, screen, edit_message_id)


async def on_stale(
    cb: CallbackQuery, bot: Bot, state: FSMContext, engine: Engine, locale: str
) -> None:
    """A button whose data we do not recognise: forged, or from an older version."""
    await answer_quietly(cb, _("This button is out of date. Here is the main menu."))
    conv = await load(state)
    chat_id, edit_id = callback_place(cb)
    await show_home(bot, chat_id, conv, engine, locale, edit_id)
    await save(state, conv)


def create_router() -> Router:
    router = Router(name="flow")

    @router.callback_query(NodeCb.filter())
    async def on_press(
        cb: CallbackQuery,
        callback_data: NodeCb,
        bot: Bot,
        state: FSMContext,
        engine: Engine,
        locale: str,
        **deps: Any,
    ) -> None:
        target = engine.lookup_press(callback_data)
        if target is None:
            await on_stale(cb, bot, state, engine, locale)
            return
        conv = await load(state)
        chat_id, edit_id = callback_place(cb)
        if not conv.started:
            await answer_quietly(cb)
            await show_home(
                bot, chat_id, conv, engine, locale, edit_id,
                notice=_("Sorry, I lost track of our conversation because it was quiet "
                         "for a while. Here is the main menu."),
            )
            await save(state, conv)
            return
        conv.awaiting = None
        engine.record_answer(conv, callback_data)
        here = NodeRef(callback_data.f, callback_data.n)
        if target == TOGGLE:  # a tick in a multiple question: the same screen, updated
            screen = engine.show(conv, here, locale)
            await asyncio.gather(answer_quietly(cb),
                                 present_screen(bot, chat_id, screen, edit_id))
            await save(state, conv)
            return
        before = conv.at
        if target == "back":
            ref: NodeRef | None = engine.go_back(conv)
        else:
            context = ActionContext(
                bot=bot, chat_id=chat_id, user_id=cb.from_user.id, locale=locale,
                state=state, conversation=conv, message_id=edit_id,
                extra={**deps, "engine": engine},
            )
            engine.push_trail(conv, here)
            ref = await engine.walk(target, here.flow, conv, context)
            if ref is not None and str(ref) == HOME:
                conv.trail.clear()
        if ref is not None:
            recorder = signals()
            recorder.screen(before, str(ref), conv.campaign)
            if str(ref) == SCREENING_DONE and before != SCREENING_DONE:
                for flag in flags_from(conv.answers):
                    if flag in SENSITIVE:  # the main flags, not the details
                        recorder.emit("screening_flag", flag, campaign=conv.campaign)
        if ref is None:  # an action answered the person itself
            await answer_quietly(cb)
        else:
            # The callback answer and the new screen travel together: one network wait.
            screen = engine.show(conv, ref, locale)
            await asyncio.gather(answer_quietly(cb),
                                 present_screen(bot, chat_id, screen, edit_id))
        await save(state, conv)

    return router
