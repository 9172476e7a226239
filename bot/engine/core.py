"""The engine: renders a node to text and keyboard, and walks targets through branches and
actions. Generic: nothing here knows about a particular flow."""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.engine.actions import HANDLED, ActionContext, ActionRegistry
from bot.engine.callbacks import NodeCb
from bot.engine.conversation import MAX_TRAIL, Conversation
from bot.engine.flows import HOME, FlowSet, NodeRef
from bot.engine.schema import PLACEHOLDER, ActionNode, BranchNode, MessageNode, QuestionNode
from bot.i18n import is_rtl, isolate

MAX_HOPS = 12
LONG_LABEL = 18

Translate = Callable[[str, str], str]


def N_(msgid: str) -> str:
    """Mark a string for extraction; it is translated where it is shown."""
    return msgid


TOGGLE = "__toggle__"  # lookup_press: a tick or untick in a multiple question
DONE = "done"
DONE_LABEL = N_("✔️ Done")
TICK = "✅ "
BACK_LABEL = N_("⬅️ Back")
HOME_LABEL = N_("🏠 Main menu")


class FlowBroken(Exception):
    """A target leads nowhere, or branches/actions loop. The static checks should prevent it."""


@dataclass(frozen=True)
class Screen:
    ref: NodeRef
    text: str
    markup: InlineKeyboardMarkup | None

    def after(self, notice: str | None) -> Screen:
        """The same screen with a short notice on top (one message, not two)."""
        if not notice:
            return self
        return Screen(self.ref, f"<i>{html.escape(notice, quote=False)}</i>\n\n{self.text}",
                      self.markup)


