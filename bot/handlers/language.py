"""Language picker (flows/menu.yaml `language`, a list node): each language in its own
script; /language works anywhere. The choice is stored outside the conversation state, so a
lost or cleared state never loses it."""

from __future__ import annotations

import html

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message
from aiogram.utils.i18n import I18n

from bot.engine.actions import Item, Outcome, Turn, View
from bot.engine.core import N_, Engine
from bot.engine.flows import HOME, NodeRef
from bot.handlers.flow import go
from bot.i18n import native_name
from bot.preferences import LanguagePreferences
from bot.signals import current as signals

PICKER_TITLE = N_("🌐 Choose your language")
PICKER = NodeRef("menu", "language")
CHOSEN = "lang"  # the picker's save_as: read once by set_language, never kept


async def languages(turn: Turn) -> View:
    i18n: I18n = turn.extra["i18n"]
    return languages_view(i18n, turn.extra["available_locales"], turn.locale)


def languages_view(i18n: I18n, available: list[str], locale: str) -> View:
    """The title in every other shipped language above the screen (short, each once), and
    one item per language, named in its own script."""
    own = i18n.gettext(PICKER_TITLE, locale=locale)
    titles: list[str] = []
    for code in available:
        title = i18n.gettext(PICKER_TITLE, locale=code)
        if title != own and title not in titles:
            titles.append(title)
    return View(header=html.escape("\n".join(titles), quote=False) or None,
                items=[Item(id=code, fields={"name": native_name(code)}) for code in available])


def languages_sample(engine: Engine, locale: str) -> View:
    return View(header="Kies je taal\nChoisissez votre langue",
                items=[Item(id=c, fields={"name": native_name(c)}) for c in ("en", "nl", "ar")])


async def set_language(turn: Turn) -> str | None:
    """Store the choice; new people go on to the welcome question, others to the menu."""
    code = turn.answers.pop(CHOSEN, "")
    if code not in turn.extra["available_locales"]:
        raise Outcome("unknown")
    preferences: LanguagePreferences = turn.extra["language_preferences"]
    await preferences.set(turn.bot.id, turn.user_id, code)
    signals().emit("language_chosen", locale=code)
    turn.locale = code  # the next screen is in the chosen language
    turn.conversation.trail.clear()
    return "home" if "audience" in turn.answers else "welcome"


async def on_language(message: Message, turn: Turn) -> None:
    await go(turn, str(PICKER), NodeRef.parse(turn.conversation.at or HOME), edit=False)


def setup(router: Router) -> None:
    router.message.register(on_language, Command("language"))


def create_router() -> Router:
    router = Router(name="language")
    setup(router)
    return router
