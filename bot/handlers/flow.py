"""One callback handler serves every flow button."""

from __future__ import annotations

import asyncio
from typing import Any

from aiogram import Bot, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery
from aiogram.utils.i18n import gettext as _

from bot.api_client import ApiRefused, ApiUnavailable, ReferralsClient
from bot.engine.actions import ActionContext
from bot.engine.callbacks import NodeCb
from bot.engine.conversation import Conversation
from bot.engine.core import TOGGLE, Engine
from bot.engine.flows import HOME, NodeRef
from bot.replies import answer_quietly, callback_place, load, present_screen, save
from bot.screening import SENSITIVE, flags_from
from bot.signals import current as signals

SCREENING_DONE = "screening.done"
# The conversation state is gone (Redis restart, TTL): what the person is told, by flow.
BOOKING_FLOWS = frozenset({"booking", "screening"})  # the screening leads into the booking
LOST_BOOKING = NodeRef("booking", "lost")  # the API says: no open booking
LOST_BOOKING_UNSURE = NodeRef("booking", "lost_unsure")  # an open booking, or no answer
LOST_FOLLOWUP = NodeRef("followup", "lost")


async def show_home(
    bot: Bot, chat_id: int, conv: Conversation, engine: Engine, locale: str,
    edit_message_id: int | None = None, notice: str | None = None,
) -> None:
    """Show the main menu, optionally under a short notice, and reset the Back trail."""
    conv.trail.clear()
    conv.awaiting = None
    screen = engine.show(conv, NodeRef.parse(HOME), locale).after(notice)
    await present_screen(bot, chat_id, screen, edit_message_id)


def lost_notice() -> str:
    return _("Sorry, I lost track of our conversation. Here is the main menu.")


async def lost_booking_screen(referrals: ReferralsClient | None, chat_id: int) -> NodeRef:
    """Which "lost track" screen a booking gets. It says "not sent" only when the API says
    the person has no open booking; otherwise the booking may have gone through (a second
    press on Confirm, an edit that failed): then it points to /mycontact."""
    if referrals is None:  # no API: nothing can have been booked
        return LOST_BOOKING
    try:
        mine = await referrals.mine(chat_id)
    except (ApiUnavailable, ApiRefused):
        return LOST_BOOKING_UNSURE
    return LOST_BOOKING_UNSURE if mine else LOST_BOOKING


async def show_lost(
    bot: Bot, chat_id: int, conv: Conversation, engine: Engine, locale: str, flow: str,
    referrals: ReferralsClient | None, edit_message_id: int | None = None,
) -> None:
    """A press (or an answer) whose conversation state is gone: say so in words and offer
    the way back, never a silent menu. A booking gets a button that starts it again."""
    conv.trail.clear()
    conv.awaiting = None
    if flow in BOOKING_FLOWS:
        conv.booking.clear()
        ref = await lost_booking_screen(referrals, chat_id)
    elif flow == LOST_FOLLOWUP.flow:
        ref = LOST_FOLLOWUP
    else:
        await show_home(bot, chat_id, conv, engine, locale, edit_message_id,
                        notice=lost_notice())
        return
    await present_screen(bot, chat_id, engine.show(conv, ref, locale), edit_message_id)


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
        if not conv.started:  # the state is gone: Redis restart, or the TTL expired
            await answer_quietly(cb)
            flow = "" if target == "home" else callback_data.f  # Main menu: the menu it is
            await show_lost(bot, chat_id, conv, engine, locale, flow, deps.get("referrals"),
                            edit_id)
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
