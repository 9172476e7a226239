"""Anonymous signals from the bot: pseudonyms, a per-update recorder and a batching buffer.

* **Pseudonym**: HMAC-SHA256 of the Telegram user id, keyed with a key derived for each
  calendar month (Europe/Brussels) from PSEUDONYM_KEY. A person's events link within a month
  and never across months. It is computed here, so the raw Telegram id never leaves the bot
  for a signal; the API never sees PSEUDONYM_KEY.
* **Channel**: every event carries `channel`, "telegram" or "web" (our web chat), a pure
  function of the user id (bot.channels.channel_of: in a private chat the user id is the chat
  id). That is all that is recorded about the channel.
* **Recorder**: bound to one update (user, language) by bot.middlewares.signals and reachable
  anywhere in the handling of that update through `current()` (a context variable, like the
  gettext locale). `emit()` never waits and never fails.
* **Buffer**: events queue in memory (bounded: beyond `max_pending` the newest are dropped
  and counted in a log line) and are sent to `POST /v1/signals` in the background, every
  `interval` seconds or as soon as `max_batch` are waiting, and once more at shutdown. A
  failed send is logged and dropped: signals are statistics, never worth slowing a reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from bot.channels import Channel, channel_of
from referral_api.signals.schemas import TOPICS as SIGNAL_TOPICS

log = logging.getLogger(__name__)

BRUSSELS = ZoneInfo("Europe/Brussels")
FORGET_MONTHS = 13  # /forget deletes the signals of this many months back (and this one)
# The flows whose opening is `topic_viewed`: the API's closed list of topic values.
TOPIC_FLOWS = frozenset(SIGNAL_TOPICS)

Send = Callable[[list[dict[str, Any]]], Awaitable[None]]
Clock = Callable[[], datetime]


def month_of(at: datetime) -> int:
    local = at.astimezone(BRUSSELS)
    return local.year * 100 + local.month


def previous_months(month: int, count: int) -> Iterator[int]:
    index = (month // 100) * 12 + (month % 100 - 1)
    for back in range(count + 1):
        i = index - back
        yield (i // 12) * 100 + i % 12 + 1


@lru_cache(maxsize=8)  # one key per month: computed once, not for every event
def month_key(secret: bytes, month: int) -> bytes:
    return hmac.new(secret, f"conex signals month key/v1:{month:06d}".encode(),
                    hashlib.sha256).digest()


def pseudonym(secret: bytes, user_id: int, month: int) -> str:
    """The person's pseudonym for `month` (yyyymm): 64 hex characters."""
    return hmac.new(month_key(secret, month), str(user_id).encode(), hashlib.sha256).hexdigest()


class SignalBuffer:
    def __init__(self, send: Send, *, max_batch: int = 50, interval: float = 1.0,
                 max_pending: int = 5000) -> None:
        self.send = send
        self.max_batch = max_batch
        self.interval = interval
        self.pending: deque[dict[str, Any]] = deque()
        self.max_pending = max_pending
        self.dropped = 0
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._sending = asyncio.Lock()  # held while a batch is in flight

    def add(self, event: dict[str, Any]) -> None:
        if len(self.pending) >= self.max_pending:
            self.dropped += 1
            if self.dropped in (1, 100) or self.dropped % 1000 == 0:
                log.warning("signal buffer full: %d event(s) dropped", self.dropped)
            return
        self.pending.append(event)
        self._ensure_running()
        if len(self.pending) >= self.max_batch and self._wake is not None:
            self._wake.set()

    def _ensure_running(self) -> None:
        if self._task is not None and not self._task.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # flushed by the next add() inside a loop, or by close()
        self._wake = asyncio.Event()
        self._task = loop.create_task(self._run(), name="signal-buffer")

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        """Send everything waiting, in batches. Failures are logged and dropped."""
        async with self._sending:
            while self.pending:
                batch = [self.pending.popleft()
                         for _ in range(min(self.max_batch, len(self.pending)))]
                try:
                    await self.send(batch)
                except Exception as exc:
                    log.warning("%d signal(s) not recorded: %s", len(batch),
                                type(exc).__name__)

    async def discard(self, pseudonyms: Iterable[str]) -> int:
        """For /forget: drop the waiting events of these pseudonyms, then wait until no
        batch is in flight, so nothing of the person is recorded after the deletion."""
        wanted = set(pseudonyms)
        before = len(self.pending)
        self.pending = deque(e for e in self.pending if e.get("pseudonym") not in wanted)
        async with self._sending:
            pass
        return before - len(self.pending)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()


