"""Outreach campaign codes: from the /start link, or typed when an app dropped the link.

A code is checked against the API's campaigns (case-insensitive); an unknown one is not kept
and the person is told so. When the API cannot be reached the code is kept unchecked: the
API stores signals of unknown codes without a campaign anyway."""

from __future__ import annotations

import logging
import re

from aiogram import Bot, Router
from aiogram.filters import Command, CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _

from bot.api_client import ApiRefused, ApiUnavailable, ReferralsClient
from bot.engine.actions import HANDLED, ActionContext
from bot.engine.conversation import Conversation
from bot.engine.core import Engine
from bot.handlers.flow import show_home
from bot.replies import load, present, save
from bot.signals import current as signals

log = logging.getLogger(__name__)

CAMPAIGN_CODE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
AWAITING_CODE = "campaign_code"


def valid_code(text: str | None) -> str | None:
    text = (text or "").strip()
    return text if CAMPAIGN_CODE.fullmatch(text) else None


async def known_code(code: str, referrals: ReferralsClient | None) -> str | None:
    """The campaign's stored code, None when the API does not know it, or `code` itself when
    it cannot be checked (no API, or the API is unavailable)."""
    if referrals is None:
        return code
    try:
        return await referrals.campaign(code)
    except ApiUnavailable:
        return code
    except ApiRefused:
        return None


def unknown_link_notice() -> str:
    return _("We do not know the code in your link. You can use the bot anyway. If you "
             "have a code from a flyer, send /code.")


def prompt() -> str:
    return _("Type the code you were given, for example on a flyer. "
             "It has only letters, numbers, - and _.")


async def ask_campaign_code_action(ctx: ActionContext) -> str | None:
    conv: Conversation = ctx.conversation
    conv.awaiting = AWAITING_CODE
    await present(ctx.bot, ctx.chat_id, prompt(), None, ctx.message_id)
    return HANDLED


async def accept_code(
    bot: Bot, chat_id: int, text: str | None, conv: Conversation, engine: Engine, locale: str,
    referrals: ReferralsClient | None = None,
) -> None:
    """The person typed a code after we asked for one."""
    code = valid_code(text)
    if code is None:
        conv.awaiting = AWAITING_CODE
        await present(bot, chat_id, _("This is not a valid code. A code has only letters, "
                                      "numbers, - and _ (at most 64). Try again, or use "
                                      "/menu."))
        return
    known = await known_code(code, referrals)
    if known is None:
        conv.awaiting = AWAITING_CODE
        await present(bot, chat_id, _("We do not know this code. Please check it and try "
                                      "again, or use /menu."))
        return
    conv.campaign = known
    signals().emit("conversation_started", campaign=known)
    log.info("campaign code typed")
    await show_home(bot, chat_id, conv, engine, locale, notice=_("✅ Thank you, the code is "
                                                                  "saved."))


def create_router() -> Router:
    router = Router(name="campaign")

    @router.message(Command("code"))
    async def on_code(
        message: Message, command: CommandObject, bot: Bot, state: FSMContext, engine: Engine,
        locale: str, referrals: ReferralsClient | None = None,
    ) -> None:
        conv = await load(state)
        if command.args:
            conv.awaiting = None
            await accept_code(bot, message.chat.id, command.args, conv, engine, locale,
                              referrals)
        else:
            conv.awaiting = AWAITING_CODE
            await message.answer(prompt())
        await save(state, conv)

    return router
