"""Virtual time with real I/O: a Redis client whose round trips take no virtual time.

``FakeClock`` jumps to the next sleeper's deadline as soon as every task is blocked; a task
blocked on a real round trip counts as blocked, so without this the governor's Redis calls
would let virtual time run on while a grant is on its way (and the sends it allows would
bunch up). Inside ``FakeClock.hold()`` time stands still instead, as the worker's database
round trips do.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from referral_api.outbox.delivery import FakeClock


class HeldRedis(Redis):
    clock: FakeClock | None = None

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        if self.clock is None:
            return await super().execute_command(*args, **options)  # type: ignore[no-untyped-call]
        with self.clock.hold():
            return await super().execute_command(*args, **options)  # type: ignore[no-untyped-call]


def held_redis(url: str, clock: FakeClock) -> HeldRedis:
    client = HeldRedis.from_url(url)
    assert isinstance(client, HeldRedis)
    client.clock = clock
    return client
