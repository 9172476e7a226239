"""Every screen of every flow, as a person sees it.

1. Rendered by the real engine in every shipped language (no updates fed): the text is there,
   fits one Telegram message, has every fact filled in (isolated in right-to-left text), is
   not left in English; every button fits Telegram's 64 bytes and names its own screen; Back
   sits where the reading direction puts it.
2. Walked in English over the real Dispatcher: every button of every screen lands on the
   screen the flows say (through branches and actions), and Back returns where it should.
3. What the flows' actions show themselves (pickers, prompts, the consent text) is in the
   person's language.
"""

from __future__ import annotations

import html
import json
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, ReplyKeyboardMarkup
from aiogram.utils.i18n import I18n
from redis.asyncio import Redis

from bot.api_client import ReferralsClient
from bot.engine.actions import Turn, View
from bot.engine.callbacks import NodeCb
from bot.engine.conversation import Conversation
from bot.engine.core import DONE, ITEM_ID, NAV_IDS, PAGE_PREFIX, TICK, Engine, Screen
from bot.engine.flows import HOME, WELCOME, FlowSet, NodeRef
from bot.engine.schema import (
    PLACEHOLDER,
    ActionNode,
    BranchNode,
    InputNode,
    ListNode,
    MessageNode,
    QuestionNode,
    Screenish,
)
from bot.handlers.commands import HELP
from bot.handlers.followup import FIRST, THANKS
from bot.i18n import FSI, PDI, is_rtl, isolate
from bot.notices import WAVE_START, wave_buttons
from bot.replies import present
from bot.settings import Settings
from simulator.botapi import MAX_CALLBACK_DATA, MAX_TEXT, visible_text
from tests.harness import LANGS, Harness, Person, dispatcher_for

TOKEN = "walk-wave-token"


def shown(screen: Screen) -> str:
    """The screen's text as the person reads it (Telegram HTML parsed)."""
    return visible_text(screen.text, "HTML")


def is_back(data: str) -> bool:
    return data.startswith(NodeCb.__prefix__ + ":") and NodeCb.unpack(data).c == "back"


def keyboard(markup: object) -> list[InlineKeyboardButton]:
    """The inline buttons (a reply keyboard has none)."""
    if not isinstance(markup, InlineKeyboardMarkup):
        return []
    return [b for row in markup.inline_keyboard for b in row]


def options(node: Screenish) -> list[str]:
    return [o.id for o in (node.choices if isinstance(node, QuestionNode) else node.buttons)]


def msgids(node: Screenish) -> list[str]:
    if isinstance(node, QuestionNode):
        return [node.ask, *([node.why] if node.why else [])]
    return [node.say, *([node.footer] if isinstance(node, ListNode) and node.footer else [])]


LOST_BOOKING = NodeRef("booking", "lost")
LOST_BOOKING_UNSURE = NodeRef("booking", "lost_unsure")
LOST_FOLLOWUP = NodeRef("followup", "lost")


def sample_view(engine: Engine, i18n: I18n, ref: NodeRef, lang: str) -> View | None:
    """What the node's getter would give, made up by the getter itself (in ``lang``)."""
    node = engine.flows.get(ref)
    name = node.list if isinstance(node, ListNode) else getattr(node, "data", None)
    if name is None:
        return None
    with i18n.context(), i18n.use_locale(lang):
        return engine.actions.getters[name].sample(engine, lang)


def render_any(engine: Engine, i18n: I18n, ref: NodeRef, lang: str, *, can_go_back: bool,
               ticked: frozenset[str] = frozenset()) -> Screen:
    view = sample_view(engine, i18n, ref, lang)
    if view is None and not engine.is_dynamic(engine.flows.get(ref)):  # type: ignore[arg-type]
        return engine.render(ref, lang, can_go_back=can_go_back, ticked=ticked)
    return engine.compose(ref, lang, can_go_back=can_go_back, ticked=ticked, view=view)


