"""Anonymous signals from the bot: monthly pseudonyms, the obstacles question, campaign codes
(deep link and typed), and the funnel counted through real conversations, on the real
referral API (PostgreSQL) and the real Dispatcher."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from bot.channels import WEB_CHAT_IDS
from bot.settings import Settings
from bot.signals import SignalBuffer, SignalRecorder, month_of, pseudonym
from referral_api.campaigns.models import Campaign
from referral_api.signals.models import SignalEvent, SignalJourney
from referral_api.signals.service import ReportFilter, report
from simulator.botapi import SimUser
from tests.bot.booking_world import Booking
from tests.bot.test_booking import choose_and_answer, find_by_postcode
from tests.bot.test_followup import wave_received
from tests.conftest import TEST_TOKEN
from tests.harness import Person

KEY = b"a test pseudonym key"
CODE = "K7PX3M"


@pytest.fixture
def settings(prefix: str) -> Settings:
    """The bot's settings with signals on (sent only when the test flushes the buffer)."""
    return Settings(_env_file=None, bot_token=SecretStr(TEST_TOKEN), redis_prefix=prefix,
                    redis_url=None, telegram_api_url=None,
                    pseudonym_key=SecretStr(KEY.decode()), signals_interval_seconds=60)


@pytest.fixture
async def world(booking: Booking) -> Booking:
    async with booking.app.state.context.sessionmaker() as session:
        session.add(Campaign(code=CODE, partner_id="test-desk", city="Gent", channel="flyer",
                             label="Station flyers", created_at=datetime.now(UTC)))
        await session.commit()
    return booking


async def flush(world: Booking) -> None:
    await world.h.dp["signal_buffer"].flush()


async def events(world: Booking) -> list[SignalEvent]:
    async with world.app.state.context.sessionmaker() as session:
        return list(await session.scalars(select(SignalEvent).order_by(SignalEvent.id)))


# --- pseudonyms --------------------------------------------------------------------------


def test_pseudonyms_are_stable_within_a_month_and_differ_across_months_and_people() -> None:
    assert pseudonym(KEY, 7001, 202611) == pseudonym(KEY, 7001, 202611)
    assert pseudonym(KEY, 7001, 202611) != pseudonym(KEY, 7001, 202612)
    assert pseudonym(KEY, 7001, 202611) != pseudonym(KEY, 7002, 202611)
    assert pseudonym(KEY, 7001, 202611) != pseudonym(b"another key", 7001, 202611)
    assert "7001" not in pseudonym(KEY, 7001, 202611)
    # The calendar month is Belgium's: 23:30 UTC on 30 November is already December there.
    assert month_of(datetime(2026, 11, 30, 23, 30, tzinfo=UTC)) == 202612
    late = SignalRecorder(None, KEY, 7001, clock=lambda: datetime(2026, 11, 15, tzinfo=UTC))
    assert pseudonym(KEY, 7001, 202611) in late.forget_pseudonyms()
    assert pseudonym(KEY, 7001, 202511) in late.forget_pseudonyms()  # 12 months back


async def test_a_failed_send_is_logged_and_dropped_never_raised(
        caplog: pytest.LogCaptureFixture) -> None:
    async def broken(batch: list[dict[str, Any]]) -> None:
        raise ConnectionError("down")

    buffer = SignalBuffer(broken, max_batch=2, max_pending=3)
    for n in range(5):
        buffer.add({"n": n})
    assert buffer.dropped == 2  # bounded: the newest beyond max_pending are dropped
    with caplog.at_level(logging.WARNING):
        await buffer.close()
    assert not buffer.pending
    assert "signal(s) not recorded: ConnectionError" in caplog.text


async def test_a_batch_goes_out_in_the_background_without_a_flush() -> None:
    import asyncio

    sent: list[list[dict[str, Any]]] = []

    async def send(batch: list[dict[str, Any]]) -> None:
        sent.append(batch)

    buffer = SignalBuffer(send, max_batch=3, interval=0.05)
    for n in range(3):
        buffer.add({"n": n})
    for _ in range(40):
        if sent:
            break
        await asyncio.sleep(0.01)
    assert sent == [[{"n": 0}, {"n": 1}, {"n": 2}]]
    await buffer.close()


