"""Follow-up after return, the person's side: the wave message's buttons (Start / Later /
Stop these questions), the questionnaire's action hooks and /stop.

The wave message is sent by the worker (bot.notices renders it in the person's language); its
buttons carry the wave's opaque token, never a chat id. Start opens flows/followup.yaml; at the
end `followup_submit` posts question ids + answer ids + the questionnaire version, keyed by
the token. The answers leave the conversation state once the API has them.

Start first asks the API about the wave (`GET /v1/followup/waves/{token}`): a closed wave
(answered, given up, stopped) is answered "closed" at once; the info source and the reasons
are asked only when the person answered no wave before.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any

from aiogram import Bot, Router
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _

from bot.api_client import ApiRefused, ApiUnavailable, FollowupWaveState, ReferralsClient
from bot.engine.actions import HANDLED, ActionContext, ActionHook
from bot.engine.callbacks import NodeCb
from bot.engine.conversation import Conversation
from bot.engine.core import N_, Engine
from bot.engine.flows import NodeRef
from bot.handlers.flow import LOST_FOLLOWUP, show_home, show_lost
from bot.replies import answer_quietly, callback_place, load, present, present_screen, save
from bot.signals import current as signals

log = logging.getLogger(__name__)

FLOW = "followup"
FIRST = NodeRef(FLOW, "q_info")
LATER_WAVE = NodeRef(FLOW, "q_income")  # info source and reasons are asked once per person
THANKS = NodeRef(FLOW, "thanks")
REASONS = ("reason_1", "reason_2", "reason_3")
# Every save_as of flows/followup.yaml: cleared at Start and once the answers are saved.
ANSWER_KEYS = ("info_source", *REASONS, "income", "basic_needs", "housing", "health_care",
               "school", "belonging", "remigrate", "satisfaction")
PAGE_BUTTONS = frozenset({"more", "first_list"})  # turn the page of a reasons list

WAVE_START = N_("▶️ Start")
WAVE_LATER = N_("Later")
WAVE_STOP = N_("Stop these questions")


class FollowupCb(CallbackData, prefix="fu"):
    """a: start | later | stop | retry; t: the wave's opaque token."""

    a: str
    t: str


def wave_buttons(token: str, translate: Callable[[str], str]) -> list[list[dict[str, str]]]:
    """The wave message's buttons, as the worker's Outgoing rows."""
    def button(label: str, action: str) -> dict[str, str]:
        return {"text": translate(label), "callback_data": FollowupCb(a=action, t=token).pack()}

    return [[button(WAVE_START, "start"), button(WAVE_LATER, "later")],
            [button(WAVE_STOP, "stop")]]


def _without(markup: InlineKeyboardMarkup | None,
             chosen: set[str]) -> InlineKeyboardMarkup | None:
    """The keyboard without the buttons of reasons already chosen."""
    if markup is None:
        return None
    rows: list[list[InlineKeyboardButton]] = []
    for row in markup.inline_keyboard:
        kept = [b for b in row if not (b.callback_data and NodeCb.unpack(b.callback_data).c
                                       in chosen)]
        if kept:
            rows.append(kept)
    return InlineKeyboardMarkup(inline_keyboard=rows)


def reasons_page(node: str, earlier: tuple[str, ...]) -> ActionHook:
    """An action hook showing a reasons list without the reasons chosen before."""

    async def hook(ctx: ActionContext) -> str | None:
        conv: Conversation = ctx.conversation
        engine: Engine = ctx.extra["engine"]
        chosen = {conv.answers[key] for key in earlier if key in conv.answers} - PAGE_BUTTONS
        screen = engine.show(conv, NodeRef(FLOW, node), ctx.locale)
        await present(ctx.bot, ctx.chat_id, screen.text, _without(screen.markup, chosen),
                      ctx.message_id)
        return HANDLED

    return hook


def collected(conv: Conversation) -> dict[str, str]:
    """The questionnaire's answers: reasons in order, without page turns, repeats, or
    anything after "no other reason"."""
    answers = {k: v for k, v in conv.answers.items() if k in ANSWER_KEYS and k not in REASONS}
    seen: list[str] = []
    for key in REASONS:
        value = conv.answers.get(key)
        if value is None or value in PAGE_BUTTONS or value == "no_other":
            break
        if value not in seen:
            seen.append(value)
    answers.update({REASONS[i]: value for i, value in enumerate(seen)})
    return answers


async def wave_state(referrals: ReferralsClient, token: str) -> FollowupWaveState:
    """The wave's state (open or closed; background questions to ask); an unknown token is
    closed. Raises ApiUnavailable."""
    try:
        return await referrals.followup_wave(token)
    except ApiRefused:
        return FollowupWaveState(status="closed", background=False)


def closed_text() -> str:
    return _("These questions are closed. Thank you.")


def _clear(conv: Conversation) -> None:
    for key in ANSWER_KEYS:
        conv.answers.pop(key, None)
    conv.survey.clear()