# ---- 1. every screen, rendered in every language ----------------------------------------
def screen_problems(engine: Engine, ref: NodeRef, node: Screenish, lang: str,
                    screen: Screen, *, can_go_back: bool, ticked: frozenset[str],
                    english: set[str], view: View | None) -> list[str]:
    where = f"{lang} {ref} (back={can_go_back}, ticked={len(ticked)})"
    problems = []
    text = shown(screen)
    if not text.strip():
        problems.append(f"{where}: empty text")
    if len(text) > MAX_TEXT:
        problems.append(f"{where}: {len(text)} characters, more than one message holds")
    if PLACEHOLDER.search(screen.text) or "{" in text or "}" in text:
        problems.append(f"{where}: a placeholder is not filled in: {text[:80]!r}")
    for name in {name for msgid in msgids(node) for name in PLACEHOLDER.findall(msgid)}:
        if name not in node.facts:
            continue  # a getter's value
        fact = engine.flows.facts.facts[name]
        value = engine.translate(fact.value, lang) if fact.translate else fact.value
        if isolate(html.escape(value, quote=False), lang) not in screen.text:
            problems.append(f"{where}: fact {name} is not shown"
                            + (" between Unicode isolates" if is_rtl(lang) else ""))
    if not is_rtl(lang) and (FSI in screen.text or PDI in screen.text):
        problems.append(f"{where}: Unicode isolates in left-to-right text")
    if lang != "en" and screen.text in english:
        problems.append(f"{where}: left in English")

    if isinstance(screen.markup, ReplyKeyboardMarkup):  # a location to send, or Cancel
        labels = [b.text for row in screen.markup.keyboard for b in row]
        if lang != "en" and labels == [b.text for row in engine.compose(
                ref, "en", can_go_back=False).markup.keyboard for b in row]:  # type: ignore[union-attr]
            problems.append(f"{where}: reply keyboard left in English")
        return problems
    buttons = keyboard(screen.markup)
    version = engine.flows.flows[ref.flow].version
    pressed: list[str] = []
    for button in buttons:
        data = button.callback_data or ""
        if not button.text.strip() or "{" in button.text or "}" in button.text:
            problems.append(f"{where}: a button labelled {button.text!r}")
        if not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA:
            problems.append(f"{where}: callback data of {len(data.encode())} bytes: {data!r}")
            continue
        cb = NodeCb.unpack(data)
        if (cb.f, cb.n, cb.v) != (ref.flow, ref.node, version):
            problems.append(f"{where}: button {button.text!r} names another screen: {data}")
        pressed.append(cb.c)
        if cb.c in ticked and not button.text.startswith(TICK):
            problems.append(f"{where}: ticked {cb.c} does not show {TICK!r}")
    multiple = isinstance(node, QuestionNode) and node.multiple
    hidden = view.hide if view else frozenset()
    expected = [*(o for o in options(node) if o not in hidden), *([DONE] if multiple else [])]
    if isinstance(node, ListNode) and view is not None:
        expected += [item.id for item in view.items[:node.page_size]]
        if len(view.items) > node.page_size:
            expected += [f"{PAGE_PREFIX}0", f"{PAGE_PREFIX}1"]
    if node.nav:
        expected += [*(["back"] if can_go_back else []), *(["home"] if str(ref) != HOME else [])]
    if sorted(pressed) != sorted(expected):
        problems.append(f"{where}: buttons {pressed}, expected {expected}")
    if node.nav and can_go_back and buttons:
        nav = screen.markup.inline_keyboard[-1] if screen.markup else []
        back = nav[-1] if is_rtl(lang) else nav[0]  # read first in the reading direction
        arrow = "➡️" if is_rtl(lang) else "⬅️"
        if NodeCb.unpack(back.callback_data or "").c != "back" or not back.text.startswith(arrow):
            problems.append(f"{where}: Back is not {'right' if is_rtl(lang) else 'left'} "
                            f"with {arrow}: {[b.text for b in nav]}")
    return problems


