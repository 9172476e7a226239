"""Conversations over the real Dispatcher, on real Redis."""

from __future__ import annotations

import json
import re

import pytest
from aiogram.types import ReplyKeyboardMarkup
from redis.asyncio import Redis

from bot.channels import WEB_CHAT_IDS
from bot.engine.flows import HOME, WELCOME, NodeRef
from simulator.botapi import visible_text
from tests.harness import LANGS, Harness, Person

pytestmark = pytest.mark.channels  # Telegram and the web chat (issue 19)

CYRILLIC = re.compile("[\u0400-\u04ff]")


async def fsm_data(redis: Redis, prefix: str, user_id: int) -> dict:
    """The conversation state of the person with this test id, on either channel (the web
    chat's ids are 2^52 + the test id; tests.harness)."""
    keys = [k for chat in (user_id, WEB_CHAT_IDS.start + user_id)
            async for k in redis.scan_iter(match=f"{prefix}:fsm:*:{chat}:{chat}:*data")]
    assert len(keys) == 1, keys
    return json.loads(await redis.get(keys[0]))


async def started(harness: Harness, language_code: str = "en", user_id: int = 1001,
                  audience: str = "No") -> Person:
    person = harness.person(user_id, language_code)
    await person.send("/start")
    await person.press(audience)
    return person


async def test_a_first_visit_in_english(harness: Harness) -> None:
    person = harness.person()
    replies = await person.send("/start")
    assert len(replies) == 1
    assert "Do you live in a reception centre for asylum seekers?" in replies[0]
    assert "we do not ask your name" in replies[0]
    assert person.buttons == ["Yes, in a reception centre", "No", "I prefer not to say",
                              "🌐 Language"]

    await person.press("No")
    assert "What would you like to know?" in person.text
    assert "What is voluntary return?" in person.buttons
    assert "⬅️ Back" not in person.buttons  # the menu is home: no Back, no Main menu

    await person.press("What is voluntary return?")
    assert "Fedasil" in person.text
    assert person.buttons[-1] == "🏠 Main menu"  # Back would only repeat Main menu here
    first_screen = person.text
    await person.press(person.buttons[0])
    assert person.buttons[-2:] == ["⬅️ Back", "🏠 Main menu"]
    await person.press("⬅️ Back")
    assert person.text == first_screen
    await person.press("🏠 Main menu")
    assert "What would you like to know?" in person.text


async def test_buttons_edit_the_message_in_place(harness: Harness) -> None:
    person = await started(harness)
    before = len(person.bot_messages())
    await person.press("What help is there?")
    await person.press("Ticket and journey")
    assert len(person.bot_messages()) == before
    assert "Fedasil pays your ticket" in person.text


@pytest.mark.parametrize("code", ["nl", "fr"])
async def test_the_telegram_app_language_is_used(harness: Harness, code: str) -> None:
    person = harness.person(2000, code)
    await person.send("/start")
    engine = harness.dp["engine"]
    welcome = engine.render(NodeRef("menu", "welcome"), code, can_go_back=False)
    english = engine.render(NodeRef("menu", "welcome"), "en", can_go_back=False)
    first_line = welcome.text.split("\n")[0]
    assert person.text.startswith(first_line)
    assert first_line != english.text.split("\n")[0]


async def test_regional_telegram_language_maps_to_shipped_language(harness: Harness) -> None:
    person = harness.person(2001, "fr-BE")
    await person.send("/start")
    assert "centre d'accueil" in person.text


async def test_unknown_app_language_gets_the_picker_then_the_choice_sticks(
    harness: Harness, redis: Redis, prefix: str
) -> None:
    person = harness.person(2002, "sw")
    await person.send("/start")
    assert "Choose your language" in person.text
    assert {"English", "Nederlands", "Français"} <= set(person.buttons)
    await person.press("Français")
    assert "centre d'accueil" in person.text  # the welcome question, in French
    assert await redis.get(f"{prefix}:lang:{harness.person_bot.id}:{person.chat_id}") == b"fr"
    # /start again clears the conversation, never the language choice
    await person.send("/start")
    assert "centre d'accueil" in person.text
    await person.send("/language")
    await person.press("Nederlands")
    await person.send("/menu")
    engine = harness.dp["engine"]
    dutch_menu = engine.render(NodeRef.parse(HOME), "nl", can_go_back=False)
    english_menu = engine.render(NodeRef.parse(HOME), "en", can_go_back=False)
    assert person.text == visible_text(dutch_menu.text, "HTML")  # the menu, in Dutch
    assert person.text != visible_text(english_menu.text, "HTML")
    assert person.buttons == [b.text for row in dutch_menu.markup.inline_keyboard for b in row]


