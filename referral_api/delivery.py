"""Delivery layer for the outbox worker: send messages within Telegram's limits.

Telegram's limits (docs: "My bot is hitting limits"; /work/shared/DESIGN.md): about 1 message a
second to one chat, 20 a minute to one group, 30 a second overall; a 429 answer carries
``retry_after``, which must be honoured.

- ``RateLimiter`` waits (on a ``Clock``) until a send is allowed and records it. Sliding
  windows, exact: no burst ever goes over a limit. A chat that must wait does not hold up the
  others: it waits for its own limits without any shared lock, then queues (FIFO) for a slot of
  the overall limit. Sends to one chat keep their order.
- ``Sender`` sends one ``Outgoing`` through an aiogram ``Bot`` and classifies the outcome:
  ``sent``, ``retry`` (after ``retry_after`` seconds) or ``failed`` (permanent). The outbox
  worker decides what to do with it; nothing here stores or re-sends.
- ``FakeClock`` gives tests virtual time: nothing really sleeps.

Privacy: logs carry the outcome, the reason and the exception type only, never message text,
chat ids or Telegram's description (aiogram's exception messages contain the chat id).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import math
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from aiogram import Bot
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramConflictError,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.methods import SendMessage
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from pydantic import ValidationError

log = logging.getLogger(__name__)

PER_CHAT_INTERVAL = 1.0  # seconds between two messages to one chat (any chat)
GROUP_LIMIT, GROUP_WINDOW = 20, 60.0  # messages per window to one group (chat id < 0)
GLOBAL_LIMIT, GLOBAL_WINDOW = 30, 1.0  # messages per window overall
BACKOFF_CAP = 300.0
BACKOFF_JITTER = 0.1
EXPECTED_FAILURES = frozenset({"forbidden", "chat_not_found", "migrated"})


# ---- clocks ------------------------------------------------------------------------------
class Clock(Protocol):
    def now(self) -> float:
        """Monotonic seconds."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class RealClock:
    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0.0))


class FakeClock:
    """Virtual monotonic time for tests: nothing waits in real time.

    ``sleep(s)`` yields control and returns once virtual time has moved ``s`` seconds on
    (``sleep(0)`` is ``asyncio.sleep(0)``). Alone, a sleeper sees time jump by exactly ``s`` at
    once. With several tasks, virtual time jumps to the earliest pending deadline as soon as
    the other tasks are blocked (nobody used the clock for ``settle_rounds`` loop turns), so
    concurrent sleeps overlap as they would in real time instead of adding up. Do not
    busy-wait on ``now()``: a task that polls the clock without sleeping keeps time still.
    """

    def __init__(self, start: float = 0.0, settle_rounds: int = 8) -> None:
        self._now = start
        self._settle_rounds = settle_rounds
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._activity = 0
        self._advancer: asyncio.Task[None] | None = None

    def now(self) -> float:
        self._activity += 1
        return self._now

    async def sleep(self, seconds: float) -> None:
        self._activity += 1
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._seq), waiter))
        if self._advancer is None or self._advancer.done():
            self._advancer = loop.create_task(self._advance())
        await waiter

    def advance(self, seconds: float) -> None:
        """Move virtual time on by hand and wake the sleepers that are due."""
        self._now += max(seconds, 0.0)
        self._wake_due()

    def _wake_due(self) -> None:
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, waiter = heapq.heappop(self._sleepers)
            if not waiter.done():
                waiter.set_result(None)

    async def _advance(self) -> None:
        """Background task: when the loop has gone quiet, jump to the earliest deadline."""
        idle, seen = 0, self._activity
        while True:
            await asyncio.sleep(0)
            if self._activity != seen:
                idle, seen = 0, self._activity
                continue
            idle += 1
            if idle < self._settle_rounds:
                continue
            idle = 0
            while self._sleepers and self._sleepers[0][2].done():  # cancelled sleepers
                heapq.heappop(self._sleepers)
            if not self._sleepers:
                self._advancer = None
                return
            self._now = max(self._now, self._sleepers[0][0])
            self._wake_due()