def test_tests_parse_the_flows_and_catalogues_once(settings: Settings) -> None:
    first, second = dispatcher_for(settings), dispatcher_for(settings)
    assert first["engine"].flows is second["engine"].flows
    assert first["i18n"] is second["i18n"]
    assert first["engine"] is not second["engine"]  # the rest is built afresh


@pytest.mark.parametrize("lang", LANGS)
def test_every_screen_renders_in_every_language(settings: Settings, lang: str) -> None:
    """Every screen, dynamic ones with their getter's sample data (lists, the consent
    summary, a contact's details) rendered in the language too."""
    dp = dispatcher_for(settings)
    assert dp["available_locales"] == LANGS
    engine: Engine = dp["engine"]
    i18n: I18n = dp["i18n"]
    english = {render_any(engine, i18n, ref, "en", can_go_back=False).text
               for ref, _ in engine.flows.display_nodes()}
    problems: list[str] = []
    for ref, node in engine.flows.display_nodes():
        tick_variants = [frozenset[str]()]
        if isinstance(node, QuestionNode) and node.multiple:
            tick_variants.append(frozenset(options(node)))  # the longest labels
        for can_go_back in (False, True):
            for ticked in tick_variants:
                screen = render_any(engine, i18n, ref, lang, can_go_back=can_go_back,
                                    ticked=ticked)
                problems += screen_problems(engine, ref, node, lang, screen,
                                            can_go_back=can_go_back, ticked=ticked,
                                            english=english,
                                            view=sample_view(engine, i18n, ref, lang))
    assert problems == []


def test_a_long_list_turns_pages_and_items_fit_the_callback_data(settings: Settings) -> None:
    engine: Engine = dispatcher_for(settings)["engine"]
    ref = NodeRef("booking", "slot")
    items = View(items=[item for i in range(20) for item in
                        engine.actions.getters["free_slots"].sample(engine, "en").items[:1]])
    items = View(items=[type(items.items[0])(id=str(29000000 + i), fields={"time": f"t{i}"})
                        for i in range(20)])
    first = engine.compose(ref, "en", can_go_back=True, view=items)
    last = engine.compose(ref, "en", can_go_back=True, view=items, page=2)
    ids = [NodeCb.unpack(b.callback_data or "").c for b in keyboard(first.markup)]
    assert ids[:9] == [str(29000000 + i) for i in range(9)]
    assert "_p1" in ids and "_p0" in ids and "1/3" in [b.text for b in keyboard(first.markup)]
    assert [b.text for b in keyboard(last.markup)][:2] == ["t18", "t19"]
    assert all(ITEM_ID.fullmatch(i) or i.startswith(PAGE_PREFIX) or i in NAV_IDS for i in ids)


# ---- 2. every press, walked in English --------------------------------------------------
NEXT = "→ next"  # the action goes on to its node's `next`
UNAVAILABLE = "unavailable"  # the getter or action needs the referral API, which is not here


# What each action does in this harness, where no referral API is configured: a target, NEXT,
# or a function of the answers. A new action must say here where it leads (the walk fails
# until it does).
WITHOUT_API: dict[str, str | Callable[[dict[str, str]], str]] = {
    "set_language": lambda answers: "home" if "audience" in answers else "welcome",
    "book": UNAVAILABLE,
    "clear_booking": NEXT,
    "booking_lost": "lost",  # no API: nothing can have been booked
    "cancel_contact": UNAVAILABLE,
    "reschedule_contact": UNAVAILABLE,
    "followup_submit": "closed",  # nobody to save to
    "record_obstacles": NEXT,
    "forget_country": lambda answers: (answers.pop("country", None) and NEXT) or NEXT,
}
# Getters that need the referral API: without it, their screen ends in `unavailable`.
API_GETTERS = frozenset({"cities", "places", "partner", "free_slots", "consent", "sensitive",
                         "booked", "my_contacts", "contact", "contact_slots"})
