"""Redis loses the conversation (a restart without persistence, an expired TTL) while a person
is in the middle of something. Whatever they press or type next, the bot says in words that it
lost track, says what happened to what they were doing (sent or not), and offers the way back.
Also: the booking confirmation and /mycontact say only what is true about hearing back."""

from __future__ import annotations

import re

import httpx
import pytest
from babel.support import Translations
from redis.asyncio import Redis

from bot.api_client import ReferralsClient
from bot.i18n import native_name
from bot.settings import DEFAULT_LOCALES_DIR
from tests.bot.booking_world import Booking
from tests.bot.test_booking import choose_and_answer, find_by_postcode
from tests.bot.test_followup import wave_received
from tests.harness import Person

pytestmark = pytest.mark.channels  # Telegram and the web chat (issue 19)

NOT_SENT = ("Sorry, I lost track of our conversation. Your booking was not sent.\n\n"
            "Press the button below to start it again.")
UNSURE = ("Sorry, I lost track of our conversation.\n\nIf you already confirmed your booking, "
          "/mycontact shows it. If not, press the button below to start again.")
INTRO = "We can show you the nearest return desks"
FREEPHONE = "0800 327 45"  # flows/facts.yaml, programme-facts §1.5


async def redis_loses_everything(redis: Redis, prefix: str) -> None:
    """What a Redis restart without persistence leaves: no conversation, no language choice."""
    keys = [k async for k in redis.scan_iter(match=f"{prefix}:*")]
    if keys:
        await redis.delete(*keys)
    assert [k async for k in redis.scan_iter(match=f"{prefix}:*")] == []


def api_down(booking: Booking) -> httpx.AsyncClient:
    """Cut the bot off from the API; returns the working client to put back."""
    referrals: ReferralsClient = booking.h.dp["referrals"]
    working = referrals.http

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("down")

    referrals.http = httpx.AsyncClient(transport=httpx.MockTransport(down), base_url="http://api")
    return working


def api_back(booking: Booking, working: httpx.AsyncClient) -> None:
    referrals: ReferralsClient = booking.h.dp["referrals"]
    referrals.http = working


async def to_confirm(person: Person, mode: str = "Write to me here") -> None:
    """Walk a booking up to its last question: "may we ask you questions after your return?"
    (its answer sends the booking)."""
    await find_by_postcode(person)
    await choose_and_answer(person, mode)
    await person.press("Continue")  # consent, step 1 of 2
    await person.press("✅ Yes, share")
    assert "may we send you a few questions" in person.text


async def book(person: Person) -> str:
    await to_confirm(person)
    await person.press("No, thank you")
    done = [m["text"] for m in person.bot_messages()][-2]
    assert "Your reference:" in done
    return str(done)


# ---- booking ---------------------------------------------------------------------------
async def test_confirm_after_redis_lost_the_state_says_not_sent_and_starts_again(
        booking: Booking, redis: Redis, prefix: str) -> None:
    person = booking.h.person(7301)
    await to_confirm(person)
    await redis_loses_everything(redis, prefix)
    replies = await person.press("No, thank you")  # the press that sends the booking
    assert replies == [NOT_SENT]  # in words, on the screen the person pressed
    assert await booking.referrals() == []  # and true: nothing was booked
    assert person.buttons == ["🔄 Start again", "🏠 Main menu"]
    await person.press("🔄 Start again")
    assert INTRO in person.text  # the booking's first screen
    await person.press("Find places near me")
    await person.press("Skip the questions")
    assert "How shall we find the places near you?" in person.text


@pytest.mark.parametrize(("stage", "label"), [
    ("consent", "Continue"),              # the consent screen (a booking button)
    ("topic", "Travel documents"),        # a question of flows/booking.yaml (a flow button)
    ("partners", "1. Contact Ghent return desk"),
])
async def test_any_booking_button_after_redis_lost_the_state(
        booking: Booking, redis: Redis, prefix: str, stage: str, label: str) -> None:
    person = booking.h.person(7302)
    await find_by_postcode(person)
    if stage != "partners":
        await person.press("1. Contact Ghent return desk")
        await person.press("Write to me here")
        await person.press("Yes")
    if stage == "consent":
        await person.press("Travel documents")
    await redis_loses_everything(redis, prefix)
    assert await person.press(label) == [NOT_SENT]
    assert "🔄 Start again" in person.buttons and "🏠 Main menu" in person.buttons
    await person.press("🏠 Main menu")
    assert "What would you like to know?" in person.text


