"""Booking a contact, end to end through the real Dispatcher, the real referral API on
PostgreSQL and the outbox worker delivering to the fake Bot API (person and partner group)."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from bot.api_client import ReferralsClient
from bot.handlers.partner_group import RefCb
from referral_api.outbox.models import OutboxMessage
from tests.bot.booking_world import COUNSELLOR, GROUP, STRANGER, Booking
from tests.harness import Person
from tests.referral_api.factories import BRUSSELS

pytestmark = pytest.mark.channels  # Telegram and the web chat (issue 19)


async def find_by_postcode(person: Person, postcode: str = "9000") -> None:
    """By position, so that it works in every language: No, Find help near me, Find places
    near me, Skip the questions, Type a postcode."""
    await person.send("/start")
    for position in (1, 0, 0, 1, 1):
        await person.press(person.buttons[position])
    await person.send(postcode)


async def to_location_search(person: Person) -> list[str]:
    """From /start to the screen that asks for the location (English labels)."""
    await person.send("/start")
    await person.press("No")
    await person.press("📍 Find help near me")
    await person.press("Find places near me")
    await person.press("Skip the questions")
    return await person.press("📍 Share my location")


async def test_postcode_search_shows_the_nearest_place_first(booking: Booking) -> None:
    person = booking.h.person(7001)
    await find_by_postcode(person)
    text = person.text
    assert text.index("Ghent return desk") < text.index("Arlon partner")
    assert "Somewhere 1, 9000 Gent" in text
    assert "Walk in, no appointment: Mon–Fri 09:00\u2009–\u200912:00" in text
    assert "By appointment: Tue afternoon" in text and "Ring at the side door." in text
    assert "Nederlands" in text  # languages spoken, in their own names
    assert person.buttons[0] == "1. Contact Ghent return desk"


@pytest.mark.parametrize(("location", "expected"), [
    ((51.05, 3.72), "Ghent return desk"),       # in Ghent
    ((48.85, 2.35), "outside Belgium"),         # Paris
])
async def test_location_search(booking: Booking, location: tuple[float, float],
                               expected: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # every logger that would say anything at INFO says it
    person = booking.h.person(7002)
    replies = await to_location_search(person)
    assert any("used once" in r for r in replies)
    lat, lon = location
    await person.send(location={"latitude": lat, "longitude": lon})
    assert expected in person.text
    data = json.dumps(await booking.h.dp.storage.get_data(
        key=__import__("aiogram").fsm.storage.base.StorageKey(
            bot_id=booking.h.bot.id, chat_id=7002, user_id=7002)))
    assert str(lat) not in data and str(lon) not in data  # the location is never kept
    logged = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.INFO)
    assert "lat=" not in logged and str(lat) not in logged  # nor logged (httpx's URLs)


@pytest.mark.parametrize(("lang", "typed"), [
    ("ar", "٩٠٠٠"),   # Arabic-Indic digits
    ("fa", "۹۰۰۰"),   # Persian digits
    ("nl", "B-9000"),  # as Belgian letters write it
    ("en", " 9000 "),
])
async def test_a_postcode_in_the_persons_own_digits_or_format_is_understood(
        booking: Booking, lang: str, typed: str) -> None:
    person = booking.h.person(7020, lang)
    await person.send("/start")
    for position in (1, 0, 0, 1, 1):  # as find_by_postcode, by position in any language
        await person.press(person.buttons[position])
    await person.send(typed)
    assert "Ghent return desk" in person.text  # the places near 9000


@pytest.mark.parametrize("typed", ["0000", "12", "hello", "99999"])
async def test_bad_postcodes_get_a_clear_answer(booking: Booking, typed: str) -> None:
    person = booking.h.person(7003)
    await find_by_postcode(person, typed)
    assert "postcode" in person.text.lower()
    assert "Choose a city" in person.buttons


async def test_city_list(booking: Booking) -> None:
    person = booking.h.person(7004)
    await person.send("/start")
    await person.press("No")
    await person.press("📍 Find help near me")
    await person.press("Find places near me")
    await person.press("Skip the questions")
    await person.press("Choose a city")
    assert "Gent" in person.buttons and "Arlon" in person.buttons
    await person.press("Arlon")
    assert person.text.index("Arlon partner") < person.text.index("Ghent return desk")


async def choose_and_answer(person: Person, mode_label: str,
                            place: str = "1. Contact Ghent return desk") -> None:
    await person.press(place)
    assert "How would you like the counsellor to contact you?" in person.text
    await person.press(mode_label)
    if mode_label == "I will come at a set time":
        assert "Choose a time" in person.text
        await person.press(person.buttons[0])
    await person.press("Yes")  # interpreter
    await person.press("Travel documents")


async def test_telegram_mode_booking_accept_and_relay(booking: Booking) -> None:
    person = booking.h.person(7010)
    await find_by_postcode(person)
    await choose_and_answer(person, "Write to me here")
    consent = person.text
    assert "We will send to Ghent return desk" in consent
    assert "your language: English" in consent and "interpreter needed: yes" in consent
    assert "Travel documents" in consent
    await person.press("Continue")  # consent, step 1 of 2
    assert "90 days" in person.text and "Do you agree?" in person.text  # step 2: how long
    await person.press("✅ Yes, share")
    await person.press("No, thank you")  # the separate follow-up question
    done = [m["text"] for m in person.bot_messages()][-2]
    assert "Your reference:" in done
    reference = done.split("Your reference: ")[1].split()[0]
    [referral] = await booking.referrals()
    assert referral.contact_mode == "telegram" and referral.interpreter
    assert referral.topic == "travel_documents" and referral.language == "en"

    await booking.deliver()
    card = booking.group_card()  # in the partner's language (Dutch), the person's language too
    assert reference in card["text"] and "Taal: Engels (en)" in card["text"]
    assert "7010" not in card["text"]  # no Telegram id on the card

    await booking.counsellor_press("accepted", who=STRANGER)  # not a counsellor: refused
    assert (await booking.referrals())[0].status == "new"
    await booking.counsellor_press("accepted")
    await booking.counsellor_press("accepted")  # pressed twice: one change
    async with booking.app.state.context.sessionmaker() as session:
        notices = await session.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.kind == "person_notice"))
    assert notices == 1
    await booking.deliver()
    assert "accepted your request" in person.text and reference in person.text

    # the counsellor replies to the card; the person receives it through the bot
    await booking.counsellor_reply(card["message_id"], "Hello, when can we talk?")
    await booking.deliver()
    assert "Hello, when can we talk?" in person.text
    # the person answers with /mycontact → Write to the counsellor
    await person.send("/mycontact")
    await person.press("✉️ Write to the counsellor")
    await person.send("Tomorrow morning please")
    assert "Sent to your counsellor" in person.text
    await booking.deliver()
    assert any("Tomorrow morning please" in t for t in booking.group_texts())


async def test_phone_mode_asks_the_number_after_consent(booking: Booking) -> None:
    person = booking.h.person(7011, "nl")
    await find_by_postcode(person)
    await person.press(person.buttons[0])
    await person.press("Bel me op")  # Dutch label of "Call me by phone"
    await person.press("Nee")
    await person.press(person.buttons[0])  # first topic
    assert "telefoonnummer" in person.text  # the consent mentions the phone number
    await person.press(person.buttons[0])  # continue (consent, step 1 of 2)
    await person.press(person.buttons[0])  # agree
    await person.press(person.buttons[1])  # no follow-up questions
    await person.send("12")
    assert (await booking.referrals()) == []
    await person.send("0470 12 34 56")
    [referral] = await booking.referrals()
    assert referral.contact_mode == "phone" and referral.language == "nl"
    assert referral.phone_enc and "470" not in referral.phone_enc  # encrypted at rest
    await booking.deliver()
    assert "+32 470 12 34 56" in booking.group_card()["text"]  # the counsellor can call


async def test_visit_mode_slot_reminder_cancel(booking: Booking,
                                              admin: httpx.AsyncClient) -> None:
    # open only three days from now, so that the visit is more than a day away
    weekday = (datetime.now(BRUSSELS).weekday() + 3) % 7
    await admin.put("/v1/admin/partners/test-desk/availability",
                    json=[{"weekday": weekday, "start": "10:00", "end": "11:00"}])
    person = booking.h.person(7012)
    await find_by_postcode(person)
    await choose_and_answer(person, "I will come at a set time")
    await person.press("Continue")  # consent, step 1 of 2
    await person.press("✅ Yes, share")
    await person.press("No, thank you")  # the separate follow-up question
    assert any("We will remind you the day before" in m["text"] for m in person.bot_messages())
    [referral] = await booking.referrals()
    assert referral.slot_start is not None
    # the reminder goes out 24 h before the visit, in the person's language
    booking.worker.clock = lambda: referral.slot_start - timedelta(hours=23)
    await booking.deliver()
    assert "Reminder: your visit at Ghent return desk is tomorrow" in person.text
    assert "Somewhere 1, 9000 Gent" in person.text and "openstreetmap.org" in person.text
    await person.send("/mycontact")
    assert "Ghent return desk" in person.text
    await person.press("Cancel this contact")
    await person.press("Yes, cancel")
    assert "Cancelled" in person.text
    assert (await booking.referrals())[0].status == "cancelled"


async def test_no_consent_no_referral(booking: Booking) -> None:
    person = booking.h.person(7013)
    await find_by_postcode(person)
    await choose_and_answer(person, "Write to me here")
    await person.press("No, do not share")
    assert "Nothing was shared" in person.text
    assert await booking.referrals() == []


async def test_api_down_keeps_the_answers_and_retry_succeeds(booking: Booking,
                                                            app: FastAPI) -> None:
    person = booking.h.person(7014)
    await find_by_postcode(person)
    await choose_and_answer(person, "Write to me here")
    referrals: ReferralsClient = booking.h.dp["referrals"]
    working = referrals.http

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("down")

    referrals.http = httpx.AsyncClient(transport=httpx.MockTransport(down),
                                       base_url="http://api")
    await person.press("Continue")  # consent, step 1 of 2
    await person.press("✅ Yes, share")
    await person.press("No, thank you")  # the separate follow-up question
    assert "not reachable right now. Your answers are kept" in person.text
    assert "Your reference" not in person.text
    assert await booking.referrals() == []
    referrals.http = working
    await person.press("Try again")
    assert any("Your reference:" in m["text"] for m in person.bot_messages())
    assert len(await booking.referrals()) == 1


async def test_forget_deletes_the_referral_everywhere(booking: Booking) -> None:
    person = booking.h.person(7015)
    await find_by_postcode(person)
    await choose_and_answer(person, "Write to me here")
    await person.press("Continue")  # consent, step 1 of 2
    await person.press("✅ Yes, share")
    await person.press("No, thank you")  # the separate follow-up question
    assert len(await booking.referrals()) == 1
    await person.send("/forget")
    await person.press(person.buttons[0])
    assert await booking.referrals() == []


async def test_forged_card_button_for_another_referral_is_refused(booking: Booking) -> None:
    person = booking.h.person(7016)
    await find_by_postcode(person)
    await choose_and_answer(person, "Write to me here")
    await person.press("Continue")  # consent, step 1 of 2
    await person.press("✅ Yes, share")
    await person.press("No, thank you")  # the separate follow-up question
    await booking.deliver()
    card = booking.group_card()
    forged = RefCb(reference="ZZZZ-ZZZZ", status="closed").pack()
    await booking.h.feed(booking.h.fake.user_press(COUNSELLOR, card["message_id"], forged,
                                                   chat_id=GROUP))
    assert (await booking.referrals())[0].status == "new"


async def test_group_chatter_gets_no_answer(booking: Booking) -> None:
    before = len(booking.group_texts())
    await booking.h.feed(booking.h.fake.user_message(COUNSELLOR, "good morning all",
                                                     chat_id=GROUP))
    assert len(booking.group_texts()) == before




def test_a_place_without_its_own_coordinates_shows_its_town_not_zero_km() -> None:
    from bot.api_client import PartnerNearby
    from bot.booking.texts import place_block

    place = PartnerNearby(id="x", name="Desk", kind="desk", city="Gent", postal_code="9000",
                          province=None, address=None, lat=51.05, lon=3.72, phone=None,
                          languages=[], services=[], verified=True,
                          distance_km=0.0)
    with english():
        assert "0.0 km" not in place_block(1, place, "en")
        assert place_block(1, place, "en").startswith("1. <b>Desk</b> — Gent")


def test_a_place_without_an_address_says_it_is_given_when_you_book() -> None:
    from bot.api_client import PartnerNearby
    from bot.booking.texts import place_block

    place = PartnerNearby(id="x", name="Desk", kind="desk", city="Gent", postal_code="9000",
                          province=None, address=None, lat=51.05, lon=3.72, phone=None,
                          languages=[], services=[], verified=True,
                          distance_km=2.0)
    with english():
        assert "📍 Gent — the address is given when you book" in place_block(1, place, "en")


@contextlib.contextmanager
def english() -> Iterator[None]:
    """The gettext context a handler runs in (the locale middleware sets it)."""
    from bot.i18n import create_i18n
    from bot.settings import DEFAULT_LOCALES_DIR

    i18n = create_i18n(DEFAULT_LOCALES_DIR, "en")
    with i18n.context(), i18n.use_locale("en"):
        yield
