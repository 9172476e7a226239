"""The delivery layer against the fake Bot API in rate-limit-enforcing mode, on virtual time.

The fake and the sender share one FakeClock, so the fake measures Telegram's limits on the
same virtual time as the limiter: nothing really sleeps, and the whole file runs in seconds.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import defaultdict, deque
from typing import Any

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramNetworkError
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType

from referral_api.delivery import (
    FakeClock,
    Outcome,
    Outgoing,
    RateLimiter,
    Sender,
    SendResult,
    backoff,
)
from simulator.botapi import ApiError, FakeBotAPI, SimUser
from simulator.session import InProcessSession

GROUP = -100123


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake(clock: FakeClock) -> FakeBotAPI:
    api = FakeBotAPI(enforce_limits=True, clock=clock.now)
    api.queue_updates = False
    return api


@pytest.fixture
def bot(fake: FakeBotAPI) -> Bot:
    return Bot(token="1:x", session=InProcessSession(fake))


@pytest.fixture
def limiter(clock: FakeClock) -> RateLimiter:
    return RateLimiter(clock)


@pytest.fixture
def sender(bot: Bot, limiter: RateLimiter) -> Sender:
    return Sender(bot, limiter, rng=random.Random(7))


def open_private(fake: FakeBotAPI, *chat_ids: int) -> None:
    for chat_id in chat_ids:
        fake.open_chat(SimUser(chat_id))


def texts(fake: FakeBotAPI, chat_id: int) -> list[str]:
    return [m["text"] for m in fake.chats[chat_id].messages.values()]


def assert_windows(times: list[float], limit: int, window: float) -> None:
    """At most `limit` of these (sorted) times in any half-open window of `window` seconds."""
    for earlier, later in zip(times, times[limit:], strict=False):
        assert later - earlier >= window


# ---- throughput --------------------------------------------------------------------------
async def test_bulk_send_stays_within_limits_at_nearly_full_speed(
        clock: FakeClock, fake: FakeBotAPI, sender: Sender) -> None:
    chats = range(1, 2001)
    open_private(fake, *chats)
    fake.open_group(GROUP)
    # The outbox: 5 rounds over 2,000 private chats, a group message after every 50 of them.
    outbox: deque[Outgoing] = deque()
    for round_ in range(5):
        for chat_id in chats:
            outbox.append(Outgoing(chat_id, f"round {round_}"))
            if len(outbox) % 51 == 50:
                outbox.append(Outgoing(GROUP, f"group {len(outbox)}"))
    assert len(outbox) == 10_200
    group_texts = [m.text for m in outbox if m.chat_id == GROUP]

    # Workers as the outbox worker would run them: one message in flight per chat; a worker
    # that holds a chat also sends the messages for it that arrive meanwhile, in order.
    sent: dict[int, list[float]] = defaultdict(list)
    backlog: dict[int, deque[Outgoing]] = defaultdict(deque)

    async def worker() -> None:
        while outbox:
            msg = outbox.popleft()
            if msg.chat_id in backlog:
                backlog[msg.chat_id].append(msg)
                continue
            queue = backlog[msg.chat_id]
            queue.append(msg)
            while queue:
                result = await sender.send(queue.popleft())
                assert result.outcome is Outcome.SENT, result
                sent[msg.chat_id].append(clock.now())
            del backlog[msg.chat_id]

    await asyncio.gather(*(worker() for _ in range(32)))

    assert fake.too_many_requests == 0
    assert sum(len(t) for t in sent.values()) == 10_200
    private_done = max(max(sent[c]) for c in chats)
    group = sent[GROUP]
    total = clock.now()
    print(f"\nvirtual seconds: private messages done at {private_done:.1f}, group from "
          f"{group[0]:.1f} to {group[-1]:.1f}, all done at {total:.1f}")

    # Overall 30/s: 10,000 private messages cannot be done before 333 s; they are done close
    # to the 10,200 / 30 = 340 s of the whole load (the group does not hold them up).
    assert 333 <= private_done <= 10_200 / 30 * 1.05
    # The group: 20 a minute and 1 a second; 200 messages need at least 9 × 60 + 19 = 559 s.
    assert group[-1] - group[0] >= 9 * 60
    assert total <= 559 * 1.1
    # The limits hold on the limiter's own record too (not only by the fake's count) ...
    assert_windows(sorted(t for times in sent.values() for t in times), 30, 1.0)
    assert_windows(group, 20, 60.0)
    for times in sent.values():
        assert_windows(times, 1, 1.0)
    # ... and every chat got its messages in order.
    assert texts(fake, GROUP) == group_texts
    assert texts(fake, 1) == [f"round {r}" for r in range(5)]


async def test_one_private_chat_gets_one_message_a_second(
        clock: FakeClock, fake: FakeBotAPI, sender: Sender) -> None:
    open_private(fake, 42)
    for i in range(5):
        assert (await sender.send(Outgoing(42, f"m{i}"))).outcome is Outcome.SENT
    assert 4.0 <= clock.now() < 4.5
    assert fake.too_many_requests == 0


async def test_one_group_gets_twenty_messages_a_minute(
        clock: FakeClock, fake: FakeBotAPI, sender: Sender) -> None:
    fake.open_group(GROUP)
    results = await asyncio.gather(*(sender.send(Outgoing(GROUP, f"m{i}")) for i in range(25)))
    assert all(r.outcome is Outcome.SENT for r in results)
    # 20 at one a second (0 … 19 s), then the 21st once the first is a minute old.
    assert 60.0 <= clock.now() <= 65.0
    assert fake.too_many_requests == 0
    assert texts(fake, GROUP) == [f"m{i}" for i in range(25)]


async def test_a_group_at_its_limit_does_not_hold_up_other_chats(
        clock: FakeClock, fake: FakeBotAPI, limiter: RateLimiter) -> None:
    for _ in range(20):
        await limiter.acquire(GROUP)
    start = clock.now()
    waiting = asyncio.ensure_future(limiter.acquire(GROUP))  # must wait for the window
    await asyncio.sleep(0)
    await limiter.acquire(7)
    assert clock.now() == start
    assert not waiting.done()
    await waiting
    assert clock.now() >= 60.0


# ---- errors ------------------------------------------------------------------------------
async def test_429_is_honoured_and_pauses_the_chat_and_the_bot(
        clock: FakeClock, fake: FakeBotAPI, sender: Sender, limiter: RateLimiter) -> None:
    open_private(fake, 42, 43)
    fake.failures.append(("sendMessage", ApiError(429, "Too Many Requests: retry after 7",
                                                  retry_after=7)))
    result = await sender.send(Outgoing(42, "hello"))
    assert result == SendResult(Outcome.RETRY, "flood", retry_after=7.0)
    start = clock.now()
    await limiter.acquire(42)
    assert clock.now() - start >= 7.0
    # A private chat is already spaced by the limiter: its 429 means the overall limit.
    assert (await sender.send(Outgoing(43, "other"))).outcome is Outcome.SENT
    assert clock.now() - start >= 7.0


async def test_429_in_a_group_pauses_that_group_only(
        clock: FakeClock, fake: FakeBotAPI, sender: Sender, limiter: RateLimiter) -> None:
    open_private(fake, 43)
    fake.open_group(GROUP)
    fake.failures.append(("sendMessage", ApiError(429, "Too Many Requests: retry after 30",
                                                  retry_after=30)))
    result = await sender.send(Outgoing(GROUP, "hello"))
    assert (result.outcome, result.retry_after) == (Outcome.RETRY, 30.0)
    assert (await sender.send(Outgoing(43, "other"))).outcome is Outcome.SENT
    assert clock.now() < 1.0
    assert (await sender.send(Outgoing(GROUP, "again"))).outcome is Outcome.SENT
    assert clock.now() >= 30.0


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
    """Fails the first request at the network level, as aiohttp's session would."""

    failed = False

    async def make_request(  # the signature is aiogram's BaseSession
        self, bot: Bot, method: TelegramMethod[TelegramType],
        timeout: int | None = None,  # noqa: ASYNC109
    ) -> TelegramType:
        if not self.failed:
            self.failed = True
            raise TelegramNetworkError(method=method, message="Request timeout error")
        return await super().make_request(bot, method, timeout)


