"""Faults: nothing a person sent is lost when a process or Redis dies.

    python bench/faults.py [--people 300]

1. kill -9 a bot replica mid-burst (two replicas on one Redis): every person answered (the dead
   replica's updates are taken over by the other one once its lease runs out); an update whose
   answer had gone out but whose acknowledgement had not may be answered twice (at most what
   was in flight).
2. Redis restart with AOF (its own redis-server on a free port, appendfsync everysec as in
   docker-compose.yml; a killed process loses nothing the kernel has, only a machine crash
   would lose up to a second): updates
   accepted by the webhook just before Redis stops are all answered after it comes back.

The outbox worker's faults (kill -9 mid-batch, a Telegram outage of 30 minutes) are proven by
tests on virtual time: tests/referral_api/test_outbox_lease.py.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import subprocess
import tempfile
import time
from collections import Counter

from telegram_world import World, free_port, start_bot, wait_http, world

from simulator.botapi import SimUser


async def answered(w: World, people: list[int], seconds: float = 120) -> Counter[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not all(  # noqa: ASYNC110 - the fake's record
            p in w.recorder.first for p in people):
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)  # and nothing more arrives
    return Counter(chat for _, chat in w.recorder.sent if chat in set(people))


def report(name: str, people: list[int], counts: Counter[int], errors: int,
           twice_allowed: bool = False) -> None:
    """``twice_allowed``: a person whose update was being handled at the instant of the crash
    may get the answer twice (at most what was in flight); nobody may get nothing."""
    missing = sum(1 for p in people if counts[p] == 0)
    twice = sum(1 for p in people if counts[p] > 1)
    ok = missing == 0 and (twice_allowed or twice == 0) and errors == 0
    print(f"{name}: people={len(people)} answered={len(people) - missing} missing={missing} "
          f"answered_twice={twice} webhook_errors={errors}  -> "
          f"{'goal met' if ok else 'GOAL MISSED'}", flush=True)


async def kill_a_replica(count: int) -> None:
    """Half the people arrive at once, spread over both replicas; replica 0 is killed while it
    has their updates in hand; the other half then arrives at replica 1 only."""
    async with world(None, replicas=2) as w:
        people = [4_000_000 + i for i in range(count)]
        half = count // 2

        async def arrive(i: int, replica: int) -> int:
            update = w.fake.user_message(SimUser(people[i]), "/start")
            return await w.post(update, replica=replica)

        statuses = list(await asyncio.gather(*(arrive(i, i) for i in range(half))))
        w.bots[0].send_signal(signal.SIGKILL)  # mid-burst, updates in hand
        in_hand = half - len(w.recorder.first)
        statuses += await asyncio.gather(*(arrive(i, 1) for i in range(half, count)))
        counts = await answered(w, people)
        print(f"  (replica 0 killed with about {in_hand} of the first {half} not yet answered)")
        report("kill -9 one of two bot replicas", people, counts,
               sum(1 for s in statuses if s != 200), twice_allowed=True)


async def restart_redis(count: int) -> None:
    if shutil.which("redis-server") is None:
        print("redis restart: skipped (no redis-server)")
        return
    port = free_port()
    folder = tempfile.mkdtemp(prefix="faults-redis-")
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "yes", "--appendfsync", "everysec", "--dir", folder]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL)  # noqa: ASYNC220
    url = f"redis://127.0.0.1:{port}/0"
    await asyncio.sleep(0.5)
    try:
        async with world(None, replicas=1, redis_url=url) as w:
            people = [4_500_000 + i for i in range(count)]
            w.bots[0].send_signal(signal.SIGKILL)  # no consumer: updates wait in Redis
            w.bots[0].wait()
            port_bot = free_port()
            receiver = start_bot(w.api_url, w.prefix, port_bot, {"REDIS_URL": url})
            w.webhook_urls = [f"http://127.0.0.1:{port_bot}/webhook"]
            await wait_http(w.webhook_urls[0])
            errors = 0
            for person in people:
                errors += await w.post(w.fake.user_message(SimUser(person), "/start")) != 200
            # The receiver handles them as they come; Redis dies right after accepting the
            # last (kill -9: no final save) and comes back from its append-only file; the bot
            # is restarted too.
            receiver.send_signal(signal.SIGKILL)
            server.send_signal(signal.SIGKILL)
            server.wait()
            server = subprocess.Popen(command, stdout=subprocess.DEVNULL)  # noqa: ASYNC220
            await asyncio.sleep(1.0)
            w.bots = [start_bot(w.api_url, w.prefix, port_bot, {"REDIS_URL": url}), receiver]
            report("Redis kill -9 and restart from AOF", people, await answered(w, people),
                   errors, twice_allowed=True)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait()
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=300)
    args = parser.parse_args()
    asyncio.run(kill_a_replica(args.people))
    asyncio.run(restart_redis(args.people))


if __name__ == "__main__":
    main()