# ---- rate limiter ------------------------------------------------------------------------
@dataclass
class _ChatSlot:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class RateLimiter:
    """Telegram's sending limits as exact sliding windows.

    ``acquire(chat_id)`` returns when a message to that chat may be sent now, and records it:
    the caller must send right away. Per chat (private or group): at least
    ``per_chat_interval`` seconds between two messages; per group (chat id < 0): at most
    ``group_limit`` in any ``group_window``; overall: at most ``global_limit`` in any
    ``global_window``. ``pause_chat`` / ``pause_all`` honour a 429's ``retry_after``.

    Fairness: callers for one chat are served in call order (a per-chat FIFO lock); a caller
    waits for its chat's own limits outside any shared lock, then queues (FIFO) for the overall
    limit. So a group at its 20-a-minute limit never delays messages to other chats.
    """

    def __init__(
        self,
        clock: Clock | None = None,
        *,
        per_chat_interval: float = PER_CHAT_INTERVAL,
        group_limit: int = GROUP_LIMIT,
        group_window: float = GROUP_WINDOW,
        global_limit: int = GLOBAL_LIMIT,
        global_window: float = GLOBAL_WINDOW,
    ) -> None:
        if group_limit < 1 or global_limit < 1:
            raise ValueError("limits must be at least 1")
        self.clock: Clock = clock or RealClock()
        self.per_chat_interval = per_chat_interval
        self.group_limit = group_limit
        self.group_window = group_window
        self.global_limit = global_limit
        self.global_window = global_window
        self._global_lock = asyncio.Lock()
        self._slots: dict[int, _ChatSlot] = {}
        self._last_sent: dict[int, float] = {}
        self._group_sent: dict[int, deque[float]] = {}
        self._all_sent: deque[float] = deque(maxlen=global_limit)
        self._chat_paused: dict[int, float] = {}
        self._all_paused = -math.inf
        self._records = 0

    # -- public API --
    async def acquire(self, chat_id: int) -> None:
        slot = self._slots.get(chat_id)
        if slot is None:
            slot = self._slots[chat_id] = _ChatSlot()
        slot.users += 1
        try:
            async with slot.lock:
                while True:
                    # The chat's own limits, while other chats go on.
                    await self._wait_until(lambda: self._chat_ready_at(chat_id))
                    async with self._global_lock:
                        await self._wait_until(self._global_ready_at)
                        now = self.clock.now()
                        if self._chat_ready_at(chat_id) <= now:
                            self._record(chat_id, now)
                            return
                    # The chat was paused (a 429) while we queued: wait again, lock released.
        finally:
            slot.users -= 1
            if slot.users == 0:
                del self._slots[chat_id]

    def pause_chat(self, chat_id: int, seconds: float) -> None:
        """No message to this chat for ``seconds`` (a 429's retry_after)."""
        if seconds > 0:
            until = self.clock.now() + seconds
            self._chat_paused[chat_id] = max(self._chat_paused.get(chat_id, until), until)

    def pause_all(self, seconds: float) -> None:
        """No message at all for ``seconds`` (a 429's retry_after on the overall limit)."""
        if seconds > 0:
            self._all_paused = max(self._all_paused, self.clock.now() + seconds)

    # -- internals --
    def _chat_ready_at(self, chat_id: int) -> float:
        ready = self._chat_paused.get(chat_id, -math.inf)
        last = self._last_sent.get(chat_id)
        if last is not None:
            ready = max(ready, last + self.per_chat_interval)
        sent = self._group_sent.get(chat_id)
        if sent is not None and len(sent) >= self.group_limit:
            ready = max(ready, sent[0] + self.group_window)
        return ready

    def _global_ready_at(self) -> float:
        ready = self._all_paused
        if len(self._all_sent) >= self.global_limit:
            ready = max(ready, self._all_sent[0] + self.global_window)
        return ready

    async def _wait_until(self, ready_at: Callable[[], float]) -> None:
        while True:
            ready, now = ready_at(), self.clock.now()
            if ready <= now:
                return
            await self.clock.sleep(ready - now)

    def _record(self, chat_id: int, now: float) -> None:
        self._all_sent.append(now)
        self._last_sent[chat_id] = now
        if chat_id < 0:
            sent = self._group_sent.get(chat_id)
            if sent is None:
                sent = self._group_sent[chat_id] = deque(maxlen=self.group_limit)
            sent.append(now)
        self._records += 1
        if self._records % 4096 == 0:
            self._forget_old(now)

    def _forget_old(self, now: float) -> None:
        """Drop what can no longer delay anything, so memory follows the active chats only."""
        self._last_sent = {c: t for c, t in self._last_sent.items()
                           if t + self.per_chat_interval > now}
        self._group_sent = {c: s for c, s in self._group_sent.items()
                            if s[-1] + self.group_window > now}
        self._chat_paused = {c: t for c, t in self._chat_paused.items() if t > now}


# ---- sender ------------------------------------------------------------------------------
@dataclass
class Outgoing:
    chat_id: int
    text: str
    buttons: list[list[dict[str, str]]] | None = None  # rows of {"text", "callback_data"}
    parse_mode: str | None = None  # None: plain text, whatever the bot's default


class Outcome(StrEnum):
    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"


@dataclass(frozen=True)
class SendResult:
    """What happened to one message. ``reason`` is from a fixed vocabulary (safe to log and
    store): ok, flood, network, server, config, unknown_api_error, forbidden,
    chat_not_found, bad_request, too_large, migrated, invalid."""

    outcome: Outcome
    reason: str
    message_id: int | None = None  # when sent
    retry_after: float | None = None  # when retry: seconds to wait before trying again
    migrate_to_chat_id: int | None = None  # when failed because a group became a supergroup

    @property
    def sent(self) -> bool:
        return self.outcome is Outcome.SENT

    @property
    def retry(self) -> bool:
        return self.outcome is Outcome.RETRY

    @property
    def failed(self) -> bool:
        return self.outcome is Outcome.FAILED


