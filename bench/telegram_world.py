"""What the Telegram benchmarks share: the fake Bot API over real HTTP with Telegram's limits
enforced, and the bot as separate `python -m bot --webhook` processes on the same Redis.

The fake runs in the benchmark's process (uvicorn); it records, per chat, when the bot's first
message arrived. People are "opened" in the fake, then their updates are POSTed to the bot's
webhook with the secret header, as Telegram would.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from simulator.botapi import FakeBotAPI  # noqa: E402
from simulator.server import create_app  # noqa: E402

TOKEN = "7777:bench-token"
SECRET = "bench-webhook-secret"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
# The checkout whose bot is measured (default: this one). Set it to a worktree of an older
# commit to measure "before" with the same fake and the same load.
BOT_ROOT = Path(os.environ.get("BENCH_BOT_ROOT", str(ROOT)))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Recorder:
    """When each chat got its first bot message, and every message's time."""

    first: dict[int, float] = field(default_factory=dict)
    sent: list[tuple[float, int]] = field(default_factory=list)

    def install(self, fake: FakeBotAPI) -> None:
        original = fake._send_message

        async def send(token: str, params: dict[str, Any]) -> dict[str, Any]:
            result = await original(token, params)
            now = time.monotonic()
            chat = int(params["chat_id"])
            self.sent.append((now, chat))
            self.first.setdefault(chat, now)
            return result

        fake._methods["sendMessage"] = send


@dataclass
class World:
    fake: FakeBotAPI
    recorder: Recorder
    api_url: str
    prefix: str
    bots: list[subprocess.Popen[bytes]]
    webhook_urls: list[str]
    client: httpx.AsyncClient

    async def post(self, update: dict[str, Any], replica: int = 0) -> int:
        url = self.webhook_urls[replica % len(self.webhook_urls)]
        answer = await self.client.post(url, json=update,
                                        headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
        return answer.status_code


def bot_env(api_url: str, prefix: str, port: int, extra: dict[str, str] | None = None
            ) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REFERRAL_", "DATABASE"))}
    env.update({
        "BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": api_url, "REDIS_URL": REDIS_URL,
        "REDIS_PREFIX": prefix, "WEBHOOK_SECRET": SECRET, "WEBHOOK_URL": "https://bench.invalid",
        "WEBHOOK_HOST": "127.0.0.1", "WEBHOOK_PORT": str(port), "PSEUDONYM_KEY": "",
    })
    env.update(extra or {})
    return env


async def wait_http(url: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                await client.get(url)
                return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


@contextlib.asynccontextmanager
async def serving_fake(fake: FakeBotAPI) -> AsyncIterator[str]:
    """The fake Bot API over HTTP in this process (uvicorn); yields its URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(fake), host="127.0.0.1", port=port,
                                           log_level="warning"))
    server_task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await server_task


@contextlib.asynccontextmanager
async def world(limits: str | None, replicas: int = 1,
                extra_env: dict[str, str] | None = None,
                redis_url: str = REDIS_URL) -> AsyncIterator[World]:
    fake = FakeBotAPI(limits=limits)
    fake.queue_updates = False
    recorder = Recorder()
    recorder.install(fake)
    async with serving_fake(fake) as api_url:
        prefix = f"bench-{uuid.uuid4().hex[:8]}"
        bots, urls = [], []
        env = {"REDIS_URL": redis_url, **(extra_env or {})}
        for _ in range(replicas):
            port = free_port()
            bots.append(start_bot(api_url, prefix, port, env))
            urls.append(f"http://127.0.0.1:{port}/webhook")
        client = httpx.AsyncClient(timeout=30.0, limits=httpx.Limits(max_connections=200))
        try:
            for url, proc in zip(urls, bots, strict=True):
                try:
                    await wait_http(url)
                except RuntimeError:
                    raise RuntimeError(f"the bot did not start:\n{startup_failure(proc)}") from None
            yield World(fake, recorder, api_url, prefix, bots, urls, client)
        finally:
            await client.aclose()
            for proc in bots:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            for proc in bots:
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
            await clean_redis(prefix, redis_url)


def start_bot(api_url: str, prefix: str, port: int,
              extra_env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """A bot webhook process; its log goes to a temporary file (shown if it fails to start)."""
    log = tempfile.NamedTemporaryFile(prefix="bench-bot-", suffix=".log", delete=False)  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "--webhook"], cwd=BOT_ROOT,
        env=bot_env(api_url, prefix, port, extra_env),
        stdout=subprocess.DEVNULL, stderr=log)
    LOGS[proc.pid] = log.name
    return proc


LOGS: dict[int, str] = {}


def startup_failure(proc: subprocess.Popen[bytes]) -> str:
    path = LOGS.get(proc.pid)
    text = Path(path).read_text(errors="replace") if path else ""
    return "\n".join(text.splitlines()[-15:])


async def clean_redis(prefix: str, redis_url: str = REDIS_URL) -> None:
    from redis.asyncio import Redis

    redis = Redis.from_url(redis_url)
    keys = [k async for k in redis.scan_iter(match=f"{prefix}:*", count=1000)]
    for i in range(0, len(keys), 500):
        await redis.delete(*keys[i:i + 500])
    await redis.aclose()


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]
