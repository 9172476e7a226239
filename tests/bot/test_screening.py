"""Optional screening: minors and trafficking paths first, urgent care, a separate consent for
sensitive flags, and routing to a partner offering the right support."""

from __future__ import annotations

import httpx
import pytest

from bot.screening import flags_from, service_for
from tests.bot.booking_world import Booking
from tests.harness import Person
from tests.referral_api.factories import make_partner

pytestmark = pytest.mark.channels  # Telegram and the web chat (issue 19)


async def to_screening(person: Person) -> None:
    await person.send("/start")
    await person.press("No")
    await person.press("📍 Find help near me")
    await person.press("Find places near me")
    assert "A few short questions" in person.text
    await person.press("Answer the questions")


async def answer(person: Person, *labels: str) -> None:
    for label in labels:
        await person.press(label)


async def test_every_question_can_be_skipped_and_says_why(booking: Booking) -> None:
    person = booking.h.person(8101)
    await to_screening(person)
    for _ in range(6):
        assert "\n\n" in person.text  # the question, then why we ask it
        skip = [b for b in person.buttons if b in ("Skip this question", "I prefer not to say")]
        assert skip, person.buttons
        await person.press(skip[0])
    assert "Now we look for the right place" in person.text


async def test_a_minor_alone_gets_the_guardian_and_procedure_first(booking: Booking) -> None:
    person = booking.h.person(8102)
    await to_screening(person)
    await answer(person, "No", "No", "No", "No")
    assert "under 18" in person.text
    await person.press("Yes")
    # the Guardianship Service first: its number, what a guardian does, not asylum
    assert "Guardianship Service: 078 15 43 24" in person.text
    assert "protects you" in person.text and "not an asylum application" in person.text
    assert "return" not in person.text.lower()
    await person.press("About going home")
    assert "Nobody can send you back by force" in person.text
    await person.press("The steps")
    assert "Your guardian makes the request" in person.text
    await person.press("Continue")
    assert "forced you to work" in person.text  # only then the next question


async def test_possible_trafficking_shows_protection_first(booking: Booking) -> None:
    person = booking.h.person(8103)
    await to_screening(person)
    await answer(person, "Skip this question", "Skip this question", "Skip this question",
                 "Skip this question", "Skip this question")
    await person.press("Yes")
    text = person.text
    # protection first: a right to stay, the numbers, 112 and 101; no return offer here
    assert "You can get protection" in text and "right to stay in Belgium" in text
    assert "45 days to think" in text and "078 055 800" in text
    assert "Call 112" in text and "police: 101" in text
    assert "voluntary return" not in text.lower() and "go home" not in text.lower()
    await person.press("The three centres")
    assert all(n in person.text for n in ("02 511 64 64", "03 201 16 90", "04 232 40 30"))


async def test_a_medical_emergency_shows_urgent_care(booking: Booking) -> None:
    person = booking.h.person(8104)
    await to_screening(person)
    await person.press("I need a doctor now")
    assert "call 112 now" in person.text and "emergency department" in person.text
    assert "CPAS/OCMW" in person.text and "more than emergency care" in person.text
    assert "02 225 43 00" in person.text  # Médecins du Monde
    await person.press("Medical care without papers")
    assert "doctor's certificate" in person.text


async def book_with_medical(person: Person, share: str) -> None:
    await to_screening(person)
    await answer(person, "Yes", "Yes", "2", "6 to 12", "No", "No", "No", "No")
    await person.press("Find places near me")
    await person.press("Type a postcode")
    await person.send("9000")
    await person.press(person.buttons[0])
    await answer(person, "Write to me here", "No", "Health", "Continue", "✅ Yes, share")
    assert "you need medical treatment" in person.text
    assert "children travel with you" in person.text
    await person.press(share)
    await person.press("No, thank you")  # the separate follow-up question


async def test_sensitive_flags_need_their_own_consent(booking: Booking) -> None:
    refused = booking.h.person(8105)
    await book_with_medical(refused, "No, keep it to myself")
    [referral] = await booking.referrals()
    assert referral.flags == []
    await booking.deliver()
    assert "Gedeeld door de persoon: niets" in booking.group_card()["text"]  # nothing shared


async def test_shared_flags_reach_the_card(booking: Booking) -> None:
    person = booking.h.person(8106)
    await book_with_medical(person, "Yes, share this too")
    [referral] = await booking.referrals()
    assert referral.flags == ["medical", "children", "children_2", "children_6_12"]
    await booking.deliver()
    # in plain words, in the partner's language (Dutch), not as ids
    assert ("Medische behandeling moet doorlopen; 2 kinderen, 6 tot 12 jaar"
            in booking.group_card()["text"])


async def test_routing_prefers_a_near_partner_offering_medical_support(
    booking: Booking, admin: httpx.AsyncClient
) -> None:
    # a general-only desk right in Ghent, and a medical partner a few km away
    await make_partner(admin, "gent-general", name="Ghent general desk", postal_code="9000",
                       services=["general"], counsellors=(5003,))
    await make_partner(admin, "merelbeke-medical", name="Merelbeke medical partner",
                       postal_code="9820", city="Merelbeke", services=["general", "medical"],
                       counsellors=(5004,))
    await admin.delete("/v1/admin/partners/test-desk")
    person = booking.h.person(8107)
    await to_screening(person)
    await answer(person, "Yes", "No", "No", "No", "No", "No")
    await person.press("Find places near me")
    await person.press("Type a postcode")
    await person.send("9000")
    assert person.text.index("Merelbeke medical partner") < person.text.index(
        "Ghent general desk")
    without = booking.h.person(8108)
    await to_screening(without)
    await answer(without, "No", "No", "No", "No", "No", "No")
    await without.press("Find places near me")
    await without.press("Type a postcode")
    await without.send("9000")
    assert without.text.index("Ghent general desk") < without.text.index(
        "Merelbeke medical partner")


@pytest.mark.parametrize(("answers", "flags", "service"), [
    ({}, [], None),
    ({"scr_medical": "skip", "scr_minor": "skip"}, [], None),
    ({"scr_medical": "emergency"}, ["medical"], "medical"),
    ({"scr_minor": "yes", "scr_medical": "yes"}, ["minor", "medical"], "minors"),
    ({"scr_safety": "yes"}, ["trafficking"], "trafficking"),
    ({"scr_children": "yes", "scr_child_count": "three_plus", "scr_child_ages": "mixed"},
     ["children", "children_3plus", "children_mixed_ages"], "families"),
    ({"scr_children": "no", "scr_child_ages": "under_6"}, [], None),
    ({"scr_pregnant": "yes", "scr_older": "yes"}, ["pregnant", "older_65"], "medical"),
])
def test_flags_and_routing_rules(answers: dict[str, str], flags: list[str],
                                 service: str | None) -> None:
    assert flags_from(answers) == flags
    assert service_for(answers) == service
