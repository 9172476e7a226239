"""Bad input gets a clear, translated answer and never a crash."""

from __future__ import annotations

import logging

import pytest
from redis.asyncio import Redis

from bot.engine.callbacks import NodeCb
from bot.engine.flows import WELCOME
from simulator.botapi import ApiError, visible_text
from simulator.server import CONTENT_KINDS
from tests.harness import Harness, Person

pytestmark = pytest.mark.channels  # Telegram and the web chat (issue 19)

BUTTONS_ONLY = "I can only understand the buttons. Please press one of them."
MEDIA_REFUSED = ("I can only read buttons here. Please do not send photos, files, voice "
                 "messages or your location: I do not need them and I do not keep them.")


async def at_question(harness: Harness, user_id: int = 1001, lang: str = "en") -> Person:
    person = harness.person(user_id, lang)
    await person.send("/start")
    return person


NOT_UNDERSTOOD = ("Sorry, I do not understand typed messages. Please use the buttons. To talk "
                  "to a person, press Talk to someone or call the free number 0800 327 45.")


async def test_free_text_at_a_question_gets_a_short_answer_and_a_way_back(
        harness: Harness) -> None:
    person = await at_question(harness)
    await person.press("No")
    await person.press("What help is there?")
    screen = person.text
    replies = await person.send("I want to go home")
    assert replies == [NOT_UNDERSTOOD]  # short: not the whole screen again
    assert person.buttons == ["Talk to someone", "⬅️ Back", "🏠 Main menu"]
    await person.press("⬅️ Back")  # where the person was
    assert person.text == screen and "Ticket and journey" in person.buttons


async def test_text_before_any_start_gets_the_welcome(harness: Harness) -> None:
    person = harness.person(1002)
    replies = await person.send("hi")
    assert replies[0].startswith(BUTTONS_ONLY)
    assert "reception centre" in replies[0]


@pytest.mark.parametrize("kind", sorted(CONTENT_KINDS))
async def test_media_and_other_content_are_refused_kindly(harness: Harness, kind: str) -> None:
    person = await at_question(harness)
    replies = await person.send(**CONTENT_KINDS[kind])
    assert replies[0].startswith("I can only read buttons here")
    assert "I do not keep them" in replies[0]
    assert "reception centre" in replies[0]


async def test_an_unknown_command(harness: Harness) -> None:
    person = await at_question(harness)
    replies = await person.send("/weather")
    assert replies[0].startswith("I do not know this command")
    assert "/menu" in replies[0]


@pytest.mark.parametrize("text", ["x" * 4096, "🙂🙏🏽❤️", "   ~~~", "<b>hi</b> & <script>"])
async def test_long_emoji_and_markup_text(harness: Harness, text: str) -> None:
    person = await at_question(harness)
    await person.press("No")
    replies = await person.send(text)
    expected = ("Sorry, I cannot read long messages." if len(text) > 200
                else "Sorry, I do not understand typed messages.")
    assert replies[0].startswith(expected)
    assert all(text not in r for r in replies)  # never echoed


async def test_bad_input_is_answered_in_the_persons_language(harness: Harness) -> None:
    person = await at_question(harness, 1003, "fr")
    engine, i18n = harness.dp["engine"], harness.dp["i18n"]
    question = engine.render(WELCOME, "fr", can_go_back=False)
    replies = await person.send("bonjour")  # before any answer: the question again
    french = i18n.gettext(BUTTONS_ONLY, locale="fr")  # the French catalogue's notice
    assert french != BUTTONS_ONLY
    assert replies == [visible_text(question.after(french).text, "HTML")]
    assert "centre d'accueil" in replies[0]
    replies = await person.send(sticker=CONTENT_KINDS["sticker"]["sticker"])
    french = i18n.gettext(MEDIA_REFUSED, locale="fr")
    assert french != MEDIA_REFUSED
    assert replies == [visible_text(question.after(french).text, "HTML")]


