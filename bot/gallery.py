"""Every screen as a person sees it, in one language, rendered by the real engine: for the
staff app's translation review (issue 18), where a cultural mediator approves or corrects the
strings of each screen in context.

The staff app (``referral_api.translations``) is given a :class:`Gallery` by its wiring, as the
outbox worker is given ``bot.notices``: nothing here knows the staff app. Corrections not yet
written back to the catalogues are laid over them (``overrides``), so the mediator sees the
screen as it will be.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from aiogram.types import InlineKeyboardMarkup, ReplyKeyboardMarkup

from bot.catalogue_rules import (
    Glossary,
    entry_problems,
    read_allowlist,
    read_glossary,
)
from bot.engine.actions import ActionRegistry
from bot.engine.core import Engine, Screen
from bot.engine.flows import FlowSet, NodeRef, load_flows
from bot.i18n import create_i18n, is_rtl, native_name, shipped_locales

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEFAULT_FLOWS_DIR, DEFAULT_LOCALES_DIR = PROJECT_DIR / "flows", PROJECT_DIR / "locales"

# The screens that matter most for people who read poorly: a recorded voice is offered there.
KEY_SCREENS = ("menu.welcome", "return_info.what_is_it", "support.overview", "booking.intro",
               "booking.consent", "screening.protection")
# What the bot's HTML may keep on the staff page: exactly these tags, nothing else.
_ALLOWED = re.compile(r"&lt;(/?)(b|i)&gt;|&lt;a href=&quot;(https://[^&\s]+)&quot;&gt;|&lt;/a&gt;")


@dataclass(frozen=True)
class Preview:
    screen: str  # "flow.node"
    text: str  # Telegram's HTML (b, i, a), escaped as the bot sends it
    buttons: tuple[tuple[str, ...], ...]
    rtl: bool
    msgids: tuple[str, ...]  # the catalogue strings on this screen, in order of appearance


class Gallery:
    key_screens: tuple[str, ...] = KEY_SCREENS

    def __init__(self, flows_dir: Path = DEFAULT_FLOWS_DIR,
                 locales_dir: Path = DEFAULT_LOCALES_DIR) -> None:
        self.flows_dir = flows_dir
        self.locales_dir = locales_dir

    @cached_property
    def flows(self) -> FlowSet:
        return load_flows(self.flows_dir)

    @cached_property
    def _i18n(self) -> object:
        return create_i18n(self.locales_dir)

    def languages(self) -> list[tuple[str, str]]:
        """(code, name in itself) of every shipped language but English."""
        return list(self._languages)

    @cached_property
    def _languages(self) -> tuple[tuple[str, str], ...]:  # the catalogues do not change
        return tuple((code, native_name(code)) for code in shipped_locales(self.locales_dir)
                     if code != "en")

    def catalogue(self, locale: str, msgid: str) -> str:
        if locale == "en":
            return msgid
        return str(self._i18n.gettext(msgid, locale=locale))  # type: ignore[attr-defined]

    def screens(self, locale: str, overrides: Mapping[str, str] | None = None,
                only: str | None = None) -> list[Preview]:
        """Every display node of the flows (or of the flow ``only``), in ``locale``."""
        overrides = overrides or {}
        seen: list[str] = []

        def translate(msgid: str, loc: str) -> str:
            if msgid not in seen:
                seen.append(msgid)
            return overrides.get(msgid) or self.catalogue(loc, msgid)

        # No actions: a screen that lists things (places, contacts) shows its own texts with
        # the {names} of what a person would see there; the staff app reaches no handler.
        engine = Engine(self.flows, ActionRegistry(), translate)
        out = []
        for ref, _node in self.flows.display_nodes():
            if only is not None and ref.flow != only:
                continue
            seen.clear()
            screen = engine.compose(ref, locale, can_go_back=True)
            out.append(_preview(ref, screen, locale, tuple(seen)))
        return out

    def flow_names(self) -> list[str]:
        return sorted({ref.flow for ref, _ in self.flows.display_nodes()})

    def problems(self, locale: str, msgid: str, text: str) -> list[str]:
        """Why ``text`` cannot be the translation of ``msgid`` in ``locale``, as codes, by the
        catalogue check's own rules (bot.catalogue_rules): the same {placeholders}, a button
        at most 30 characters on one line, not left in English, the glossary's words."""
        return entry_problems(locale, msgid, text, label=self.is_label(msgid),
                              allowed=self._allowed, glossary=self._glossary)

    @cached_property
    def _allowed(self) -> set[tuple[str, str]]:
        return read_allowlist(self.locales_dir)

    @cached_property
    def _glossary(self) -> Glossary | None:
        return read_glossary(self.locales_dir)

    def is_label(self, msgid: str) -> bool:
        """Whether the string is a button's label somewhere (30 characters at most)."""
        return msgid in self._english[1]

    def shows(self, msgid: str) -> bool:
        """Whether the string is on some screen (what a reviewer may approve or correct)."""
        return msgid in self._english[0]

    @cached_property
    def _english(self) -> tuple[frozenset[str], frozenset[str]]:
        """Every string of every screen, and the buttons' labels among them: rendered once."""
        msgids: set[str] = set()
        labels: set[str] = set()
        for preview in self.screens("en"):
            msgids.update(preview.msgids)
            labels.update(label for row in preview.buttons for label in row)
        return frozenset(msgids), frozenset(labels)


def _preview(ref: NodeRef, screen: Screen, locale: str, msgids: tuple[str, ...]) -> Preview:
    rows: tuple[tuple[str, ...], ...] = ()
    markup = screen.markup
    if isinstance(markup, InlineKeyboardMarkup):
        rows = tuple(tuple(b.text for b in row) for row in markup.inline_keyboard)
    elif isinstance(markup, ReplyKeyboardMarkup):
        rows = tuple(tuple(b.text for b in row) for row in markup.keyboard)
    text = _ALLOWED.sub(_allowed_tag, html.escape(html.unescape(screen.text), quote=True))
    return Preview(f"{ref.flow}.{ref.node}", text, rows, is_rtl(locale), msgids)


def _allowed_tag(match: re.Match[str]) -> str:
    """The bot's text is escaped whole for the staff page; only <b>, <i> and https links come
    back as tags (a translation can never bring markup: the engine escapes it too)."""
    if match.group(2):
        return f"<{match.group(1)}{match.group(2)}>"
    if match.group(3):
        return f'<a href="{match.group(3)}" rel="noopener noreferrer">'
    return "</a>"
