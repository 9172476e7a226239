"""/start [campaign], /menu, /help, /privacy, /forget."""

from __future__ import annotations

import logging

from aiogram import Bot, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.filters.callback_data import CallbackData
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

from bot.api_client import ApiRefused, ApiUnavailable
from bot.channels import ForgetChat, is_web
from bot.engine.actions import Turn, View
from bot.engine.conversation import Conversation
from bot.engine.core import N_, Engine
from bot.engine.flows import HOME, WELCOME, NodeRef
from bot.handlers.campaign import known_code, unknown_link_notice, valid_code
from bot.handlers.flow import go, present_screen, show_home
from bot.handlers.language import PICKER
from bot.preferences import LanguagePreferences
from bot.replies import answer_quietly, present
from bot.settings import Settings
from bot.signals import current as signals

log = logging.getLogger(__name__)

HELP = NodeRef("menu", "help")
PRIVACY = NodeRef("privacy", "start")

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


async def privacy(turn: Turn) -> View:
    """The numbers of days flows/privacy.yaml states, from the settings."""
    return privacy_view(turn.extra["settings"])


def privacy_view(settings: Settings) -> View:
    return View(values={"language_days": str(settings.language_ttl_days),
                        "state_days": str(settings.state_ttl_days),
                        "days": str(settings.referral_retention_days),
                        "keep_days": str(settings.webchat_keep_days)})


def privacy_sample(engine: Engine, locale: str) -> View:
    return View(values={"language_days": "365", "state_days": "30", "days": "90",
                        "keep_days": "730"})


async def on_start(message: Message, command: CommandObject, turn: Turn,
                   locale_known: bool) -> None:
    code = valid_code(command.args)
    notice = None
    if command.args and code is None:
        log.info("ignored an invalid /start payload")
    if code is not None:
        code = await known_code(code, turn.referrals)
        if code is None:
            log.info("ignored an unknown campaign code")
            notice = unknown_link_notice()
    conv = turn.conversation = Conversation(campaign=code or turn.conversation.campaign)
    signals().emit("conversation_started", campaign=conv.campaign)
    if not locale_known:  # the picker first; it leads on to the welcome question
        if notice:
            await message.answer(notice)
        await go(turn, str(PICKER), NodeRef.parse(HOME), edit=False)  # no Back: nothing before
    else:
        turn.notice = notice
        await present_screen(turn, turn.engine.show(conv, WELCOME, turn.locale), edit=False)


async def on_menu(message: Message, turn: Turn) -> None:
    await show_home(turn, edit=False)


async def on_help(message: Message, turn: Turn) -> None:
    turn.conversation.trail.clear()
    await present_screen(turn, turn.engine.show(turn.conversation, HELP, turn.locale),
                         edit=False)


async def on_privacy(message: Message, turn: Turn) -> None:
    await go(turn, str(PRIVACY), NodeRef.parse(HOME), edit=False)


async def on_forget(message: Message) -> None:
    markup = InlineKeyboardMarkup(inline_keyboard=[[
        InlineKeyboardButton(text=_("Yes, delete"), callback_data=ForgetCb(yes=True).pack()),
        InlineKeyboardButton(text=_("No, keep"), callback_data=ForgetCb(yes=False).pack()),
    ]])
    await message.answer(
        _("Delete everything we keep about you: your language, where you are in this "
          "conversation, and any contact you booked with its messages? This cannot be "
          "undone."),
        reply_markup=markup,
    )


async def on_forget_answer(cb: CallbackQuery, callback_data: ForgetCb, turn: Turn,
                           language_preferences: LanguagePreferences) -> None:
    """Works without any conversation state: deleting must never depend on it."""
    await answer_quietly(cb)
    if not callback_data.yes:
        await show_home(turn, _("Nothing was deleted."))
        return
    if turn.referrals.configured:
        try:
            pseudonyms = await signals().forget()  # waiting events dropped too
            if pseudonyms:  # first: a failure here leaves everything as it was
                await turn.referrals.forget_signals(pseudonyms)
            await turn.referrals.forget(turn.chat_id)
        except (ApiUnavailable, ApiRefused):
            # Say so, keep nothing half-done: the person can press again.
            await present(turn.bot, turn.chat_id, _(
                "Sorry, we could not delete your booked contacts right now. Nothing was "
                "deleted. Please try /forget again in a moment."), None, turn.message_id)
            return
    turn.forgotten = True
    await language_preferences.delete(turn.bot.id, cb.from_user.id)
    log.info("forget: referrals, conversation state and language deleted")
    await present(turn.bot, turn.chat_id, _("✅ Done. We deleted everything we kept about "
                                            "you. Send /start to begin again."), None,
                  turn.message_id)
    if is_web(turn.chat_id):  # the web chat keeps the conversation itself: deleted there,
        try:  # after the person saw "Done" (the page then goes back to "Start")
            await turn.bot(ForgetChat(chat_id=turn.chat_id))
        except TelegramAPIError as exc:  # the web chat is down: nobody can read it now
            log.error("forget: the web chat did not delete the conversation: %s",
                      type(exc).__name__)


def setup(router: Router) -> None:
    router.message.register(on_start, CommandStart())
    router.message.register(on_menu, Command("menu"))
    router.message.register(on_help, Command("help"))
    router.message.register(on_privacy, Command("privacy"))
    router.message.register(on_forget, Command("forget"))
    router.callback_query.register(on_forget_answer, ForgetCb.filter())


def create_router() -> Router:
    router = Router(name="commands")
    setup(router)
    return router