# --- the obstacles question --------------------------------------------------------------


async def open_obstacles(person: Person, start: str = f"/start {CODE}") -> None:
    await person.send(start)
    await person.press("No")
    await person.press("What is voluntary return?")
    await person.press("What makes it hard?")


async def test_obstacles_are_ticked_then_done_and_not_kept_in_the_conversation(
        world: Booking) -> None:
    person = world.h.person(7101)
    await open_obstacles(person)
    assert "What makes it hard for you to decide?" in person.text
    assert "without your name" in person.text  # why we ask, and how it is kept
    await person.press("No money for the journey")
    await person.press("Debts")
    await person.press("✅ Debts")  # untick
    await person.press("Health")
    assert "✅ No money for the journey" in person.buttons and "Debts" in person.buttons
    assert "✅ Health" in person.buttons
    await person.press("✔️ Done")
    assert "Thank you. You decide" in person.text
    data = await world.h.dp.storage.get_data(key=__import__(
        "aiogram").fsm.storage.base.StorageKey(bot_id=world.h.bot.id, chat_id=7101,
                                               user_id=7101))
    assert "obstacles" not in data.get("answers", {})
    await flush(world)
    named = [(e.event, e.value) for e in await events(world) if e.event == "obstacle_named"]
    assert named == [("obstacle_named", "no_money"), ("obstacle_named", "health")]


# --- the funnel through real conversations -------------------------------------------


async def test_the_funnel_counts_people_through_bot_journeys(world: Booking) -> None:
    for n in range(6):  # six people come through the flyer, read, name an obstacle
        person = world.h.person(7200 + n, "fr" if n == 5 else "en")
        if n == 5:
            await person.send(f"/start {CODE}")
            await person.send("/language")
            await person.press("English")
            await person.press("No")
            await person.press("What is voluntary return?")
            await person.press("What makes it hard?")
        else:
            await open_obstacles(person)
        await person.press("No passport or documents")
        await person.press("✔️ Done")
    booker = world.h.person(7200)
    await find_by_postcode(booker)  # /start again: the campaign stays with the conversation
    await choose_and_answer(booker, "Write to me here")
    await booker.press("Continue")
    await booker.press("✅ Yes, share")
    await booker.press("No, thank you")  # the follow-up question
    await flush(world)
    await world.deliver()
    await world.counsellor_press("accepted")
    await world.counsellor_press("contacted")

    month = month_of(datetime.now(UTC))
    async with world.app.state.context.sessionmaker() as session:
        result = await report(session, ReportFilter(month, month, campaigns=(CODE,)))
        journeys = list(await session.scalars(select(SignalJourney)))
    funnel = dict(zip(result.stages, (c.json() for c in result.funnel), strict=True))
    assert funnel == {"started": 6, "informed": 6, "booking_started": "<5", "booked": "<5",
                      "contacted": "<5"}
    assert next(r.count.json() for r in result.obstacles if r.value == "no_documents") == 6
    assert sorted(j.stage for j in journeys) == [2] * 5 + [5]  # the booker was contacted
    assert {j.campaign for j in journeys} == {CODE}
    assert {j.language for j in journeys} == {"en"}
    assert {j.channel for j in journeys} == {"telegram"}  # kept through the referral's events
    rows = await events(world)
    assert {e.pseudonym for e in rows} == {pseudonym(KEY, 7200 + n, month) for n in range(6)}
    assert any(e.event == "language_chosen" for e in rows)
    for e in rows:  # no Telegram id anywhere, only ids from the closed lists
        assert not any(str(7200 + n) in str(getattr(e, c)) for n in range(6)
                       for c in ("pseudonym", "value", "campaign", "language"))


