"""Language picker: each language in its own script; /language works anywhere."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n

from bot.engine.actions import HANDLED, ActionContext
from bot.engine.callbacks import LangCb
from bot.engine.core import N_, Engine
from bot.engine.flows import HOME, WELCOME, NodeRef
from bot.i18n import native_name
from bot.preferences import LanguagePreferences
from bot.replies import answer_quietly, callback_place, load, present, present_screen, save
from bot.signals import current as signals

PICKER_TITLE = N_("🌐 Choose your language")
PER_PAGE = 10


def picker(i18n: I18n, available: list[str], page: int = 0) -> tuple[str, InlineKeyboardMarkup]:
    """The title in every shipped language (short), and one button per language."""
    titles = []
    for code in available:
        title = i18n.gettext(PICKER_TITLE, locale=code)
        if title not in titles:
            titles.append(title)
    pages = max(1, -(-len(available) // PER_PAGE))
    page = min(max(page, 0), pages - 1)
    shown = available[page * PER_PAGE:(page + 1) * PER_PAGE]
    rows: list[list[InlineKeyboardButton]] = []
    for i, code in enumerate(shown):
        if i % 2 == 0:
            rows.append([])
        rows[-1].append(InlineKeyboardButton(text=native_name(code),
                                             callback_data=LangCb(code=code).pack()))
    if pages > 1:
        nav = []
        if page > 0:
            nav.append(InlineKeyboardButton(text="◀", callback_data=LangCb(
                code=f"p{page - 1}").pack()))
        if page < pages - 1:
            nav.append(InlineKeyboardButton(text="▶", callback_data=LangCb(
                code=f"p{page + 1}").pack()))
        rows.append(nav)
    return "\n".join(titles), InlineKeyboardMarkup(inline_keyboard=rows)


async def choose_language_action(ctx: ActionContext) -> str | None:
    i18n: I18n = ctx.extra["i18n"]
    text, markup = picker(i18n, ctx.extra["available_locales"])
    await present(ctx.bot, ctx.chat_id, text, markup, ctx.message_id)
    return HANDLED


def create_router() -> Router:
    router = Router(name="language")

    @router.message(Command("language"))
    async def on_language(message: Message, i18n: I18n, available_locales: list[str]) -> None:
        text, markup = picker(i18n, available_locales)
        await message.answer(text, reply_markup=markup)

    @router.callback_query(LangCb.filter())
    async def on_pick(
        cb: CallbackQuery,
        callback_data: LangCb,
        bot: Bot,
        state: FSMContext,
        engine: Engine,
        i18n: I18n,
        available_locales: list[str],
        language_preferences: LanguagePreferences,
    ) -> None:
        chat_id, edit_id = callback_place(cb)
        code = callback_data.code
        if code.startswith("p") and code[1:].isdigit():
            await answer_quietly(cb)
            text, markup = picker(i18n, available_locales, int(code[1:]))
            await present(bot, chat_id, text, markup, edit_id)
            return
        if code not in available_locales:
            await answer_quietly(cb)
            text, markup = picker(i18n, available_locales)
            await present(bot, chat_id, text, markup, edit_id)
            return
        await language_preferences.set(bot.id, cb.from_user.id, code)
        signals().emit("language_chosen", locale=code)
        await answer_quietly(cb, native_name(code))
        conv = await load(state)
        # New people go on to the welcome question; others return to the menu.
        ref = NodeRef.parse(HOME) if "audience" in conv.answers else WELCOME
        conv.trail.clear()
        with i18n.use_locale(code):
            await present_screen(bot, chat_id, engine.show(conv, ref, code), edit_id)
        await save(state, conv)

    return router