async def test_the_welcome_answer_routes_the_steps(harness: Harness, redis: Redis,
                                                   prefix: str) -> None:
    reception = await started(harness, user_id=3001, audience="Yes, in a reception centre")
    await reception.press("How does it work?")
    assert "social worker" in reception.text
    assert (await fsm_data(redis, prefix, 3001))["answers"] == {"audience": "reception"}

    city = await started(harness, user_id=3002, audience="No")
    await city.press("How does it work?")
    assert "0800 327 45" in city.text

    unsure = await started(harness, user_id=3003, audience="I prefer not to say")
    await unsure.press("How does it work?")
    assert "reception centre" in unsure.text and "We ask so" in unsure.text


async def test_campaign_code_from_the_link_is_kept_and_nothing_else(
    harness: Harness, redis: Redis, prefix: str
) -> None:
    person = harness.person(4001)
    await person.send("/start flyer_BXL-2026")
    await person.press("No")
    data = await fsm_data(redis, prefix, 4001)
    assert data["campaign"] == "flyer_BXL-2026"
    assert set(data) <= {"at", "v", "trail", "answers", "campaign", "m"}  # m: a message id
    stored = json.dumps(data)
    assert "Demo" not in stored and "4001" not in stored  # no name, no id in the value


@pytest.mark.parametrize("payload", ["bad code!", "x" * 65, "<script>", "é"])
async def test_an_invalid_campaign_code_is_ignored(harness: Harness, redis: Redis, prefix: str,
                                                   payload: str) -> None:
    person = harness.person(4002)
    await person.send(f"/start {payload}")
    assert "reception centre" in person.text
    assert "campaign" not in await fsm_data(redis, prefix, 4002)


async def test_a_person_whose_app_dropped_the_link_types_the_code(
    harness: Harness, redis: Redis, prefix: str
) -> None:
    person = await started(harness, user_id=4003)
    await person.send("/help")
    await person.press("I have a code")
    assert "Type the code" in person.text
    await person.send("not valid!")
    assert "This is not a valid code" in person.text
    await person.send("QR_gent_7")
    assert person.text.startswith("✅ Thank you, the code is saved.")
    assert "What would you like to know?" in person.text
    assert (await fsm_data(redis, prefix, 4003))["campaign"] == "QR_gent_7"
    await person.send("/code OTHER-1")
    assert (await fsm_data(redis, prefix, 4003))["campaign"] == "OTHER-1"


async def test_commands_are_registered_in_every_language(harness: Harness) -> None:
    await harness.dp.emit_startup(bot=harness.bot, **harness.dp.workflow_data)
    commands = harness.fake.commands
    assert set(commands) == {None, *LANGS}
    names = [c["command"] for c in commands["nl"]]
    assert names == ["start", "menu", "language", "help", "mycontact", "privacy", "forget",
                     "stop"]
    assert commands["nl"][1]["description"] != commands["en"][1]["description"]


async def test_privacy_says_what_is_kept_and_for_how_long(harness: Harness) -> None:
    person = harness.person()
    await person.send("/privacy")
    assert ("We do not ask your name" if harness.channel == "web"
            else "We do not keep your name") in person.text
    assert "14 days" in person.text and "90 days" in person.text
    assert "/forget" in person.text


async def test_forget_deletes_state_and_language(harness: Harness, redis: Redis,
                                                 prefix: str) -> None:
    person = harness.person(5001, "sw")
    await person.send("/start campaign1")
    await person.press("Nederlands")
    assert [k async for k in redis.scan_iter(match=f"{prefix}:*")]
    await person.send("/forget")
    await person.press(person.buttons[1])  # "no, keep"
    assert [k async for k in redis.scan_iter(match=f"{prefix}:*")]
    await person.send("/forget")
    await person.press(person.buttons[0])  # "yes, delete"
    assert [k async for k in redis.scan_iter(match=f"{prefix}:*")] == []
    assert "/start" in person.text


