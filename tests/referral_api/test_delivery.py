"""The delivery layer against the fake Bot API in rate-limit-enforcing mode, on virtual time:
the Sender sends through the governor (Redis) as the worker does, after the worker's own
spacing (ChatPacer) and its priority slots (SendSlots).

The fake, the governor and the pacer share one FakeClock, so the fake measures Telegram's
limits on the same virtual time: nothing really sleeps, and the whole file runs in seconds.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramNetworkError
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType

from governor import Governor, Priority
from governor.session import GovernorMiddleware
from referral_api.outbox.delivery import (
    ChatPacer,
    FakeClock,
    Outcome,
    Outgoing,
    Sender,
    SendResult,
    SendSlots,
    backoff,
)
from simulator.botapi import ApiError, FakeBotAPI, SimUser
from simulator.session import InProcessSession
from tests.conftest import REDIS_URL
from tests.referral_api.virtual_time import held_redis

GROUP = -100123
START = 1_000_000.0


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def fake(clock: FakeClock) -> FakeBotAPI:
    api = FakeBotAPI(enforce_limits=True, clock=clock.now)
    api.queue_updates = False
    return api


@pytest.fixture
async def governor(prefix: str, clock: FakeClock) -> AsyncIterator[Governor]:
    redis = held_redis(REDIS_URL, clock)
    yield Governor(redis, prefix, clock=clock)
    keys = [k async for k in redis.scan_iter(match=f"{prefix}:*")]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()


@pytest.fixture
def bot(fake: FakeBotAPI, governor: Governor) -> Bot:
    session = InProcessSession(fake)
    session.middleware(GovernorMiddleware(governor))
    return Bot(token="1:x", session=session)


@pytest.fixture
def sender(bot: Bot) -> Sender:
    return Sender(bot, rng=random.Random(7))


@pytest.fixture
def bare(fake: FakeBotAPI) -> Sender:
    """A sender on a session without the governor (the SQLite demo's worker)."""
    return Sender(Bot(token="1:x", session=InProcessSession(fake)), rng=random.Random(7))


def open_private(fake: FakeBotAPI, *chat_ids: int) -> None:
    for chat_id in chat_ids:
        fake.open_chat(SimUser(chat_id))


def texts(fake: FakeBotAPI, chat_id: int) -> list[str]:
    return [m["text"] for m in fake.chats[chat_id].messages.values()]


def assert_windows(times: list[float], limit: int, window: float) -> None:
    """At most `limit` of these (sorted) times in any half-open window of `window` seconds."""
    for earlier, later in zip(times, times[limit:], strict=False):
        assert later - earlier >= window


class Paced:
    """The worker's way of sending: its own spacing per chat, a slot by priority, then the
    overall spacing and the governor (in the bot's session)."""

    def __init__(self, clock: FakeClock, sender: Sender) -> None:
        self.clock = clock
        self.sender = sender
        self.pacer = ChatPacer(clock)
        self.slots = SendSlots()
        self.sent: dict[int, list[float]] = defaultdict(list)

    async def send(self, msg: Outgoing, level: Priority = Priority.NOTICE) -> SendResult:
        key = str(msg.chat_id)
        await self.pacer.wait_chat(key)
        async with self.slots.take(level):
            await self.pacer.wait_overall()
            result = await self.sender.send(msg, level=level)
        self.pacer.sent(key, msg.chat_id < 0)
        if result.sent:
            self.sent[msg.chat_id].append(self.clock.now())
        return result

    async def chat(self, messages: list[Outgoing], level: Priority = Priority.NOTICE) -> None:
        """One chat's queue, in order (the worker's per-chat task)."""
        for msg in messages:
            result = await self.send(msg, level)
            assert result.outcome is Outcome.SENT, result


# ---- throughput --------------------------------------------------------------------------
async def test_bulk_send_stays_within_limits_at_nearly_full_speed(
        clock: FakeClock, fake: FakeBotAPI, sender: Sender) -> None:
    chats = range(1, 301)
    open_private(fake, *chats)
    fake.open_group(GROUP)
    # 3 rounds over 300 private chats; 40 messages to the group, queued from the start, of
    # the same class (a lower one would yield to the private messages until they are done).
    # Chats take turns (a chat's next message queues behind the others' current ones).
    private = {c: [Outgoing(c, f"round {r}") for r in range(3)] for c in chats}
    cards = [Outgoing(GROUP, f"card {i}") for i in range(40)]
    paced = Paced(clock, sender)
    await asyncio.gather(paced.chat(cards),
                         *(paced.chat(queue) for queue in private.values()))

    assert fake.too_many_requests == 0
    assert sum(len(t) for t in paced.sent.values()) == 940
    private_done = max(max(paced.sent[c]) for c in chats) - START
    group = [t - START for t in paced.sent[GROUP]]
    print(f"\nvirtual seconds: private messages done at {private_done:.1f}, group from "
          f"{group[0]:.1f} to {group[-1]:.1f}")
    # 28 a second overall (the governor's bulk rate, under Telegram's 30): 940 messages take
    # at least 33 s; the 900 private ones are done close to that, the group does not hold
    # them up.
    assert 900 / 30 <= private_done <= 940 / 28 * 1.1
    # The group: 20 a minute and 1 a second: 40 cards need at least 60 + 19 s; it took its
    # turns with the private chats, then went on alone.
    assert group[-1] - group[0] >= 79
    assert group[-1] <= private_done + 79 * 1.1
    everything = sorted(t for times in paced.sent.values() for t in times)
    assert_windows(everything, 30, 1.0)
    assert_windows(group, 20, 60.0)
    for times in paced.sent.values():
        assert_windows(times, 1, 1.0)
    assert texts(fake, GROUP) == [m.text for m in cards]
    assert texts(fake, 1) == [f"round {r}" for r in range(3)]


async def test_one_private_chat_gets_one_message_a_second(
        clock: FakeClock, fake: FakeBotAPI, sender: Sender) -> None:
    open_private(fake, 42)
    await Paced(clock, sender).chat([Outgoing(42, f"m{i}") for i in range(5)])
    assert 4.0 <= clock.now() - START < 4.5
    assert fake.too_many_requests == 0


async def test_one_group_gets_twenty_messages_a_minute(
        clock: FakeClock, fake: FakeBotAPI, sender: Sender) -> None:
    fake.open_group(GROUP)
    await Paced(clock, sender).chat([Outgoing(GROUP, f"m{i}") for i in range(25)],
                                    Priority.CARD)
    # 20 at one a second (0 … 19 s), then the 21st once the first is a minute old.
    assert 60.0 <= clock.now() - START <= 65.0
    assert fake.too_many_requests == 0
    assert texts(fake, GROUP) == [f"m{i}" for i in range(25)]


async def test_a_group_at_its_limit_does_not_hold_up_other_chats(
        clock: FakeClock, fake: FakeBotAPI, sender: Sender) -> None:
    fake.open_group(GROUP)
    open_private(fake, 7)
    paced = Paced(clock, sender)
    cards = asyncio.create_task(paced.chat([Outgoing(GROUP, f"c{i}") for i in range(60)],
                                           Priority.CARD))
    await clock.sleep(25)  # the group has had its 20 and waits for its window
    assert len(paced.sent[GROUP]) == 20
    queued = clock.now()
    await paced.chat([Outgoing(7, "notice")])
    assert paced.sent[7][0] - queued < 1.0
    await cards
    assert fake.too_many_requests == 0


# ---- Telegram pushes back ----------------------------------------------------------------
async def test_a_429_is_waited_out_by_the_governor_and_sent(
        clock: FakeClock, fake: FakeBotAPI, sender: Sender) -> None:
    open_private(fake, 42)
    fake.failures.append(("sendMessage", ApiError(429, "Too Many Requests: retry after 7",
                                                  retry_after=7)))
    result = await sender.send(Outgoing(42, "hello"), level=Priority.NOTICE)
    assert result.outcome is Outcome.SENT
    assert clock.now() - START >= 7.0
    assert texts(fake, 42) == ["hello"]


async def test_a_429_in_a_group_holds_that_group_only(
        clock: FakeClock, fake: FakeBotAPI, sender: Sender) -> None:
    open_private(fake, 43)
    fake.open_group(GROUP)
    fake.failures.append(("sendMessage", ApiError(429, "Too Many Requests: retry after 30",
                                                  retry_after=30)))
    card = asyncio.create_task(sender.send(Outgoing(GROUP, "hello"), level=Priority.CARD))
    await clock.sleep(0.5)
    assert (await sender.send(Outgoing(43, "other"), level=Priority.NOTICE)).sent
    assert clock.now() - START < 1.0
    assert (await card).sent
    assert clock.now() - START >= 30.0


async def test_without_the_governor_a_429_is_a_retry_after_its_retry_after(
        fake: FakeBotAPI, bare: Sender) -> None:
    open_private(fake, 42)
    fake.failures.append(("sendMessage", ApiError(429, "Too Many Requests: retry after 7",
                                                  retry_after=7)))
    result = await bare.send(Outgoing(42, "hello"))
    assert result == SendResult(Outcome.RETRY, "flood", retry_after=7.0)
    assert not fake.chats[42].messages


# ---- errors ------------------------------------------------------------------------------
async def test_server_error_is_retried_with_backoff(
        fake: FakeBotAPI, sender: Sender) -> None:
    open_private(fake, 42)
    for attempt, base in ((0, 1), (3, 8), (12, 300)):
        fake.failures.append(("sendMessage", ApiError(500, "Internal Server Error")))
        result = await sender.send(Outgoing(42, "hello"), attempt=attempt)
        assert (result.outcome, result.reason) == (Outcome.RETRY, "server")
        assert result.retry_after is not None
        assert base * 0.9 <= result.retry_after <= base * 1.1


class FlakySession(InProcessSession):
    """Fails the first requests at the network level, as aiohttp's session would: twice, so
    that the error outlasts the middleware's one immediate retry (governor.session)."""

    failures = 2

    async def make_request(  # the signature is aiogram's BaseSession
        self, bot: Bot, method: TelegramMethod[TelegramType],
        timeout: int | None = None,  # noqa: ASYNC109
    ) -> TelegramType:
        if self.failures:
            self.failures -= 1
            raise TelegramNetworkError(method=method, message="Request timeout error")
        return await super().make_request(bot, method, timeout)


async def test_network_error_is_retried_with_backoff(
        fake: FakeBotAPI, governor: Governor) -> None:
    open_private(fake, 42)
    session = FlakySession(fake)
    session.middleware(GovernorMiddleware(governor))
    sender = Sender(Bot(token="1:x", session=session))
    result = await sender.send(Outgoing(42, "hello"), attempt=2)
    assert (result.outcome, result.reason) == (Outcome.RETRY, "network")
    assert result.retry_after is not None and 3.6 <= result.retry_after <= 4.4
    assert (await sender.send(Outgoing(42, "hello"))).outcome is Outcome.SENT


async def test_one_network_error_is_tried_again_at_once(
        fake: FakeBotAPI, governor: Governor) -> None:
    """A pooled connection the server had closed: the call goes again at once (the replica
    benchmark saw updates fail this way) and the message arrives."""
    open_private(fake, 43)
    session = FlakySession(fake)
    session.failures = 1
    session.middleware(GovernorMiddleware(governor))
    result = await Sender(Bot(token="1:x", session=session)).send(Outgoing(43, "hello"))
    assert result.outcome is Outcome.SENT and texts(fake, 43) == ["hello"]


@pytest.mark.parametrize(("status", "description", "reason"), [
    (403, "Forbidden: bot was blocked by the user", "forbidden"),
    (403, "Forbidden: user is deactivated", "forbidden"),
    (400, "Bad Request: chat not found", "chat_not_found"),
    (400, "Bad Request: can't parse entities", "bad_request"),
])
async def test_permanent_errors_fail_without_retry(
        fake: FakeBotAPI, sender: Sender, status: int, description: str, reason: str) -> None:
    open_private(fake, 42)
    fake.failures.append(("sendMessage", ApiError(status, description)))
    result = await sender.send(Outgoing(42, "hello"))
    assert result == SendResult(Outcome.FAILED, reason)


async def test_real_bad_requests_from_the_fake_fail(fake: FakeBotAPI, sender: Sender) -> None:
    open_private(fake, 42)
    unknown_chat = await sender.send(Outgoing(999, "hello"))
    too_long = await sender.send(Outgoing(42, "x" * 4097))
    bad_button = await sender.send(Outgoing(42, "hi", [[{"text": "B", "callback_data": "x" * 65}]]))
    assert [r.reason for r in (unknown_chat, too_long, bad_button)] == [
        "chat_not_found", "bad_request", "bad_request"]
    assert all(r.outcome is Outcome.FAILED for r in (unknown_chat, too_long, bad_button))


async def test_a_malformed_message_fails_before_reaching_telegram(
        clock: FakeClock, fake: FakeBotAPI, sender: Sender) -> None:
    open_private(fake, 42)
    result = await sender.send(Outgoing(42, "hi", [[{"text": "no data"}]]))
    assert result == SendResult(Outcome.FAILED, "invalid")
    assert fake.calls == []
    assert (await sender.send(Outgoing(42, "hi"))).outcome is Outcome.SENT
    assert clock.now() == START


class MigratedError(ApiError):
    def payload(self) -> dict[str, Any]:
        body = super().payload()
        body["parameters"] = {"migrate_to_chat_id": -1009999}
        return body


async def test_a_group_that_became_a_supergroup_fails_with_the_new_id(
        fake: FakeBotAPI, sender: Sender) -> None:
    fake.open_group(GROUP)
    fake.failures.append(("sendMessage", MigratedError(400, "Bad Request: group chat was "
                                                            "upgraded to a supergroup chat")))
    result = await sender.send(Outgoing(GROUP, "hello"))
    assert result == SendResult(Outcome.FAILED, "migrated", migrate_to_chat_id=-1009999)


async def test_buttons_and_parse_mode_reach_telegram(fake: FakeBotAPI, sender: Sender) -> None:
    open_private(fake, 42)
    buttons = [[{"text": "Yes", "callback_data": "y"}, {"text": "No", "callback_data": "n"}]]
    result = await sender.send(Outgoing(42, "<b>Book?</b>", buttons, parse_mode="HTML"))
    assert result.outcome is Outcome.SENT and result.message_id is not None
    message = fake.chats[42].messages[result.message_id]
    assert message["text"] == "Book?"
    assert message["reply_markup"]["inline_keyboard"] == buttons


def test_backoff_grows_and_is_capped() -> None:
    rng = random.Random(1)
    for attempt in range(40):
        base = min(2**attempt, 300)
        samples = [backoff(attempt, rng) for _ in range(50)]
        assert all(base * 0.9 <= s <= base * 1.1 for s in samples)
        assert max(samples) - min(samples) > base * 0.05  # jittered, not constant
    assert backoff(8, rng) > backoff(4, rng) > backoff(0, rng)
    assert backoff(10**9) <= 330  # huge attempt numbers are fine too
    assert 0.9 <= backoff(-1) <= 1.1


async def test_logs_carry_neither_text_nor_chat_id(
        caplog: pytest.LogCaptureFixture, fake: FakeBotAPI, sender: Sender,
        bare: Sender) -> None:
    open_private(fake, 73519)
    caplog.set_level(logging.DEBUG)
    fake.failures.append(("sendMessage", ApiError(429, "Too Many Requests: retry after 2",
                                                  retry_after=2)))
    fake.failures.append(("sendMessage", ApiError(429, "Too Many Requests: retry after 2",
                                                  retry_after=2)))
    fake.failures.append(("sendMessage", ApiError(500, "Internal Server Error")))
    fake.failures.append(("sendMessage", ApiError(403, "Forbidden: bot was blocked by the user")))
    await bare.send(Outgoing(73519, "secret-appointment-text"))  # the bare 429
    for _ in range(3):
        await sender.send(Outgoing(73519, "secret-appointment-text"))
    await sender.send(Outgoing(86420, "secret-appointment-text"))  # chat not found
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "TelegramRetryAfter" in logged and "TelegramServerError" in logged
    assert "flood control" in logged  # the governor's
    assert "forbidden" in logged and "chat_not_found" in logged
    for secret in ("73519", "86420", "secret-appointment-text"):
        assert secret not in logged


# ---- the worker's own pacing -------------------------------------------------------------
async def test_send_slots_let_higher_classes_in_first(clock: FakeClock) -> None:
    slots = SendSlots(1)
    order: list[str] = []

    async def send(name: str, level: Priority) -> None:
        async with slots.take(level):
            order.append(name)
            await clock.sleep(1)

    first = asyncio.create_task(send("first wave", Priority.WAVE))
    await asyncio.sleep(0)
    waves = [asyncio.create_task(send(f"wave {i}", Priority.WAVE)) for i in range(3)]
    await asyncio.sleep(0)
    notice = asyncio.create_task(send("notice", Priority.NOTICE))
    await asyncio.gather(first, *waves, notice)
    assert order == ["first wave", "notice", "wave 0", "wave 1", "wave 2"]


async def test_a_cancelled_wait_for_a_slot_leaves_it_usable(clock: FakeClock) -> None:
    slots = SendSlots(1)

    async def notice() -> None:
        async with slots.take(Priority.NOTICE):
            pass

    async with slots.take(Priority.CARD):
        waiter = asyncio.create_task(notice())
        await asyncio.sleep(0)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
    async with slots.take(Priority.WAVE):
        pass
    assert clock.now() == START


async def test_the_pacer_spaces_one_chat_and_groups_only(clock: FakeClock) -> None:
    pacer = ChatPacer(clock)
    for _ in range(20):
        await pacer.wait_chat("group")
        pacer.sent("group", group=True)
    assert clock.now() - START == 19.0
    await pacer.wait_chat("person")  # another chat: no wait
    assert clock.now() - START == 19.0
    await pacer.wait_chat("group")  # the 21st: a minute after the first
    assert clock.now() - START == 60.0
    # Overall: the governor's bucket, 2 at once then 28 a second, in call order.
    await clock.sleep(10)
    start = clock.now()
    times = []
    for _ in range(58):
        await pacer.wait_overall()
        times.append(clock.now() - start)
    assert times[:2] == [0.0, 0.0]
    assert abs(times[-1] - 56 / 28) < 0.01
    assert_windows(times, 30, 1.0)


# ---- the fake server and the clock -------------------------------------------------------
async def test_enforcing_fake_answers_429_past_each_limit(
        clock: FakeClock, fake: FakeBotAPI) -> None:
    open_private(fake, *range(1, 41))
    fake.open_group(GROUP)
    calls: list[tuple[int, dict[str, Any]]] = []

    async def send(chat_id: int) -> None:
        calls.append(await fake.call("1:x", "sendMessage", {"chat_id": chat_id, "text": "t"}))

    await send(1)
    await send(1)  # the same chat within a second
    assert calls[-1] == (429, {"ok": False, "error_code": 429,
                               "description": "Too Many Requests: retry after 1",
                               "parameters": {"retry_after": 1}})
    for chat_id in range(2, 31):
        await send(chat_id)
    assert all(status == 200 for status, _ in calls[2:])
    await send(31)  # the 31st within a second
    assert calls[-1][0] == 429
    clock.advance(1.0)
    for _ in range(20):
        await send(GROUP)
        clock.advance(1.0)
    await send(GROUP)  # the 21st within a minute: the first is 40 s from a minute old
    assert calls[-1][1]["parameters"] == {"retry_after": 40}
    assert fake.too_many_requests == 3


async def test_the_fake_does_not_limit_by_default() -> None:
    fake = FakeBotAPI()
    fake.open_chat(SimUser(1))
    for _ in range(100):
        status, _ = await fake.call("1:x", "sendMessage", {"chat_id": 1, "text": "t"})
        assert status == 200
    assert fake.too_many_requests == 0


async def test_fake_clock_overlaps_concurrent_sleeps(clock: FakeClock) -> None:
    woke: list[tuple[str, float]] = []

    async def nap(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append((name, clock.now() - START))

    await clock.sleep(2.5)
    assert clock.now() - START == 2.5
    await asyncio.gather(nap("long", 5), nap("short", 3), nap("none", 0))
    assert woke == [("none", 2.5), ("short", 5.5), ("long", 7.5)]


async def test_fake_clock_stands_still_while_held(clock: FakeClock) -> None:
    nap = asyncio.create_task(clock.sleep(10))

    async def slow_io() -> None:
        with clock.hold():  # a database round trip: takes no virtual time
            for _ in range(200):
                await asyncio.sleep(0)
        assert clock.now() == START

    await slow_io()
    await nap
    assert clock.now() - START == 10.0
