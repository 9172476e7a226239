"""Action hooks: named async callables that flows call with ``action: name``.

A hook receives an :class:`ActionContext` and returns a target to continue with (``node``,
``flow.node``, ``home``), or ``None`` to continue with the node's ``next``, or
:data:`HANDLED` when it has answered the user itself (for example by showing a picker).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final

from aiogram import Bot
from aiogram.fsm.context import FSMContext

HANDLED: Final = "__handled__"


@dataclass
class ActionContext:
    bot: Bot
    chat_id: int
    user_id: int
    locale: str
    state: FSMContext
    conversation: Any  # bot.engine.conversation.Conversation (kept loose to avoid a cycle)
    message_id: int | None = None  # the message to edit, when the action came from a button
    extra: dict[str, Any] = field(default_factory=dict)  # the dispatcher's dependencies


ActionHook = Callable[[ActionContext], Awaitable[str | None]]


class ActionRegistry:
    def __init__(self) -> None:
        self._hooks: dict[str, ActionHook] = {}

    def register(self, name: str, hook: ActionHook) -> None:
        if name in self._hooks:
            raise ValueError(f"action {name!r} is already registered")
        self._hooks[name] = hook

    def get(self, name: str) -> ActionHook | None:
        return self._hooks.get(name)

    def names(self) -> frozenset[str]:
        return frozenset(self._hooks)
