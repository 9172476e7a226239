"""Follow-up after return, as the person lives it: the separate consent at booking, the wave
message in their language with Start / Later / Stop, the questionnaire with ordered reasons
(the second and third lists leave out what was chosen), the answers stored as ids, /stop."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from babel.support import Translations
from redis.asyncio import Redis
from sqlalchemy import select

from bot.notices import FOLLOWUP_WAVE
from bot.settings import DEFAULT_FLOWS_DIR, DEFAULT_LOCALES_DIR
from referral_api.followup.models import FollowupEnrolment, FollowupResponse, FollowupWave
from referral_api.referrals.service import ReferralService
from tests.bot.booking_world import Booking
from tests.bot.test_booking import choose_and_answer, find_by_postcode
from tests.harness import Harness, Person, flows_at

pytestmark = pytest.mark.channels  # Telegram and the web chat (issue 19)


async def book_and_return(booking: Booking, person: Person, followup: str) -> None:
    await find_by_postcode(person)
    await choose_and_answer(person, "Write to me here")
    await person.press("Continue")  # consent, step 1 of 2
    await person.press("✅ Yes, share")
    assert "may we send you a few questions after your return?" in person.text
    assert "stop at any time with /stop" in person.text
    await person.press(followup)
    assert any("Your reference:" in m["text"] for m in person.bot_messages())
    [referral] = await booking.referrals()
    context = booking.app.state.context
    async with context.sessionmaker() as session:
        await ReferralService(session, context.vault, context.settings, context.clock
                              ).set_returned_for_partner(
            referral.reference, "test-desk", country="GE",
            return_date=(datetime.now(UTC) - timedelta(days=100)).date(),
            reintegration_partner="iom", actor="staff:1")


async def wave_received(booking: Booking, admin: httpx.AsyncClient, person: Person) -> None:
    """The person books (saying yes to the follow-up), returns, and gets the next wave."""
    await book_and_return(booking, person, "Yes, you may ask me")
    queued = await admin.post("/v1/followup/send-next-wave", json={"chat_id": person.chat_id})
    assert queued.status_code == 200, queued.text
    await booking.deliver()


async def enrolments(booking: Booking) -> list[FollowupEnrolment]:
    async with booking.app.state.context.sessionmaker() as session:
        return list((await session.scalars(select(FollowupEnrolment))).all())


async def test_a_returnee_answers_a_wave_in_the_bot(booking: Booking,
                                                    admin: httpx.AsyncClient) -> None:
    person = booking.h.person(7101)
    await book_and_return(booking, person, "Yes, you may ask me")
    [enrolment] = await enrolments(booking)
    assert (enrolment.country, enrolment.partner, enrolment.language) == ("GE", "iom", "en")

    queued = await admin.post("/v1/followup/send-next-wave", json={"chat_id": person.chat_id})
    assert queued.json() == {"wave": 1}
    await booking.deliver()
    assert "questions after your return" in person.text
    assert person.buttons == ["▶️ Start", "Later", "Stop these questions"]

    await person.press("Later")
    assert "We will remind you later" in person.toasts[-1]
    await person.press("▶️ Start")
    assert "How did you first hear about the voluntary return programme?" in person.text
    await person.press("Family, friends, others")
    assert "most important reason" in person.text
    await person.press("More reasons ➡️")
    await person.press("Homesickness")
    assert "second most important reason" in person.text
    assert "Cannot work in Belgium" in person.buttons and "No other reason" in person.buttons
    await person.press("More reasons ➡️")
    assert "Homesickness" not in person.buttons  # already chosen
    await person.press("⬅️ First reasons")
    await person.press("Cannot work in Belgium")
    assert "third most important reason" in person.text
    assert "Cannot work in Belgium" not in person.buttons
    await person.press("No other reason")
    for label in ("Yes", "Partly", "Good", "Yes, but with difficulty", "No school-age children",
                  "Yes", "I am not sure", "Satisfied"):
        await person.press(label)
    assert "Thank you. Your answers help the programme" in person.text

    async with booking.app.state.context.sessionmaker() as session:
        [response] = (await session.scalars(select(FollowupResponse))).all()
        [wave, *_] = (await session.scalars(select(FollowupWave).order_by(FollowupWave.number)
                                            )).all()
    assert (response.source, response.country, response.partner) == ("bot", "GE", "iom")
    assert response.info_source == "word_of_mouth"
    assert (response.decision_1, response.decision_2, response.decision_3) == (
        "homesickness", "cannot_work_in_belgium", None)
    assert response.answers == {
        "income": "yes", "basic_needs": "partly", "housing": "good",
        "health_care": "with_difficulty", "school": "no_children", "belonging": "yes",
        "remigrate": "not_sure", "satisfaction": "satisfied"}
    assert response.questionnaire_version == 1 and wave.status == "answered"
    assert "⬅️ Back" not in person.buttons  # the thanks screen leads to the menu only

    # The next wave: info source and reasons were given already; not asked again.
    assert (await admin.post("/v1/followup/send-next-wave", json={"chat_id": person.chat_id})
            ).json() == {"wave": 2}
    await booking.deliver()
    await person.press("▶️ Start")
    assert "regular income" in person.text


async def test_start_on_a_closed_wave_says_closed_at_once(booking: Booking,
                                                          admin: httpx.AsyncClient) -> None:
    person = booking.h.person(7105)
    await wave_received(booking, admin, person)
    wave_message = person.last_message_id()
    start = dict(person.buttons_with_data())["▶️ Start"]
    async with booking.app.state.context.sessionmaker() as session:  # given up meanwhile
        for wave in (await session.scalars(select(FollowupWave))).all():
            wave.status = "expired" if wave.number == 1 else wave.status
        await session.commit()
    await person.press_data(start, wave_message)
    assert person.text == "These questions are closed. Thank you."
    assert not any("How did you first hear" in m["text"] for m in person.bot_messages())


async def test_stop_before_the_return_withdraws_the_yes(booking: Booking) -> None:
    person = booking.h.person(7106)
    await find_by_postcode(person)
    await choose_and_answer(person, "Write to me here")
    await person.press("Continue")  # consent, step 1 of 2
    await person.press("✅ Yes, share")
    await person.press("Yes, you may ask me")
    await person.send("/stop")
    assert "We will not send you these questions again" in person.text
    [referral] = await booking.referrals()
    assert not referral.followup_consent
    context = booking.app.state.context
    async with context.sessionmaker() as session:
        await ReferralService(session, context.vault, context.settings, context.clock
                              ).set_returned_for_partner(
            referral.reference, "test-desk", country="GE",
            return_date=(datetime.now(UTC) - timedelta(days=100)).date(),
            reintegration_partner="iom", actor="staff:1")
    assert await enrolments(booking) == []


async def test_stop_answers_without_the_api(harness: Harness) -> None:
    person = harness.person(7107)
    await person.send("/stop")
    assert "Sorry, this did not work right now" in person.text


async def test_no_follow_up_without_the_separate_yes(booking: Booking) -> None:
    person = booking.h.person(7102)
    await book_and_return(booking, person, "No, thank you")
    [referral] = await booking.referrals()
    assert referral.status == "returned" and not referral.followup_consent
    assert await enrolments(booking) == []


async def test_stop_ends_the_follow_up(booking: Booking) -> None:
    person = booking.h.person(7103)
    await book_and_return(booking, person, "Yes, you may ask me")
    await person.send("/stop")
    assert "We will not send you these questions again" in person.text
    [enrolment] = await enrolments(booking)
    assert enrolment.status == "stopped" and enrolment.chat_id_enc is None
    await person.send("/stop")
    assert "nothing to stop" in person.text


async def test_forget_deletes_the_enrolment_and_answers(booking: Booking,
                                                        admin: httpx.AsyncClient) -> None:
    person = booking.h.person(7104)
    await wave_received(booking, admin, person)
    await person.press("Stop these questions")
    assert "We will not send you these questions again" in person.text
    await person.send("/forget")
    await person.press(person.buttons[0])
    assert await enrolments(booking) == []


async def test_a_georgian_returnee_answers_a_wave_in_georgian(booking: Booking,
                                                              admin: httpx.AsyncClient) -> None:
    """The whole path in the person's own language (Telegram app in Georgian): the booking's
    follow-up question, the wave message and its buttons, every question, the thanks."""
    ka = Translations.load(str(DEFAULT_LOCALES_DIR), ["ka"], "messages").gettext
    thanks_node = flows_at(DEFAULT_FLOWS_DIR).flows["followup"].nodes["thanks"]
    thanks = str(getattr(thanks_node, "say", ""))
    person = booking.h.person(7111, "ka")
    await find_by_postcode(person)
    await person.press(person.buttons[0])  # the nearest place
    await person.press(ka("Write to me here"))
    await person.press(ka("Yes"))  # interpreter
    await person.press(ka("Travel documents"))
    await person.press(ka("Continue"))
    await person.press(ka("✅ Yes, share"))
    assert ka("Yes, you may ask me") != "Yes, you may ask me"  # really translated
    await person.press(ka("Yes, you may ask me"))
    [referral] = await booking.referrals()
    context = booking.app.state.context
    async with context.sessionmaker() as session:
        await ReferralService(session, context.vault, context.settings, context.clock
                              ).set_returned_for_partner(
            referral.reference, "test-desk", country="GE",
            return_date=(datetime.now(UTC) - timedelta(days=100)).date(),
            reintegration_partner="caritas", actor="staff:1")
    [enrolment] = await enrolments(booking)
    assert enrolment.language == "ka"

    await admin.post("/v1/followup/send-next-wave", json={"chat_id": person.chat_id})
    await booking.deliver()
    assert ka(FOLLOWUP_WAVE)[:40] in person.text
    assert person.buttons == [ka("▶️ Start"), ka("Later"), ka("Stop these questions")]
    await person.press(ka("▶️ Start"))
    assert ka("How did you first hear about the voluntary return programme?") in person.text
    await person.press(ka("Return desk"))
    for _ in range(20):  # then the first answer of every question, whatever comes
        if ka(thanks)[:30] in person.text:
            break
        await person.press(person.buttons[0])
    assert ka(thanks)[:30] in person.text
    assert not any(label.isascii() and label.strip() for label in person.buttons
                   if label not in ("1", "2")), person.buttons
    async with context.sessionmaker() as session:
        [response] = (await session.scalars(select(FollowupResponse))).all()
    assert (response.language, response.info_source) == ("ka", "return_desk")


@pytest.mark.parametrize("channel", ["web"], indirect=True)
async def test_on_the_web_chat_a_booking_keeps_the_chat_and_its_code_for_the_answers(
        booking: Booking, admin: httpx.AsyncClient, redis: Redis, prefix: str) -> None:
    """The web chat cannot push: after a booking, the conversation's id and code stay (not
    its messages) for WEBCHAT_KEEP_DAYS, so that the counsellor's answers and the follow-up
    questions wait for the person's code; without a booking everything goes with the
    conversation's TTL (one hour in tests)."""
    yes, no, none = (booking.h.person(7130), booking.h.person(7131),
                     booking.h.person(7132))
    await book_and_return(booking, yes, "Yes, you may ask me")
    await find_by_postcode(no)
    await choose_and_answer(no, "Write to me here")
    await no.press("Continue")
    assert "keep the number of this chat" in no.text  # not "your Telegram chat"
    await no.press("✅ Yes, share")
    assert "cannot send a message to your phone" in no.text
    assert "code at the top of this chat" in no.text
    await no.press("No, thank you")
    await none.send("/start")
    for person in (yes, no):
        chat = f"webchat-{prefix}:chat:{person.chat_id}"
        code = (await redis.hget(chat, "code")).decode()
        assert await redis.ttl(chat) > 700 * 86400  # WEBCHAT_KEEP_DAYS (730)
        assert await redis.ttl(f"webchat-{prefix}:code:{code}") > 700 * 86400
        assert 0 < await redis.ttl(f"{chat}:events") <= 3600  # the messages still go
    assert 0 < await redis.ttl(f"webchat-{prefix}:chat:{none.chat_id}") <= 3600
    # The first wave waits in the kept conversation.
    queued = await admin.post("/v1/followup/send-next-wave", json={"chat_id": yes.chat_id})
    assert queued.status_code == 200, queued.text
    await booking.deliver()
    assert FOLLOWUP_WAVE[:20] in yes.text
