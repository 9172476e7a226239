"""The durable update inbox: no update is lost or skipped because a process died.

The webhook (and the poller) only ``put`` each update into a Redis Stream and answer Telegram at
once; consumers handle the updates with bounded concurrency and acknowledge them afterwards.

- **Shards and leases.** Updates go to one of ``shards`` streams by chat, so one chat's updates
  are in one stream, in order. Each shard is read by one consumer at a time, which holds a lease
  on it (renewed every few seconds); consumers share the shards fairly (each takes at most
  ⌈shards / live consumers⌉). A consumer that dies stops renewing; once its lease runs out
  another consumer takes the shard and first takes over (``XAUTOCLAIM``) every entry the dead
  one had read but not acknowledged, then goes on with new ones.
- **Order per chat.** Within a shard, one chat's updates are handled one after the other, in
  stream order; different chats are handled concurrently.
- **Bounded concurrency.** A consumer reads only while it has fewer than ``concurrency``
  updates in hand; the rest waits in the stream (overload means waiting, never an error).
- **Exactly once, as seen by a person.** The "handled" mark (``<prefix>:update:<bot>:<id>``,
  24 h) is set after handling, in the same transaction as the acknowledgement: a crash midway
  means the update is handled again by the next owner, never skipped; an update Telegram sends
  twice is handled once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
import uuid
import zlib
from collections.abc import Iterable
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.types import Update
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from ops.metrics import INBOX_DEPTH, INBOX_OLDEST, UPDATES

log = logging.getLogger(__name__)

GROUP = "bot"
DONE_TTL = 24 * 3600

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def chat_of(update: dict[str, Any]) -> int | None:
    """The chat an update belongs to (its order matters within that chat), if any."""
    for field in ("message", "edited_message", "channel_post", "my_chat_member",
                  "chat_member", "chat_join_request"):
        event = update.get(field)
        if isinstance(event, dict):
            chat = event.get("chat")
            if isinstance(chat, dict) and isinstance(chat.get("id"), int):
                return int(chat["id"])
    query = update.get("callback_query")
    if isinstance(query, dict):
        message = query.get("message")
        if isinstance(message, dict) and isinstance(message.get("chat"), dict):
            chat_id = message["chat"].get("id")
            if isinstance(chat_id, int):
                return chat_id
        sender = query.get("from")
        if isinstance(sender, dict) and isinstance(sender.get("id"), int):
            return int(sender["id"])
    return None


def _text(value: bytes | str) -> str:
    return value.decode("ascii") if isinstance(value, bytes) else value


class UpdateInbox:
    """The producer side: put updates into the shard streams."""

    def __init__(self, redis: Redis, prefix: str, shards: int = 8) -> None:
        if shards < 1:
            raise ValueError("shards must be at least 1")
        self.redis = redis
        self.base = prefix
        self.prefix = f"{prefix}:inbox"
        self.shards = shards

    def stream(self, shard: int) -> str:
        return f"{self.prefix}:{shard}"

    def shard_of(self, update: dict[str, Any]) -> int:
        chat = chat_of(update)
        key = str(chat if chat is not None else update.get("update_id", 0))
        return zlib.crc32(key.encode("ascii")) % self.shards

    async def put(self, update: dict[str, Any], bot_id: int | None = None) -> None:
        await self.put_many([update], bot_id)

    async def put_many(self, updates: Iterable[dict[str, Any]],
                       bot_id: int | None = None) -> None:
        """Durably queue the updates (one round trip); raises if Redis cannot take them, so
        that the caller answers Telegram with an error and Telegram sends them again.
        ``bot_id``: the bot they came to when it is not the main one (the web chat's)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for update in updates:
                body = json.dumps(update, separators=(",", ":"), ensure_ascii=False)
                fields = {"u": body} if bot_id is None else {"u": body, "b": str(bot_id)}
                pipe.xadd(self.stream(self.shard_of(update)), fields)  # type: ignore[arg-type]
            await pipe.execute()

    async def backlog(self) -> int:
        """Updates waiting or in hand, over every shard (for metrics and benchmarks)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for shard in range(self.shards):
                pipe.xlen(self.stream(shard))
            return sum(int(n) for n in await pipe.execute())

    async def refresh_metrics(self) -> None:
        """The inbox's gauges, read when /metrics is scraped (one round trip): the updates
        waiting or in hand, and how long the oldest has waited (0 when empty; entries are
        deleted once handled, and a stream id starts with its arrival time in ms)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for shard in range(self.shards):
                pipe.xlen(self.stream(shard))
                pipe.xrange(self.stream(shard), count=1)
            answers = await pipe.execute()
        INBOX_DEPTH.set(sum(int(n) for n in answers[0::2]))
        arrived = [int(_text(heads[0][0]).split("-")[0]) for heads in answers[1::2] if heads]
        INBOX_OLDEST.set(max(0.0, time.time() - min(arrived) / 1000) if arrived else 0.0)


class InboxConsumer:
    """Handles the inbox's updates with ``dp`` (see the module's doc)."""

    def __init__(self, inbox: UpdateInbox, dp: Dispatcher, bot: Bot, *,
                 others: Iterable[Bot] = (), name: str | None = None,
                 concurrency: int = 32, lease_seconds: float = 5.0,
                 block_ms: int = 1000, done_ttl: int = DONE_TTL, grace: float = 6.0) -> None:
        self.inbox = inbox
        self.redis = inbox.redis
        self.dp = dp
        self.bot = bot
        # Updates marked with another bot's id (the web chat's) are fed with that bot.
        self.bots = {b.id: b for b in others}
        self.name = name or f"c-{uuid.uuid4().hex[:10]}"
        self.concurrency = concurrency
        self.lease_ms = int(lease_seconds * 1000)
        self.block_ms = block_ms
        self.done_ttl = done_ttl
        self.grace = grace
        self._stopping = False
        self.handled = 0
        self._renew = self.redis.register_script(_RENEW)
        self._release = self.redis.register_script(_RELEASE)
        self._readers: dict[int, asyncio.Task[None]] = {}
        self._leaving: set[int] = set()
        self._chains: dict[tuple[int, int | str], asyncio.Task[None]] = {}  # last per chat
        self._tasks: set[asyncio.Task[None]] = set()  # every update in hand
        self._in_hand = 0
        self._reserved = 0  # room taken by readers for the entries they are reading
        self._room = asyncio.Condition()

    def _lease_key(self, shard: int) -> str:
        return f"{self.inbox.prefix}:lease:{shard}"

    @property
    def _members(self) -> str:
        return f"{self.inbox.prefix}:consumers"

    # ---- running ---------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Take shards and handle their updates until ``stop`` is set; then finish what is
        in hand (at most ``grace`` seconds: what is not finished by then stays unacknowledged
        in its stream) and give the shards back, so that another consumer takes them over at
        once instead of after a lease."""
        try:
            while not stop.is_set():
                try:
                    await self._balance()
                except Exception as exc:  # Redis away: try again; the streams keep the updates
                    log.error("inbox: could not renew the shards: %s", type(exc).__name__)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self.lease_ms / 3000)
        finally:
            await self._leave()

    async def _balance(self) -> None:
        now_ms = time.time() * 1000
        await self.redis.zadd(self._members, {self.name: now_ms})
        await self.redis.zremrangebyscore(self._members, "-inf", now_ms - self.lease_ms)
        live = max(int(await self.redis.zcard(self._members)), 1)
        fair = math.ceil(self.inbox.shards / live)
        for shard, task in list(self._readers.items()):
            if task.done():
                self._readers.pop(shard)
                self._leaving.discard(shard)
            elif shard not in self._leaving and not await self._renew(
                    keys=[self._lease_key(shard)], args=[self.name, self.lease_ms]):
                log.warning("inbox: lease on shard %d lost", shard)
                self._leaving.add(shard)  # someone else has it: stop reading it
        mine = len(self._readers) - len(self._leaving)
        offset = zlib.crc32(self.name.encode("ascii"))
        for i in range(self.inbox.shards):
            if mine >= fair:
                break
            shard = (offset + i) % self.inbox.shards
            if shard in self._readers:
                continue
            if await self.redis.set(self._lease_key(shard), self.name, nx=True,
                                    px=self.lease_ms):
                self._readers[shard] = asyncio.create_task(self._read(shard))
                mine += 1
        for shard in list(self._readers):  # more than our share: give the extra ones back
            if mine <= fair:
                break
            if shard not in self._leaving:
                self._leaving.add(shard)
                mine -= 1

    async def _leave(self) -> None:
        self._stopping = True
        self._leaving.update(self._readers)
        if self._readers:  # each stops after its current read (block_ms at most)
            await asyncio.gather(*self._readers.values(), return_exceptions=True)
        if self._tasks:
            _, late = await asyncio.wait(set(self._tasks), timeout=self.grace)
            for task in late:  # not acknowledged: the next owner handles it again
                task.cancel()
            if late:
                log.warning("inbox: %d update(s) in hand at the stop handed back", len(late),
                            extra={"count": len(late)})
                await asyncio.gather(*late, return_exceptions=True)
        for shard in list(self._readers):
            await self._release(keys=[self._lease_key(shard)], args=[self.name])
        self._readers.clear()
        await self.redis.zrem(self._members, self.name)

    # ---- one shard -------------------------------------------------------------------
    async def _read(self, shard: int) -> None:
        stream = self.inbox.stream(shard)
        try:
            with contextlib.suppress(ResponseError):  # BUSYGROUP: it exists already
                await self.redis.xgroup_create(stream, GROUP, id="0", mkstream=True)
            # What a previous owner read but did not acknowledge comes first, in order.
            cursor = "0-0"
            while True:
                result = await self.redis.xautoclaim(stream, GROUP, self.name, min_idle_time=0,
                                                     start_id=cursor, count=100)
                cursor, entries = result[0], result[1]
                for entry_id, fields in entries:  # None: deleted meanwhile
                    if fields is not None:
                        await self._take(shard, stream, entry_id, fields)
                if cursor in (b"0-0", "0-0"):
                    break
            while shard not in self._leaving:
                room = await self._reserve()
                try:
                    answer: Any = await self.redis.xreadgroup(
                        GROUP, self.name, {stream: ">"}, count=room, block=self.block_ms)
                    for _, batch in answer or []:
                        for entry_id, fields in batch:
                            await self._take(shard, stream, entry_id, fields)
                finally:
                    self._reserved -= room
                    await self._notify()
            if self._stopping:  # the stop (_leave) bounds the wait and releases the lease
                return
            # Giving the shard to another consumer: the entries in hand are finished before
            # the lease goes (one chat's updates are never handled by two consumers at once).
            pending = [t for (s, _), t in self._chains.items() if s == shard]
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
            await self._release(keys=[self._lease_key(shard)], args=[self.name])
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # Redis gone: the lease runs out, another consumer goes on
            log.error("inbox: reader of shard %d stopped: %s", shard, type(exc).__name__)

    async def _reserve(self) -> int:
        """Room for how many updates this reader may read now: every reader of this process
        reserves before it reads, so that together they never hold more than ``concurrency``
        (each at most its share, so that a reader waiting on a quiet shard blocks nobody)."""
        async with self._room:
            await self._room.wait_for(
                lambda: self._in_hand + self._reserved < self.concurrency)
            share = max(1, math.ceil(self.concurrency / max(len(self._readers), 1)))
            room = min(share, self.concurrency - self._in_hand - self._reserved)
            self._reserved += room
            return room

    async def _take(self, shard: int, stream: str, entry_id: Any, fields: Any) -> None:
        try:
            update = json.loads(fields[b"u"])
            bot_id = int(fields[b"b"]) if b"b" in fields else None
        except (KeyError, ValueError):
            log.error("inbox: unreadable entry dropped")
            await self._ack(stream, entry_id, None)
            return
        bot = self.bot if bot_id is None else self.bots.get(bot_id)
        if bot is None:  # the web chat's, and this process has no web bot: not ours to drop
            log.error("inbox: an update for a bot this process does not run (WEBCHAT_* "
                      "settings?); left pending for a consumer that does")
            return
        chat = chat_of(update)
        key: tuple[int, int | str] = (shard, chat if chat is not None else str(entry_id))
        before = self._chains.get(key)
        self._in_hand += 1
        task = asyncio.create_task(self._after(before, stream, entry_id, update, bot))
        self._chains[key] = task
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._done(key, t))

    def _done(self, key: tuple[int, int | str], task: asyncio.Task[None]) -> None:
        if self._chains.get(key) is task:
            del self._chains[key]
        self._tasks.discard(task)
        self._in_hand -= 1
        asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        async with self._room:
            self._room.notify_all()

    async def _after(self, before: asyncio.Task[None] | None, stream: str,
                     entry_id: bytes | str, update: dict[str, Any], bot: Bot) -> None:
        if before is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(before)
        await self._handle(stream, entry_id, update, bot)

    async def _handle(self, stream: str, entry_id: bytes | str, update: dict[str, Any],
                      bot: Bot) -> None:
        update_id = update.get("update_id")
        done = f"{self.inbox.base}:update:{bot.id}:{update_id}"
        if not await self.redis.exists(done):
            try:
                event = Update.model_validate(update, context={"bot": bot})
                await self.dp.feed_update(bot, event)
            except Exception as exc:  # the errors router answered the person already
                log.error("inbox: update not handled: %s", type(exc).__name__)
            self.handled += 1
        else:
            UPDATES.labels("any", "duplicate").inc()
            log.info("inbox: update handled before; skipped", extra={"update_id": update_id})
        await self._ack(stream, entry_id, done)

    async def _ack(self, stream: str, entry_id: bytes | str, done: str | None) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            if done is not None:
                pipe.set(done, 1, ex=self.done_ttl)
            pipe.xack(stream, GROUP, entry_id)
            pipe.xdel(stream, entry_id)
            await pipe.execute()
