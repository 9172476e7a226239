"""The web chat under load, against the Telegram path as the baseline, in the same run.

    python bench/webchat_load.py [--rates 25,50,100] [--seconds 6] [--webchats 2]

Real processes: `python -m bot --webhook` (inbox and governor on Redis) and `--webchats`
replicas of `python -m webchat` (conversations on Redis), the fake Telegram Bot API in this
process without limits. Each person arrives at a fixed rate (open loop) and:
- web: POSTs "/start" to a web chat replica (round robin; a new conversation and its cookie),
  then long-polls `/chat/api/events` until the bot's first message shows: the time the person
  waits, through web chat → bot webhook → inbox → Dispatcher → web Bot → web chat → page;
- telegram (baseline): the same "/start" POSTed to the bot's /webhook as Telegram would; the
  time until the fake Telegram receives the first reply.

Goal: zero errors at every rate, and the web p99 within 3 × the Telegram p99 + 250 ms (the
page's long poll and one more HTTP hop each way).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from typing import Any

import httpx
from telegram_world import (
    BOT_ROOT,
    REDIS_URL,
    SECRET,
    Recorder,
    clean_redis,
    free_port,
    percentile,
    serving_fake,
    start_bot,
    startup_failure,
    wait_http,
)

from simulator.botapi import FakeBotAPI, SimUser

WEB_TOKEN = "7878:bench-web-token"
WEB_SECRET = "bench-web-webhook-secret"
FIRST_PERSON = 4_000_000


def start_webchat(port: int, bot_port: int, prefix: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEBCHAT_")}
    env.update({
        "WEBCHAT_BOT_TOKEN": WEB_TOKEN, "WEBCHAT_WEBHOOK_SECRET": WEB_SECRET,
        "WEBCHAT_BOT_WEBHOOK_URL": f"http://127.0.0.1:{bot_port}/webhook/web",
        "WEBCHAT_REDIS_URL": REDIS_URL, "WEBCHAT_REDIS_PREFIX": f"{prefix}-web",
        "WEBCHAT_COOKIE_SECURE": "false", "WEBCHAT_MESSAGES_PER_MINUTE": "1000",
        "WEBCHAT_IP_MESSAGES_PER_MINUTE": "1000000", "WEBCHAT_OPENS_PER_HOUR": "1000000",
        "WEBCHAT_POLLS_PER_MINUTE": "1000000",  # everyone comes from 127.0.0.1 here
        "LOG_LEVEL": "WARNING",
    })
    log = tempfile.NamedTemporaryFile(prefix="bench-webchat-", suffix=".log", delete=False)  # noqa: SIM115
    print(f"web chat log: {log.name}", flush=True)
    return subprocess.Popen([sys.executable, "-m", "webchat", "--port", str(port)],
                            cwd=BOT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log)


FAILURES: Counter[str] = Counter()


async def web_person(transport: httpx.AsyncHTTPTransport, base: str,
                     delay: float) -> float | None:
    """Seconds from "/start" to the bot's first message on the page; None on an error. Each
    person is a browser of their own (a cookie jar), on one shared connection pool."""
    await asyncio.sleep(delay)
    async with httpx.AsyncClient(transport=_Shared(transport), timeout=60.0) as client:
        return await _web_person(client, base)


class _Shared(httpx.AsyncBaseTransport):
    """The shared pool, not closed with each person's client."""

    def __init__(self, transport: httpx.AsyncHTTPTransport) -> None:
        self.transport = transport

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.transport.handle_async_request(request)


async def ask(client: httpx.AsyncClient, what: str, method: str, url: str,
              **kwargs: Any) -> Any:
    """The JSON answer of one request of the page, or None (counted in FAILURES)."""
    try:
        answer = await client.request(method, url, **kwargs)
    except httpx.HTTPError as exc:
        FAILURES[f"{what} {type(exc).__name__}"] += 1
        return None
    if answer.status_code != 200:
        FAILURES[f"{what} {answer.status_code} {answer.text[:40]}"] += 1
        return None
    return answer.json()


async def _web_person(client: httpx.AsyncClient, base: str) -> float | None:
    t0 = time.monotonic()
    if await ask(client, "send", "POST", f"{base}/chat/api/send",
                 json={"text": "/start"}) is None:
        return None
    after = 0
    while time.monotonic() - t0 < 120:
        answer = await ask(client, "events", "GET", f"{base}/chat/api/events",
                           params={"after": after})
        if answer is None:
            return None
        events = answer["events"]
        if any(e["kind"] == "message" and not e["message"]["mine"] for e in events):
            return time.monotonic() - t0
        after = max([after, *(e["seq"] for e in events)])
    return None