async def test_a_screening_question_after_redis_lost_the_state(
        booking: Booking, redis: Redis, prefix: str) -> None:
    person = booking.h.person(7303)
    await person.send("/start")
    await person.press("No")
    await person.press("📍 Find help near me")
    await person.press("Find places near me")
    await person.press("Answer the questions")
    await redis_loses_everything(redis, prefix)
    assert await person.press("No") == [NOT_SENT]  # its answers are gone with the state
    await person.press("🔄 Start again")
    assert INTRO in person.text


async def test_a_second_press_on_confirm_after_the_booking_went_through(
        booking: Booking, redis: Redis, prefix: str) -> None:
    """The booking was sent, then the state was lost, then Confirm is pressed again (an old
    message, a double tap): the bot must not say the booking was not sent."""
    person = booking.h.person(7304)
    await to_confirm(person)
    confirm_message = person.last_message_id()
    confirm = dict(person.buttons_with_data())["No, thank you"]
    await person.press("No, thank you")
    assert len(await booking.referrals()) == 1
    await redis_loses_everything(redis, prefix)
    # On the web chat the screen changed, so the page has no such button any more: what
    # reaches the bot there is a double tap racing the change (the same update).
    replies = await person.press_data(confirm, message_id=confirm_message, forge=True)
    assert replies == [UNSURE]
    assert "not sent" not in replies[0]
    assert len(await booking.referrals()) == 1  # not booked twice
    await person.send("/mycontact")
    assert "Ghent return desk" in person.text


async def test_an_earlier_booking_makes_the_bot_unsure(booking: Booking, redis: Redis,
                                                       prefix: str) -> None:
    person = booking.h.person(7305)
    await book(person)
    await to_confirm(person)  # a second booking
    await redis_loses_everything(redis, prefix)
    assert await person.press("No, thank you") == [UNSURE]
    assert "🔄 Start again" in person.buttons


async def test_when_the_api_cannot_tell_the_bot_says_it_is_unsure(
        booking: Booking, redis: Redis, prefix: str) -> None:
    person = booking.h.person(7306)
    await to_confirm(person)
    await redis_loses_everything(redis, prefix)
    working = api_down(booking)
    assert await person.press("No, thank you") == [UNSURE]
    api_back(booking, working)
    await person.press("🔄 Start again")
    assert INTRO in person.text


async def test_a_phone_number_typed_after_redis_lost_the_state(
        booking: Booking, redis: Redis, prefix: str) -> None:
    person = booking.h.person(7307)
    await to_confirm(person, "Call me by phone")
    await person.press("No, thank you")
    assert "Type your phone number" in person.text
    await redis_loses_everything(redis, prefix)
    assert await person.send("0470 12 34 56") == [NOT_SENT]
    assert await booking.referrals() == []
    await person.press("🔄 Start again")
    assert INTRO in person.text


# ---- /mycontact ------------------------------------------------------------------------
async def test_mycontact_buttons_keep_working_without_the_state(
        booking: Booking, redis: Redis, prefix: str) -> None:
    person = booking.h.person(7310)
    await book(person)
    await person.send("/mycontact")
    await redis_loses_everything(redis, prefix)
    await person.press("Cancel this contact")
    assert "Cancel the contact" in person.text
    await redis_loses_everything(redis, prefix)
    await person.press("Yes, cancel")
    assert "Cancelled" in person.text
    assert (await booking.referrals())[0].status == "cancelled"


async def test_a_message_to_the_counsellor_typed_after_redis_lost_the_state(
        booking: Booking, redis: Redis, prefix: str) -> None:
    person = booking.h.person(7311)
    await book(person)
    await person.send("/mycontact")
    await person.press("✉️ Write to the counsellor")
    await redis_loses_everything(redis, prefix)
    [reply] = await person.send("Can we meet on Monday?")
    assert reply == "Send this to your counsellor?"  # nothing lost, one tap, nothing kept
    await booking.deliver()
    assert not any("Monday" in t for t in booking.group_texts())  # not before the tap
    await person.press("✉️ Send it")
    assert "Sent to your counsellor" in person.text
    await booking.deliver()
    assert any("Monday" in t for t in booking.group_texts())


async def test_text_from_someone_new_still_gets_the_usual_answer(booking: Booking) -> None:
    person = booking.h.person(7312)
    [reply] = await person.send("hello")
    assert "I can only understand the buttons" in reply
    assert "lost track" not in reply


