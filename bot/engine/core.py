"""The engine: renders a node to text and keyboard, and walks targets through branches,
conditions and actions. Generic: nothing here knows about a particular flow."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass

from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
)

from bot.engine.actions import HANDLED, ActionRegistry, Outcome, Turn, View
from bot.engine.callbacks import NodeCb
from bot.engine.conversation import MAX_TRAIL, Conversation
from bot.engine.flows import HOME, FlowSet, NodeRef
from bot.engine.schema import (
    PLACEHOLDER,
    ActionNode,
    BranchNode,
    Choice,
    InputNode,
    ListNode,
    MessageNode,
    QuestionNode,
    Screenish,
)
from bot.i18n import is_rtl, isolate

MAX_HOPS = 12
LONG_LABEL = 18
MAX_LABEL = 40  # a button label longer than this is cut at a word, with "…"
LTR_RUN = re.compile(r"/[a-z]+|\+?\d[\d ]{4,}\d")  # a command, a phone number
ITEM_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,47}$")  # never a nav id or a page turn

Translate = Callable[[str, str], str]


def N_(msgid: str) -> str:
    """Mark a string for extraction; it is translated where it is shown."""
    return msgid


DONE_ID = "done"
TOGGLE = "__toggle__"  # lookup_press: a tick or untick in a multiple question
PAGE = "__page__"  # lookup_press: ◀ ▶ on a list; the page number follows
ITEM = "__item__"  # lookup_press: an item of a list; its target follows
NAV_IDS = frozenset({"back", "home", DONE_ID})  # never an item's id
PAGE_PREFIX = "_p"  # the choice id of a page turn: _p0, _p1, …
DONE = DONE_ID
DONE_LABEL = N_("✔️ Done")
TICK = "✅ "
BACK_LABEL = N_("⬅️ Back")
HOME_LABEL = N_("🏠 Main menu")
SEND_LOCATION_LABEL = N_("📍 Send my location")
CANCEL_LABEL = N_("Cancel")

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup


class FlowBroken(Exception):
    """A target leads nowhere, or branches/actions loop. The static checks should prevent it."""


@dataclass(frozen=True)
class Screen:
    ref: NodeRef
    text: str
    markup: Markup | None
    items: tuple[str, ...] = ()  # a list's item ids on this page

    def after(self, notice: str | None) -> Screen:
        """The same screen with a short notice on top (one message, not two)."""
        if not notice:
            return self
        return Screen(self.ref, f"<i>{html.escape(notice, quote=False)}</i>\n\n{self.text}",
                      self.markup, self.items)


def cut_label(label: str, limit: int = MAX_LABEL) -> str:
    """A label that fits a button: cut at a word, never mid-word, with "…"."""
    if len(label) <= limit:
        return label
    head = label[: limit - 1]
    if " " in head.strip():
        head = head[: head.rstrip().rfind(" ")]
    return head.rstrip(" ,;:-–—") + "…"


def _fill(text: str, values: dict[str, str]) -> str:
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


class Engine:
    def __init__(self, flows: FlowSet, actions: ActionRegistry, translate: Translate) -> None:
        self.flows = flows
        self.actions = actions
        self.translate = translate
        # A static screen depends only on (node, language, whether Back shows, what is
        # ticked): render it once.
        self._screens: dict[tuple[NodeRef, str, bool, frozenset[str]], Screen] = {}

    # ---- rendering -------------------------------------------------------------------
    def text(self, msgid: str, locale: str, facts: tuple[str, ...] = (),
             view: View | None = None) -> str:
        """Translate a flow text, escape it for HTML and fill in its facts and values. In
        right-to-left text, commands (/mycontact) and phone-like numbers are isolated so that
        they keep their order."""
        out = html.escape(self.translate(msgid, locale), quote=False)
        if is_rtl(locale):
            out = LTR_RUN.sub(lambda m: isolate(m.group(0), locale), out)
        values: dict[str, str] = {}
        for name in facts:
            item = self.flows.facts.facts.get(name)
            if item is not None:
                value = self.translate(item.value, locale) if item.translate else item.value
                values[name] = isolate(html.escape(value, quote=False), locale)
        if view is not None:
            values.update({k: isolate(html.escape(v, quote=False), locale)
                           for k, v in view.values.items()})
            values.update(view.html)
        return _fill(out, values) if values else out

    def is_dynamic(self, node: Screenish) -> bool:
        buttons = node.choices if isinstance(node, QuestionNode) else node.buttons
        return (isinstance(node, ListNode) or node.data is not None
                or any(b.when is not None for b in buttons))

    def render(self, ref: NodeRef, locale: str, *, can_go_back: bool,
               ticked: frozenset[str] = frozenset()) -> Screen:
        """A screen that needs no getter (cached)."""
        key = (ref, locale, can_go_back, ticked)
        screen = self._screens.get(key)
        if screen is None:
            screen = self._screens[key] = self.compose(ref, locale, can_go_back=can_go_back,
                                                       ticked=ticked)
        return screen

    def compose(self, ref: NodeRef, locale: str, *, can_go_back: bool,
                ticked: frozenset[str] = frozenset(), view: View | None = None,
                hidden: frozenset[str] = frozenset(), page: int = 0) -> Screen:
        """Text and keyboard of a screen node; ``view`` is what its getter gave."""
        flow = self.flows.flows[ref.flow]
        node = flow.nodes[ref.node]
        if not isinstance(node, MessageNode | QuestionNode | ListNode | InputNode):
            raise FlowBroken(f"{ref} is not a screen")
        hidden = hidden | (view.hide if view else frozenset())
        if isinstance(node, QuestionNode):
            text = self.text(node.ask, locale, node.facts, view)
            if node.why:
                text += "\n\n<i>" + self.text(node.why, locale, node.facts, view) + "</i>"
            buttons: tuple[Choice, ...] = node.choices
        else:
            text = self.text(node.say, locale, node.facts, view)
            buttons = node.buttons
        if view is not None and view.header:
            text = view.header + "\n\n" + text
        if view is not None and view.footer:
            text += "\n\n" + view.footer
        rows: list[list[InlineKeyboardButton]] = []
        items: tuple[str, ...] = ()
        if isinstance(node, ListNode):
            text, rows, items = self._list_part(ref, node, locale, text, view or View(), page)
        rows += self._button_rows(ref, node, locale,
                                  [b for b in buttons if b.id not in hidden], ticked)
        if isinstance(node, InputNode) and node.keyboard == "location":
            return Screen(ref, text, self._location_keyboard(locale))
        if node.nav:
            rows += self._nav_row(ref, locale, can_go_back)
        markup = InlineKeyboardMarkup(inline_keyboard=rows) if rows else None
        return Screen(ref=ref, text=text, markup=markup, items=items)

    def _data(self, ref: NodeRef, choice: str) -> str:
        version = self.flows.flows[ref.flow].version
        return NodeCb(f=ref.flow, n=ref.node, c=choice, v=version).pack()

    def _list_part(self, ref: NodeRef, node: ListNode, locale: str, text: str, view: View,
                   page: int) -> tuple[str, list[list[InlineKeyboardButton]], tuple[str, ...]]:
        pages = max(1, -(-len(view.items) // node.page_size))
        page = min(max(page, 0), pages - 1)
        shown = view.items[page * node.page_size:(page + 1) * node.page_size]
        for item in shown:
            if not ITEM_ID.fullmatch(item.id) or item.id in NAV_IDS:
                raise FlowBroken(f"{ref}: item id {item.id!r} cannot be callback data")
        blocks = [item.block for item in shown if item.block]
        if blocks:
            text += "\n\n" + "\n\n".join(blocks)
        if node.footer:
            text += "\n\n" + self.text(node.footer, locale, node.facts, view)
        template = self.translate(node.item.label, locale)
        labels = [cut_label(_fill(template, item.fields)) for item in shown]
        columns = node.columns or (1 if any(len(x) > LONG_LABEL for x in labels) else 2)
        rows: list[list[InlineKeyboardButton]] = []
        for i, (item, label) in enumerate(zip(shown, labels, strict=True)):
            if i % columns == 0:
                rows.append([])
            rows[-1].append(InlineKeyboardButton(text=label,
                                                 callback_data=self._data(ref, item.id)))
        if pages > 1:
            turn = []
            if page > 0:
                turn.append(InlineKeyboardButton(
                    text="◀", callback_data=self._data(ref, f"{PAGE_PREFIX}{page - 1}")))
            turn.append(InlineKeyboardButton(  # where am I: "2/3"
                text=f"{page + 1}/{pages}", callback_data=self._data(ref, f"{PAGE_PREFIX}{page}")))
            if page < pages - 1:
                label = self.translate(node.more, locale) if node.more else "▶"
                turn.append(InlineKeyboardButton(
                    text=label, callback_data=self._data(ref, f"{PAGE_PREFIX}{page + 1}")))
            if is_rtl(locale):  # read from the right: the arrows point the other way
                turn = [InlineKeyboardButton(
                    text=b.text.replace("▶", "\0").replace("◀", "▶").replace("\0", "◀"),
                    callback_data=b.callback_data) for b in reversed(turn)]
            rows.append(turn)
        return text, rows, tuple(item.id for item in shown)

    def _button_rows(self, ref: NodeRef, node: Screenish, locale: str,
                     buttons: list[Choice], ticked: frozenset[str]
                     ) -> list[list[InlineKeyboardButton]]:
        labels = [(TICK if b.id in ticked else "") + cut_label(self.translate(b.label, locale))
                  for b in buttons]
        columns = node.columns or (1 if any(len(x) > LONG_LABEL for x in labels) else 2)
        rows: list[list[InlineKeyboardButton]] = []
        for i, (button, label) in enumerate(zip(buttons, labels, strict=True)):
            if i % columns == 0:
                rows.append([])
            rows[-1].append(InlineKeyboardButton(text=label,
                                                 callback_data=self._data(ref, button.id)))
        if isinstance(node, QuestionNode) and node.multiple:
            rows.append([InlineKeyboardButton(text=self.translate(DONE_LABEL, locale),
                                              callback_data=self._data(ref, DONE))])
        return rows

    def _nav_row(self, ref: NodeRef, locale: str,
                 can_go_back: bool) -> list[list[InlineKeyboardButton]]:
        nav = []
        if can_go_back:
            nav.append(InlineKeyboardButton(text=self.translate(BACK_LABEL, locale),
                                            callback_data=self._data(ref, "back")))
        if str(ref) != HOME:
            nav.append(InlineKeyboardButton(text=self.translate(HOME_LABEL, locale),
                                            callback_data=self._data(ref, "home")))
        if not nav:
            return []
        if is_rtl(locale):  # read from the right: Back on the right, arrow pointing there
            nav = [InlineKeyboardButton(text=b.text.replace("⬅️", "➡️"),
                                        callback_data=b.callback_data) for b in reversed(nav)]
        return [nav]

    def _location_keyboard(self, locale: str) -> ReplyKeyboardMarkup:
        return ReplyKeyboardMarkup(keyboard=[
            [KeyboardButton(text=self.translate(SEND_LOCATION_LABEL, locale),
                            request_location=True)],
            [KeyboardButton(text=self.translate(CANCEL_LABEL, locale))],
        ], resize_keyboard=True, one_time_keyboard=True)

    def show(self, conv: Conversation, ref: NodeRef, locale: str) -> Screen:
        """Render a screen that needs no getter and make it the conversation's current one."""
        conv.at = str(ref)
        conv.version = self.flows.flows[ref.flow].version
        node = self.flows.get(ref)
        ticked = (node.ticked(conv.answers.get(node.save_as))
                  if isinstance(node, QuestionNode) and node.multiple else frozenset())
        return self.render(ref, locale, can_go_back=bool(conv.trail), ticked=ticked)

    async def screen(self, turn: Turn, ref: NodeRef, page: int = 0) -> Screen:
        """Render any screen (calling its getter) and make it the current one. Raises
        Outcome when the getter ends with one."""
        node = self.flows.get(ref)
        if not isinstance(node, MessageNode | QuestionNode | ListNode | InputNode):
            raise FlowBroken(f"{ref} is not a screen")
        if not self.is_dynamic(node):
            return self.show(turn.conversation, ref, turn.locale)
        getter_name = node.list if isinstance(node, ListNode) else node.data
        view = None
        if getter_name is not None:
            getter = self.actions.getters.get(getter_name)
            if getter is None:
                raise FlowBroken(f"getter {getter_name!r} is not registered")
            view = await getter.fn(turn)
        conv = turn.conversation
        buttons = node.choices if isinstance(node, QuestionNode) else node.buttons
        hidden = frozenset(b.id for b in buttons
                           if b.when is not None and not self.holds(b.when, conv))
        conv.at = str(ref)
        conv.version = self.flows.flows[ref.flow].version
        return self.compose(ref, turn.locale, can_go_back=bool(conv.trail), view=view,
                            hidden=hidden, page=page)

    def holds(self, condition: str, conv: Conversation) -> bool:
        check = self.actions.conditions.get(condition)
        if check is None:
            raise FlowBroken(f"condition {condition!r} is not registered")
        return check(conv, self.flows.facts)

    # ---- walking ---------------------------------------------------------------------
    def lookup_press(self, cb: NodeCb) -> str | None:
        """The target of a button press, ``back``/``home``, TOGGLE, PAGE+n, ITEM+target, or
        None when the data is forged or stale (unknown flow, node or choice, or an older
        flow version)."""
        flow = self.flows.flows.get(cb.f)
        if flow is None or flow.version != cb.v:
            return None
        node = flow.nodes.get(cb.n)
        if not isinstance(node, MessageNode | QuestionNode | ListNode | InputNode):
            return None
        if cb.c in ("back", "home"):
            return cb.c if node.nav else None
        if isinstance(node, QuestionNode) and node.multiple:
            if cb.c == DONE:
                return node.next
            return TOGGLE if any(c.id == cb.c for c in node.choices) else None
        options = node.choices if isinstance(node, QuestionNode) else node.buttons
        for option in options:
            if option.id == cb.c:
                return option.go
        if isinstance(node, ListNode):
            page = cb.c.removeprefix(PAGE_PREFIX)
            if cb.c.startswith(PAGE_PREFIX) and page.isdigit():
                return PAGE + page
            if ITEM_ID.fullmatch(cb.c):
                return ITEM + node.item.go
        return None

    def record_answer(self, conv: Conversation, cb: NodeCb) -> None:
        """Store a single answer as its choice id (a list's item id); tick or untick a
        multiple one."""
        node = self.flows.flows[cb.f].nodes[cb.n]
        if cb.c in ("back", "home"):
            return
        if isinstance(node, ListNode):
            if (not cb.c.startswith(PAGE_PREFIX) and ITEM_ID.fullmatch(cb.c)
                    and all(b.id != cb.c for b in node.buttons)):
                conv.answers[node.save_as] = cb.c
            return
        if not isinstance(node, QuestionNode):
            return
        if not node.multiple:
            if any(c.id == cb.c and c.saves for c in node.choices):
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
            node = self.flows.get(ref)
            if (isinstance(node, MessageNode | QuestionNode | ListNode | InputNode)
                    and node.revisit):
                return ref
        return NodeRef.parse(HOME)

    def push_trail(self, conv: Conversation, ref: NodeRef | None) -> None:
        if ref is None or str(ref) == HOME:
            conv.trail.clear()
            return
        if not conv.trail or conv.trail[-1] != str(ref):
            conv.trail.append(str(ref))
            del conv.trail[:-MAX_TRAIL]

    def outcome_target(self, ref: NodeRef, code: str) -> str:
        flow = self.flows.flows[ref.flow]
        node = flow.nodes[ref.node]
        mapped = getattr(node, "outcomes", {}).get(code) or flow.outcomes.get(code)
        if mapped is None:
            raise FlowBroken(f"{ref}: outcome {code!r} leads nowhere")
        return str(mapped)

    async def arrive(self, turn: Turn, target: str, from_flow: str, page: int = 0
                     ) -> Screen | None:
        """Follow ``target`` through branches, conditions, actions and getters to the next
        screen, rendered. None when an action answered the person itself."""
        conv = turn.conversation
        current_flow = from_flow
        for _ in range(MAX_HOPS):
            back = target == "back"  # Back shows the screen the person saw, conditions aside
            ref = self.go_back(conv) if back else self.flows.resolve(target, current_flow)
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
                try:
                    result = await hook(turn)
                except Outcome as outcome:
                    target = self.outcome_target(ref, outcome.code)
                    continue
                if result == HANDLED:
                    return None
                target = result or node.next or "home"
                continue
            if (node.when is not None and node.otherwise and not back
                    and not self.holds(node.when, conv)):
                target = node.otherwise
                continue
            try:
                screen = await self.screen(turn, ref, page)
            except Outcome as outcome:
                target = self.outcome_target(ref, outcome.code)
                continue
            skip = self._skip(node, screen, conv)
            if skip is None:
                return screen
            target = skip
        raise FlowBroken(f"more than {MAX_HOPS} branches or actions in a row from {from_flow}")

    def _skip(self, node: Screenish, screen: Screen, conv: Conversation) -> str | None:
        """A list that should not be shown: empty (go ``empty``), or one item to pick at
        once (``single``)."""
        if not isinstance(node, ListNode):
            return None
        if not screen.items and node.empty:
            return node.empty
        if node.single and len(screen.items) == 1:
            conv.answers[node.save_as] = screen.items[0]
            return node.item.go
        return None
