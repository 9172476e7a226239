"""What flows may name and Python provides: actions, getters, conditions and readers.

* An **action** (``action: name``) receives the :class:`Turn` and returns a target to
  continue with (``node``, ``flow.node``, ``home``), ``None`` to continue with the node's
  ``next``, or :data:`HANDLED` when it has answered the person itself.
* A **getter** (``data: name`` or ``list: name``) returns a :class:`View`: values for the
  screen's placeholders, the items of a list, buttons to hide. It declares what it provides,
  so that ``python -m bot.engine check`` can prove every placeholder is filled, and a
  ``sample`` view, so that every screen can be rendered in every language without the API.
* A **condition** (``when: name``) reads the conversation and says whether a screen or a
  button applies.
* A **reader** (``input: name``) takes what the person typed or sent on an input screen and
  returns the target to go on to (``None``: the node's ``next``).

Any of them may raise :class:`Outcome` (``unavailable``, ``taken``, ``invalid``…): the flow
says where each outcome leads (``outcomes:`` on the node or the flow).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from aiogram import Bot
from aiogram.fsm.context import FSMContext
from aiogram.types import Message

if TYPE_CHECKING:
    from bot.api_client import ReferralsClient
    from bot.engine.conversation import Conversation
    from bot.engine.core import Engine
    from bot.engine.schema import Facts

HANDLED: Final = "__handled__"


class Outcome(Exception):
    """A getter, action or reader ended in a named way; the flow says where that leads."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class Turn:
    """One update's conversation context: loaded once, saved once (only if it changed).

    Handlers, actions, getters and readers all receive it; nothing else is passed around.
    """

    bot: Bot
    chat_id: int
    user_id: int
    locale: str
    state: FSMContext
    conversation: Conversation
    referrals: ReferralsClient  # always present: answers "unavailable" when not configured
    message_id: int | None = None  # the message to edit, when the update is a button press
    extra: dict[str, Any] = field(default_factory=dict)  # the dispatcher's dependencies
    scratch: dict[str, Any] = field(default_factory=dict)  # this update only, never saved
    notice: str | None = None  # a short line shown above the next screen
    forgotten: bool = False  # /forget: the state is cleared instead of saved

    @property
    def engine(self) -> Engine:
        engine: Engine = self.extra["engine"]
        return engine

    @property
    def answers(self) -> dict[str, str]:
        answers: dict[str, str] = self.conversation.answers
        return answers


ActionContext = Turn  # the name the first action hooks were written against


@dataclass(frozen=True)
class Item:
    """One entry of a list: ``id`` goes into the callback data (short, ASCII, no ``:``);
    ``fields`` fill the item template's label; ``block`` is safe HTML shown in the text."""

    id: str
    fields: dict[str, str] = field(default_factory=dict)
    block: str | None = None


@dataclass(frozen=True)
class View:
    values: dict[str, str] = field(default_factory=dict)  # plain text: escaped, isolated
    html: dict[str, str] = field(default_factory=dict)  # already safe HTML, built in code
    items: list[Item] = field(default_factory=list)
    hide: frozenset[str] = frozenset()  # ids of the node's buttons not to show
    header: str | None = None  # safe HTML shown above the screen's text
    footer: str | None = None  # safe HTML shown below it (an address, a map link)


ActionHook = Callable[[Turn], Awaitable[str | None]]
GetterFn = Callable[[Turn], Awaitable[View]]
Condition = Callable[["Conversation", "Facts"], bool]  # the answers, the facts table
Reader = Callable[[Turn, Message], Awaitable[str | None]]


Sample = Callable[["Engine", str], View]  # a made-up view, to render a screen in a language


@dataclass(frozen=True)
class Getter:
    fn: GetterFn
    sample: Sample
    provides: frozenset[str] = frozenset()  # placeholder names it fills (values and html)
    fields: frozenset[str] = frozenset()  # item fields for the item template's label
    id_bytes: int = 0  # the longest item id it gives, in bytes (for the 64-byte check)
    outcomes: frozenset[str] = frozenset()  # the outcomes it may raise


class ActionRegistry:
    def __init__(self) -> None:
        self._hooks: dict[str, ActionHook] = {}
        self.getters: dict[str, Getter] = {}
        self.conditions: dict[str, Condition] = {}
        self.readers: dict[str, Reader] = {}
        # The outcomes each action and reader may raise ("action:book"): the static checks
        # prove that every node using them says where each one leads.
        self.raises: dict[str, frozenset[str]] = {}

    def register(self, name: str, hook: ActionHook, *, outcomes: tuple[str, ...] = ()) -> None:
        if name in self._hooks:
            raise ValueError(f"action {name!r} is already registered")
        self._hooks[name] = hook
        self.raises[f"action:{name}"] = frozenset(outcomes)

    def getter(self, name: str, fn: GetterFn, sample: Sample, *,
               provides: tuple[str, ...] = (), fields: tuple[str, ...] = (),
               id_bytes: int = 0, outcomes: tuple[str, ...] = ()) -> None:
        if name in self.getters:
            raise ValueError(f"getter {name!r} is already registered")
        self.getters[name] = Getter(fn, sample, frozenset(provides), frozenset(fields), id_bytes,
                                    frozenset(outcomes))

    def condition(self, name: str, fn: Condition) -> None:
        if name in self.conditions:
            raise ValueError(f"condition {name!r} is already registered")
        self.conditions[name] = fn

    def reader(self, name: str, fn: Reader, *, outcomes: tuple[str, ...] = ()) -> None:
        if name in self.readers:
            raise ValueError(f"reader {name!r} is already registered")
        self.readers[name] = fn
        self.raises[f"reader:{name}"] = frozenset(outcomes)

    def get(self, name: str) -> ActionHook | None:
        return self._hooks.get(name)

    def names(self) -> frozenset[str]:
        return frozenset(self._hooks)