@pytest.mark.parametrize("channel", ["web"], indirect=True)  # the web chat, Telegram beside it
async def test_each_event_carries_the_persons_channel_and_the_funnel_breaks_down_by_it(
        world: Booking) -> None:
    """Five people on the web chat (user id = chat id, from 2**52) and six on Telegram come
    through the flyer; all six on Telegram read about voluntary return, two on the web do.
    Every event and journey names its channel; the report by channel hides the small cells."""
    web = [world.h.person(7400 + n) for n in range(5)]  # through the web chat's Bot API
    telegram = [Person(world.h, SimUser(7500 + n)) for n in range(6)]
    assert all(p.chat_id in WEB_CHAT_IDS for p in web)
    assert not any(p.chat_id in WEB_CHAT_IDS for p in telegram)
    for reader in [*web[:2], *telegram]:
        await open_obstacles(reader)
    for starter in web[2:]:
        await starter.send(f"/start {CODE}")
        await starter.press("No")
    await flush(world)

    month = month_of(datetime.now(UTC))
    channel_of = {**{pseudonym(KEY, p.chat_id, month): "web" for p in web},
                  **{pseudonym(KEY, p.chat_id, month): "telegram" for p in telegram}}
    rows = await events(world)
    assert {e.pseudonym for e in rows} == set(channel_of)  # the same pseudonyms as ever
    assert {e.event for e in rows} >= {"conversation_started", "topic_viewed"}
    assert [e.channel for e in rows] == [channel_of[e.pseudonym] for e in rows]
    async with world.app.state.context.sessionmaker() as session:
        journeys = list(await session.scalars(select(SignalJourney)))
        result = await report(session, ReportFilter(month, month, campaigns=(CODE,)),
                              "channel")
    assert {j.pseudonym: j.channel for j in journeys} == channel_of
    assert [(key, [c.json() for c in counts]) for key, counts in result.rows] == [
        ("telegram", [6, "<5", "<5", "<5", "<5"]),  # 6 read, hidden next to the web's 2
        ("web", [5, "<5", "<5", "<5", "<5"])]
    assert [c.json() for c in result.funnel] == [11, 8, "<5", "<5", "<5"]


# --- follow-up ---------------------------------------------------------------------------


async def test_answering_and_declining_are_counted_anonymously(
        world: Booking, admin: httpx.AsyncClient) -> None:
    """The "follow-up answered" signal: one `declined` for a Stop that stopped something,
    none for a Stop on a wave already stopped; never the country or the wave."""
    person = world.h.person(7106)
    await wave_received(world, admin, person)
    wave_message = person.last_message_id()
    [stop] = [data for text, data in person.buttons_with_data()
              if text == "Stop these questions"]
    await person.press("Stop these questions")
    await person.press_data(stop, wave_message)  # the same button again (a stale copy)
    await flush(world)
    async with world.app.state.context.sessionmaker() as session:
        rows = (await session.scalars(select(SignalEvent).where(
            SignalEvent.event == "followup_answered"))).all()
    assert [(e.value, e.language) for e in rows] == [("declined", "en")]


# --- campaign codes ------------------------------------------------------------------------


async def test_an_unknown_link_code_is_not_kept_and_the_person_is_told(world: Booking) -> None:
    person = world.h.person(7301)
    await person.send("/start NOPE42")
    assert "We do not know the code in your link" in person.text
    await person.press("No")
    await flush(world)
    assert [e.campaign for e in await events(world)] == [None]


async def test_a_typed_code_is_checked_and_any_case_works(world: Booking) -> None:
    person = world.h.person(7302)
    await person.send("/start")
    await person.send("/code")
    assert "Type the code you were given" in person.text
    await person.send("nope42")
    assert "We do not know this code" in person.text
    await person.send(CODE.lower())  # typed from a flyer, in small letters
    assert "the code is saved" in person.text
    await flush(world)
    assert [e.campaign for e in await events(world)] == [None, CODE]


async def test_forget_deletes_the_persons_signals(world: Booking) -> None:
    person = world.h.person(7303)
    await open_obstacles(person)
    await person.press("Debts")
    await person.press("✔️ Done")
    await flush(world)
    await person.send("/language")  # still waiting in the buffer when /forget comes
    await person.press("English")
    await person.send("/forget")
    await person.press(person.buttons[0])
    assert "We deleted everything" in person.text
    await flush(world)  # nothing of the person arrives after the deletion
    assert [e.event for e in await events(world)] == ["forget"]
