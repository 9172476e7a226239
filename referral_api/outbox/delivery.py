"""Delivery layer for the outbox worker: send one message, pace the worker's own sends.

Telegram's limits (docs: "My bot is hitting limits"; /work/shared/DESIGN.md): about 1 message a
second to one chat, 20 a minute to one group, about 30 a second overall; a 429 answer carries
``retry_after``, which must be honoured.

- The **governor** (``governor.Governor`` with ``governor.session.GovernorMiddleware`` on the
  bot's session) is the one authority over every call to Telegram, shared through Redis by the
  bot and the worker: it paces each send by its class (``governor.priority``) and, on a 429,
  waits ``retry_after`` and sends again. With it, a send never ends in ``TelegramRetryAfter``.
- ``ChatPacer`` spaces the worker's *own* sends in process, by the same figures (per chat, per
  group, overall): a chat at its limit sleeps in its own task, so that the few sends that do
  wait in the governor (``SendSlots``) are the ones that can go now. Without Redis (the SQLite
  demo) it is the only pacing there is, and a 429 comes back as ``Outcome.RETRY`` ("flood",
  after ``retry_after``): the worker puts the message back in its chat's queue, never counting
  it as a failed attempt.
- ``SendSlots`` bounds how many sends wait in the governor at once, and lets them in by
  priority (notices before cards before follow-up waves).
- ``Sender`` sends one ``Outgoing`` through an aiogram ``Bot`` inside ``priority(level)`` and
  classifies the outcome: ``sent``, ``retry`` (after ``retry_after`` seconds) or ``failed``
  (permanent). The outbox worker decides what to do with it; nothing here stores or re-sends.
- ``FakeClock`` gives tests virtual time: nothing really sleeps. It also serves as the
  governor's clock.
- ``DELIVERY_CLASSES``: for each kind of outbox row, its class at the governor and how long a
  transient failure is retried.

Privacy: logs carry the outcome, the reason and the exception type only, never message text,
chat ids or Telegram's description (aiogram's exception messages contain the chat id).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import heapq
import itertools
import logging
import random
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
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
from aiogram.methods import EditMessageText, SendMessage
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from pydantic import ValidationError

from bot.channels import is_web
from governor import Limits, Priority, priority
from governor.session import GovernorMiddleware, RetryAfterMiddleware, granted

log = logging.getLogger(__name__)

BACKOFF_CAP = 300.0
BACKOFF_JITTER = 0.1
EXPECTED_FAILURES = frozenset({"forbidden", "chat_not_found", "migrated"})
SEND_SLOTS = 8  # sends of one worker waiting in the governor at once


# ---- delivery classes ----------------------------------------------------------------------
@dataclass(frozen=True)
class DeliveryClass:
    """How one kind of message is sent: its class at the governor, and how long it is retried
    (from its creation) before a transient failure is final. ``budget=None``: the row's
    ``not_after`` rules instead (follow-up questionnaires, with their wave logic)."""

    priority: Priority
    budget: timedelta | None


# The one table of delivery classes (docs/decisions.md, "An outbox that repeats at most what
# was in flight"). 429s never count: only network, server and configuration errors do.
DELIVERY_CLASSES: dict[str, DeliveryClass] = {
    "person_notice": DeliveryClass(Priority.NOTICE, timedelta(hours=48)),
    "reminder": DeliveryClass(Priority.NOTICE, timedelta(hours=48)),
    "relay": DeliveryClass(Priority.NOTICE, timedelta(hours=48)),
    "partner_card": DeliveryClass(Priority.CARD, timedelta(hours=48)),
    "card_update": DeliveryClass(Priority.CARD, timedelta(hours=48)),
    "coordinator_alert": DeliveryClass(Priority.CARD, timedelta(hours=48)),
    "followup_wave": DeliveryClass(Priority.WAVE, None),
}
UNKNOWN_KIND = DeliveryClass(Priority.CARD, timedelta(hours=48))
NO_WINDOW_BUDGET = timedelta(hours=48)  # a follow-up row without `not_after`


def delivery_class(kind: str) -> DeliveryClass:
    return DELIVERY_CLASSES.get(kind, UNKNOWN_KIND)


# ---- clocks ------------------------------------------------------------------------------
class Clock(Protocol):
    def now(self) -> float:
        """Seconds (the governor's clock must agree across processes: wall time)."""
        ...

    async def sleep(self, seconds: float) -> None: ...

    def hold(self) -> contextlib.AbstractContextManager[None]:
        """Around a wait on real I/O (a database round trip): virtual time stands still."""
        ...


class RealClock:
    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0.0))

    def hold(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()


class FakeClock:
    """Virtual time for tests: nothing waits in real time.

    ``sleep(s)`` yields control and returns once virtual time has moved ``s`` seconds on
    (``sleep(0)`` is ``asyncio.sleep(0)``). Alone, a sleeper sees time jump by exactly ``s`` at
    once. With several tasks, virtual time jumps to the earliest pending deadline as soon as
    the other tasks are blocked (nobody used the clock for ``settle_rounds`` loop turns), so
    concurrent sleeps overlap as they would in real time instead of adding up. Code that waits
    on real I/O which should take no virtual time (a database round trip) does so inside
    ``hold()``: time does not jump meanwhile. Do not busy-wait on ``now()``: a task that polls
    the clock without sleeping keeps time still. Any ``start`` will do (the governor only
    compares times).
    """

    def __init__(self, start: float = 0.0, settle_rounds: int = 8) -> None:
        self._now = start
        self._settle_rounds = settle_rounds
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._activity = 0
        self._holds = 0
        self._released: asyncio.Future[None] | None = None  # wakes the advancer after a hold
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

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        self._holds += 1
        try:
            yield
        finally:
            self._holds -= 1
            self._activity += 1
            if not self._holds and self._released is not None and not self._released.done():
                self._released.set_result(None)

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
            if self._holds:  # someone waits on real I/O: wait for it without spinning
                self._released = asyncio.get_running_loop().create_future()
                await self._released
            await asyncio.sleep(0)
            if self._activity != seen or self._holds:
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


# ---- the worker's own pacing -------------------------------------------------------------
class ChatPacer:
    """The worker's own sends, spaced in process by Telegram's figures (``governor.Limits``):
    ``per_chat_interval`` between two messages to one chat, ``group_limit`` per
    ``group_window`` to one group, and overall the governor's bucket (``bulk_rate`` a second,
    ``bulk_burst`` at once), so that the worker's sends reach the governor about as fast as it
    lets them through (without Redis, this is all the pacing there is).

    Chats are named by a key (the outbox's ``chat_key``): no chat id is kept. One task sends
    to one chat at a time (the worker's per-chat queue), so ``wait_chat`` needs no lock;
    ``wait_overall`` hands out send times in call order (a late sender does not make the
    others lose its turn: up to ``bulk_burst`` turns are caught up).
    """

    def __init__(self, clock: Clock, limits: Limits | None = None) -> None:
        self.clock = clock
        self.limits = limits or Limits()
        self._last: dict[str, float] = {}
        self._groups: dict[str, deque[float]] = {}
        self._tat = -float("inf")  # the bucket as a theoretical arrival time (GCRA)
        self._records = 0

    def ready_at(self, key: str) -> float:
        ready = -float("inf")
        last = self._last.get(key)
        if last is not None:
            ready = last + self.limits.per_chat_interval
        sent = self._groups.get(key)
        if sent is not None and len(sent) >= self.limits.group_limit:
            ready = max(ready, sent[0] + self.limits.group_window)
        return ready

    async def wait_chat(self, key: str) -> None:
        while True:
            ready, now = self.ready_at(key), self.clock.now()
            if ready <= now:
                return
            await self.clock.sleep(ready - now)

    async def wait_overall(self) -> None:
        now = self.clock.now()
        interval = 1.0 / self.limits.bulk_rate
        tolerance = max(self.limits.bulk_burst - 1.0, 0.0) * interval
        at = max(now, self._tat - tolerance)
        self._tat = max(self._tat, at) + interval
        if at > now:
            await self.clock.sleep(at - now)

    def sent(self, key: str, group: bool) -> None:
        """A message to this chat reached Telegram now."""
        now = self.clock.now()
        self._last[key] = now
        if group:
            sent = self._groups.get(key)
            if sent is None:
                sent = self._groups[key] = deque(maxlen=self.limits.group_limit)
            sent.append(now)
        self._records += 1
        if self._records % 4096 == 0:  # memory follows the active chats only
            self._last = {k: t for k, t in self._last.items()
                          if t + self.limits.per_chat_interval > now}
            self._groups = {k: s for k, s in self._groups.items()
                            if s[-1] + self.limits.group_window > now}


class SendSlots:
    """At most ``size`` sends at once, let in by priority (lower first), then call order."""

    def __init__(self, size: int = SEND_SLOTS) -> None:
        if size < 1:
            raise ValueError("at least one slot")
        self._free = size
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    @contextlib.asynccontextmanager
    async def take(self, level: int) -> AsyncIterator[None]:
        if self._free > 0 and not self._waiters:
            self._free -= 1
        else:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            heapq.heappush(self._waiters, (level, next(self._seq), waiter))
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._release()  # the slot came as the wait was cancelled
                raise
        try:
            yield
        finally:
            self._release()

    def _release(self) -> None:
        while self._waiters:
            _, _, waiter = heapq.heappop(self._waiters)
            if not waiter.done():
                waiter.set_result(None)
                return
        self._free += 1


# ---- sender ------------------------------------------------------------------------------
@dataclass
class Outgoing:
    chat_id: int
    text: str
    buttons: list[list[dict[str, str]]] | None = None  # rows of {"text", "callback_data"}
    parse_mode: str | None = None  # None: plain text, whatever the bot's default
    # Edit this message of the chat instead of sending a new one (a referral's card). When
    # Telegram cannot edit it (deleted, too old), the message is sent as new.
    edit_message_id: int | None = None


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
    """Sends one ``Outgoing`` and says what happened; never raises for Telegram or network
    errors (other exceptions are bugs and propagate). The pacing is the bot session's (the
    governor's middleware) and the caller's (``ChatPacer``), not the sender's."""

    def __init__(self, bot: Bot, rng: random.Random | None = None, *,
                 web_bot: Bot | None = None) -> None:
        self.bot = bot
        self.rng = rng
        self.web_bot = web_bot  # the web chat's (bot.channels): its chats' messages

    def bot_for(self, chat_id: int) -> Bot | None:
        """The bot of the chat's channel; None for a web chat without the web bot."""
        return self.web_bot if is_web(chat_id) else self.bot

    async def send(self, msg: Outgoing, attempt: int = 0,
                   level: Priority | None = None,
                   on_sending: Callable[[], None] | None = None) -> SendResult:
        """``attempt``: how many times this message failed transiently before (for backoff).
        ``level``: the governor's class of this message (default: the caller's context).
        ``on_sending``: called once the call has its turn and goes to Telegram (before that, a
        stopping worker may hand the message back: it was not sent)."""
        bot = self.bot_for(msg.chat_id)
        if bot is None:  # WEBCHAT_* not set in this worker: kept until it is
            return self._transient("config", None, attempt, level=logging.ERROR)
        if on_sending is not None and not self._paced(bot):
            on_sending()  # no governor middleware to say when: from now on, as sent
        token = granted.set(on_sending)
        try:
            return await self._send(bot, msg, attempt, level)
        finally:
            granted.reset(token)

    @staticmethod
    def _paced(bot: Bot) -> bool:
        """Whether the bot's session has our middleware (which calls ``granted``)."""
        return any(isinstance(m, GovernorMiddleware | RetryAfterMiddleware)
                   for m in bot.session.middleware)

    async def _send(self, bot: Bot, msg: Outgoing, attempt: int,
                    level: Priority | None) -> SendResult:
        if msg.edit_message_id is not None:
            edited = await self._edit(bot, msg, attempt, level)
            if edited is not None:
                return edited
            msg = dataclasses.replace(msg, edit_message_id=None)  # gone: a new card
        try:
            method = self._method(msg)
        except (KeyError, TypeError, ValidationError):
            return self._failed("invalid", None)
        try:
            with contextlib.nullcontext() if level is None else priority(level):
                message = await bot(method)
        except (TelegramAPIError, ClientDecodeError, OSError, TimeoutError) as exc:
            return self._result_of(exc, attempt)
        log.debug("delivery sent")
        return SendResult(Outcome.SENT, "ok", message_id=message.message_id)

    def _result_of(self, exc: BaseException, attempt: int) -> SendResult:
        """What a Telegram or network error means for a message, sent or edited."""
        if isinstance(exc, TelegramRetryAfter):  # only without the governor, which waits itself
            return self._flood(float(exc.retry_after))
        if isinstance(exc, TelegramMigrateToChat):
            return self._failed("migrated", exc, migrate_to_chat_id=exc.migrate_to_chat_id)
        if isinstance(exc, TelegramForbiddenError):  # blocked, deactivated, kicked
            return self._failed("forbidden", exc)
        if isinstance(exc, TelegramBadRequest):
            reason = "chat_not_found" if "chat not found" in exc.message.lower() else "bad_request"
            return self._failed(reason, exc)
        if isinstance(exc, TelegramEntityTooLarge):  # before TelegramNetworkError, its base
            return self._failed("too_large", exc)
        if isinstance(exc, TelegramNetworkError | ClientDecodeError | OSError | TimeoutError):
            return self._transient("network", exc, attempt)
        if isinstance(exc, TelegramServerError):
            return self._transient("server", exc, attempt)
        if isinstance(exc, TelegramUnauthorizedError | TelegramNotFound | TelegramConflictError):
            # Our token or API address is wrong, not the message: keep it for later.
            return self._transient("config", exc, attempt, level=logging.ERROR)
        # An unknown status: not a reason to drop the message.
        return self._transient("unknown_api_error", exc, attempt)

    async def _edit(self, bot: Bot, msg: Outgoing, attempt: int,
                    level: Priority | None) -> SendResult | None:
        """Edit the card in place. None when Telegram cannot edit that message (deleted, not
        the bot's, too old to edit): the caller sends the card as a new message."""
        assert msg.edit_message_id is not None
        try:
            method = EditMessageText(chat_id=msg.chat_id, message_id=msg.edit_message_id,
                                     text=msg.text, reply_markup=self._markup(msg),
                                     parse_mode=msg.parse_mode)
        except (KeyError, TypeError, ValidationError):
            return self._failed("invalid", None)
        try:
            with contextlib.nullcontext() if level is None else priority(level):
                await bot(method)
        except TelegramBadRequest as exc:
            text = exc.message.lower()
            if "not modified" in text:  # already says this: done
                return SendResult(Outcome.SENT, "ok", message_id=msg.edit_message_id)
            if "chat not found" in text:
                return self._failed("chat_not_found", exc)
            log.info("delivery: card not editable (%s), sent as new", type(exc).__name__)
            return None
        except (TelegramAPIError, ClientDecodeError, OSError, TimeoutError) as exc:
            return self._result_of(exc, attempt)
        log.debug("delivery edited")
        return SendResult(Outcome.SENT, "ok", message_id=msg.edit_message_id)

    @staticmethod
    def _markup(msg: Outgoing) -> InlineKeyboardMarkup | None:
        if not msg.buttons:
            # An edit without buttons removes the old ones; a send without them has none.
            return InlineKeyboardMarkup(inline_keyboard=[]) if msg.edit_message_id else None
        return InlineKeyboardMarkup(inline_keyboard=[
            [InlineKeyboardButton(text=b["text"], callback_data=b["callback_data"])
             for b in row]
            for row in msg.buttons
        ])

    @classmethod
    def _method(cls, msg: Outgoing) -> SendMessage:
        return SendMessage(chat_id=msg.chat_id, text=msg.text, reply_markup=cls._markup(msg),
                           parse_mode=msg.parse_mode)

    @staticmethod
    def _flood(retry_after: float) -> SendResult:
        log.warning("delivery retry: flood control (TelegramRetryAfter), again in %.0f s",
                    retry_after)
        return SendResult(Outcome.RETRY, "flood", retry_after=retry_after)

    def _transient(self, reason: str, exc: BaseException | None, attempt: int,
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