# Screens only the referral API leads to: walked over the real API by the conversations in
# tests/bot/test_booking.py and test_mycontact.py, rendered in every language above.
BEHIND_API = frozenset(NodeRef.parse(r) for r in (
    "booking.by_city", "booking.places", "booking.none_found", "booking.mode",
    "booking.partner_gone", "booking.slot", "booking.no_slots", "booking.interpreter",
    "booking.topic", "booking.consent", "booking.health", "booking.followup", "booking.phone",
    "booking.phone_invalid", "booking.phone_failed", "booking.submit_failed", "booking.taken",
    "booking.refused", "booking.booked_visit", "booking.booked_contact",
    "booking.not_shared", "booking.postcode_unknown", "booking.outside",
    "booking.consent_keep", "booking.none_for_minors", "booking.who_decides",
    "booking.lost_unsure", "booking.already_booked", "booking.too_many_bookings",
    "mycontact.start", "mycontact.none",
    "mycontact.contact", "mycontact.cancel_ask", "mycontact.cancelled", "mycontact.new_time",
    "mycontact.time_taken", "mycontact.no_slots", "mycontact.write", "mycontact.write_again",
    "mycontact.sent", "mycontact.not_sent", "mycontact.write_shorter", "mycontact.gone",
    "mycontact.new_phone", "mycontact.new_phone_invalid",
    "followup.save_failed",
    "menu.code_unknown"))  # without the API a typed code cannot be checked: it is kept


@dataclass(frozen=True)
class Lands:
    """Where a press leaves the person."""

    at: NodeRef  # the conversation's screen afterwards
    notice: str | None = None  # shown on top of the screen
    ticked: str | None = None  # a tick in a question with several answers
    branch: BranchNode | None = None  # the first branch on the way (it read an answer)


def _getter(node: object) -> str | None:
    return node.list if isinstance(node, ListNode) else getattr(node, "data", None)


def _outcome(flows: FlowSet, ref: NodeRef, code: str) -> str:
    node = flows.get(ref)
    target = getattr(node, "outcomes", {}).get(code) or flows.flows[ref.flow].outcomes.get(code)
    assert target is not None, f"{ref}: outcome {code} leads nowhere"
    return str(target)


def landing(engine: Engine, here: NodeRef, choice: str, answers: dict[str, str],
            back_to: NodeRef | None) -> Lands:
    """Where pressing ``choice`` on ``here`` must land, read from the flow files."""
    flows = engine.flows
    node = flows.get(here)
    assert isinstance(node, MessageNode | QuestionNode | ListNode | InputNode)
    answers = dict(answers)  # what the press changes stays in this landing
    if choice == "home":
        return Lands(NodeRef.parse(HOME))
    if choice == "back":
        assert back_to is not None, f"{here} shows Back with nowhere to go"
        return Lands(back_to)
    if isinstance(node, QuestionNode) and node.multiple:
        if choice != DONE:
            return Lands(here, ticked=choice)
        target = node.next or "home"
    elif isinstance(node, ListNode) and choice not in options(node):
        target = node.item.go
        answers = {**answers, node.save_as: choice}
    else:
        target = next(o.go for o in (node.choices if isinstance(node, QuestionNode)
                                     else node.buttons) if o.id == choice) or "home"
        if isinstance(node, QuestionNode):
            answers = {**answers, node.save_as: choice}
    flow = here.flow
    branch: BranchNode | None = None
    for _ in range(12):
        if target == "back":
            assert back_to is not None
            return Lands(back_to, branch=branch)
        ref = flows.resolve(target, flow)
        step = flows.get(ref)
        flow = ref.flow
        if isinstance(step, BranchNode):
            branch = branch or step
            target = step.cases.get(answers.get(step.branch, ""), step.default)
        elif isinstance(step, ActionNode):
            does = WITHOUT_API[step.action]
            does = does(answers) if callable(does) else does
            target = (step.next or "home") if does == NEXT else (
                _outcome(flows, ref, does) if does == UNAVAILABLE else does)
        elif step is not None and step.when is not None and step.otherwise and not \
                engine.holds(step.when, Conversation(answers=answers)):
            target = step.otherwise
        elif _getter(step) in API_GETTERS:
            target = _outcome(flows, ref, UNAVAILABLE)
        else:
            assert step is not None, f"{here}.{choice} leads to {ref}, which does not exist"
            return Lands(ref, branch=branch)
    raise AssertionError(f"{here}.{choice} loops through branches and actions")