class SignalRecorder:
    """The signals of one person in one update. Without a buffer or a key it does nothing."""

    def __init__(self, buffer: SignalBuffer | None = None, secret: bytes | None = None,
                 user_id: int | None = None, locale: str | None = None,
                 clock: Clock | None = None) -> None:
        self.buffer = buffer
        self.secret = secret
        self.user_id = user_id
        self.locale = locale
        self.clock = clock or (lambda: datetime.now(UTC))

    @property
    def enabled(self) -> bool:
        return self.buffer is not None and self.secret is not None and self.user_id is not None

    @property
    def channel(self) -> Channel | None:
        """Telegram or the web chat, from the user id (the person's private chat id)."""
        return channel_of(self.user_id) if self.user_id is not None else None

    def ref(self) -> dict[str, Any] | None:
        """This month's pseudonym, sent with a booking (`signal` of POST /v1/referrals)."""
        if not self.enabled:
            return None
        assert self.secret is not None and self.user_id is not None
        month = month_of(self.clock())
        return {"month": month, "pseudonym": pseudonym(self.secret, self.user_id, month)}

    def forget_pseudonyms(self) -> list[str]:
        """The pseudonyms of this month and the FORGET_MONTHS before (for /forget)."""
        if self.secret is None or self.user_id is None:
            return []
        now = month_of(self.clock())
        return [pseudonym(self.secret, self.user_id, m)
                for m in previous_months(now, FORGET_MONTHS)]

    async def forget(self) -> list[str]:
        """The person's pseudonyms for /forget, after dropping their events still waiting."""
        pseudonyms = self.forget_pseudonyms()
        if pseudonyms and self.buffer is not None:
            await self.buffer.discard(pseudonyms)
        return pseudonyms

    def emit(self, event: str, value: str | None = None, *, campaign: str | None = None,
             province: str | None = None, locale: str | None = None) -> None:
        ref = self.ref()
        if ref is None:
            return
        assert self.buffer is not None
        item: dict[str, Any] = {**ref, "event": event, "channel": self.channel}
        for key, val in (("value", value), ("campaign", campaign), ("province", province),
                         ("language", locale or self.locale)):
            if val is not None:
                item[key] = val
        try:
            self.buffer.add(item)
        except Exception as exc:  # never let a statistic break a reply
            log.warning("signal not queued: %s", type(exc).__name__)

    def screen(self, before: str | None, after: str, campaign: str | None) -> None:
        """Signals of moving from screen `before` to `after` ("flow.node"): entering a topic
        flow is `topic_viewed`, entering the booking is `booking_started`."""
        old_flow = before.split(".")[0] if before else None
        new_flow = after.split(".")[0]
        if new_flow == old_flow:
            return
        if new_flow in TOPIC_FLOWS:
            self.emit("topic_viewed", new_flow, campaign=campaign)
        elif new_flow == "booking":
            self.emit("booking_started", campaign=campaign)


_NULL = SignalRecorder()
_current: ContextVar[SignalRecorder] = ContextVar("conex_signals", default=_NULL)


def current() -> SignalRecorder:
    """The recorder of the update being handled (a no-op outside one)."""
    return _current.get()


@contextlib.contextmanager
def bound(recorder: SignalRecorder) -> Iterator[SignalRecorder]:
    token = _current.set(recorder)
    try:
        yield recorder
    finally:
        _current.reset(token)
