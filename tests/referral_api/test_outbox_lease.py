"""Issue 15, "never drop a person": an outbox that repeats at most what was in flight.

On PostgreSQL and Redis, through the governor to the fake Bot API that enforces Telegram's
limits, on virtual time (the fake, the governor, the worker and its leases share one
FakeClock; the worker's database round trips take no virtual time):

- a worker killed mid-drain: a new worker delivers everything, repeating only the messages
  that were in flight at the crash;
- per-chat queues: a chat's next message waits for a retry of the one before; a group at its
  20 a minute holds back nobody else (a notice queued behind 60 cards goes out at once);
- a 30-minute Telegram outage: every message delivered once it is over; 429s never fail a
  message;
- two workers at once: every message exactly once, in order per chat.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramNetworkError
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType
from fastapi import FastAPI
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from governor import Governor
from governor.session import GovernorMiddleware
from referral_api.db.engine import create_engine, create_sessionmaker
from referral_api.outbox.delivery import ChatPacer, FakeClock, Sender
from referral_api.outbox.messages import PersonNotice, StaffMessage
from referral_api.outbox.models import OutboxMessage
from referral_api.outbox.service import enqueue
from referral_api.outbox.worker import OutboxWorker
from simulator.botapi import ApiError, FakeBotAPI, SimUser
from simulator.session import InProcessSession
from tests.conftest import REDIS_URL
from tests.referral_api.virtual_time import HeldRedis, held_redis

START = 1_000_000.0
BASE = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
GROUP = -1002000001


class RecordingSession(InProcessSession):
    """Notes each message Telegram accepted: (virtual time, chat id, text)."""

    def __init__(self, fake: FakeBotAPI, clock: FakeClock,
                 accepted: list[tuple[float, int, str]]) -> None:
        super().__init__(fake)
        self.clock = clock
        self.accepted = accepted

    async def make_request(  # the signature is aiogram's BaseSession
        self, bot: Bot, method: TelegramMethod[TelegramType],
        timeout: int | None = None,  # noqa: ASYNC109
    ) -> TelegramType:
        result = await super().make_request(bot, method, timeout)
        self.accepted.append((self.clock.now(), int(getattr(method, "chat_id", 0)),
                              str(getattr(method, "text", ""))))
        return result


def _no_notice(notice: PersonNotice) -> str:
    raise AssertionError("these tests queue staff messages only, sent as they are")


@dataclass
class World:
    app: FastAPI
    clock: FakeClock
    fake: FakeBotAPI
    redis: HeldRedis
    prefix: str
    accepted: list[tuple[float, int, str]] = field(default_factory=list)

    def now(self) -> datetime:
        return BASE + timedelta(seconds=self.clock.now() - START)

    def worker(self, session: InProcessSession | None = None,
               sessionmaker: async_sessionmaker[AsyncSession] | None = None,
               clock: Callable[[], datetime] | None = None, **options: Any) -> OutboxWorker:
        """A worker as create_worker makes it, on virtual time, through its own governor
        (every worker shares the one in Redis)."""
        session = session or RecordingSession(self.fake, self.clock, self.accepted)
        session.middleware(GovernorMiddleware(Governor(self.redis, self.prefix,
                                                       clock=self.clock)))
        context = self.app.state.context
        return OutboxWorker(sessionmaker or context.sessionmaker, context.vault,
                            Sender(Bot(token="1:x", session=session)),
                            _no_notice, clock=clock or self.now,
                            timer=self.clock, pacer=ChatPacer(self.clock), **options)

    async def queue(self, messages: list[tuple[str, int, str]], *, keyless: bool = False,
                    ) -> None:
        """(kind, chat id, text) rows, in this order (ids ascending), created now, each a
        text sent as it is (whatever its kind's class at the governor).
        ``keyless``: as queued before migration 0007 (no chat key)."""
        context = self.app.state.context
        async with context.sessionmaker() as session:
            rows = [enqueue(session, context.vault, kind=kind,  # type: ignore[arg-type]
                            message=StaffMessage(text=body), chat_id=chat, now=self.now())
                    for kind, chat, body in messages]
            if keyless:
                for row in rows:
                    row.chat_key = None
            await session.commit()

    def texts(self, chat: int) -> list[str]:
        return [m["text"] for m in self.fake.chats[chat].messages.values()]

    def arrived(self, chat: int, body: str) -> float | None:
        return next((t - START for t, c, b in self.accepted if c == chat and b == body), None)

    async def statuses(self) -> Counter[str]:
        async with self.app.state.context.sessionmaker() as session:
            rows = await session.execute(
                select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))
            return Counter({status: int(n) for status, n in rows})

    async def until(self, done: Callable[[], bool], limit: float) -> None:
        """Let virtual time run (in steps) until ``done()``, at most ``limit`` seconds."""
        end = self.clock.now() + limit
        while not done():
            assert self.clock.now() < end, "not done in time"
            await self.clock.sleep(0.25)


@pytest.fixture
async def world(app: FastAPI, prefix: str) -> AsyncIterator[World]:
    clock = FakeClock(START)
    fake = FakeBotAPI(enforce_limits=True, clock=clock.now)
    fake.queue_updates = False
    redis = held_redis(REDIS_URL, clock)
    yield World(app, clock, fake, redis, prefix)
    keys = [k async for k in redis.scan_iter(match=f"{prefix}:*")]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()


@contextlib.asynccontextmanager
async def running(worker: OutboxWorker, interval: float = 1.0) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop, interval=interval))
    try:
        yield
    finally:
        stop.set()
        await task


def people(fake: FakeBotAPI, *chats: int) -> None:
    for chat in chats:
        fake.open_chat(SimUser(chat))


# ---- 1. a crash repeats at most what was in flight ------------------------------------------
class CrashingSession(RecordingSession):
    """The worker process dies right after Telegram accepted the ``after``-th message: that
    answer never reaches the worker, and nothing it sends afterwards reaches Telegram."""

    def __init__(self, fake: FakeBotAPI, clock: FakeClock,
                 accepted: list[tuple[float, int, str]], after: int) -> None:
        super().__init__(fake, clock, accepted)
        self.after = after
        self.crashed = asyncio.Event()

    async def make_request(  # the signature is aiogram's BaseSession
        self, bot: Bot, method: TelegramMethod[TelegramType],
        timeout: int | None = None,  # noqa: ASYNC109
    ) -> TelegramType:
        if self.crashed.is_set():
            await asyncio.Future()  # a dead process sends nothing more
        result = await super().make_request(bot, method, timeout)
        if len(self.accepted) >= self.after:
            self.crashed.set()
            await asyncio.Future()
        return result


class DyingSessions:
    """The crashed worker's database sessions: once dead, it opens none."""

    def __init__(self, inner: async_sessionmaker[AsyncSession]) -> None:
        self.inner = inner
        self.dead = False

    def __call__(self) -> AsyncSession:
        if self.dead:
            raise ConnectionError("the worker process is gone")
        return self.inner()


async def test_a_crash_repeats_at_most_the_messages_in_flight(world: World) -> None:
    chats = list(range(7001, 7041))  # 40 people, 5 messages each: 200 messages
    people(world.fake, *chats)
    await world.queue([("person_notice", chat, f"{chat}:{n}")
                       for n in range(5) for chat in chats])
    context = world.app.state.context
    engine = create_engine(context.settings.database_url, connect_args={
        "server_settings": {"application_name": "conex-crashing-worker"}})
    sessions = DyingSessions(create_sessionmaker(engine))
    session = CrashingSession(world.fake, world.clock, world.accepted, after=100)
    crashing = world.worker(session, sessions,  # type: ignore[arg-type]
                            chats_in_flight=40)
    drain = asyncio.create_task(crashing.drain_once())
    await session.crashed.wait()
    # kill -9: no more sessions, the task gone, its connections cut (PostgreSQL rolls back
    # whatever transaction was open).
    sessions.dead = True
    drain.cancel()
    with contextlib.suppress(asyncio.CancelledError, ConnectionError):
        await drain
    async with context.sessionmaker() as db:
        await db.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE application_name = 'conex-crashing-worker'"))
    await engine.dispose()
    accepted_before = len(world.accepted)
    assert accepted_before == 100
    recorded = (await world.statuses())["sent"]
    in_flight = accepted_before - recorded
    print(f"\ncrash after 100 accepted messages: {recorded} recorded, {in_flight} in flight")
    assert 0 < in_flight <= 40  # at most one per chat in flight (the old worker: up to 100)

    # A new worker, once the dead one's leases are over, delivers the rest.
    lease_over = world.now() + timedelta(seconds=61)
    result = await world.worker(clock=lambda: lease_over
                                + timedelta(seconds=world.clock.now() - START)).drain_once()
    assert result.sent == 200 - recorded
    assert await world.statuses() == Counter({"sent": 200})
    assert sum(len(world.fake.chats[c].messages) for c in chats) == 200 + in_flight
    repeated = 0
    for chat in chats:
        got = world.texts(chat)
        assert list(dict.fromkeys(got)) == [f"{chat}:{n}" for n in range(5)]  # all, in order
        repeated += len(got) - 5
    assert repeated == in_flight


# ---- 2. per-chat queues ----------------------------------------------------------------------
class FailFirstSession(RecordingSession):
    """Telegram answers 500 to the first message to ``chat``."""

    def __init__(self, fake: FakeBotAPI, clock: FakeClock,
                 accepted: list[tuple[float, int, str]], chat: int) -> None:
        super().__init__(fake, clock, accepted)
        self.chat: int | None = chat

    async def make_request(  # the signature is aiogram's BaseSession
        self, bot: Bot, method: TelegramMethod[TelegramType],
        timeout: int | None = None,  # noqa: ASYNC109
    ) -> TelegramType:
        if getattr(method, "chat_id", None) == self.chat:
            self.chat = None
            self.fake.failures.insert(0, (None, ApiError(500, "Internal Server Error")))
        return await super().make_request(bot, method, timeout)


async def test_a_chats_next_message_waits_for_the_retry_of_the_one_before(
        world: World) -> None:
    people(world.fake, 8001, 8002)
    await world.queue([("person_notice", 8001, "first"), ("person_notice", 8001, "second"),
                       ("person_notice", 8001, "third")])
    await world.queue([("relay", 8002, "other chat")], keyless=True)  # keyed by the worker
    session = FailFirstSession(world.fake, world.clock, world.accepted, chat=8001)
    async with running(world.worker(session)):
        await world.until(lambda: len(world.accepted) == 4, limit=30)
    assert world.texts(8001) == ["first", "second", "third"]
    first = world.arrived(8001, "first")
    other = world.arrived(8002, "other chat")
    assert first is not None and other is not None
    assert 0.9 <= first <= 3.0  # after the backoff of about a second
    assert other < 1.0  # not held back by the other chat's retry
    assert await world.statuses() == Counter({"sent": 4})
    async with world.app.state.context.sessionmaker() as db:
        attempts = [r.attempts for r in await db.scalars(
            select(OutboxMessage).order_by(OutboxMessage.id))]
    assert attempts == [1, 0, 0, 0]


async def test_a_reminder_for_tomorrow_holds_back_nothing_queued_after_it(
        world: World) -> None:
    """A visit's reminder is queued when the visit is booked, for the day before it; a
    counsellor's message queued after it must not wait until then (found by the journey test:
    every message to a person who booked a visit waited for their reminder)."""
    people(world.fake, 8003)
    context = world.app.state.context
    async with context.sessionmaker() as session:
        enqueue(session, context.vault, kind="reminder", message=StaffMessage(text="tomorrow"),
                chat_id=8003, now=world.now(), not_before=world.now() + timedelta(days=1))
        await session.commit()
    await world.queue([("relay", 8003, "Can you bring your passport?"),
                       ("person_notice", 8003, "accepted")])
    async with running(world.worker()):
        await world.until(lambda: len(world.accepted) == 2, limit=30)
    assert world.texts(8003) == ["Can you bring your passport?", "accepted"]  # in order
    assert await world.statuses() == Counter({"sent": 2, "pending": 1})  # the reminder waits


async def test_a_group_at_its_limit_holds_back_nobody_else(world: World) -> None:
    world.fake.open_group(GROUP)
    people(world.fake, 8101)
    await world.queue([("partner_card", GROUP, f"card {n}") for n in range(60)])
    async with running(world.worker()):
        await world.until(lambda: len(world.accepted) >= 20, limit=30)
        await world.clock.sleep(25 - world.clock.now() + START)  # the group waits its minute
        await world.queue([("person_notice", 8101, "your appointment")])
        queued = world.clock.now() - START
        await world.until(lambda: world.arrived(8101, "your appointment") is not None,
                          limit=10)
        notice = world.arrived(8101, "your appointment")
        assert notice is not None and notice - queued <= 2.0
        await world.until(lambda: len(world.accepted) == 61, limit=200)
    cards = [t - START for t, chat, _ in world.accepted if chat == GROUP]
    assert world.texts(GROUP) == [f"card {n}" for n in range(60)]
    assert 139 <= cards[-1] <= 142  # 20 a minute (0–19 s, 60–79 s, 120–139 s), no later
    assert world.fake.too_many_requests == 0


# ---- 3. a long outage ------------------------------------------------------------------------
class OutageSession(RecordingSession):
    """Telegram is unreachable until ``until`` (virtual): every other call a 502, the rest
    network errors."""

    def __init__(self, fake: FakeBotAPI, clock: FakeClock,
                 accepted: list[tuple[float, int, str]], until: float) -> None:
        super().__init__(fake, clock, accepted)
        self.until = until
        self.failed = 0

    async def make_request(  # the signature is aiogram's BaseSession
        self, bot: Bot, method: TelegramMethod[TelegramType],
        timeout: int | None = None,  # noqa: ASYNC109
    ) -> TelegramType:
        if self.clock.now() < self.until:
            self.failed += 1
            if self.failed % 2:
                raise TelegramNetworkError(method=method, message="Request timeout error")
            self.fake.failures.insert(0, (None, ApiError(502, "Bad Gateway")))
        return await super().make_request(bot, method, timeout)


async def test_a_thirty_minute_outage_loses_nothing_and_429s_fail_nothing(
        world: World) -> None:
    chats = list(range(8201, 8231))
    people(world.fake, *chats)
    world.fake.open_group(GROUP)
    await world.queue([("person_notice", chat, f"notice {chat}") for chat in chats]
                      + [("partner_card", GROUP, f"card {n}") for n in range(10)])
    session = OutageSession(world.fake, world.clock, world.accepted, until=START + 1800)
    async with running(world.worker(session), interval=5):
        await world.until(lambda: world.clock.now() >= START + 1800, limit=1900)
        assert world.accepted == []
        assert session.failed > 40 * 8  # every message tried again and again
        assert (await world.statuses()) == Counter({"pending": 40})
        for _ in range(6):  # Telegram is back, and pushes back a little
            world.fake.failures.append(("sendMessage", ApiError(
                429, "Too Many Requests: retry after 3", retry_after=3)))
        await world.until(lambda: len(world.accepted) == 40, limit=400)
    assert world.clock.now() - START <= 1800 + 330 + 30  # the longest backoff, then paced
    assert await world.statuses() == Counter({"sent": 40})
    for chat in chats:
        assert world.texts(chat) == [f"notice {chat}"]
    assert world.texts(GROUP) == [f"card {n}" for n in range(10)]
    async with world.app.state.context.sessionmaker() as db:
        rows = list(await db.scalars(select(OutboxMessage)))
    assert all(r.last_error is None and r.give_up_at is not None for r in rows)


# ---- 4. two workers --------------------------------------------------------------------------
async def test_two_workers_at_once_send_each_message_exactly_once(world: World) -> None:
    chats = list(range(8301, 8361))
    people(world.fake, *chats)
    world.fake.open_group(GROUP)
    await world.queue([("person_notice", chat, f"{chat}:{n}")
                       for n in range(4) for chat in chats]
                      + [("partner_card", GROUP, f"card {n}") for n in range(25)])
    one, two = world.worker(chats_in_flight=20), world.worker(chats_in_flight=20)
    first, second = await asyncio.gather(one.drain_once(), two.drain_once())
    assert first.sent > 0 and second.sent > 0  # both took their share
    assert first.sent + second.sent == 265
    assert (await one.drain_once()).sent == 0
    assert await world.statuses() == Counter({"sent": 265})
    for chat in chats:
        assert world.texts(chat) == [f"{chat}:{n}" for n in range(4)]
    assert world.texts(GROUP) == [f"card {n}" for n in range(25)]
    assert len(world.accepted) == 265


async def test_rows_claimed_by_a_live_worker_are_left_alone(world: World) -> None:
    people(world.fake, 8401)
    await world.queue([("person_notice", 8401, "mine")])
    context = world.app.state.context
    async with context.sessionmaker() as session:  # another worker holds it, lease running
        await session.execute(update(OutboxMessage).values(
            claimed_until=world.now() + timedelta(seconds=30)))
        await session.commit()
    assert (await world.worker().drain_once()).sent == 0
    later = world.now() + timedelta(seconds=31)
    assert (await world.worker(clock=lambda: later).drain_once()).sent == 1
    assert world.texts(8401) == ["mine"]