async def test_every_screen_offers_a_way_back_and_home(harness: Harness) -> None:
    engine = harness.dp["engine"]
    for ref, node in engine.flows.display_nodes():
        screen = engine.render(ref, "en", can_go_back=True)
        if str(ref) == HOME or not node.nav:
            continue
        if isinstance(screen.markup, ReplyKeyboardMarkup):  # a location to send: or Cancel
            assert [b.text for b in screen.markup.keyboard[-1]] == ["Cancel"], ref
            continue
        labels = [b.text for row in screen.markup.inline_keyboard for b in row]
        assert "🏠 Main menu" in labels and "⬅️ Back" in labels, ref
        assert all(len(row) <= 3 for row in screen.markup.inline_keyboard), ref


async def test_question_answers_are_stored_as_ids(harness: Harness, redis: Redis,
                                                  prefix: str) -> None:
    person = harness.person(7001, "fr")
    await person.send("/start")
    await person.press("Non")
    data = await fsm_data(redis, prefix, 7001)
    assert data["answers"] == {"audience": "city"}


async def test_the_picker_shows_every_language_in_its_own_script_on_pages(
    harness: Harness,
) -> None:
    person = harness.person(9001, "sw")
    await person.send("/start")
    first_page = person.buttons
    assert first_page[:3] == ["Nederlands", "Français", "English"]
    # ten languages, where am I, "next page", and the way home
    assert first_page[10:] == ["1/3", "🌐 More languages ▶", "🏠 Main menu"]
    assert "Srpski" in first_page and "Shqip" in first_page
    await person.press("🌐 More languages ▶")
    second_page = person.buttons
    assert {"العربية", "فارسی", "دری", "پښتو", "Монгол", "Kurdî (Kurmancî)"} <= set(second_page)
    assert "◀" in second_page and "2/3" in second_page
    await person.press("🌐 More languages ▶")
    third_page = person.buttons
    assert {"简体中文", "አማርኛ", "ትግርኛ", "Lingála", "Pular"} <= set(third_page)
    await person.press("◀")
    await person.press("◀")
    await person.press("Русский")
    engine = harness.dp["engine"]
    russian = engine.render(WELCOME, "ru", can_go_back=False)  # the Russian catalogue's text
    assert person.text == visible_text(russian.text, "HTML")  # the welcome question, in Russian
    assert CYRILLIC.search(person.text) and "reception centre" not in person.text
    assert person.buttons[0] == harness.dp["i18n"].gettext("Yes, in a reception centre",
                                                           locale="ru")


@pytest.mark.parametrize(("app_language", "expected"), [("pt-br", "pt_BR"), ("uk", "uk"),
                                                         ("ar", "ar"), ("es-419", "es")])
async def test_telegram_regional_codes_preselect(harness: Harness, app_language: str,
                                                 expected: str) -> None:
    person = harness.person(9002, app_language)
    await person.send("/start")
    engine = harness.dp["engine"]
    welcome = engine.render(NodeRef("menu", "welcome"), expected, can_go_back=False)
    assert person.text.split("\n")[0] in welcome.text.replace("<i>", "").replace("</i>", "")


async def test_privacy_says_what_is_true_on_each_channel(harness: Harness) -> None:
    """The web chat keeps no Telegram chat and Telegram knows nothing of it: its privacy
    screens say what the web chat keeps instead (flows/privacy.yaml, `on_telegram`)."""
    person = harness.person(9101)
    await person.send("/privacy")
    screens = [person.text]
    await person.press("Questions after return")
    screens.append(person.text)
    await person.press("What you count")
    screens.append(person.text)
    if harness.channel == "web":
        assert not any("Telegram" in screen for screen in screens), screens
        assert "come back with your code" in screens[0] and "Leave quickly" in screens[0]
        assert "The questions wait for you in this chat" in screens[1]
    else:
        assert "Telegram itself knows that you use this bot" in screens[0]
        assert "your Telegram chat" in screens[1] and "Telegram number" in screens[2]
