"""/mycontact as a person uses it, over the real Dispatcher and the real referral API on
PostgreSQL: see a booked contact, change its time (also onto a time someone has just taken),
cancel it, write to the counsellor; several contacts give a list."""

from __future__ import annotations

from datetime import datetime

import httpx
import pytest

from bot.booking.texts import slot_id
from bot.engine.callbacks import NodeCb
from tests.bot.booking_world import Booking
from tests.bot.test_booking import choose_and_answer, find_by_postcode
from tests.harness import Person
from tests.referral_api.factories import BRUSSELS, SERVICE_TOKEN

pytestmark = pytest.mark.channels  # Telegram and the web chat (issue 19)


async def open_two_days(admin: httpx.AsyncClient) -> None:
    """The desk opens 10:00–12:00 three and four days from now (hourly slots)."""
    days = [(datetime.now(BRUSSELS).weekday() + d) % 7 for d in (3, 4)]
    await admin.put("/v1/admin/partners/test-desk/availability",
                    json=[{"weekday": w, "start": "10:00", "end": "12:00"} for w in days])


async def book_a_visit(booking: Booking, person: Person) -> None:
    await find_by_postcode(person)
    await choose_and_answer(person, "I will come at a set time")
    await person.press("Continue")  # consent, step 1 of 2
    await person.press("✅ Yes, share")
    await person.press("No, thank you")
    assert any("Your reference:" in m["text"] for m in person.bot_messages())


def time_buttons(person: Person) -> list[tuple[str, str]]:
    """The time buttons on screen: (label, slot id)."""
    out = []
    for label, data in person.buttons_with_data():
        choice = NodeCb.unpack(data).c
        if choice.isdigit():
            out.append((label, choice))
    return out


async def test_mycontact_shows_the_visit_with_its_actions(booking: Booking,
                                                          admin: httpx.AsyncClient) -> None:
    await open_two_days(admin)
    person = booking.h.person(7101)
    await book_a_visit(booking, person)
    await person.send("/mycontact")
    text = person.text
    [referral] = await booking.referrals()
    assert referral.reference.replace("-", "") in text.replace("-", "")
    assert "Ghent return desk" in text and "Status: not accepted yet" in text
    assert person.buttons[:3] == ["Change the time", "What do I bring?", "Cancel this contact"]
    # where to go: the address, a map link and the hours, in /mycontact as in the confirmation
    assert "Somewhere 1, 9000 Gent" in text and "openstreetmap.org" in text
    assert "Walk in, no appointment: Mon–Fri 09:00\u2009–\u200912:00" in text
    confirmation = next(m["text"] for m in person.bot_messages() if "Your reference" in m["text"])
    assert "Somewhere 1, 9000 Gent" in confirmation and "openstreetmap.org" in confirmation
    assert "✉️ Write to the counsellor" not in person.buttons  # a visit: no messages


async def test_rescheduling_moves_the_visit(booking: Booking, admin: httpx.AsyncClient) -> None:
    await open_two_days(admin)
    person = booking.h.person(7102)
    await book_a_visit(booking, person)
    [before] = await booking.referrals()
    await person.send("/mycontact")
    await person.press("Change the time")
    assert "Choose a new time:" in person.text
    label, chosen = time_buttons(person)[-1]
    await person.press(label)
    assert "✅ Changed." in person.text
    [after] = await booking.referrals()
    assert after.slot_start != before.slot_start
    assert slot_id(after.slot_start) == chosen
    assert "Change the time" in person.buttons  # the contact again, with its actions


async def test_rescheduling_onto_a_time_just_taken_offers_others_and_works(
        booking: Booking, admin: httpx.AsyncClient, app: object) -> None:
    await open_two_days(admin)
    person = booking.h.person(7103)
    await book_a_visit(booking, person)
    await person.send("/mycontact")
    await person.press("Change the time")
    label, taken = time_buttons(person)[-1]
    # Someone else books exactly that time while the person looks at the list.
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
                                 base_url="http://api",
                                 headers={"Authorization": f"Bearer {SERVICE_TOKEN}"}) as api:
        when = datetime.fromtimestamp(int(taken) * 60, tz=BRUSSELS)
        response = await api.post("/v1/referrals", json={
            "partner_id": "test-desk", "contact_mode": "visit",
            "slot_start": when.isoformat(), "language": "en", "interpreter": False,
            "topic": "information", "chat_id": 99999, "consent_version": "booking-1"})
        assert response.status_code == 201, response.text
    await person.press(label)
    assert "Sorry, this time was just taken. Choose another time:" in person.text
    offered = time_buttons(person)
    assert offered and taken not in [slot for _, slot in offered]
    other_label, other = offered[0]
    await person.press(other_label)  # the defect: this used to say "out of date"
    assert "✅ Changed." in person.text
    moved = [r for r in await booking.referrals()
             if r.slot_start is not None and slot_id(r.slot_start) == other]
    assert len(moved) == 1 and moved[0].status == "new"


