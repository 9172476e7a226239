"""Password checks that cannot stall the API (issue 17, item 1).

Argon2 is built to be slow (tens of milliseconds of CPU and 64 MiB of memory per check). Run on
the event loop, 40 concurrent logins froze every other request of the process, the bot's
included. Here each check runs in a thread of its own pool (argon2-cffi releases the GIL) at a
lower CPU priority, at most `limit` at once per process; a login that would wait behind more
than `queue` others is refused at once (`Busy`: the page says "try again in a minute") instead
of piling up. The caller holds no database connection while it waits
(staff.service.AccountService.authenticate).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn  # type: ignore[import-untyped]  # no stubs published

from referral_api.errors import Busy

NICENESS = 10  # argon2 yields the CPU to request handling (the bot's calls) when both want it


def _lower_priority() -> None:
    """Run this password thread (and the lanes argon2 starts from it) at a lower CPU priority
    (Linux: the nice value is per thread and inherited by the threads it starts)."""
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICENESS)


class PasswordChecks:
    """Argon2 hashing and verifying off the event loop, bounded."""

    def __init__(self, hasher: PasswordHasher, *, limit: int = 2, queue: int = 16) -> None:
        self.hasher = hasher
        self.limit = limit
        self.queue = queue
        self._slots = asyncio.Semaphore(limit)
        self._threads = ThreadPoolExecutor(limit, thread_name_prefix="argon2",
                                           initializer=_lower_priority)
        self._waiting = 0
        self._dummy: str | None = None

    async def _run(self, function: object, *args: str) -> object:
        if self._waiting >= self.limit + self.queue:
            raise Busy()
        self._waiting += 1
        try:
            async with self._slots:
                return await asyncio.get_running_loop().run_in_executor(
                    self._threads, function, *args)  # type: ignore[arg-type]
        finally:
            self._waiting -= 1

    async def verify(self, password_hash: str, password: str) -> bool:
        """Whether the password matches; a malformed hash is a mismatch. Raises Busy."""
        try:
            await self._run(self.hasher.verify, password_hash, password)
        except (VerificationError, InvalidHashError):
            return False
        return True

    async def hash(self, password: str) -> str:
        """A new argon2id hash. Raises Busy."""
        return str(await self._run(self.hasher.hash, password))

    async def dummy_hash(self) -> str:
        """A hash of nobody's password at this cost, made once (off the event loop): an
        unknown e-mail costs a login as much work as a known one."""
        if self._dummy is None:
            self._dummy = await self.hash("not a password of anyone")
        return self._dummy

    def needs_rehash(self, password_hash: str) -> bool:
        return self.hasher.check_needs_rehash(password_hash)


MIN_LENGTH = 12
MIN_SCORE = 3  # zxcvbn's 0..4: 3 is "safely unguessable" for an online attack with limits


def strong_enough(password: str, email: str) -> bool:
    """At least MIN_LENGTH characters and hard to guess: not a common password, a keyboard
    pattern, a repetition, or made of the account's e-mail address (zxcvbn, Dropbox's
    estimator; only the first 100 characters are scored: enough, and bounded in time)."""
    if len(password) < MIN_LENGTH:
        return False
    local, _, domain = email.partition("@")
    hints = [email, local, *domain.split("."), "conex", "fedasil", "staff"]
    return int(zxcvbn(password[:100], user_inputs=hints)["score"]) >= MIN_SCORE