_rng = random.Random()  # noqa: S311 - jitter, not cryptography


def backoff(attempt: int, rng: random.Random | None = None) -> float:
    """Seconds before retry number ``attempt + 1`` after a transient error: 1, 2, 4, … capped at
    300, each ± 10 % at random so that many failed messages do not come back at once."""
    base = min(2.0 ** min(max(attempt, 0), 32), BACKOFF_CAP)
    jitter = (rng or _rng).uniform(-BACKOFF_JITTER, BACKOFF_JITTER)
    return base * (1.0 + jitter)


class Sender:
    """Sends one ``Outgoing`` within the limits and says what happened; never raises for
    Telegram or network errors (other exceptions are bugs and propagate)."""

    def __init__(self, bot: Bot, limiter: RateLimiter, rng: random.Random | None = None) -> None:
        self.bot = bot
        self.limiter = limiter
        self.rng = rng

    async def send(self, msg: Outgoing, attempt: int = 0) -> SendResult:
        """``attempt``: how many times this message failed transiently before (for backoff)."""
        try:
            method = self._method(msg)
        except (KeyError, TypeError, ValidationError):
            return self._failed("invalid", None)
        await self.limiter.acquire(msg.chat_id)
        try:
            message = await self.bot(method)
        except TelegramRetryAfter as exc:
            return self._flood(msg.chat_id, float(exc.retry_after))
        except TelegramMigrateToChat as exc:
            return self._failed("migrated", exc, migrate_to_chat_id=exc.migrate_to_chat_id)
        except TelegramForbiddenError as exc:  # blocked, deactivated, kicked
            return self._failed("forbidden", exc)
        except TelegramBadRequest as exc:
            reason = "chat_not_found" if "chat not found" in exc.message.lower() else "bad_request"
            return self._failed(reason, exc)
        except TelegramEntityTooLarge as exc:  # before TelegramNetworkError, its base class
            return self._failed("too_large", exc)
        except (TelegramNetworkError, ClientDecodeError, OSError, TimeoutError) as exc:
            return self._transient("network", exc, attempt)
        except TelegramServerError as exc:
            return self._transient("server", exc, attempt)
        except (TelegramUnauthorizedError, TelegramNotFound, TelegramConflictError) as exc:
            # Our token or API address is wrong, not the message: keep it for later.
            return self._transient("config", exc, attempt, level=logging.ERROR)
        except TelegramAPIError as exc:  # an unknown status: not a reason to drop the message
            return self._transient("unknown_api_error", exc, attempt)
        log.debug("delivery sent")
        return SendResult(Outcome.SENT, "ok", message_id=message.message_id)

    @staticmethod
    def _method(msg: Outgoing) -> SendMessage:
        markup = None
        if msg.buttons:
            markup = InlineKeyboardMarkup(inline_keyboard=[
                [InlineKeyboardButton(text=b["text"], callback_data=b["callback_data"])
                 for b in row]
                for row in msg.buttons
            ])
        return SendMessage(chat_id=msg.chat_id, text=msg.text, reply_markup=markup,
                           parse_mode=msg.parse_mode)

    def _flood(self, chat_id: int, retry_after: float) -> SendResult:
        # Telegram does not say which limit was hit. Groups have their own (20 a minute), so a
        # 429 there pauses that group only. Private chats are already spaced by the limiter, so
        # a 429 there most likely means the overall limit: pause everything.
        self.limiter.pause_chat(chat_id, retry_after)
        scope = "chat"
        if chat_id > 0:
            self.limiter.pause_all(retry_after)
            scope = "all"
        log.warning("delivery retry: flood control (TelegramRetryAfter), paused %s for %.0f s",
                    scope, retry_after)
        return SendResult(Outcome.RETRY, "flood", retry_after=retry_after)

    def _transient(self, reason: str, exc: BaseException, attempt: int,
                   level: int = logging.WARNING) -> SendResult:
        delay = backoff(attempt, self.rng)
        log.log(level, "delivery retry: %s (%s), attempt %d, again in %.1f s",
                reason, type(exc).__name__, attempt, delay)
        return SendResult(Outcome.RETRY, reason, retry_after=delay)

    @staticmethod
    def _failed(reason: str, exc: BaseException | None,
                migrate_to_chat_id: int | None = None) -> SendResult:
        # The person blocked the bot, or the chat is gone: routine. Anything else is our bug.
        level = logging.INFO if reason in EXPECTED_FAILURES else logging.WARNING
        log.log(level, "delivery failed: %s (%s)", reason,
                type(exc).__name__ if exc is not None else "not sent")
        return SendResult(Outcome.FAILED, reason, migrate_to_chat_id=migrate_to_chat_id)
