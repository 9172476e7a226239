"""Dispatch benchmark: our full Dispatcher (middlewares, engine, RedisStorage) against a bare
aiogram Dispatcher with one echo handler on the same storage, in the same process.

    python bench/dispatch.py [--updates N] [--redis URL]

Both dispatchers get the same synthetic updates (a realistic journey per person: /start, the
welcome answer, menu topics, Back, Main menu, typed text) and talk to the same in-process fake
Bot API, so the difference is our middlewares, handlers, engine and state handling.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiogram import Bot, Dispatcher
from aiogram.fsm.context import FSMContext
from aiogram.fsm.storage.base import DefaultKeyBuilder
from aiogram.fsm.storage.redis import RedisStorage
from aiogram.types import CallbackQuery, Message, Update
from pydantic import SecretStr
from redis.asyncio import Redis

from bot.app import create_bot, create_dispatcher, create_stores
from bot.engine.callbacks import NodeCb
from bot.engine.flows import NodeRef
from bot.settings import Settings
from simulator.botapi import FakeBotAPI, SimUser
from simulator.session import InProcessSession

TOKEN = "9999:bench"
PRESSES = [("menu", "welcome", "city"), ("menu", "start", "support"),
           ("support", "overview", "journey"), ("support", "journey", "back"),
           ("support", "overview", "premium"), ("support", "premium", "home"),
           ("menu", "start", "faq"), ("menu", "start", "contact")]


def journey(fake: FakeBotAPI, user: SimUser) -> list[dict[str, Any]]:
    """One person's updates (buttons are attached to a message when recorded)."""
    updates = [fake.user_message(user, "/start")]
    for flow, node, choice in PRESSES:
        data = NodeCb(f=flow, n=node, c=choice, v=1).pack()
        updates.append(fake.user_press(user, 0, data))
    updates.append(fake.user_message(user, "hello"))
    return updates


async def record(dp: Dispatcher, bot: Bot, fake: FakeBotAPI, people: int,
                 first_id: int) -> list[list[Update]]:
    """Walk each journey through our bot once, attaching to every button press the message it
    was pressed on, as Telegram does. Both dispatchers are then timed on these same updates."""
    journeys = []
    for i in range(people):
        user = SimUser(first_id + i, language_code="nl")
        updates = []
        for raw in journey(fake, user):
            if "callback_query" in raw:
                mine = [m for m in fake.open_chat(user).messages.values()
                        if m["from"].get("is_bot")]
                raw["callback_query"]["message"] = dict(mine[-1])
            update = Update.model_validate(raw, context={"bot": bot})
            await dp.feed_update(bot, update)
            updates.append(update)
        journeys.append(updates)
    return journeys


async def run(dp: Dispatcher, bot: Bot, journeys: list[list[Update]], concurrency: int) -> float:
    """Feed every journey in order; ``concurrency`` people are served at once, as polling
    does with one task per update."""
    gate = asyncio.Semaphore(concurrency)

    async def one(updates: list[Update]) -> None:
        async with gate:
            for update in updates:
                await dp.feed_update(bot, update)

    started = time.perf_counter()
    await asyncio.gather(*(one(updates) for updates in journeys))
    return sum(map(len, journeys)) / (time.perf_counter() - started)


def bare_dispatcher(redis: Redis, prefix: str) -> Dispatcher:
    storage = RedisStorage(redis, key_builder=DefaultKeyBuilder(prefix=prefix, with_bot_id=True),
                           state_ttl=3600, data_ttl=3600)
    dp = Dispatcher(storage=storage)

    @dp.message()
    async def echo(message: Message) -> None:
        await message.answer(message.text or "?")

    @dp.callback_query()
    async def echo_press(cb: CallbackQuery) -> None:
        await cb.answer(cb.data)

    return dp


def same_work_dispatcher(redis: Redis, prefix: str, screen: Any) -> Dispatcher:
    """Bare aiogram doing the same Telegram work as our stack (answer the press, edit the
    message with a keyboard of the same size, write the FSM data), with none of our
    middlewares, routing or engine: what is left of the gap is our own overhead."""
    storage = RedisStorage(redis, key_builder=DefaultKeyBuilder(prefix=prefix, with_bot_id=True),
                           state_ttl=3600, data_ttl=3600)
    dp = Dispatcher(storage=storage)

    @dp.message()
    async def reply(message: Message, state: FSMContext) -> None:
        await message.answer(screen.text, reply_markup=screen.markup)
        await state.set_data({"at": "menu.start"})

    @dp.callback_query()
    async def press(cb: CallbackQuery, state: FSMContext) -> None:
        await cb.answer()
        if cb.message is not None:
            await cb.bot.edit_message_text(  # type: ignore[union-attr]
                text=screen.text + str(cb.id), chat_id=cb.message.chat.id,
                message_id=cb.message.message_id, reply_markup=screen.markup)
        await state.set_data({"at": cb.data})

    return dp


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=300, help="journeys of 10 updates each")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 32],
                        help="people served at once (1 = one update after another)")
    args = parser.parse_args()
    redis = Redis.from_url(args.redis)
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    settings = Settings(_env_file=None, bot_token=SecretStr(TOKEN), redis_prefix=prefix)
    fake = FakeBotAPI()
    fake.queue_updates = False
    ours_bot = create_bot(settings, session=InProcessSession(fake))
    ours = create_dispatcher(settings, stores=create_stores(settings, redis))
    bare_bot = create_bot(settings, session=InProcessSession(fake))
    bare = bare_dispatcher(redis, f"{prefix}-bare")
    screen = ours["engine"].render(NodeRef("support", "overview"), "nl", can_go_back=True)
    same = same_work_dispatcher(redis, f"{prefix}-same", screen)
    try:
        journeys = await record(ours, ours_bot, fake, args.people, 100_000)
        await run(ours, ours_bot, journeys[:20], 1)  # warm up both
        await run(bare, bare_bot, journeys[:20], 1)
        await run(same, bare_bot, journeys[:20], 1)
        n = sum(map(len, journeys))
        print(f"updates per run: {n} (the same for both), best of 3 runs, "
              f"storage: RedisStorage on {args.redis}")
        for concurrency in args.concurrency:
            rates: dict[str, list[float]] = {"ours": [], "bare": [], "same": []}
            for _ in range(3):
                for name, dp, bot in (("bare", bare, bare_bot), ("same", same, bare_bot),
                                      ("ours", ours, ours_bot)):
                    rates[name].append(await run(dp, bot, journeys, concurrency))
            best = {k: max(v) for k, v in rates.items()}
            print(f"concurrency {concurrency:3d}: bare aiogram echo {best['bare']:6.0f}/s | "
                  f"bare aiogram, same Telegram work {best['same']:6.0f}/s | "
                  f"our full stack {best['ours']:6.0f}/s")
            print(f"                 ratio ours/bare echo {best['ours'] / best['bare']:.2f} "
                  f"(target >= 0.5); ours/same work {best['ours'] / best['same']:.2f}")
    finally:
        keys = [k async for k in redis.scan_iter(match=f"{prefix}*")]
        for i in range(0, len(keys), 500):
            await redis.delete(*keys[i:i + 500])
        await redis.aclose()


if __name__ == "__main__":
    asyncio.run(main())
