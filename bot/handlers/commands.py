"""/start [campaign], /menu, /help, /privacy, /forget."""

from __future__ import annotations

import logging

from aiogram import Bot, Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.types import (
    BotCommand,
    BotCommandScopeDefault,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.api_client import ApiRefused, ApiUnavailable, ReferralsClient
from bot.engine.conversation import Conversation
from bot.engine.core import N_, Engine
from bot.engine.flows import WELCOME, NodeRef
from bot.handlers.campaign import known_code, unknown_link_notice, valid_code
from bot.handlers.flow import show_home
from bot.handlers.language import picker
from bot.preferences import LanguagePreferences
from bot.replies import answer_quietly, callback_place, load, present, present_screen, save
from bot.settings import Settings
from bot.signals import current as signals

log = logging.getLogger(__name__)

HELP = NodeRef("menu", "help")

COMMANDS = (
    ("start", N_("Start again")),
    ("menu", N_("Main menu")),
    ("language", N_("Change language")),
    ("help", N_("How this bot works")),
    ("mycontact", N_("My booked contact")),
    ("privacy", N_("What we keep about you")),
    ("forget", N_("Delete what we keep")),
    ("stop", N_("Stop questions after return")),
)


class ForgetCb(CallbackData, prefix="forget"):
    yes: bool


async def register_commands(bot: Bot, i18n: I18n, available: list[str]) -> None:
    """setMyCommands once per shipped language, plus the default list in English."""
    for code in [None, *available]:
        commands = [
            BotCommand(command=name, description=i18n.gettext(text, locale=code or "en"))
            for name, text in COMMANDS
        ]
        await bot.set_my_commands(commands, scope=BotCommandScopeDefault(), language_code=code)


def privacy_text(settings: Settings) -> str:
    return _(
        "🔒 What we keep about you\n\n"
        "We do not keep your name, username, phone number or photo.\n\n"
        "We keep only: the language you chose (for {language_days} days), where you are in "
        "this conversation and the buttons you pressed (for {state_days} days after your last "
        "message), and a campaign code if you came through a link. Nobody reads this: it only "
        "lets the bot remember where you were.\n\n"
        "Telegram itself knows that you use this bot.\n\n"
        "/forget deletes everything we keep, at once."
    ).format(language_days=settings.language_ttl_days, state_days=settings.state_ttl_days) + (
        "\n\n" + _("If you book a contact, we keep only what you agreed to share, locked "
                   "(encrypted), until {days} days after the contact is closed. Only the "
                   "place you chose sees it.").format(days=settings.referral_retention_days)) + (
        "\n\n" + _("If you agreed to a few questions after your return, we keep your Telegram "
                   "chat (locked), your language, the country and the date of your return "
                   "until the last questions. /stop ends them at once.") + (
        "\n\n" + _("We also count, without your name or Telegram number, which topics people "
                   "read and what makes it hard for them to decide. These counts cannot show "
                   "who you are. /forget deletes them too.")))


def create_router() -> Router:
    router = Router(name="commands")

    @router.message(CommandStart())
    async def on_start(
        message: Message,
        command: CommandObject,
        bot: Bot,
        state: FSMContext,
        engine: Engine,
        locale: str,
        locale_known: bool,
        i18n: I18n,
        available_locales: list[str],
        referrals: ReferralsClient | None = None,
    ) -> None:
        previous = await load(state)
        code = valid_code(command.args)
        notice = None
        if command.args and code is None:
            log.info("ignored an invalid /start payload")
        if code is not None:
            code = await known_code(code, referrals)
            if code is None:
                log.info("ignored an unknown campaign code")
                notice = unknown_link_notice()
        conv = Conversation(campaign=code or previous.campaign)
        signals().emit("conversation_started", campaign=conv.campaign)
        if not locale_known:
            if notice:
                await message.answer(notice)
            text, markup = picker(i18n, available_locales)
            conv.at = str(WELCOME)  # the picker leads on to the welcome question
            await message.answer(text, reply_markup=markup)
        else:
            await present_screen(bot, message.chat.id,
                                 engine.show(conv, WELCOME, locale).after(notice))
        await save(state, conv)

    @router.message(Command("menu"))
    async def on_menu(
        message: Message, bot: Bot, state: FSMContext, engine: Engine, locale: str
    ) -> None:
        conv = await load(state)
        await show_home(bot, message.chat.id, conv, engine, locale)
        await save(state, conv)

    @router.message(Command("help"))
    async def on_help(
        message: Message, bot: Bot, state: FSMContext, engine: Engine, locale: str
    ) -> None:
        conv = await load(state)
        conv.trail.clear()
        await present_screen(bot, message.chat.id, engine.show(conv, HELP, locale))
        await save(state, conv)

    @router.message(Command("privacy"))
    async def on_privacy(message: Message, settings: Settings) -> None:
        await message.answer(privacy_text(settings))

    @router.message(Command("forget"))
    async def on_forget(message: Message) -> None:
        markup = InlineKeyboardMarkup(inline_keyboard=[[
            InlineKeyboardButton(text=_("Yes, delete"),
                                 callback_data=ForgetCb(yes=True).pack()),
            InlineKeyboardButton(text=_("No, keep"), callback_data=ForgetCb(yes=False).pack()),
        ]])
        await message.answer(
            _("Delete everything we keep about you: your language, where you are in this "
              "conversation, and any contact you booked with its messages? This cannot be "
              "undone."),
            reply_markup=markup,
        )

    @router.callback_query(ForgetCb.filter())
    async def on_forget_answer(
        cb: CallbackQuery,
        callback_data: ForgetCb,
        bot: Bot,
        state: FSMContext,
        engine: Engine,
        locale: str,
        language_preferences: LanguagePreferences,
        referrals: ReferralsClient | None = None,
    ) -> None:
        await answer_quietly(cb)
        chat_id, edit_id = callback_place(cb)
        if not callback_data.yes:
            conv = await load(state)
            await show_home(bot, chat_id, conv, engine, locale, edit_id,
                            notice=_("Nothing was deleted."))
            await save(state, conv)
            return
        if referrals is not None:
            try:
                pseudonyms = await signals().forget()  # waiting events dropped too
                if pseudonyms:  # first: a failure here leaves everything as it was
                    await referrals.forget_signals(pseudonyms)
                await referrals.forget(chat_id)
            except (ApiUnavailable, ApiRefused):
                # Say so, keep nothing half-done: the person can press again.
                await present(bot, chat_id, _("Sorry, we could not delete your booked "
                                              "contacts right now. Nothing was deleted. Please "
                                              "try /forget again in a moment."), None, edit_id)
                return
        await state.clear()
        await language_preferences.delete(bot.id, cb.from_user.id)
        log.info("forget: referrals, conversation state and language deleted")
        await present(bot, chat_id, _("✅ Done. We deleted everything we kept about you. "
                                      "Send /start to begin again."), None, edit_id)

    return router