class Engine:
    def __init__(self, flows: FlowSet, actions: ActionRegistry, translate: Translate) -> None:
        self.flows = flows
        self.actions = actions
        self.translate = translate
        # A screen depends only on (node, language, whether Back shows, what is ticked):
        # render it once.
        self._screens: dict[tuple[NodeRef, str, bool, frozenset[str]], Screen] = {}

    # ---- rendering -------------------------------------------------------------------
    def text(self, msgid: str, locale: str, facts: tuple[str, ...] = ()) -> str:
        """Translate a flow text, escape it for HTML and fill in its facts."""
        out = html.escape(self.translate(msgid, locale), quote=False)
        if not facts:
            return out

        def fact(match: object) -> str:
            name = match.group(1)  # type: ignore[attr-defined]
            item = self.flows.facts.facts.get(name)
            if item is None:
                return str(match.group(0))  # type: ignore[attr-defined]
            value = self.translate(item.value, locale) if item.translate else item.value
            return isolate(html.escape(value, quote=False), locale)

        return PLACEHOLDER.sub(fact, out)

    def render(self, ref: NodeRef, locale: str, *, can_go_back: bool,
               ticked: frozenset[str] = frozenset()) -> Screen:
        key = (ref, locale, can_go_back, ticked)
        screen = self._screens.get(key)
        if screen is None:
            screen = self._screens[key] = self._render(ref, locale, can_go_back=can_go_back,
                                                       ticked=ticked)
        return screen

    def _render(self, ref: NodeRef, locale: str, *, can_go_back: bool,
                ticked: frozenset[str] = frozenset()) -> Screen:
        flow = self.flows.flows[ref.flow]
        node = flow.nodes[ref.node]
        if isinstance(node, MessageNode):
            text = self.text(node.say, locale, node.facts)
            buttons = node.buttons
        elif isinstance(node, QuestionNode):
            text = self.text(node.ask, locale, node.facts)
            if node.why:
                text += "\n\n<i>" + self.text(node.why, locale, node.facts) + "</i>"
            buttons = node.choices
        else:
            raise FlowBroken(f"{ref} is not a screen")
        labels = [(TICK if b.id in ticked else "") + self.translate(b.label, locale)
                  for b in buttons]
        columns = node.columns or (1 if any(len(x) > LONG_LABEL for x in labels) else 2)
        rows: list[list[InlineKeyboardButton]] = []
        for i, (button, label) in enumerate(zip(buttons, labels, strict=True)):
            if i % columns == 0:
                rows.append([])
            data = NodeCb(f=flow.id, n=ref.node, c=button.id, v=flow.version).pack()
            rows[-1].append(InlineKeyboardButton(text=label, callback_data=data))
        if isinstance(node, QuestionNode) and node.multiple:
            data = NodeCb(f=flow.id, n=ref.node, c=DONE, v=flow.version).pack()
            rows.append([InlineKeyboardButton(text=self.translate(DONE_LABEL, locale),
                                              callback_data=data)])
        if node.nav:
            nav = []
            if can_go_back:
                data = NodeCb(f=flow.id, n=ref.node, c="back", v=flow.version).pack()
                nav.append(InlineKeyboardButton(text=self.translate(BACK_LABEL, locale),
                                                callback_data=data))
            if str(ref) != HOME:
                data = NodeCb(f=flow.id, n=ref.node, c="home", v=flow.version).pack()
                nav.append(InlineKeyboardButton(text=self.translate(HOME_LABEL, locale),
                                                callback_data=data))
            if nav:
                if is_rtl(locale):  # read from the right: Back on the right, arrow pointing there
                    nav = [InlineKeyboardButton(text=b.text.replace("⬅️", "➡️"),
                                                callback_data=b.callback_data)
                           for b in reversed(nav)]
                rows.append(nav)
        markup = InlineKeyboardMarkup(inline_keyboard=rows) if rows else None
        return Screen(ref=ref, text=text, markup=markup)

    def show(self, conv: Conversation, ref: NodeRef, locale: str) -> Screen:
        """Render ``ref`` and make it the conversation's current screen."""
        conv.at = str(ref)
        conv.version = self.flows.flows[ref.flow].version
        node = self.flows.get(ref)
        ticked = (node.ticked(conv.answers.get(node.save_as))
                  if isinstance(node, QuestionNode) and node.multiple else frozenset())
        return self.render(ref, locale, can_go_back=bool(conv.trail), ticked=ticked)

    # ---- walking ---------------------------------------------------------------------
    def lookup_press(self, cb: NodeCb) -> str | None:
        """The target of a button press, ``back``/``home``, or None when the data is forged
        or stale (unknown flow, node or choice, or an older flow version)."""
        flow = self.flows.flows.get(cb.f)
        if flow is None or flow.version != cb.v:
            return None
        node = flow.nodes.get(cb.n)
        if not isinstance(node, MessageNode | QuestionNode):
            return None
        if cb.c in ("back", "home"):
            return cb.c if node.nav else None
        if isinstance(node, QuestionNode) and node.multiple:
            if cb.c == DONE:
                return node.next
            return TOGGLE if any(c.id == cb.c for c in node.choices) else None
        options = node.buttons if isinstance(node, MessageNode) else node.choices
        for option in options:
            if option.id == cb.c:
                return option.go
        return None

    def record_answer(self, conv: Conversation, cb: NodeCb) -> None:
        """Store a single answer as its choice id; tick or untick a multiple one."""
        node = self.flows.flows[cb.f].nodes[cb.n]
        if not isinstance(node, QuestionNode) or cb.c in ("back", "home"):
            return
        if not node.multiple:
            conv.answers[node.save_as] = cb.c
        elif cb.c != DONE:
            ticked = set(node.ticked(conv.answers.get(node.save_as))) ^ {cb.c}
            order = [c.id for c in node.choices if c.id in ticked]  # stable, catalogue order
            if order:
                conv.answers[node.save_as] = ",".join(order)
            else:
                conv.answers.pop(node.save_as, None)

    def go_back(self, conv: Conversation) -> NodeRef:
        while conv.trail:
            ref = NodeRef.parse(conv.trail.pop())
            if isinstance(self.flows.get(ref), MessageNode | QuestionNode):
                return ref
        return NodeRef.parse(HOME)

    def push_trail(self, conv: Conversation, ref: NodeRef | None) -> None:
        if ref is None or str(ref) == HOME:
            conv.trail.clear()
            return
        if not conv.trail or conv.trail[-1] != str(ref):
            conv.trail.append(str(ref))
            del conv.trail[:-MAX_TRAIL]

    async def walk(
        self, target: str, from_flow: str, conv: Conversation, context: ActionContext
    ) -> NodeRef | None:
        """Follow ``target`` through branches and actions to the next screen.

        Returns None when an action answered the user itself.
        """
        current_flow = from_flow
        for _ in range(MAX_HOPS):
            if target == "back":
                return self.go_back(conv)
            ref = self.flows.resolve(target, current_flow)
            node = self.flows.get(ref)
            if node is None:
                raise FlowBroken(f"target {target!r} from {current_flow} does not exist")
            current_flow = ref.flow
            if isinstance(node, BranchNode):
                answer = conv.answers.get(node.branch)
                target = node.cases.get(answer, node.default) if answer else node.default
                continue
            if isinstance(node, ActionNode):
                hook = self.actions.get(node.action)
                if hook is None:
                    raise FlowBroken(f"action {node.action!r} is not registered")
                result = await hook(context)
                if result == HANDLED:
                    return None
                target = result or node.next or "home"
                continue
            return ref
        raise FlowBroken(f"more than {MAX_HOPS} branches or actions in a row from {from_flow}")