@pytest.mark.parametrize("data", [
    "garbage",
    "n:nosuchflow:start:x:1",
    "n:menu:start:nosuchchoice:1",
    "n:menu:nosuchnode:about:1",
    "n:menu:start:about:999",  # an older or newer flow version
    "n:menu:start:about:notanumber",
    "lang:xx",
    "forget:maybe",
])
async def test_forged_or_stale_buttons_show_the_menu(harness: Harness, data: str) -> None:
    person = await at_question(harness)
    await person.press("No")
    await person.press_data(data, forge=True)  # the web chat itself refuses these (409)
    assert "What would you like to know?" in person.text or "Choose your language" in person.text
    assert person.toasts or "Choose your language" in person.text


async def test_lost_state_after_redis_restart_or_ttl(harness: Harness, redis: Redis,
                                                     prefix: str) -> None:
    person = await at_question(harness)
    await person.press("No")
    await person.press("What help is there?")
    for key in [k async for k in redis.scan_iter(match=f"{prefix}:fsm:*")]:
        await redis.delete(key)  # what a Redis restart or an expired TTL leaves
    replies = await person.press("Ticket and journey")
    assert replies[0].startswith("Sorry, I lost track of our conversation")
    assert "What would you like to know?" in person.text
    await person.press("What help is there?")  # and the person goes on from there
    assert "Ticket and journey" in person.buttons


async def test_a_button_from_an_old_message_answers_at_the_bottom(harness: Harness) -> None:
    """A button far up the chat still works, and its answer comes where the person looks:
    a new message at the bottom, not an edit of a message they cannot see."""
    person = await at_question(harness)
    await person.press("No")
    old_menu = person.last_message_id()
    await person.send("/menu")  # a new menu message; the old one keeps its buttons
    newer_menu = person.last_message_id()
    data = NodeCb(f="menu", n="start", c="faq", v=1).pack()
    replies = await person.press_data(data, message_id=old_menu)
    assert replies == ["Here are questions people often ask. Choose one."]
    assert person.text == replies[0] and person.last_message_id() > newer_menu  # at the end
    assert "What would you like to know?" in person.chat.messages[old_menu]["text"]  # untouched
    await person.press("Will the police know?")  # the newest screen is edited in place
    assert person.last_message_id() == max(m["message_id"] for m in person.bot_messages())
    assert len([m for m in person.bot_messages() if "often ask" in m["text"]]) == 0


async def test_a_failing_telegram_call_gets_an_apology_not_a_crash(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    person = await at_question(harness)
    harness.fail_next("sendMessage", ApiError(500, "Internal Server Error"))
    with caplog.at_level(logging.INFO):
        replies = await person.send("/privacy")
    assert replies == ["Sorry, something went wrong on our side. Please try again, or send /menu."]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "TelegramServerError" in logged
    assert "/privacy" not in logged and "1001" not in logged  # no personal data in logs


async def test_an_edit_that_telegram_refuses_becomes_a_new_message(harness: Harness) -> None:
    person = await at_question(harness)
    await person.press("No")
    harness.fail_next(
        "editMessageText", ApiError(400, "Bad Request: message can't be edited"))
    before = len(person.bot_messages())
    await person.press("What help is there?")
    assert len(person.bot_messages()) == before + 1
    assert "Ticket and journey" in person.buttons


async def test_an_expired_button_answer_does_not_stop_the_screen(harness: Harness) -> None:
    person = await at_question(harness)
    await person.press("No")
    harness.fail_next("answerCallbackQuery", ApiError(
        400, "Bad Request: query is too old and response timeout expired or query ID is "
             "invalid"))
    await person.press("What help is there?")
    assert "Ticket and journey" in person.buttons


async def test_a_button_whose_spinner_cannot_be_stopped_still_answers(harness: Harness) -> None:
    """Telegram (or the network) failing on answerCallbackQuery only leaves the spinner: the
    person gets the next screen, not the apology (the replica benchmark found updates failed
    this way after a booking was stored)."""
    person = await at_question(harness)
    harness.fail_next("answerCallbackQuery", ApiError(502, "Bad Gateway"))
    replies = await person.press("No")
    assert replies and "What would you like to know?" in person.text
    assert not any("went wrong" in r for r in replies)
