"""Follow-up after return, the person's side: the wave message's buttons (Start / Later /
Stop these questions), the questionnaire's getters and submit action, and /stop.

The wave message is sent by the worker (bot.notices renders it in the person's language); its
buttons carry the wave's opaque token, never a chat id, because no conversation may exist
when it arrives (FollowupCb). Start opens flows/followup.yaml; at the end `followup_submit`
posts question ids + answer ids + the questionnaire version, keyed by the token. The answers
leave the conversation state once the API has them.

Start first asks the API about the wave (`GET /v1/followup/waves/{token}`): a closed wave
(answered, given up, stopped) is answered "closed" at once; the info source and the reasons
are asked only when the person answered no wave before.
"""

from __future__ import annotations

import contextlib
import logging

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from bot.api_client import ApiRefused, ApiUnavailable, FollowupWaveState, ReferralsClient
from bot.engine.actions import ActionRegistry, GetterFn, Outcome, Turn, View
from bot.engine.callbacks import FollowupCb
from bot.engine.conversation import Conversation
from bot.engine.core import Engine
from bot.engine.flows import NodeRef
from bot.handlers.flow import go, present_screen
from bot.replies import answer_quietly, present
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


def reasons_after(earlier: tuple[str, ...]) -> GetterFn:
    """A getter hiding the reasons chosen before from a reasons list."""

    async def getter(turn: Turn) -> View:
        chosen = {turn.answers[key] for key in earlier if key in turn.answers}
        return View(hide=frozenset(chosen - PAGE_BUTTONS))

    return getter


def no_reason_sample(engine: Engine, locale: str) -> View:
    return View(hide=frozenset({"health"}))


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


def clear(conv: Conversation) -> None:
    """The questionnaire is over (saved, closed or lost): its answers go, and Back cannot
    lead into it again."""
    for key in ANSWER_KEYS:
        conv.answers.pop(key, None)
    conv.survey.clear()
    conv.trail[:] = [ref for ref in conv.trail if not ref.startswith(FLOW + ".")]


async def submit_action(turn: Turn) -> str | None:
    """Post the answers. The outcome says what went wrong: `lost` (the token is gone with
    the state), `unavailable` (the answers are kept: Try again), `closed`."""
    conv = turn.conversation
    token = conv.survey.get("token")
    if token is None:  # the state is gone (Redis restart, TTL): the answers are lost
        clear(conv)
        raise Outcome("lost")
    try:
        await turn.referrals.followup_answers(token, turn.engine.flows.flows[FLOW].version,
                                              collected(conv))
    except ApiUnavailable as exc:
        if not turn.referrals.configured:
            clear(conv)
            raise Outcome("closed") from exc
        raise Outcome("unavailable") from exc
    except ApiRefused as exc:
        log.info("follow-up answers refused: %s", exc.code)
        clear(conv)
        raise Outcome("closed") from exc
    signals().emit("followup_answered", "answered")  # anonymous: no token, no country
    clear(conv)  # the thanks screen leads to the main menu only, never back
    return None


def register_actions(registry: ActionRegistry) -> None:
    registry.getter("reasons_after_1", reasons_after(("reason_1",)), no_reason_sample)
    registry.getter("reasons_after_2", reasons_after(("reason_1", "reason_2")),
                    no_reason_sample)
    registry.register("followup_submit", submit_action,
                      outcomes=("lost", "closed", "unavailable"))


def stopped_text() -> str:
    return _("Done. We will not send you these questions again. Thank you.")


async def on_stop(message: Message, turn: Turn) -> None:
    try:
        stopped = await turn.referrals.followup_stop(chat_id=message.chat.id)
    except (ApiUnavailable, ApiRefused):
        await message.answer(_("Sorry, this did not work right now. Please send /stop "
                               "again in a moment."))
        return
    await message.answer(stopped_text() if stopped else _(
        "You will not receive questions after your return: there is nothing to stop."))


async def start_wave(turn: Turn, token: str) -> None:
    conv = turn.conversation
    state_of_wave = FollowupWaveState(status="open", background=True)
    if turn.referrals.configured:
        # API down: ask everything; the API keeps the background answers once only
        with contextlib.suppress(ApiUnavailable):
            state_of_wave = await wave_state(turn.referrals, token)
    if state_of_wave.status != "open":
        if conv.survey.get("token") == token:
            clear(conv)
        await present(turn.bot, turn.chat_id, closed_text(), None, turn.message_id)
        return
    clear(conv)
    conv.survey = {"token": token}
    conv.trail.clear()
    first = FIRST if state_of_wave.background else LATER_WAVE
    await present_screen(turn, turn.engine.show(conv, first, turn.locale), edit=False)


async def stop_wave(turn: Turn, token: str) -> None:
    try:
        stopped = await turn.referrals.followup_stop(token=token)
    except (ApiUnavailable, ApiRefused):
        await present(turn.bot, turn.chat_id, _("Sorry, this did not work right now. Please "
                                                "send /stop in a moment."), None)
        return
    if turn.conversation.survey.get("token") == token:
        clear(turn.conversation)
    if stopped > 0:  # not for a wave stopped before (a second press)
        signals().emit("followup_answered", "declined")
    await present(turn.bot, turn.chat_id, stopped_text(), None, turn.message_id)


async def on_wave(cb: CallbackQuery, callback_data: FollowupCb, turn: Turn) -> None:
    action, token = callback_data.a, callback_data.t
    if action == "later":
        await answer_quietly(cb, _("All right. We will remind you later. You can also press "
                                   "Start at any time."))
        return
    await answer_quietly(cb)
    if action == "start":
        await start_wave(turn, token)
    elif action == "stop":
        await stop_wave(turn, token)
    else:  # an older button ("retry" is a flow button now)
        await go(turn, "home", NodeRef.parse(turn.conversation.at or "menu.start"))


def setup(router: Router) -> None:
    router.message.register(on_stop, Command("stop"))
    router.callback_query.register(on_wave, FollowupCb.filter())


def create_router() -> Router:
    router = Router(name="followup")
    setup(router)
    return router
