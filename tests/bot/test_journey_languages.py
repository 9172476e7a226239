"""The whole journey in Arabic, Georgian and Dutch (issue 13, "Checked by"): from /start to a
visit booked, the counsellor's answer in the partner group, the person's typed reply and a
reschedule, over the real Dispatcher, the real referral API on PostgreSQL and the outbox worker.
Every label pressed is the person's language (gettext of the shipped catalogue), and every screen
on the way offers a way on: buttons, or the answer to what the person asked."""

from __future__ import annotations

import gettext as gettext_module

import httpx
import pytest

from bot.booking.texts import slot_id
from bot.settings import DEFAULT_LOCALES_DIR
from tests.bot.booking_world import Booking
from tests.bot.test_booking import find_by_postcode
from tests.bot.test_mycontact import open_two_days, time_buttons
from tests.harness import Person

LANGUAGES = {"ar": 8901, "ka": 8902, "nl": 8903}


def translator(locale: str) -> gettext_module.GNUTranslations:
    return gettext_module.translation("messages", str(DEFAULT_LOCALES_DIR), [locale])


def no_dead_end(person: Person) -> None:
    """The screen on show lets the person go on."""
    assert person.buttons, person.text


@pytest.mark.parametrize("locale", sorted(LANGUAGES))
async def test_the_whole_journey_in_the_persons_language(
        booking: Booking, admin: httpx.AsyncClient, locale: str) -> None:
    t = translator(locale).gettext
    await open_two_days(admin)
    person = booking.h.person(LANGUAGES[locale], language_code=locale)

    # /start → the nearest places → a visit at a set time, with consent
    await find_by_postcode(person)
    no_dead_end(person)
    assert t("These places are nearest to {place}:").split("{")[0].strip() in person.text
    await person.press(person.buttons[0])
    await person.press(t("I will come at a set time"))
    no_dead_end(person)
    await person.press(time_buttons(person)[0][0])
    await person.press(t("Yes"))  # an interpreter
    await person.press(t("Travel documents"))
    await person.press(t("Continue"))  # consent, step 1 of 2
    await person.press(t("✅ Yes, share"))
    await person.press(t("No, thank you"))  # no follow-up questions
    [referral] = await booking.referrals()
    confirmation = next(m["text"] for m in person.bot_messages()
                        if referral.reference.replace("-", "") in
                        m["text"].replace("-", "").replace("\u2068", "").replace("\u2069", ""))
    assert "Somewhere 1, 9000 Gent" in confirmation and "openstreetmap.org" in confirmation
    no_dead_end(person)

    # the counsellor answers on the card in the group; the person gets it with an Answer button
    await booking.deliver()
    await booking.counsellor_reply(booking.group_card()["message_id"],
                                   "Please bring your passport if you have one.")
    await booking.deliver()  # not held back by the reminder queued for the day before the visit
    message = [m for m in person.bot_messages() if m["text"].startswith("💬")][-1]
    assert "Please bring your passport" in message["text"]
    buttons = [b["text"] for row in message["reply_markup"]["inline_keyboard"] for b in row]
    assert buttons == [t("↩️ Answer")]

    # the person simply types a reply: one tap sends it, nothing is dropped
    await person.send("OK 👍")
    assert person.text == t("Send this to your counsellor?")
    await person.press(t("✉️ Send it"))
    assert person.text == t("✅ Sent to your counsellor. The answer will come here.")
    await booking.deliver()
    assert any("OK 👍" in text for text in booking.group_texts())

    # a reschedule from /mycontact
    await person.send("/mycontact")
    await person.press(t("Change the time"))
    label, chosen = time_buttons(person)[-1]
    await person.press(label)
    assert t("✅ Changed.") in person.text
    [moved] = await booking.referrals()
    assert moved.slot_start != referral.slot_start and slot_id(moved.slot_start) == chosen
    no_dead_end(person)
    for leak in ("Change the time", "Walk in", "Send this to", "Your reference"):
        assert leak not in person.text  # nothing on the last screen is left in English