async def _submit(bot: Bot, chat_id: int, conv: Conversation, engine: Engine, locale: str,
                  referrals: ReferralsClient | None, edit_id: int | None) -> bool:
    """Post the answers. True when saved (or saved before); otherwise the person was told."""
    token = conv.survey.get("token")
    if token is None:  # the state is gone (Redis restart, TTL): the answers are lost
        _clear(conv)
        await show_lost(bot, chat_id, conv, engine, locale, FLOW, referrals, edit_id)
        return False
    if referrals is None:
        _clear(conv)
        await show_home(bot, chat_id, conv, engine, locale, edit_id,
                        notice=closed_text())
        return False
    try:
        await referrals.followup_answers(token, engine.flows.flows[FLOW].version,
                                         collected(conv))
    except ApiUnavailable:
        await present(bot, chat_id, _("Sorry, we could not save your answers right now. They "
                                      "are kept. Please try again in a moment."),
                      InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(
                          text=_("Try again"),
                          callback_data=FollowupCb(a="retry", t=token).pack())]]), edit_id)
        return False
    except ApiRefused as exc:
        log.info("follow-up answers refused: %s", exc.code)
        _clear(conv)
        await show_home(bot, chat_id, conv, engine, locale, edit_id,
                        notice=closed_text())
        return False
    signals().emit("followup_answered", "answered")  # anonymous: no token, no country
    _clear(conv)
    conv.trail.clear()  # the thanks screen leads to the main menu only, never back
    return True


async def submit_action(ctx: ActionContext) -> str | None:
    engine: Engine = ctx.extra["engine"]
    saved = await _submit(ctx.bot, ctx.chat_id, ctx.conversation, engine, ctx.locale,
                          ctx.extra.get("referrals"), ctx.message_id)
    return None if saved else HANDLED


def register_actions(registry: Any) -> None:
    registry.register("followup_reason_2a", reasons_page("q_reason_2a", ("reason_1",)))
    registry.register("followup_reason_2b", reasons_page("q_reason_2b", ("reason_1",)))
    registry.register("followup_reason_3a", reasons_page("q_reason_3a",
                                                         ("reason_1", "reason_2")))
    registry.register("followup_reason_3b", reasons_page("q_reason_3b",
                                                         ("reason_1", "reason_2")))
    registry.register("followup_submit", submit_action)


def lost_answers_text() -> str:
    return _("Sorry, I lost track of our conversation. Your answers were not saved. Press "
             "Start to answer again.")


def lost_answers_markup(conv: Conversation, engine: Engine, locale: str,
                        token: str) -> InlineKeyboardMarkup:
    """Start (this wave again) above the lost screen's Main menu."""
    screen = engine.show(conv, LOST_FOLLOWUP, locale)  # also: the conversation starts again
    start = InlineKeyboardButton(text=_(WAVE_START),
                                 callback_data=FollowupCb(a="start", t=token).pack())
    rows = screen.markup.inline_keyboard if screen.markup else []
    return InlineKeyboardMarkup(inline_keyboard=[[start], *rows])


def stopped_text() -> str:
    return _("Done. We will not send you these questions again. Thank you.")


def create_router() -> Router:
    router = Router(name="followup")

    @router.message(Command("stop"))
    async def on_stop(message: Message, referrals: ReferralsClient | None = None) -> None:
        try:
            if referrals is None:
                raise ApiUnavailable("no_client")
            stopped = await referrals.followup_stop(chat_id=message.chat.id)
        except (ApiUnavailable, ApiRefused):
            await message.answer(_("Sorry, this did not work right now. Please send /stop "
                                   "again in a moment."))
            return
        await message.answer(stopped_text() if stopped else _(
            "You will not receive questions after your return: there is nothing to stop."))

    @router.callback_query(FollowupCb.filter())
    async def on_wave(cb: CallbackQuery, callback_data: FollowupCb, bot: Bot,
                      state: FSMContext, engine: Engine, locale: str,
                      referrals: ReferralsClient | None = None, **deps: Any) -> None:
        chat_id, edit_id = callback_place(cb)
        action, token = callback_data.a, callback_data.t
        if action == "later":
            await answer_quietly(cb, _("All right. We will remind you later. You can also "
                                       "press Start at any time."))
            return
        await answer_quietly(cb)
        conv = await load(state)
        if action == "start":
            state_of_wave = FollowupWaveState(status="open", background=True)
            if referrals is not None:
                # API down: ask everything; the API keeps the background answers once only
                with contextlib.suppress(ApiUnavailable):
                    state_of_wave = await wave_state(referrals, token)
            if state_of_wave.status != "open":
                if conv.survey.get("token") == token:
                    _clear(conv)
                await present(bot, chat_id, closed_text(), None, edit_id)  # no buttons left
                await save(state, conv)
                return
            _clear(conv)
            conv.survey = {"token": token}
            conv.trail.clear()
            conv.awaiting = None
            first = FIRST if state_of_wave.background else LATER_WAVE
            await present_screen(bot, chat_id, engine.show(conv, first, locale))
        elif action == "stop" and referrals is not None:
            try:
                stopped = await referrals.followup_stop(token=token)
            except (ApiUnavailable, ApiRefused):
                await present(bot, chat_id, _("Sorry, this did not work right now. Please "
                                              "send /stop in a moment."), None)
                return
            if conv.survey.get("token") == token:
                _clear(conv)
            if stopped > 0:  # not for a wave stopped before (a second press)
                signals().emit("followup_answered", "declined")
            await present(bot, chat_id, stopped_text(), None, edit_id)
        elif action == "retry" and conv.survey.get("token") == token:
            if await _submit(bot, chat_id, conv, engine, locale, referrals, edit_id):
                await present_screen(bot, chat_id, engine.show(conv, THANKS, locale), edit_id)
        elif action == "retry":  # the answers were lost with the state (Redis restart, TTL)
            await present(bot, chat_id, lost_answers_text(),
                          lost_answers_markup(conv, engine, locale, token), edit_id)
        else:
            await show_home(bot, chat_id, conv, engine, locale, edit_id,
                            notice=_("This button is out of date. Here is the main menu."))
        await save(state, conv)

    return router