# ---- follow-up questionnaire -------------------------------------------------------------
async def test_a_followup_answer_after_redis_lost_the_state(
        booking: Booking, admin: httpx.AsyncClient, redis: Redis, prefix: str) -> None:
    person = booking.h.person(7320)
    await wave_received(booking, admin, person)
    wave_message = person.last_message_id()
    start = dict(person.buttons_with_data())["▶️ Start"]
    await person.press("▶️ Start")
    await person.press("Family, friends, others")
    assert "most important reason" in person.text
    await redis_loses_everything(redis, prefix)
    [reply] = await person.press(person.buttons[0])
    assert reply == ("Sorry, I lost track of our conversation. Your answers were not saved.\n\n"
                     "To answer again, press ▶️ Start on our message with the questions, above.")
    assert person.buttons == ["🏠 Main menu"]
    await person.press_data(start, message_id=wave_message)  # the way back
    assert "How did you first hear about the voluntary return programme?" in person.text


async def test_try_again_after_redis_lost_the_followup_answers(
        booking: Booking, admin: httpx.AsyncClient, redis: Redis, prefix: str) -> None:
    person = booking.h.person(7321)
    await wave_received(booking, admin, person)
    wave_message = person.last_message_id()
    start = dict(person.buttons_with_data())["▶️ Start"]
    await person.press("▶️ Start")
    working = api_down(booking)  # the answers cannot be saved at the end
    for _ in range(20):
        if "Try again" in person.buttons:
            break
        await person.press("No other reason" if "No other reason" in person.buttons
                           else person.buttons[0])
    assert "could not save your answers right now" in person.text
    api_back(booking, working)
    await redis_loses_everything(redis, prefix)
    assert await person.press("Try again") == [
        "Sorry, I lost track of our conversation. Your answers were not saved.\n\n"
        "To answer again, press ▶️ Start on our message with the questions, above."]
    assert person.buttons == ["🏠 Main menu"]
    await person.press_data(start, message_id=wave_message)  # the way back
    assert "How did you first hear about the voluntary return programme?" in person.text


# ---- language: the Telegram app's, once the stored choice is gone -------------------------
@pytest.mark.parametrize("lang", ["ar", "ka"])
async def test_lost_state_is_told_in_the_telegram_apps_language(
        booking: Booking, redis: Redis, prefix: str, lang: str) -> None:
    translations = Translations.load(str(DEFAULT_LOCALES_DIR), [lang], "messages")
    expected = translations.gettext(NOT_SENT)
    assert expected != NOT_SENT  # translated, so the test can tell the languages apart
    person = booking.h.person(7330, lang)
    await person.send("/language")
    while native_name(lang) not in person.buttons:  # the next page of the list
        await person.press(next(b for b in person.buttons if "▶" in b or "◀" in b))
    await person.press(native_name(lang))  # chosen explicitly: stored in Redis
    assert [k async for k in redis.scan_iter(match=f"{prefix}:lang:*")]
    await find_by_postcode(person)  # by position: works in every language
    await person.press(person.buttons[0])  # the first place
    await person.press(person.buttons[0])  # write to me here
    await person.press(person.buttons[1])  # no interpreter
    await person.press(person.buttons[0])  # a topic
    await person.press(person.buttons[0])  # yes, share
    await redis_loses_everything(redis, prefix)  # the stored language goes too
    assert await person.press(person.buttons[1]) == [expected]  # "No, thank you" sends it
    assert translations.gettext("🔄 Start again") in person.buttons
    assert await booking.referrals() == []


# ---- issue 15 item 5: the truth about hearing back ----------------------------------------
async def test_the_confirmation_says_only_what_is_true(booking: Booking) -> None:
    person = booking.h.person(7340)
    done = await book(person)
    assert "Your request to Ghent return desk is registered" in done
    assert "has your request" not in done  # the partner may not have been told yet
    assert "A counsellor will contact you. When they accept your request" in done
    assert "If you hear nothing, send /mycontact to see or cancel your request" in done
    assert FREEPHONE in done
    assert not re.search(r"\d+\s*(hours?|days?|working|weeks?)", done)  # no invented delay

    await person.send("/mycontact")
    card = person.text
    assert "Status: not accepted yet" in card and "waiting" not in card
    assert "Registered on" in card
    assert "If you hear nothing, you can cancel it below" in card and FREEPHONE in card
    await booking.deliver()
    await booking.counsellor_press("accepted")
    await person.send("/mycontact")
    assert "Status: accepted" in person.text


async def test_the_free_number_is_isolated_in_right_to_left_text(booking: Booking) -> None:
    person = booking.h.person(7341, "ar")
    await find_by_postcode(person)
    for position in (0, 0, 1, 0, 0, 0, 1):  # place, by message, no interpreter, topic, go on,
        # share, no
        await person.press(person.buttons[position])
    done = [m["text"] for m in person.bot_messages()][-2]
    assert f"\u2068{FREEPHONE}\u2069" in done
