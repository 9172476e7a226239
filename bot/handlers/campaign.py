"""Outreach campaign codes: from the /start link, or typed when an app dropped the link.

A code is checked against the API's campaigns (case-insensitive); an unknown one is not kept
and the person is told so. When the API cannot be reached the code is kept unchecked: the
API stores signals of unknown codes without a campaign anyway."""

from __future__ import annotations

import logging
import re

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _

from bot.api_client import ApiRefused, ApiUnavailable, ReferralsClient
from bot.engine.actions import Outcome, Turn
from bot.engine.flows import HOME, NodeRef
from bot.handlers.flow import go, show_home
from bot.signals import current as signals

log = logging.getLogger(__name__)

CAMPAIGN_CODE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
CODE = NodeRef("menu", "code")


def valid_code(text: str | None) -> str | None:
    text = (text or "").strip()
    return text if CAMPAIGN_CODE.fullmatch(text) else None


async def known_code(code: str, referrals: ReferralsClient) -> str | None:
    """The campaign's stored code, None when the API does not know it, or `code` itself when
    it cannot be checked (no API, or the API is unavailable)."""
    try:
        return await referrals.campaign(code)
    except ApiUnavailable:
        return code
    except ApiRefused:
        return None


def unknown_link_notice() -> str:
    return _("We do not know the code in your link. You can use the bot anyway. If you "
             "have a code from a flyer, send /code.")


async def read_code(turn: Turn, message: Message) -> str | None:
    """The person typed a code on the code screen (menu.code)."""
    return await accept(turn, message.text)


async def accept(turn: Turn, text: str | None) -> str | None:
    code = valid_code(text)
    if code is None:
        raise Outcome("invalid")
    known = await known_code(code, turn.referrals)
    if known is None:
        raise Outcome("unknown")
    turn.conversation.campaign = known
    signals().emit("conversation_started", campaign=known)
    log.info("campaign code typed")
    turn.notice = _("✅ Thank you, the code is saved.")
    return None


async def on_code(message: Message, command: CommandObject, turn: Turn) -> None:
    """/code ABC saves the code at once; /code alone opens the code screen."""
    here = NodeRef.parse(turn.conversation.at or HOME)
    if command.args:
        try:
            await accept(turn, command.args)
        except Outcome as outcome:
            await go(turn, turn.engine.outcome_target(CODE, outcome.code), here, edit=False)
            return
        await show_home(turn, edit=False)
        return
    await go(turn, str(CODE), here, edit=False)


def setup(router: Router) -> None:
    router.message.register(on_code, Command("code"))


def create_router() -> Router:
    router = Router(name="campaign")
    setup(router)
    return router