async def test_cancel_asks_first_and_no_keeps_it(booking: Booking,
                                               admin: httpx.AsyncClient) -> None:
    await open_two_days(admin)
    person = booking.h.person(7104)
    await book_a_visit(booking, person)
    await person.send("/mycontact")
    await person.press("Cancel this contact")
    assert "Cancel the contact" in person.text
    await person.press("No")
    assert "Change the time" in person.buttons  # back on the contact, nothing changed
    assert (await booking.referrals())[0].status == "new"
    await person.press("Cancel this contact")
    await person.press("Yes, cancel")
    assert "✅ Cancelled" in person.text
    assert (await booking.referrals())[0].status == "cancelled"
    await person.send("/mycontact")
    assert "You have no booked contact" in person.text


async def test_two_contacts_give_a_list_and_writing_reaches_the_counsellor(
        booking: Booking) -> None:
    person = booking.h.person(7105)
    for place in ("1. Contact Ghent return desk", "2. Contact Arlon partner"):
        await find_by_postcode(person)
        await choose_and_answer(person, "Write to me here", place)
        await person.press("Continue")  # consent, step 1 of 2
        await person.press("✅ Yes, share")
        await person.press("No, thank you")
    await person.send("/mycontact")
    assert "Your booked contacts. Choose one:" in person.text
    labels = [b for b in person.buttons if "·" in b]
    assert len(labels) == 2 and any("Arlon partner" in b for b in labels)
    await person.press(next(b for b in labels if "Arlon partner" in b))
    assert "Arlon partner" in person.text
    await person.press("✉️ Write to the counsellor")
    await person.send("Can we talk on Monday?")
    assert "✅ Sent to your counsellor" in person.text
    await booking.deliver()
    assert any("Can we talk on Monday?" in t for t in booking.group_texts())


async def test_a_photo_on_the_write_screen_is_not_sent_and_says_so(booking: Booking) -> None:
    person = booking.h.person(7106)
    await find_by_postcode(person)
    await choose_and_answer(person, "Write to me here")
    await person.press("Continue")  # consent, step 1 of 2
    await person.press("✅ Yes, share")
    await person.press("No, thank you")
    await person.send("/mycontact")
    await person.press("✉️ Write to the counsellor")
    await person.send(photo=[{"file_id": "x", "file_unique_id": "x", "width": 1,
                              "height": 1}])
    assert "Nothing was sent. Write your message as text" in person.text
    assert await booking.referrals() and booking.group_texts().count("Hello") == 0
    await person.press("✉️ Write to the counsellor")
    await person.send("Hello")
    assert "✅ Sent to your counsellor" in person.text


async def test_an_old_time_button_after_the_visit_was_cancelled_moves_nothing(
        booking: Booking, admin: httpx.AsyncClient) -> None:
    await open_two_days(admin)
    person = booking.h.person(7107)
    await book_a_visit(booking, person)
    await person.send("/mycontact")
    await person.press("Change the time")
    label, _slot = time_buttons(person)[0]
    old_list = person.last_message_id()
    await person.send("/mycontact")
    await person.press("Cancel this contact")
    await person.press("Yes, cancel")
    data = None
    for message in person.bot_messages():
        if message["message_id"] == old_list:
            rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
            data = next(b["callback_data"] for row in rows for b in row if b["text"] == label)
    assert data is not None
    await person.press_data(data, message_id=old_list)
    assert "You have no booked contact" in person.text  # nothing moved, and it says why


async def test_a_phone_booker_sees_and_changes_the_number_and_can_write(
        booking: Booking) -> None:
    person = booking.h.person(7108)
    await find_by_postcode(person)
    await choose_and_answer(person, "Call me by phone")
    await person.press("Continue")
    await person.press("✅ Yes, share")
    await person.press("No, thank you")
    await person.send("0470 12 34 56")
    await person.send("/mycontact")
    assert "+32 ••• •• •• 56" in person.text  # the number given, partly masked
    assert "0470 12 34 56" not in person.text and "470 12 34" not in person.text
    assert person.buttons[:3] == ["✉️ Write to the counsellor", "Change my number",
                                  "Cancel this contact"]
    await person.press("Change my number")
    await person.send("12")
    assert "This phone number does not seem right" in person.text
    await person.send("+40 712 345 678")
    assert "✅ Changed." in person.text and "+40 •••" in person.text
    [referral] = await booking.referrals()
    assert referral.phone_enc and "712" not in referral.phone_enc  # encrypted at rest
    await booking.deliver()
    assert "+40 712 345 678" in booking.group_card()["text"]  # the card shows the new one
    await person.press("✉️ Write to the counsellor")
    await person.send("Please call me after 5 pm.")
    assert "✅ Sent to your counsellor" in person.text
