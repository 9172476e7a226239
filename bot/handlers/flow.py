"""One callback handler serves every flow button, and one message handler every input
screen (a postcode, a phone number, a location, a message to the counsellor)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiogram import Router
from aiogram.filters import Filter
from aiogram.types import CallbackQuery, Message, ReplyKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from bot.engine.actions import HANDLED, Outcome, Turn
from bot.engine.callbacks import NodeCb
from bot.engine.core import ITEM, PAGE, TOGGLE, Screen
from bot.engine.flows import HOME, NodeRef
from bot.engine.schema import InputNode, MessageNode
from bot.replies import answer_quietly, present
from bot.screening import SENSITIVE, flags_from
from bot.signals import current as signals
from bot.voice import with_listen

SCREENING_DONE = "screening.done"


async def present_screen(turn: Turn, screen: Screen, *, edit: bool = True) -> None:
    """Show a screen (under the turn's notice, if any): edit the pressed message when it is
    the one showing the current screen; otherwise (a button far up the chat, a reply
    keyboard, which an edit cannot carry) send a new message at the bottom."""
    screen = screen.after(turn.notice)
    turn.notice = None
    conv = turn.conversation
    edit_id = turn.message_id if edit else None
    if isinstance(screen.markup, ReplyKeyboardMarkup):
        edit_id = None
    if edit_id is not None and conv.shown is not None and edit_id != conv.shown:
        edit_id = None  # an older message: the answer comes where the person looks
    screen = await with_listen(screen, turn.locale, turn.extra.get("voices"))
    conv.shown = await present(turn.bot, turn.chat_id, screen.text, screen.markup, edit_id)


async def show_home(turn: Turn, notice: str | None = None, *, edit: bool = True) -> None:
    """Show the main menu, optionally under a short notice, and reset the Back trail."""
    turn.conversation.trail.clear()
    if notice:
        turn.notice = notice
    await present_screen(turn, turn.engine.show(turn.conversation, NodeRef.parse(HOME),
                                                turn.locale), edit=edit)


def lost_notice() -> str:
    return _("Sorry, I lost track of our conversation. Here is the main menu.")


async def show_lost(turn: Turn, flow: str, *, edit: bool = True) -> None:
    """A press (or an answer) whose conversation state is gone: say so in words and offer
    the way back, never a silent menu. A flow names its own "lost" screen (`lost:`)."""
    conv = turn.conversation
    conv.trail.clear()
    lost = turn.engine.flows.flows[flow].lost if flow in turn.engine.flows.flows else None
    if lost is None:
        await show_home(turn, lost_notice(), edit=edit)
        return
    conv.at = HOME  # the walk starts from somewhere known
    screen = await turn.engine.arrive(turn, lost, flow)
    if screen is not None:
        await present_screen(turn, screen, edit=edit)


async def on_stale(cb: CallbackQuery, turn: Turn) -> None:
    """A button whose data we do not recognise: forged, or from an older version."""
    await answer_quietly(cb, _("This button is out of date. Here is the main menu."))
    await show_home(turn)


async def go(turn: Turn, target: str, here: NodeRef, *, edit: bool = True,
             answering: CallbackQuery | None = None) -> None:
    """Walk from ``here`` to ``target``, record the screen change, show the screen."""
    conv = turn.conversation
    before = conv.at
    if target != "back":
        turn.engine.push_trail(conv, here)
    screen = await turn.engine.arrive(turn, target, here.flow)
    if screen is not None and str(screen.ref) == HOME:
        conv.trail.clear()
    if screen is not None:
        recorder = signals()
        recorder.screen(before, str(screen.ref), conv.campaign)
        if str(screen.ref) == SCREENING_DONE and before != SCREENING_DONE:
            for flag in flags_from(conv.answers):
                if flag in SENSITIVE:  # the main flags, not the details
                    recorder.emit("screening_flag", flag, campaign=conv.campaign)
    # The callback answer and the new screen travel together: one network wait.
    await asyncio.gather(answer_quietly(answering) if answering else asyncio.sleep(0),
                         present_screen(turn, screen, edit=edit) if screen else
                         asyncio.sleep(0))
    node = turn.engine.flows.get(screen.ref) if screen else None
    if screen is not None and isinstance(node, MessageNode) and node.then:
        conv.trail.clear()  # the kept screen is not a step to go back to
        after = await turn.engine.arrive(turn, node.then, screen.ref.flow)
        if after is not None:
            await present_screen(turn, after, edit=False)


async def on_press(cb: CallbackQuery, callback_data: NodeCb, turn: Turn) -> None:
    engine = turn.engine
    target = engine.lookup_press(callback_data)
    if target is None:
        await on_stale(cb, turn)
        return
    conv = turn.conversation
    stateless = engine.flows.flows[callback_data.f].stateless and target != "back"
    if not conv.started and not stateless:  # the state is gone: Redis restart, or the TTL
        await answer_quietly(cb)
        await show_lost(turn, "" if target == "home" else callback_data.f)
        return
    engine.record_answer(conv, callback_data)
    here = NodeRef(callback_data.f, callback_data.n)
    if target == TOGGLE or target.startswith(PAGE):  # the same screen, updated
        page = int(target.removeprefix(PAGE)) if target.startswith(PAGE) else 0
        try:
            screen = await engine.screen(turn, here, page)
        except Outcome as outcome:
            await go(turn, engine.outcome_target(here, outcome.code), here, answering=cb)
            return
        await asyncio.gather(answer_quietly(cb), present_screen(turn, screen))
        return
    await go(turn, target.removeprefix(ITEM), here, answering=cb)


class AtInput(Filter):
    """The current screen waits for typed text, a location or a contact (not a command)."""

    async def __call__(self, message: Message, turn: Turn | None = None) -> bool | dict[str, Any]:
        if turn is None or turn.conversation.at is None:
            return False
        if (message.text or "").startswith("/"):
            return False
        ref = NodeRef.parse(turn.conversation.at)
        node = turn.engine.flows.get(ref)
        version = turn.engine.flows.flows[ref.flow].version if node else None
        if not isinstance(node, InputNode) or turn.conversation.version != version:
            return False
        return {"input_ref": ref}


async def on_input(message: Message, turn: Turn, input_ref: NodeRef) -> None:
    engine = turn.engine
    node = engine.flows.get(input_ref)
    assert isinstance(node, InputNode)
    reader = engine.actions.readers.get(node.input)
    if reader is None:
        raise RuntimeError(f"reader {node.input!r} is not registered")
    try:
        target = await reader(turn, message)
    except Outcome as outcome:
        target = engine.outcome_target(input_ref, outcome.code)
    if target == HANDLED:
        return
    await go(turn, target or node.next or "home", input_ref, edit=False)


def setup(router: Router) -> None:
    router.callback_query.register(on_press, NodeCb.filter())
    router.message.register(on_input, AtInput())


def create_router() -> Router:
    router = Router(name="flow")
    setup(router)
    return router