def answered_otherwise(flows: FlowSet, presses: tuple[str, ...], branch: BranchNode,
                       case: str | None) -> tuple[str, ...] | None:
    """The same presses, with the last question that saves the branch's answer answered so
    that the branch takes ``case`` (None: its default); None when no press answers it."""
    for i in reversed(range(len(presses))):
        cb = NodeCb.unpack(presses[i])
        node = flows.get(NodeRef(cb.f, cb.n))
        if isinstance(node, QuestionNode) and node.save_as == branch.branch:
            for choice in node.choices:
                if choice.id == case or (case is None and choice.id not in branch.cases):
                    changed = NodeCb(f=cb.f, n=cb.n, c=choice.id, v=cb.v).pack()
                    return (*presses[:i], changed, *presses[i + 1:])
            return None
    return None


@dataclass(frozen=True)
class Route:
    """How a fresh conversation gets to a screen: an opener, then buttons pressed."""

    opener: str
    presses: tuple[str, ...] = ()
    back_to: NodeRef | None = None  # where Back leads from the end of the route


class Walker:
    def __init__(self, harness: Harness, redis: Redis, prefix: str) -> None:
        self.h = harness
        self.redis = redis
        self.prefix = prefix
        self.engine: Engine = harness.dp["engine"]
        self.person: Person = harness.person(7777, "en")
        uid = self.person.user.id
        self.state = harness.dp.fsm.get_context(harness.bot, chat_id=uid, user_id=uid)
        # Screens a person reaches without the referral API, and those only code opens
        # (when a state was lost, when the answers were saved): opened as that code does.
        self.openers: dict[str, tuple[NodeRef, Callable[[], Awaitable[None]],
                                      NodeRef | None]] = {
            "/start": (WELCOME, self.start, None),
            "/help": (HELP, self.help, None),
            "/mycontact": (NodeRef("mycontact", "unavailable"), self.mycontact, None),
            "wave Start": (FIRST, self.wave, None),
            "booking lost": (LOST_BOOKING, lambda: self.by_code(LOST_BOOKING), None),
            "answers lost": (LOST_FOLLOWUP, lambda: self.by_code(LOST_FOLLOWUP), None),
            "answers saved": (THANKS, lambda: self.by_code(THANKS), None),
            "/privacy": (NodeRef("privacy", "start"), self.privacy, None),
            "a Syrian asks": (NodeRef("faq", "come_back_ban"), lambda: self.by_code(
                NodeRef("faq", "come_back_ban"), Conversation(answers={"country": "SY"})), None),
            "text typed": (NodeRef("menu", "not_understood"), lambda: self.typed("hello?"),
                           NodeRef.parse(HOME)),
            "a story typed": (NodeRef("menu", "not_understood_long"),
                              lambda: self.typed("I need to tell you something. " * 10),
                              NodeRef.parse(HOME)),
            "code typed wrong": (NodeRef("menu", "code_invalid"), self.bad_code,
                                 NodeRef("menu", "code")),
            "postcode typed wrong": (NodeRef("booking", "postcode_invalid"), self.bad_postcode,
                                     NodeRef("booking", "by_postcode")),
        }

    async def start(self) -> None:
        await self.person.send("/start")

    async def help(self) -> None:
        await self.person.send("/start")
        await self.person.send("/help")

    async def typed(self, text: str) -> None:
        await self.person.send("/start")
        await self.person.press("No")
        await self.person.send(text)

    async def privacy(self) -> None:
        await self.person.send("/start")
        await self.person.send("/privacy")

    async def bad_code(self) -> None:
        await self.person.send("/start")
        await self.person.send("/code")
        await self.person.send("not a code!")

    async def bad_postcode(self) -> None:
        await self.person.send("/start")
        for label in ("No", "📍 Find help near me", "Find places near me", "Skip the questions",
                      "Type a postcode"):
            await self.person.press(label)
        await self.person.send("12")

    async def mycontact(self) -> None:
        await self.person.send("/start")
        await self.person.send("/mycontact")

    async def wave(self) -> None:
        """The follow-up wave message, as the worker sends it, and its Start pressed."""
        await self.person.send("/start")
        rows = [[InlineKeyboardButton(**b) for b in row] for row in wave_buttons(TOKEN, str)]
        await self.h.bot.send_message(self.person.user.id, "A few questions after your return",
                                      reply_markup=InlineKeyboardMarkup(inline_keyboard=rows))
        await self.person.press(WAVE_START)

    async def by_code(self, ref: NodeRef, conv: Conversation | None = None) -> None:
        await self.person.send("/start")
        conv = conv or Conversation()
        screen = self.engine.show(conv, ref, "en")
        await present(self.h.bot, self.person.user.id, screen.text, screen.markup)
        await self.state.set_data(conv.to_data())

    async def conversation(self) -> Conversation:
        uid = self.person.user.id
        raw = await self.redis.get(f"{self.prefix}:fsm:{self.h.bot.id}:{uid}:{uid}:data")
        return Conversation.from_data(json.loads(raw) if raw else {})

    async def screen(self, ref: NodeRef, conv: Conversation, notice: str | None = None
                     ) -> Screen:
        """The screen as the engine draws it for this conversation (its getter called)."""
        uid = self.person.user.id
        turn = Turn(bot=self.h.bot, chat_id=uid, user_id=uid, locale="en", state=self.state,
                    conversation=Conversation.from_data(conv.to_data()),
                    referrals=ReferralsClient.unconfigured(),
                    extra={**self.h.dp.workflow_data, "engine": self.engine})
        i18n: I18n = self.h.dp["i18n"]
        with i18n.context(), i18n.use_locale("en"):
            return (await self.engine.screen(turn, ref)).after(notice)

    def on_screen(self) -> tuple[int, list[tuple[str, str]]]:
        """The message the person looks at (the newest) and its buttons."""
        message = self.person.bot_messages()[-1]
        rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
        return int(message["message_id"]), [(b["text"], b["callback_data"])
                                            for row in rows for b in row]

    async def press(self, data: str) -> None:
        message_id, _ = self.on_screen()
        await self.person.press_data(data, message_id=message_id)

    async def open(self, route: Route) -> None:
        _, opener, _ = self.openers[route.opener]
        await opener()
        for data in route.presses:
            await self.press(data)

    async def check(self, lands: Lands, where: str) -> tuple[Conversation, Screen]:
        conv = await self.conversation()
        assert conv.at == str(lands.at), where
        node = self.engine.flows.get(lands.at)
        if isinstance(node, QuestionNode) and node.multiple:
            ticked = node.ticked(conv.answers.get(node.save_as))
            assert lands.ticked is None or lands.ticked in ticked, where
        screen = await self.screen(lands.at, conv, lands.notice)
        assert self.person.text == shown(screen), where
        _, buttons = self.on_screen()
        rendered = [(b.text, b.callback_data) for b in keyboard(screen.markup)]
        assert buttons == rendered, where
        return conv, screen