async def telegram_person(client: httpx.AsyncClient, fake: FakeBotAPI, recorder: Recorder,
                          webhook: str, i: int, delay: float) -> float | None:
    await asyncio.sleep(delay)
    user = SimUser(FIRST_PERSON + i)
    update = fake.user_message(user, "/start")
    t0 = time.monotonic()
    posted = await client.post(webhook, json=update,
                               headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
    if posted.status_code != 200:
        return None
    while time.monotonic() - t0 < 120:
        if user.id in recorder.first:
            return recorder.first[user.id] - t0
        await asyncio.sleep(0.005)
    return None


async def run(rates: list[int], seconds: float, webchats: int) -> bool:
    fake = FakeBotAPI()
    fake.queue_updates = False
    recorder = Recorder()
    recorder.install(fake)
    async with serving_fake(fake) as api_url:
        return await measure(fake, recorder, api_url, rates, seconds, webchats)


async def measure(fake: FakeBotAPI, recorder: Recorder, api_url: str, rates: list[int],
                  seconds: float, webchats: int) -> bool:
    bot_port = free_port()
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    web_ports = [free_port() for _ in range(webchats)]
    webs = [start_webchat(port, bot_port, prefix) for port in web_ports]
    bases = [f"http://127.0.0.1:{port}" for port in web_ports]
    for base in bases:
        await wait_http(f"{base}/healthz")
    bot = start_bot(api_url, prefix, bot_port, {
        "WEBCHAT_BOT_TOKEN": WEB_TOKEN, "WEBCHAT_API_URL": bases[0],
        "WEBCHAT_WEBHOOK_SECRET": WEB_SECRET, "LOG_LEVEL": "WARNING"})
    webhook = f"http://127.0.0.1:{bot_port}/webhook"
    ok = True
    client = httpx.AsyncClient(timeout=60.0, limits=httpx.Limits(max_connections=1000))
    pool = httpx.AsyncHTTPTransport(limits=httpx.Limits(max_connections=1000))
    try:
        try:
            await wait_http(webhook)
        except RuntimeError:
            raise RuntimeError(f"the bot did not start:\n{startup_failure(bot)}") from None
        for rate in rates:
            people = int(rate * seconds)
            figures: dict[str, tuple[list[float], int]] = {}
            for channel in ("telegram", "web"):
                if channel == "web":
                    tasks = [web_person(pool, bases[i % len(bases)], i / rate)
                             for i in range(people)]
                else:
                    offset = rate * 1000
                    tasks = [telegram_person(client, fake, recorder, webhook, offset + i,
                                             i / rate) for i in range(people)]
                results = await asyncio.gather(*tasks)
                times = [r for r in results if r is not None]
                figures[channel] = (times, people - len(times))
            (tg, tg_err), (web, web_err) = figures["telegram"], figures["web"]
            goal = (tg_err == web_err == 0
                    and percentile(web, 99) <= 3 * percentile(tg, 99) + 0.25)
            ok &= goal
            print(f"rate={rate}/s people={people}  telegram p50={percentile(tg, 50) * 1000:.0f}"
                  f" p99={percentile(tg, 99) * 1000:.0f} ms errors={tg_err}  |  web p50="
                  f"{percentile(web, 50) * 1000:.0f} p99={percentile(web, 99) * 1000:.0f} ms "
                  f"errors={web_err}  ratio p50={percentile(web, 50) / percentile(tg, 50):.1f}"
                  f"  -> {'goal met' if goal else 'GOAL MISSED'}"
                  + (f"  failures: {dict(FAILURES)}" if FAILURES else ""), flush=True)
            FAILURES.clear()
    finally:
        await client.aclose()
        await pool.aclose()
        for proc in [bot, *webs]:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in [bot, *webs]:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=20)
        await clean_redis(prefix, REDIS_URL)
        await clean_redis(f"{prefix}-web", REDIS_URL)
    return ok


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rates", default="25,50,100")
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--webchats", type=int, default=2)
    args = parser.parse_args()
    ok = asyncio.run(run([int(r) for r in args.rates.split(",")], args.seconds, args.webchats))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()


