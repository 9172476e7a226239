"""The page's own words (buttons, labels, notices), in the bot's catalogues (domain
"messages": the same translations, checks and review as every screen)."""

from __future__ import annotations

from typing import Any

from aiogram.utils.i18n import I18n

from bot.engine.core import N_
from bot.i18n import is_rtl

LABELS = {
    "title": N_("Chat"),
    "conversation": N_("Conversation"),
    "message": N_("Your message"),
    "send": N_("Send"),
    "location": N_("📍 Share my location"),
    "no_location": N_("Your phone did not share a location. You can type a postcode "
                      "instead."),
    "leave": N_("Leave quickly"),
    "start": N_("Start"),
    "code": N_("Your code to come back to this conversation: {code}. Keep it safe: anyone "
               "who has it can read this conversation."),
    "have_code": N_("I have a code"),
    "code_label": N_("Your code"),
    "open": N_("Open"),
    "bad_code": N_("This code is not known, or the conversation was deleted."),
    "unsent": N_("Not sent. Check your connection and try again."),
    "slow_down": N_("Too many messages. Please wait a minute."),
    "slow_codes": N_("Too many tries with a code. Please wait 15 minutes."),
    "slow_new": N_("Too many new conversations from this network. Please wait an hour."),
    "resumed": N_("This conversation was opened with its code on another device. If that "
                  "was not you, press “New code”: the old code stops working and other "
                  "devices are signed out."),
    "new_code": N_("New code"),
    "too_long": N_("This message is too long. Please send it in shorter parts."),
    "forgotten": N_("This conversation was deleted."),
    "kept": N_("No account, no name. This conversation is deleted {days} days after the "
               "last message in it."),
    "noscript": N_("This chat needs JavaScript, which is off in this browser. You can also "
                   "call the free number {freephone}."),
    "menu": N_("Menu"),
    "retry": N_("Try again"),
}


def labels(i18n: I18n, locale: str, days: int, freephone: str) -> dict[str, Any]:
    """The page's words in ``locale``, the conversation's days and the programme's free
    number filled in; ``{code}`` stays for the page to fill."""
    words = {key: i18n.gettext(text, locale=locale) for key, text in LABELS.items()}
    words["kept"] = words["kept"].replace("{days}", str(days))
    words["noscript"] = words["noscript"].replace("{freephone}", freephone)
    return words


def direction(locale: str) -> str:
    return "rtl" if is_rtl(locale) else "ltr"
