"""Campaign burst: N people press /start within S seconds (an outreach event with a QR code).

    python bench/burst.py [--people 1000] [--seconds 10] [--mode strict|documented|both]
                          [--notices 2000] [--replicas 1]

The bot runs as `python -m bot --webhook` processes (durable inbox + governor on Redis) against
the fake Bot API over HTTP with Telegram's limits enforced:
- strict: every message counts against 30 a second (the worst case). Goal: every person
  answered, the last answer within 15 % of messages ÷ 30/s, 429s under 5 % of messages sent;
- documented: only bulk counts against 30 a second (replies to people who just wrote do not).
  Goal: every person answered, p99 to the first reply under 1 s.
With --notices N, N notices to other people are pending when the burst starts, sent through
the same governor at notice priority (as the outbox worker sends them): replies go first, the
notices are all delivered after.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from redis.asyncio import BlockingConnectionPool, Redis
from telegram_world import REDIS_URL, TOKEN, World, percentile, world

from governor import Governor, Priority, priority
from governor.session import GovernorMiddleware
from simulator.botapi import SimUser

FIRST_PERSON = 3_000_000
FIRST_NOTICE_CHAT = 6_000_000


async def send_notices(w: World, count: int) -> tuple[int, float]:
    """The outbox worker's way: one task per chat, every send through the governor."""
    redis = Redis.from_pool(BlockingConnectionPool.from_url(REDIS_URL, max_connections=32))
    session = AiohttpSession(api=TelegramAPIServer.from_base(w.api_url))
    session.middleware(GovernorMiddleware(Governor(redis, w.prefix)))
    bot = Bot(TOKEN, session=session)
    gate = asyncio.Semaphore(200)
    delivered = 0

    async def one(chat: int) -> None:
        nonlocal delivered
        async with gate:
            with priority(Priority.NOTICE):
                await bot.send_message(chat, "Your appointment is tomorrow at 10:00.")
            delivered += 1

    started = time.monotonic()
    await asyncio.gather(*(one(FIRST_NOTICE_CHAT + i) for i in range(count)))
    took = time.monotonic() - started
    await session.close()
    await redis.aclose()
    return delivered, took


async def burst(mode: str | None, people: int, seconds: float, notices: int,
                replicas: int, patience: float = 300.0) -> dict[str, Any]:
    async with world(mode, replicas=replicas) as w:
        for i in range(notices):
            w.fake.open_chat(SimUser(FIRST_NOTICE_CHAT + i))
        posted: dict[int, float] = {}
        statuses: list[int] = []
        notice_task = asyncio.create_task(send_notices(w, notices)) if notices else None
        await asyncio.sleep(0.5 if notices else 0)  # the notices are already flowing
        t0 = time.monotonic()

        async def person(i: int) -> None:
            await asyncio.sleep(i * seconds / people)
            user = SimUser(FIRST_PERSON + i, language_code="en")
            update = w.fake.user_message(user, "/start")
            posted[user.id] = time.monotonic()
            statuses.append(await w.post(update, replica=i))

        await asyncio.gather(*(person(i) for i in range(people)))
        deadline = time.monotonic() + patience
        while time.monotonic() < deadline:
            if sum(1 for c in posted if c in w.recorder.first) == people:
                break
            await asyncio.sleep(0.1)
        notices_done, notices_took = (await notice_task) if notice_task else (0, 0.0)
        answered = [c for c in posted if c in w.recorder.first]
        latency = [w.recorder.first[c] - posted[c] for c in answered]
        last = max((w.recorder.first[c] for c in answered), default=t0) - t0
        replies_sent = sum(1 for _, chat in w.recorder.sent if chat < FIRST_NOTICE_CHAT)
        return {
            "mode": mode, "people": people, "answered": len(answered),
            "webhook_errors": sum(1 for s in statuses if s != 200),
            "messages": w.fake.sent_messages, "replies": replies_sent,
            "429s": w.fake.too_many_requests,
            "429_share": w.fake.too_many_requests / max(w.fake.sent_messages, 1),
            "last_answer_s": last, "ideal_s": replies_sent / 30.0,
            "p50_s": percentile(latency, 50), "p99_s": percentile(latency, 99),
            "notices": notices, "notices_delivered": notices_done,
            "notices_took_s": notices_took,
        }


def verdict(r: dict[str, Any]) -> str:
    ok = r["answered"] == r["people"] and r["webhook_errors"] == 0
    if r["mode"] == "strict" and not r["notices"]:
        ok = ok and r["last_answer_s"] <= 1.15 * r["ideal_s"] + 0.5 and r["429_share"] < 0.05
    if r["mode"] == "documented" and not r["notices"]:
        ok = ok and r["p99_s"] < 1.0
    if r["notices"]:
        ok = ok and r["notices_delivered"] == r["notices"]
    return "goal met" if ok else "GOAL MISSED"


def show(r: dict[str, Any]) -> None:
    print(f"{r['mode']:>10} people={r['people']} answered={r['answered']} "
          f"webhook_errors={r['webhook_errors']} messages={r['messages']} "
          f"429s={r['429s']} ({r['429_share']:.1%}) last_answer={r['last_answer_s']:.1f}s "
          f"(ideal at 30/s {r['ideal_s']:.1f}s) first-reply p50={r['p50_s']:.2f}s "
          f"p99={r['p99_s']:.2f}s" + (
              f" notices={r['notices_delivered']}/{r['notices']} in {r['notices_took_s']:.1f}s"
              if r["notices"] else "") + f"  -> {verdict(r)}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--mode", choices=["strict", "documented", "both"], default="both")
    parser.add_argument("--notices", type=int, default=0)
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--patience", type=float, default=300.0,
                        help="seconds to wait for the last answer after the burst")
    args = parser.parse_args()
    modes = ["strict", "documented"] if args.mode == "both" else [args.mode]
    for mode in modes:
        show(asyncio.run(burst(mode, args.people, args.seconds, args.notices, args.replicas,
                               args.patience)))


if __name__ == "__main__":
    main()