async def test_every_press_in_english_lands_where_the_flows_say(
    harness: Harness, redis: Redis, prefix: str
) -> None:
    walker = Walker(harness, redis, prefix)
    engine = walker.engine
    flows = engine.flows
    assert set(WITHOUT_API) == engine.actions.names()
    assert set(engine.actions.getters) > API_GETTERS
    routes: dict[NodeRef, Route] = {}
    pressed: set[tuple[NodeRef, str]] = set()
    for name, (seed, _, seed_back) in walker.openers.items():
        queue = deque([(seed, Route(name, back_to=seed_back))])
        while queue:  # breadth first from each opener, so routes stay short
            here, route = queue.popleft()
            if here in routes:
                continue
            routes[here] = route
            await walker.open(route)
            _, screen = await walker.check(Lands(here), f"{route} should open {here}")
            on_here = True
            for button in keyboard(screen.markup):
                data = button.callback_data or ""
                choice = NodeCb.unpack(data).c
                if choice.startswith(PAGE_PREFIX):
                    continue  # a page turn: the same list (test_a_long_list_turns_pages…)
                if str(here) == "menu.language" and choice not in ("en", *NAV_IDS):
                    continue  # the walk stays in English (each language: tests/bot/test_i18n)
                where = f"{here} [{button.text}]"
                if not on_here:
                    await walker.open(route)  # back on `here`, as the route leaves it
                before = await walker.conversation()
                lands = landing(engine, here, choice, before.answers, route.back_to)
                await walker.press(data)
                after, _ = await walker.check(lands, where)
                pressed.add((here, choice))
                on_here = lands.at == here
                back_to = here if after.trail else None
                if lands.at not in routes:
                    queue.append((lands.at, Route(name, (*route.presses, data), back_to)))
                branch = lands.branch
                for case in [*branch.cases, None] if branch else []:
                    # the other ways the branch goes: the same route, answered otherwise
                    other = landing(engine, here, choice,
                                    {**before.answers, branch.branch: case or ""}, back_to)
                    presses = answered_otherwise(flows, route.presses, branch, case)
                    if other.at not in routes and presses is not None:
                        queue.append((other.at, Route(name, (*presses, data), back_to)))
                back = [d for _, d in walker.on_screen()[1] if is_back(d)]
                if not on_here and choice != "back" and back:
                    await walker.press(back[0])  # Back from where the press landed: here
                    await walker.check(Lands(here), f"Back after {where}")
                    on_here = True

    # The web chat's twins of Telegram screens (`when: on_telegram`, `otherwise: …_web`) are
    # not reached on Telegram: they are rendered in every language above and walked on the
    # web chat by the conversation suites (test_privacy_says_what_is_true_on_each_channel,
    # test_on_the_web_chat_a_booking_keeps_the_chat_and_its_code_for_the_answers).
    web_twins = {flows.resolve(str(node.otherwise), ref.flow)
                 for ref, node in flows.display_nodes() if node.when == "on_telegram"}
    assert web_twins and all(ref.node.endswith("_web") for ref in web_twins)
    screens = {ref for ref, _ in flows.display_nodes()} - web_twins
    assert set(routes) == screens - BEHIND_API, sorted(map(str, screens - BEHIND_API - set(
        routes)))  # every screen the API does not gate was seen
    # Every button of every fixed screen was pressed (a dynamic screen's buttons are those
    # its getter gave on the route, all pressed above; a location keyboard is not inline).
    every_button = {(ref, choice) for ref, node in flows.display_nodes()
                    if ref in routes and not engine.is_dynamic(node)
                    and not (isinstance(node, InputNode) and node.keyboard)
                    for choice in [*options(node), *(
                        [DONE] if isinstance(node, QuestionNode) and node.multiple else []),
                        *(["home"] if node.nav and str(ref) != HOME else [])]}
    assert every_button <= pressed, sorted(map(str, every_button - pressed))
