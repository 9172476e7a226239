"""A journey without dead ends (issue 13), from the person's side: answering the counsellor in
every way a person tries, the language button on the first screen, a flyer's code typed as it
stands, and typed text the bot cannot place."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from referral_api.campaigns.models import Campaign
from tests.bot.booking_world import Booking
from tests.bot.test_booking import choose_and_answer, find_by_postcode
from tests.harness import Harness, Person

pytestmark = pytest.mark.channels  # Telegram and the web chat (issue 19)


async def ask_to_be_written_to(person: Person) -> None:
    """From /start to the booking sent: the Ghent desk, a message here, consent given."""
    await find_by_postcode(person)
    await choose_and_answer(person, "Write to me here")
    await person.press("Continue")
    await person.press("✅ Yes, share")
    await person.press("No, thank you")


async def book_by_message(booking: Booking, person: Person) -> str:
    await ask_to_be_written_to(person)
    [referral] = await booking.referrals()
    return referral.reference


async def counsellor_writes(booking: Booking, text: str) -> None:
    await booking.deliver()  # the card reaches the group
    await booking.counsellor_reply(booking.group_card()["message_id"], text)
    await booking.deliver()  # the message reaches the person


def newest_from_counsellor(person: Person) -> dict:  # type: ignore[type-arg]
    return [m for m in person.bot_messages() if m["text"].startswith("💬")][-1]


async def test_the_answer_button_under_a_counsellors_message(booking: Booking) -> None:
    person = booking.h.person(8301)
    await book_by_message(booking, person)
    await counsellor_writes(booking, "Can you come on Monday?")
    message = newest_from_counsellor(person)
    buttons = [b["text"] for row in message["reply_markup"]["inline_keyboard"] for b in row]
    assert buttons == ["↩️ Answer"]
    await person.press("↩️ Answer")
    assert "Write your message to the counsellor" in person.text
    await person.send("Yes, Monday is fine.")
    assert "✅ Sent to your counsellor" in person.text
    await booking.deliver()
    assert any("Yes, Monday is fine." in t for t in booking.group_texts())


async def test_a_telegram_reply_to_the_counsellor_goes_straight_to_them(
        booking: Booking) -> None:
    person = booking.h.person(8302)
    await book_by_message(booking, person)
    await counsellor_writes(booking, "Do you have a passport?")
    quoted = newest_from_counsellor(person)["message_id"]
    await person.send("No, it expired.", reply_to=quoted)
    assert "✅ Sent to your counsellor" in person.text
    await booking.deliver()
    assert any("No, it expired." in t for t in booking.group_texts())


async def test_text_typed_with_an_open_contact_is_offered_to_the_counsellor(
        booking: Booking) -> None:
    person = booking.h.person(8303)
    await book_by_message(booking, person)
    await person.send("I will be late tomorrow")
    assert person.text == "Send this to your counsellor?"
    await person.press("✉️ Send it")
    assert "✅ Sent to your counsellor" in person.text
    await booking.deliver()
    assert any("I will be late tomorrow" in t for t in booking.group_texts())
    await person.send("never mind")
    await person.press("No")
    assert person.text == "Nothing was sent."
    await booking.deliver()
    assert not any("never mind" in t for t in booking.group_texts())


async def test_the_first_screen_has_a_language_button(harness: Harness) -> None:
    person = harness.person(8304, "en")
    await person.send("/start")
    assert "🌐 Language" in person.buttons
    await person.press("🌐 Language")
    await person.press("Nederlands")
    assert "opvangcentrum" in person.text  # the welcome question again, in Dutch


async def test_a_flyers_code_typed_as_it_stands_is_kept(booking: Booking) -> None:
    async with booking.app.state.context.sessionmaker() as session:
        session.add(Campaign(code="EY4YWD", partner_id="test-desk", city="Gent",
                             channel="flyer", label="Station flyers",
                             created_at=datetime.now(UTC)))
        await session.commit()
    person = booking.h.person(8305)
    await person.send("/start")
    await person.send("ey4ywd")  # as the person read it on the flyer
    assert "the code is saved" in person.text and "What would you like to know?" in person.text
    data = await booking.h.dp.storage.get_data(key=__import__(
        "aiogram").fsm.storage.base.StorageKey(bot_id=booking.h.person_bot.id,
                                               chat_id=person.chat_id, user_id=person.chat_id))
    assert data["campaign"] == "EY4YWD"


async def test_text_the_bot_cannot_place_gets_a_way_to_a_person(harness: Harness) -> None:
    person = harness.person(8306)
    await person.send("/start")
    await person.press("No")
    await person.send("hello?")
    assert "I do not understand typed messages" in person.text
    assert "0800 327 45" in person.text and person.buttons[0] == "Talk to someone"
    await person.send("I came here five years ago and my family is far away, and I do not "
                      "know what to do any more because nobody answers my questions and I am "
                      "afraid of what will happen to me and my children if we stay here.")
    assert "A counsellor can read you if you book a contact" in person.text
    assert person.buttons[0] == "📍 Find help near me"


async def test_every_followup_question_has_skip_and_back(harness: Harness) -> None:
    from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

    from bot.notices import WAVE_START, wave_buttons

    person = harness.person(8307)
    await person.send("/start")
    rows = [[InlineKeyboardButton(**b) for b in row] for row in wave_buttons("tok-8307", str)]
    await harness.person_bot.send_message(person.chat_id, "Questions",
                                          reply_markup=InlineKeyboardMarkup(inline_keyboard=rows))
    await person.press(WAVE_START)
    seen = 0
    while "Thank you" not in person.text and "closed" not in person.text:
        skip = [b for b in person.buttons if b in ("Skip this question", "I prefer not to say",
                                                   "No other reason")]
        assert skip, (person.text, person.buttons)
        if seen:
            assert "⬅️ Back" in person.buttons, person.text
        await person.press(skip[0])
        seen += 1
    assert seen >= 9  # the first question and every one after it


async def test_phone_example_and_commands_keep_their_order_in_right_to_left_text(
        harness: Harness) -> None:
    person = harness.person(8308, "ar")
    await person.send("/start")
    await person.send("/help")
    assert "\u2068/language\u2069" in person.text and "\u2068/forget\u2069" in person.text
    fa = harness.person(8309, "fa")
    await fa.send("/start")
    for position in (1, 0, 0, 1, 1):  # No, Find help, Find places, Skip, Type a postcode
        await fa.press(fa.buttons[position])
    await fa.press(fa.buttons[0])  # "Choose a city" is there; the prompt itself:
    english = harness.person(8310, "en")
    await english.send("/help")
    assert "\u2068" not in english.text  # left-to-right text is left alone


async def test_a_message_too_long_for_one_message_is_refused_with_words(
        booking: Booking) -> None:
    person = booking.h.person(8311)
    await book_by_message(booking, person)
    await person.send("/mycontact")
    await person.press("✉️ Write to the counsellor")
    await person.send("word " * 900)  # 4,500 characters
    assert "too long for one message. Nothing was sent" in person.text
    await booking.deliver()
    assert not any("word word" in t for t in booking.group_texts())
    await person.send("Short, then.")  # still on the write screen
    assert "✅ Sent to your counsellor" in person.text


async def test_booking_the_same_place_twice_shows_the_contact_already_booked(
        booking: Booking) -> None:
    person = booking.h.person(8308)
    reference = await book_by_message(booking, person)
    await ask_to_be_written_to(person)
    assert "You already have a contact with this place" in person.text
    assert person.buttons[:2] == ["📋 See my contact", "🔎 Search again"]
    await person.press("📋 See my contact")
    assert reference.replace("-", "") in person.text.replace("-", "").replace(
        "\u2068", "").replace("\u2069", "")
    assert len(await booking.referrals()) == 1  # no second card, no second slot


async def test_a_person_over_the_daily_bookings_is_told_to_wait_or_call(
        booking: Booking) -> None:
    context = booking.app.state.context
    booking.app.state.context = dataclasses.replace(
        context, settings=context.settings.model_copy(update={"bookings_per_day": 1}))
    try:
        person = booking.h.person(8309)
        await book_by_message(booking, person)
        await person.send("/mycontact")
        await person.press("Cancel this contact")
        await person.press("Yes, cancel")
        await ask_to_be_written_to(person)
    finally:
        booking.app.state.context = context
    assert "You have booked several contacts today" in person.text
    assert "0800 327 45" in person.text and person.buttons[0] == "📋 See my contacts"