async def test_network_error_is_retried_with_backoff(
        fake: FakeBotAPI, limiter: RateLimiter) -> None:
    open_private(fake, 42)
    sender = Sender(Bot(token="1:x", session=FlakySession(fake)), limiter)
    result = await sender.send(Outgoing(42, "hello"), attempt=2)
    assert (result.outcome, result.reason) == (Outcome.RETRY, "network")
    assert result.retry_after is not None and 3.6 <= result.retry_after <= 4.4
    assert (await sender.send(Outgoing(42, "hello"))).outcome is Outcome.SENT


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


async def test_a_malformed_message_fails_before_using_a_slot(
        clock: FakeClock, fake: FakeBotAPI, sender: Sender) -> None:
    open_private(fake, 42)
    result = await sender.send(Outgoing(42, "hi", [[{"text": "no data"}]]))
    assert result == SendResult(Outcome.FAILED, "invalid")
    assert fake.calls == []
    assert (await sender.send(Outgoing(42, "hi"))).outcome is Outcome.SENT
    assert clock.now() == 0.0


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
        caplog: pytest.LogCaptureFixture, fake: FakeBotAPI, sender: Sender) -> None:
    open_private(fake, 73519)
    caplog.set_level(logging.DEBUG)
    fake.failures.append(("sendMessage", ApiError(429, "Too Many Requests: retry after 2",
                                                  retry_after=2)))
    fake.failures.append(("sendMessage", ApiError(500, "Internal Server Error")))
    fake.failures.append(("sendMessage", ApiError(403, "Forbidden: bot was blocked by the user")))
    for _ in range(4):
        await sender.send(Outgoing(73519, "secret-appointment-text"))
    await sender.send(Outgoing(86420, "secret-appointment-text"))  # chat not found
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "TelegramRetryAfter" in logged and "TelegramServerError" in logged
    assert "forbidden" in logged and "chat_not_found" in logged
    for secret in ("73519", "86420", "secret-appointment-text"):
        assert secret not in logged


# ---- the fake server and the clock -------------------------------------------------------
async def test_enforcing_fake_answers_429_past_each_limit(
        clock: FakeClock, fake: FakeBotAPI, bot: Bot) -> None:
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
        woke.append((name, clock.now()))

    await clock.sleep(2.5)
    assert clock.now() == 2.5
    await asyncio.gather(nap("long", 5), nap("short", 3), nap("none", 0))
    assert woke == [("none", 2.5), ("short", 5.5), ("long", 7.5)]


async def test_a_cancelled_wait_leaves_the_chat_usable(
        clock: FakeClock, limiter: RateLimiter) -> None:
    limiter.pause_chat(5, 10)
    waiter = asyncio.ensure_future(limiter.acquire(5))
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert clock.now() == 0.0
    await limiter.acquire(5)
    assert clock.now() == 10.0
