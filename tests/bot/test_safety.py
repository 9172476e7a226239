"""Safety and truth, as a person meets them: protection before return for people in danger,
a minor is never booked as an adult, money screens that never over-promise for a country, and
no "no entry ban" for Syrians (programme-facts §1.3, §7)."""

from __future__ import annotations

import httpx
import pytest

from tests.bot.booking_world import Booking
from tests.bot.test_booking import find_by_postcode
from tests.harness import Harness, Person
from tests.referral_api.factories import make_partner

pytestmark = pytest.mark.channels  # Telegram and the web chat (issue 19)


async def to_menu(person: Person) -> None:
    await person.send("/start")
    await person.press("No")


async def money_for(person: Person, country: str) -> str:
    await to_menu(person)
    await person.press("What help is there?")
    await person.press("Money at departure")
    assert "Which country would you return to?" in person.text
    assert "▶" not in person.buttons  # one screen: no page to turn
    await person.press(country)
    return person.text


async def test_forced_work_shows_protection_numbers_and_emergency_first(
        harness: Harness) -> None:
    person = harness.person(8201)
    await to_menu(person)
    await person.press("Special situations")
    await person.press("Forced work, exploitation")
    text = person.text
    assert "You can get protection" in text and "right to stay in Belgium" in text
    assert "Call 112" in text and "police: 101" in text and "078 055 800" in text
    assert "return" not in text.lower()  # return comes after, as one option
    assert person.buttons[:3] == ["The three centres", "If you want to go home",
                                  "Legal advice"]
    await person.press("If you want to go home")
    assert "voluntary return" in person.text


async def test_moldova_and_brazil_are_promised_no_money(harness: Harness) -> None:
    for user, country in ((8202, "Moldova"), (8203, "Brazil")):
        text = await money_for(harness.person(user), country)
        assert f"For {country}, there is no money at departure" in text
        assert "€" not in text and "reintegration budget any more" in text


async def test_a_country_without_a_rule_of_its_own_gets_dated_amounts_and_the_counsellor(
        harness: Harness) -> None:
    person = harness.person(8204)
    text = await money_for(person, "Another country")
    assert "Under the rules of 2022" in text and "€350" in text
    assert "The counsellor tells you what applies to your country today" in text
    await person.press("Another country")  # change the answer
    assert "Which country would you return to?" in person.text


async def test_a_syrian_never_reads_no_entry_ban(harness: Harness) -> None:
    person = harness.person(8205)
    text = await money_for(person, "Syria")
    assert "announced in January 2026" in text and "not confirmed" in text
    await person.send("/menu")
    await person.press("Questions people ask")
    await person.press("Can I come back later?")
    assert "no entry ban" not in person.text
    assert "may come with an entry ban" in person.text and "Legal advice" in person.buttons
    other = harness.person(8206)
    await to_menu(other)
    await other.press("Questions people ask")
    await other.press("Can I come back later?")
    assert "you get no entry ban" in other.text  # others: as faq-facts Q22 says


async def test_legal_advice_is_one_tap_from_talk_to_someone(harness: Harness) -> None:
    person = harness.person(8207)
    await to_menu(person)
    await person.press("Talk to someone")
    await person.press("Legal advice")
    assert "first opinion, for free" in person.text and "BAJ/BJB" in person.text
    assert "The return counsellor works for the return programme" in person.text


async def test_privacy_tells_the_truth_about_phone_numbers(harness: Harness) -> None:
    person = harness.person(8208)
    await to_menu(person)
    await person.send("/privacy")
    assert "phone number" not in person.text  # not claimed as never kept
    await person.press("If I book a contact")
    assert "we keep your phone number in the same way, locked" in person.text


async def screening_as_minor(person: Person) -> None:
    await person.send("/start")
    await person.press("No")
    await person.press("📍 Find help near me")
    await person.press("Find places near me")
    await person.press("Answer the questions")
    for label in ("No", "No", "No", "No", "Yes"):  # medical, children, pregnant, older; minor
        await person.press(label)
    assert "Guardianship Service" in person.text
    await person.press("Continue")
    await person.press("No")  # forced to work
    await person.press("Find places near me")


async def test_a_minor_is_booked_only_as_a_minor_with_a_place_for_minors(
        booking: Booking, admin: httpx.AsyncClient) -> None:
    await make_partner(admin, "youth-desk", name="Youth desk", counsellors=(5003,),
                       notification_chat_id=-1000000001, services=["general", "minors"],
                       postal_code="9000", city="Gent")
    person = booking.h.person(8210)
    await screening_as_minor(person)
    await person.press("Type a postcode")
    await person.send("9000")
    places = [b for b in person.buttons if b.startswith("1.") or b.startswith("2.")]
    assert places == ["1. Contact Youth desk"]  # not the adult desks nearby
    await person.press("1. Contact Youth desk")
    await person.press("Write to me here")
    await person.press("No")
    await person.press("Information only")
    assert "You are under 18" in person.text and "Your guardian decides with you" in person.text
    await person.press("Continue")
    await person.press("Continue")  # consent, step 1 of 2
    await person.press("✅ Yes, share")
    await person.press("No, keep it to myself")  # the minor flag is shared all the same
    await person.press("No, thank you")
    [referral] = await booking.referrals()
    assert referral.partner_id == "youth-desk" and referral.flags == ["minor"]
    await booking.deliver()
    assert "the guardian decides" in booking.group_card()["text"].lower() or \
        "voogd" in booking.group_card()["text"].lower()


async def test_a_minor_with_no_place_for_minors_near_gets_the_guardianship_service(
        booking: Booking) -> None:
    person = booking.h.person(8211)
    await screening_as_minor(person)
    await person.press("Type a postcode")
    await person.send("9000")
    assert "No place near you works with young people alone" in person.text
    assert "078 15 43 24" in person.text


async def test_an_adult_is_not_asked_about_a_guardian(booking: Booking) -> None:
    person = booking.h.person(8212)
    await find_by_postcode(person)
    await person.press("1. Contact Ghent return desk")
    await person.press("Write to me here")
    await person.press("No")
    await person.press("Information only")
    assert "Before we share anything" in person.text  # straight to the consent
