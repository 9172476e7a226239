"""The durable update inbox on a real Redis with the real Dispatcher: a consumer that dies
mid-update leaves nothing behind, updates of one chat keep their order, and an update sent
twice is answered once."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiogram import Bot, Dispatcher
from pydantic import SecretStr
from redis.asyncio import Redis

from bot.app import create_bot, create_dispatcher, create_stores
from bot.inbox import InboxConsumer, UpdateInbox
from bot.settings import Settings
from simulator.botapi import FakeBotAPI, SimUser
from simulator.session import InProcessSession


def bot_texts(fake: FakeBotAPI, user: SimUser) -> list[str]:
    chat = fake.open_chat(user)
    return [m["text"] for m in chat.messages.values() if m["from"].get("is_bot")]


def kind_of(text: str) -> str:
    """Which command a reply answers (English texts)."""
    starts = {"This bot gives free information": "help", "🔒 What we keep": "privacy",
              "What would you like to know?": "menu"}
    return next((kind for start, kind in starts.items() if text.startswith(start)), text)


async def until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached in time")


class Stack:
    def __init__(self, settings: Settings, redis: Redis, fake: FakeBotAPI) -> None:
        self.settings, self.redis, self.fake = settings, redis, fake
        self.inbox = UpdateInbox(redis, settings.redis_prefix, shards=2)

    def consumer(self, name: str, **kwargs: Any) -> tuple[InboxConsumer, Bot, Dispatcher]:
        bot = create_bot(self.settings, session=InProcessSession(self.fake))
        dp = create_dispatcher(self.settings, stores=create_stores(self.settings, self.redis))
        kwargs = {"lease_seconds": 0.6, "block_ms": 100, **kwargs}
        return InboxConsumer(self.inbox, dp, bot, name=name, **kwargs), bot, dp


@pytest.fixture
async def stack(settings: Settings, redis: Redis) -> AsyncIterator[Stack]:
    fake = FakeBotAPI()
    fake.queue_updates = False
    yield Stack(settings, redis, fake)


@contextlib.asynccontextmanager
async def running(consumer: InboxConsumer) -> AsyncIterator[asyncio.Event]:
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        yield stop
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


def hold_second_reply(fake: FakeBotAPI) -> tuple[asyncio.Event, asyncio.Event]:
    """The bot's second message hangs (``reached`` is set) until ``release`` is set: a consumer
    stuck mid-update, as when its process is about to die."""
    reached, release = asyncio.Event(), asyncio.Event()
    original: Callable[[str, dict[str, Any]], Awaitable[Any]] = fake._methods["sendMessage"]
    calls = 0

    async def send(token: str, params: dict[str, Any]) -> Any:
        nonlocal calls
        calls += 1
        if calls == 2 and not release.is_set():
            reached.set()
            await release.wait()
        return await original(token, params)

    fake._methods["sendMessage"] = send
    return reached, release


async def test_updates_of_a_dead_consumer_are_handled_by_the_next_once_and_in_order(
        stack: Stack) -> None:
    user = SimUser(5101)
    reached, release = hold_second_reply(stack.fake)
    first, _, _ = stack.consumer("first")
    stop = asyncio.Event()
    task = asyncio.create_task(first.run(stop))
    await stack.inbox.put(stack.fake.user_message(user, "/help"))
    await until(lambda: len(bot_texts(stack.fake, user)) == 1)
    await stack.inbox.put(stack.fake.user_message(user, "/privacy"))  # hangs in `first`
    await stack.inbox.put(stack.fake.user_message(user, "/menu"))  # waits behind it
    await until(lambda: first._in_hand == 2 and reached.is_set())

    # The process dies: its tasks stop where they are; nothing was acknowledged.
    for t in [*first._tasks, *first._readers.values(), task]:
        t.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert len(bot_texts(stack.fake, user)) == 1
    release.set()

    second, _, _ = stack.consumer("second")
    async with running(second):
        await until(lambda: len(bot_texts(stack.fake, user)) == 3)
        await asyncio.sleep(0.3)  # and nothing more arrives
    texts = bot_texts(stack.fake, user)
    # /help once (not handled again), then /privacy, then /menu, in that order
    assert [kind_of(t) for t in texts] == ["help", "privacy", "menu"]
    assert (first.handled, second.handled) == (1, 2)
    assert await stack.inbox.backlog() == 0


async def test_an_update_sent_twice_is_answered_once(stack: Stack) -> None:
    user = SimUser(5102)
    update = stack.fake.user_message(user, "/help")
    consumer, _, _ = stack.consumer("only")
    async with running(consumer):
        for _ in range(3):  # Telegram re-sending it, or a poller restarting
            await stack.inbox.put(update)
        await until(lambda: len(bot_texts(stack.fake, user)) >= 1)
        await until(lambda: consumer.handled >= 1)
        await asyncio.sleep(0.3)
    assert len(bot_texts(stack.fake, user)) == 1
    assert await stack.inbox.backlog() == 0


async def test_many_people_at_once_wait_in_the_stream_and_all_get_answers(
        stack: Stack) -> None:
    people = [SimUser(5200 + i) for i in range(60)]
    original = stack.fake._methods["sendMessage"]
    busy = most = 0

    async def slow_send(token: str, params: dict[str, Any]) -> Any:
        nonlocal busy, most
        busy += 1
        most = max(most, busy)
        try:
            await asyncio.sleep(0.01)
            return await original(token, params)
        finally:
            busy -= 1

    stack.fake._methods["sendMessage"] = slow_send
    consumer, _, _ = stack.consumer("busy", concurrency=4)
    await stack.inbox.put_many(stack.fake.user_message(u, "/start") for u in people)
    async with running(consumer):
        await until(lambda: all(bot_texts(stack.fake, u) for u in people), seconds=30)
    assert all(len(bot_texts(stack.fake, u)) == 1 for u in people)
    assert 1 < most <= 4  # updates handled at once, never more than the bound (2 shards)


async def test_two_consumers_share_the_shards_and_keep_each_chat_in_order(
        stack: Stack) -> None:
    people = [SimUser(5300 + i) for i in range(8)]
    one, _, _ = stack.consumer("one")
    two, _, _ = stack.consumer("two")
    async with running(one), running(two):
        for _ in range(3):
            await stack.inbox.put_many(
                [stack.fake.user_message(u, t) for u in people for t in ("/help", "/privacy")])
        await until(lambda: all(len(bot_texts(stack.fake, u)) == 6 for u in people),
                    seconds=30)
    for u in people:
        texts = bot_texts(stack.fake, u)
        assert [kind_of(t) for t in texts] == ["help", "privacy"] * 3
    assert one.handled + two.handled == 48


async def test_a_polling_bot_queues_what_it_reads_and_answers_everyone(stack: Stack) -> None:
    from bot.__main__ import poll_into

    stack.fake.queue_updates = True
    people = [SimUser(5400 + i) for i in range(40)]
    for u in people:  # waiting at Telegram while the bot was down
        stack.fake.user_message(u, "/start")
    consumer, bot, _ = stack.consumer("poller")
    stop = asyncio.Event()
    poller = asyncio.create_task(poll_into(stack.inbox, bot, stop))
    try:
        async with running(consumer):
            await until(lambda: all(bot_texts(stack.fake, u) for u in people), seconds=30)
    finally:
        stop.set()
        poller.cancel()
        await asyncio.gather(poller, return_exceptions=True)
    assert all(len(bot_texts(stack.fake, u)) == 1 for u in people)


async def test_a_stop_hands_back_an_update_that_hangs_and_the_next_consumer_answers_it(
        stack: Stack) -> None:
    """SIGTERM while a handler hangs (Telegram or the API not answering): the consumer gives
    it ``grace`` seconds, then stops and gives its shards back; the update, unacknowledged,
    is answered by the next consumer at once (not after a lease), in order."""
    user = SimUser(5151)
    reached, release = hold_second_reply(stack.fake)
    first, _, _ = stack.consumer("first", grace=0.3)
    stop = asyncio.Event()
    task = asyncio.create_task(first.run(stop))
    await stack.inbox.put(stack.fake.user_message(user, "/help"))
    await until(lambda: len(bot_texts(stack.fake, user)) == 1)
    await stack.inbox.put(stack.fake.user_message(user, "/privacy"))  # hangs in `first`
    await until(reached.is_set)
    stop.set()
    await asyncio.wait_for(task, 10)  # it stopped although the handler still hangs
    assert first.handled == 1
    release.set()
    second, _, _ = stack.consumer("second", lease_seconds=60)  # a lease would not run out
    async with running(second):
        await until(lambda: len(bot_texts(stack.fake, user)) == 2)
    assert [kind_of(t) for t in bot_texts(stack.fake, user)] == ["help", "privacy"]


async def test_a_web_chat_update_waits_for_a_consumer_with_the_web_bot(stack: Stack) -> None:
    """A replica without the web chat's bot (WEBCHAT_* missing, a rolling deploy) leaves the
    web chat's updates in the stream instead of dropping them; one that has it answers."""
    web_fake = FakeBotAPI()
    web_fake.queue_updates = False
    person = SimUser(2**52 + 5)
    update = web_fake.user_message(person, "/help")
    await stack.inbox.put(update, bot_id=4343)
    blind, _, _ = stack.consumer("blind")
    stop = asyncio.Event()
    running = asyncio.create_task(blind.run(stop))
    await asyncio.sleep(1.0)
    stop.set()
    await running
    assert blind.handled == 0
    assert await stack.inbox.backlog() == 1  # still there
    web_bot = create_bot(stack.settings.model_copy(update={"bot_token": SecretStr("4343:w")}),
                         session=InProcessSession(web_fake))
    seeing, _, _ = stack.consumer("seeing", others=[web_bot], lease_seconds=0.3)
    stop = asyncio.Event()
    running = asyncio.create_task(seeing.run(stop))
    await until(lambda: seeing.handled == 1)
    stop.set()
    await running
    assert kind_of(bot_texts(web_fake, person)[-1]) == "help"
    assert await stack.inbox.backlog() == 0
    assert bot_texts(stack.fake, person) == []  # not through Telegram's bot
