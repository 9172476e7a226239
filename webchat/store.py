"""Where the web chat keeps conversations: Redis, every key with the conversation's TTL.

A conversation is a chat id (bot.channels.WEB_CHAT_IDS), its messages (Telegram-shaped, for
edits, presses and replies), the events a page replays (message, edit, delete, toast, code)
and a short code to come back with. A browser holds a session id in a cookie; the store keeps
only its SHA-256 (a copy of Redis yields no cookie; it does hold the conversations and their
codes, like any copy of a chat server's data). Everything expires WEBCHAT_TTL_DAYS after the
last message in the conversation; with a booking, the bot asks to keep the conversation's id
and code longer (``keep``). No name, no IP address and no browser detail is stored (rate
limits count by a keyed hash of the IP, for at most an hour).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

from redis.exceptions import RedisError

from bot.channels import WEB_CHAT_IDS

log = logging.getLogger(__name__)
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud or copied by hand
CODE_LENGTH = 8  # 32^8 ≈ 10^12 codes; trying them is limited per IP (webchat.app)
POLL_INTERVAL = 0.25  # seconds between two looks at a conversation during a long poll
PAGE = 300  # events in one answer (a long conversation comes in several)
RECHECK = 5.0  # with pub/sub, a poll still looks again this often (a missed message)


# redis.asyncio.Redis, or webchat.local.LocalRedis (the demo): the commands used here are
# get/set/delete/exists/expire/incr, hset/hsetnx/hget/hdel/hincrby, rpush/lrange/llen.
RedisLike = Any


def _str(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def normalise_code(code: str) -> str:
    """What a person typed as their code: case, spaces and dashes do not matter."""
    return "".join(c for c in code.upper() if c.isalnum())


def shown_code(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


@dataclass(frozen=True)
class Opened:
    session: str  # for the cookie; the store keeps only its hash
    chat_id: int
    code: str


class ChatStore:
    def __init__(self, redis: RedisLike, prefix: str = "webchat", *,
                 ttl_seconds: int = 14 * 86400) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl = ttl_seconds
        # Pages waiting for a conversation's next event in this process: its Event and how
        # many wait on it. A write here wakes them at once; a write on another replica wakes
        # them through Redis pub/sub (``listen``), or the next look (RECHECK) without it.
        self._changed: dict[int, asyncio.Event] = {}
        self._waiting: dict[int, int] = {}
        self.listening = False

    # ---- keys --------------------------------------------------------------------------
    def _k(self, *parts: object) -> str:
        return ":".join([self.prefix, *(str(p) for p in parts)])

    @staticmethod
    def session_hash(session: str) -> str:
        """What stands for a browser's session in Redis (its key, its rate limit)."""
        return hashlib.sha256(session.encode("utf-8")).hexdigest()

    def _session_key(self, session: str) -> str:
        return self._k("session", self.session_hash(session))

    def _chat_keys(self, chat_id: int) -> list[str]:
        return [self._k("chat", chat_id), self._k("chat", chat_id, "events"),
                self._k("chat", chat_id, "messages"), self._k("chat", chat_id, "sessions")]

    # ---- sessions and codes ------------------------------------------------------------
    async def open(self, lang: str | None, *, chat_id: int | None = None) -> Opened:
        """A new conversation with its code, and a session for the browser that opened it.
        ``chat_id``: this id rather than a random one (tests that know their person's id)."""
        given = chat_id
        while True:
            chat_id = given or WEB_CHAT_IDS.start + secrets.randbelow(len(WEB_CHAT_IDS))
            code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
            if not await self.redis.set(self._k("code", code), chat_id, ex=self.ttl, nx=True):
                continue  # that code is taken (one in 10^12 per open conversation)
            if await self.redis.hsetnx(self._k("chat", chat_id), "code", code):
                break
            await self.redis.delete(self._k("code", code))
            if given is not None:
                raise ValueError("that conversation exists already")
        if lang:
            await self.redis.hset(self._k("chat", chat_id), "lang", lang)
        await self.add_event(chat_id, "code", code=shown_code(code))
        session = await self._new_session(chat_id)
        return Opened(session, chat_id, code)

    async def _new_session(self, chat_id: int) -> str:
        session = secrets.token_urlsafe(32)
        key = self._session_key(session)
        await self.redis.set(key, chat_id, ex=self.ttl)
        await self.redis.sadd(self._k("chat", chat_id, "sessions"), key)  # to end them all
        await self.touch(chat_id)
        return session

    async def chat_of(self, session: str | None) -> int | None:
        """The conversation of a browser's session, if both still exist; the session lives
        on for the TTL from now (it ends with inactivity, not at a date)."""
        if not session or len(session) > 100:
            return None
        value = await self.redis.get(self._session_key(session))
        if value is None:
            return None
        chat_id = int(_str(value))
        if not await self.redis.exists(self._k("chat", chat_id)):
            return None
        await self.redis.expire(self._session_key(session), self.ttl)
        return chat_id

    async def resume(self, code: str) -> str | None:
        """A new session for the conversation of this code (another phone, or after "Leave
        quickly"); None if no conversation has it."""
        code = normalise_code(code)
        if len(code) != CODE_LENGTH:
            return None
        value = await self.redis.get(self._k("code", code))
        if value is None:
            return None
        chat_id = int(_str(value))
        if not await self.redis.exists(self._k("chat", chat_id)):
            return None
        session = await self._new_session(chat_id)
        await self.add_event(chat_id, "resumed")  # every open page says so
        return session

    async def new_code(self, chat_id: int, session: str) -> str:
        """The person thinks someone else has the code: a new one, the old one stops working,
        and every other browser's session of this conversation ends."""
        chat = self._k("chat", chat_id)
        while True:
            code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
            if await self.redis.set(self._k("code", code), chat_id, ex=self.ttl, nx=True):
                break
        old = await self.redis.hget(chat, "code")
        if old is not None:
            await self.redis.delete(self._k("code", _str(old)))
        await self.redis.hset(chat, "code", code)
        mine = self._session_key(session)
        others = [_str(k) for k in await self.redis.smembers(self._k("chat", chat_id,
                                                                      "sessions"))]
        others = [k for k in others if k != mine]
        if others:
            await self.redis.delete(*others)
        await self.redis.delete(self._k("chat", chat_id, "sessions"))
        await self.redis.sadd(self._k("chat", chat_id, "sessions"), mine)
        await self.touch(chat_id)
        await self.add_event(chat_id, "code", code=shown_code(code))
        return code

    async def leave(self, session: str | None) -> None:
        """This browser's session ends; the conversation stays (for its code) until its TTL."""
        if session and len(session) <= 100:
            await self.redis.delete(self._session_key(session))

    async def code_of(self, chat_id: int) -> str | None:
        value = await self.redis.hget(self._k("chat", chat_id), "code")
        return shown_code(_str(value)) if value is not None else None

    async def touch(self, chat_id: int) -> None:
        """Activity: the conversation (and its code) lives WEBCHAT_TTL_DAYS from now, or
        longer if it was kept (``keep``). Two round trips on Redis (one read, one pipeline)."""
        chat = self._k("chat", chat_id)
        until, code = await self.redis.hmget(chat, ["keep_until", "code"])
        ttl = self.ttl
        if until is not None:
            ttl = max(ttl, int(float(_str(until)) - time.time()))
        expiries = [(key, ttl if key == chat else self.ttl) for key in self._chat_keys(chat_id)]
        if code is not None:
            expiries.append((self._k("code", _str(code)), ttl))
        if hasattr(self.redis, "pipeline"):
            # Never shortens (a touch racing a keep cannot undo it): NX sets a new key's
            # TTL, GT only lengthens one (Redis 7).
            async with self.redis.pipeline(transaction=False) as pipe:
                for key, seconds in expiries:
                    pipe.expire(key, seconds, nx=True)
                    pipe.expire(key, seconds, gt=True)
                await pipe.execute()
        else:  # the demo's LocalRedis: one process, no race
            for key, seconds in expiries:
                await self.redis.expire(key, seconds)

    async def keep(self, chat_id: int, seconds: int) -> None:
        """A booking (and maybe the follow-up questions): the conversation's id and code live
        ``seconds`` from now, never less than before (its messages still go after the TTL),
        so that the counsellor's answers and the questions sent later wait here."""
        chat = self._k("chat", chat_id)
        before = await self.redis.hget(chat, "keep_until")
        until = int(time.time()) + seconds
        if before is None or int(float(_str(before))) < until:
            await self.redis.hset(chat, "keep_until", until)
        await self.touch(chat_id)

    async def exists(self, chat_id: int) -> bool:
        return bool(await self.redis.exists(self._k("chat", chat_id)))

    async def forget(self, chat_id: int) -> None:
        """/forget: the conversation, its messages and its code are deleted. Every session of
        it ends with it (a session finds no conversation): the pages go back to "Start", and
        the next Start is a new conversation with a new code."""
        code = await self.redis.hget(self._k("chat", chat_id), "code")
        names = self._chat_keys(chat_id)
        names.extend(_str(k) for k in await self.redis.smembers(
            self._k("chat", chat_id, "sessions")))
        if code is not None:
            names.append(self._k("code", _str(code)))
        await self.redis.delete(*names)

    # ---- language of the page ----------------------------------------------------------
    async def lang(self, chat_id: int) -> str | None:
        value = await self.redis.hget(self._k("chat", chat_id), "lang")
        return _str(value) if value is not None else None

    async def set_lang(self, chat_id: int, lang: str) -> None:
        await self.redis.hset(self._k("chat", chat_id), "lang", lang)

    # ---- messages and events -----------------------------------------------------------
    async def next_message_id(self, chat_id: int) -> int:
        return int(await self.redis.hincrby(self._k("chat", chat_id), "mid", 1))

    async def next_update_id(self) -> int:
        """Increasing ids that survive a Redis reset (the bot skips an id it handled in the
        last day): the time in ms, and a counter for those of the same ms (< 2^53)."""
        count = int(await self.redis.incr(self._k("update_id"))) % 1024
        return (int(time.time() * 1000) << 10) | count

    async def save_message(self, chat_id: int, message: dict[str, Any]) -> None:
        await self.redis.hset(self._k("chat", chat_id, "messages"), str(message["message_id"]),
                              json.dumps(message, ensure_ascii=False, separators=(",", ":")))

    async def message(self, chat_id: int, message_id: Any) -> dict[str, Any] | None:
        if not isinstance(message_id, int):
            return None
        raw = await self.redis.hget(self._k("chat", chat_id, "messages"), str(message_id))
        return cast(dict[str, Any], json.loads(raw)) if raw is not None else None

    async def drop_message(self, chat_id: int, message_id: int) -> bool:
        return bool(await self.redis.hdel(self._k("chat", chat_id, "messages"),
                                          str(message_id)))

    async def add_event(self, chat_id: int, kind: str, **payload: Any) -> int:
        """Append an event; its sequence number (the page's cursor) is its place in the list."""
        key = self._k("chat", chat_id, "events")
        body = {"kind": kind, **payload}
        seq = int(await self.redis.rpush(
            key, json.dumps(body, ensure_ascii=False, separators=(",", ":"))))
        await self.redis.expire(key, self.ttl)
        self._wake(chat_id)
        if hasattr(self.redis, "publish"):  # other replicas' pages of this conversation
            await self.redis.publish(self._k("events"), str(chat_id))
        return seq

    def _wake(self, chat_id: int) -> None:
        event = self._changed.pop(chat_id, None)
        if event is not None:
            event.set()

    async def listen(self) -> None:
        """Wake this replica's long polls when another replica writes (Redis pub/sub). Runs
        for the life of the process; without it, a poll looks again every RECHECK s."""
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._k("events"))
                self.listening = True
                async for message in pubsub.listen():
                    with contextlib.suppress(TypeError, ValueError):
                        self._wake(int(_str(message["data"])))
            except (RedisError, OSError) as exc:  # Redis went away: poll until it is back
                log.warning("webchat: events channel lost (%s); polling meanwhile",
                            type(exc).__name__)
            finally:
                self.listening = False
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()
            await asyncio.sleep(1)

    async def events(self, chat_id: int, after: int) -> tuple[list[dict[str, Any]], bool]:
        """The events after ``after`` (at most PAGE: the page asks again for the rest);
        (from the start, True) when the page's cursor is past the end: the events expired
        while the conversation was kept, replay what there is."""
        key = self._k("chat", chat_id, "events")
        after = max(after, 0)
        raw = await self.redis.lrange(key, after, after + PAGE - 1)
        reset = False
        if not raw and after and after > int(await self.redis.llen(key)):
            raw, after, reset = await self.redis.lrange(key, 0, PAGE - 1), 0, True
        return [{"seq": after + i + 1, **json.loads(item)} for i, item in enumerate(raw)], reset

    async def wait_events(self, chat_id: int, after: int,
                          wait: float) -> tuple[list[dict[str, Any]], bool]:
        """The events after ``after``, waiting up to ``wait`` s for one (a long poll). A
        write in this process wakes the wait at once; another replica's through ``listen``
        (or within POLL_INTERVAL without it)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        self._waiting[chat_id] = self._waiting.get(chat_id, 0) + 1
        try:
            while True:
                # Waiting starts before looking: a write in between is not missed.
                changed = self._changed.setdefault(chat_id, asyncio.Event())
                events, reset = await self.events(chat_id, after)
                left = deadline - loop.time()
                if events or reset or left <= 0:
                    return events, reset
                recheck = RECHECK if self.listening else POLL_INTERVAL
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), timeout=min(left, recheck))
        finally:
            self._waiting[chat_id] -= 1
            if not self._waiting[chat_id]:  # the last page of it here: nothing kept
                del self._waiting[chat_id]
                self._changed.pop(chat_id, None)

    # ---- callbacks, files, commands ----------------------------------------------------
    async def remember_callback(self, query_id: str, chat_id: int) -> None:
        await self.redis.set(self._k("callback", query_id), chat_id, ex=900)

    async def callback_chat(self, query_id: str) -> int | None:
        value = await self.redis.get(self._k("callback", query_id))
        return int(_str(value)) if value is not None else None

    async def save_file(self, data: bytes) -> str:
        file_id = "v" + hashlib.sha256(data).hexdigest()[:32]
        await self.redis.set(self._k("file", file_id), data, ex=self.ttl)
        return file_id

    async def file(self, file_id: str) -> bytes | None:
        if not file_id.isalnum() or len(file_id) > 40:
            return None
        value = await self.redis.get(self._k("file", file_id))
        return bytes(value) if isinstance(value, bytes | bytearray) else (
            value.encode("latin-1") if isinstance(value, str) else None)

    async def set_commands(self, lang: str | None, commands: Iterable[dict[str, Any]]) -> None:
        await self.redis.set(self._k("commands", lang or "-"),
                             json.dumps(list(commands), ensure_ascii=False))

    async def commands(self, lang: str | None) -> list[dict[str, Any]]:
        for key in (lang or "-", "-"):
            raw = await self.redis.get(self._k("commands", key))
            if raw is not None:
                return cast(list[dict[str, Any]], json.loads(raw))
        return []

    # ---- rate limits -------------------------------------------------------------------
    async def allow(self, kind: str, who: str, limit: int, window: int) -> bool:
        """At most ``limit`` actions of ``kind`` by ``who`` (a keyed hash) per ``window`` s."""
        key = self._k("limit", kind, who)
        await self.redis.set(key, 0, ex=window, nx=True)  # the window starts with its TTL
        return int(await self.redis.incr(key)) <= limit
