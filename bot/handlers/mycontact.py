"""/mycontact opens flows/mycontact.yaml: see, change or cancel a booked contact, and write to
the counsellor. Its data come from bot/booking/mycontact.py."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message

from bot.engine.actions import Turn
from bot.engine.flows import HOME, NodeRef
from bot.handlers.flow import go

MYCONTACT = NodeRef("mycontact", "start")


async def on_mycontact(message: Message, turn: Turn) -> None:
    turn.conversation.trail.clear()
    await go(turn, str(MYCONTACT), NodeRef.parse(HOME), edit=False)
    turn.conversation.trail.clear()  # Back from the contacts leads nowhere but the menu


def setup(router: Router) -> None:
    router.message.register(on_mycontact, Command("mycontact"))


def create_router() -> Router:
    router = Router(name="mycontact")
    setup(router)
    return router
