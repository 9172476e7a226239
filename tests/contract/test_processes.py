"""The processes as an orchestrator runs them (issue 16, item 6): each starts and answers
/healthz, says in one line why when it cannot start, and on SIGTERM stops taking work, finishes
or hands back what it holds and exits with 0 within 10 s (Kubernetes' grace period is 30 s; a
rolling update must never wait for it). Real processes, the fake Bot API over HTTP, Redis and
PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from cryptography.fernet import Fernet

from simulator.botapi import ApiError, FakeBotAPI, SimUser
from simulator.server import create_app
from tests.conftest import REDIS_URL
from tests.harness import free_port
from tests.referral_api.databases import temporary_database

PROJECT = Path(__file__).resolve().parents[2]
TOKEN = "4242:process-test-token"
SECRET = "process-test-secret"
STOP_WITHIN = 10.0  # seconds from SIGTERM to exit: a deadline, not a speed measurement


@dataclass
class Telegram:
    fake: FakeBotAPI
    url: str
    calls: list[str]


@pytest.fixture
async def telegram() -> AsyncIterator[Telegram]:
    """The fake Bot API over real HTTP (the processes talk to it as to Telegram)."""
    fake = FakeBotAPI()
    fake.queue_updates = False
    calls: list[str] = []
    call = fake.call

    async def recording(token: str, method: str, params: dict[str, Any]) -> Any:
        calls.append(method)
        return await call(token, method, params)

    fake.call = recording  # type: ignore[method-assign]
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(fake), host="127.0.0.1", port=port,
                                           log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event
        await asyncio.sleep(0.02)
    yield Telegram(fake, f"http://127.0.0.1:{port}", calls)
    server.should_exit = True
    await task


def environment(**extra: str) -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "VIRTUAL_ENV")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update({"PYTHONPATH": str(PROJECT), "LOG_FORMAT": "json", **extra})
    return env


def bot_env(telegram_url: str, prefix: str, port: int, **extra: str) -> dict[str, str]:
    return environment(BOT_TOKEN=TOKEN, TELEGRAM_API_URL=telegram_url, REDIS_URL=REDIS_URL,
                       REDIS_PREFIX=prefix, WEBHOOK_SECRET=SECRET,
                       WEBHOOK_URL="https://bot.invalid", WEBHOOK_HOST="127.0.0.1",
                       WEBHOOK_PORT=str(port), **extra)


def read(log: Path) -> str:
    return log.read_text(encoding="utf-8", errors="replace")


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, *args], cwd=PROJECT, env=env,
                                stdout=subprocess.DEVNULL, stderr=out)


async def healthy(url: str, proc: subprocess.Popen[bytes], log: Path,
                  seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"exited with {proc.returncode}:\n{read(log)}")
            try:
                if (await client.get(url)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"{url} did not answer:\n{read(log)[-3000:]}")


async def stop(proc: subprocess.Popen[bytes], log: Path,
               last_words: str | None = None) -> list[dict[str, Any]]:
    """SIGTERM; the process must be gone within STOP_WITHIN with 0, and log no error.
    Uvicorn, once it has shut down cleanly, re-raises the signal (exit -15, as a shell expects
    of a process stopped by a signal): for the API, ``last_words`` (its last log event) shows
    the clean shutdown instead."""
    proc.send_signal(signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        await asyncio.to_thread(proc.wait, STOP_WITHIN)
    if proc.poll() is None:
        proc.kill()
        raise AssertionError(f"still running {STOP_WITHIN} s after SIGTERM:\n"
                             f"{read(log)[-3000:]}")
    lines = [json.loads(line) for line in read(log).splitlines()
             if line.startswith("{")]
    errors = [line for line in lines if line["level"] in ("error", "critical")]
    if last_words is None:
        assert proc.returncode == 0, read(log)[-3000:]
    else:
        assert proc.returncode in (0, -signal.SIGTERM), read(log)[-3000:]
        assert lines and last_words in lines[-1]["event"], read(log)[-3000:]
    assert not errors, errors
    return lines


async def answered(fake: FakeBotAPI, users: list[SimUser], seconds: float = 60.0) -> int:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        done = sum(1 for u in users if any(not e["message"]["mine"]
                                           for e in fake.open_chat(u).events
                                           if e["kind"] == "message"))
        if done == len(users):
            break
        await asyncio.sleep(0.1)
    return done


async def test_the_bot_registers_its_webhook_and_on_sigterm_hands_back_what_it_holds(
        telegram: Telegram, prefix: str, tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "bot.log"
    proc = start(["-m", "bot", "--webhook"], bot_env(telegram.url, prefix, port), log)
    await healthy(f"http://127.0.0.1:{port}/healthz", proc, log)
    assert "setWebhook" in telegram.calls  # registered before it answers
    # Forty people write; the bot is stopped while their updates are in the inbox or in hand.
    users = [SimUser(9_100_000 + i) for i in range(40)]
    async with httpx.AsyncClient() as client:
        for user in users:
            answer = await client.post(f"http://127.0.0.1:{port}/webhook",
                                       json=telegram.fake.user_message(user, "/start"),
                                       headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
            assert answer.status_code == 200
    lines = await stop(proc, log)
    assert any(line["event"] == "webhook registered" for line in lines)
    # A new replica takes the inbox over at once (the leases were handed back): nobody is lost.
    port = free_port()
    log2 = tmp_path / "bot2.log"
    proc = start(["-m", "bot", "--webhook"], bot_env(telegram.url, prefix, port), log2)
    await healthy(f"http://127.0.0.1:{port}/healthz", proc, log2)
    assert await answered(telegram.fake, users) == len(users)
    await stop(proc, log2)


@pytest.mark.parametrize(("case", "expected"), [
    ("bad_token", "Telegram refused BOT_TOKEN (401 Unauthorized)"),
    ("no_telegram", "could not reach Telegram at http://127.0.0.1:9"),
])
async def test_the_bot_says_why_it_cannot_start(telegram: Telegram, prefix: str,
                                                tmp_path: Path, case: str,
                                                expected: str) -> None:
    url = telegram.url
    if case == "bad_token":
        telegram.fake.failures.extend([(m, ApiError(401, "Unauthorized")) for m in (
            "setWebhook", "getMe", "setMyCommands", "deleteMyCommands")] * 5)
    else:
        url = "http://127.0.0.1:9"  # nobody listens on the discard port
    started = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "bot", "--webhook"], cwd=PROJECT,
        env=bot_env(url, prefix, free_port()), capture_output=True, text=True, timeout=120,
        check=False)
    assert started.returncode == 2
    said = [line for line in started.stderr.splitlines() if line.startswith("error: ")]
    assert len(said) == 1 and expected in said[0], started.stderr[-2000:]
    assert started.stderr.strip().splitlines()[-1] == said[0]  # the last word, nothing after
    assert TOKEN.split(":")[1] not in started.stderr  # never the token


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    with temporary_database() as url:
        subprocess.run([sys.executable, "-m", "referral_api", "upgrade"], cwd=PROJECT,
                       env=environment(DATABASE_URL=url, DATA_KEY=Fernet.generate_key().decode(),
                                       SERVICE_TOKEN="s" * 32), check=True,
                       capture_output=True)
        yield url


def api_env(database_url: str, prefix: str, **extra: str) -> dict[str, str]:
    return environment(DATABASE_URL=database_url, DATA_KEY=Fernet.generate_key().decode(),
                       SERVICE_TOKEN="s" * 32, ADMIN_TOKEN="a" * 32, REDIS_URL=REDIS_URL,
                       REDIS_PREFIX=prefix, **extra)


async def test_the_api_and_the_worker_stop_within_ten_seconds(
        telegram: Telegram, database_url: str, prefix: str, tmp_path: Path) -> None:
    api_port, worker_port = free_port(), free_port()
    api_log, worker_log = tmp_path / "api.log", tmp_path / "worker.log"
    api = start(["-m", "referral_api", "--port", str(api_port)],
                api_env(database_url, prefix), api_log)
    worker = start(["-m", "referral_api.outbox"],
                   api_env(database_url, prefix, BOT_TOKEN=TOKEN,
                           TELEGRAM_API_URL=telegram.url, WORKER_HTTP_PORT=str(worker_port)),
                   worker_log)
    try:
        await healthy(f"http://127.0.0.1:{api_port}/readyz", api, api_log)
        await healthy(f"http://127.0.0.1:{worker_port}/readyz", worker, worker_log)
        async with httpx.AsyncClient() as client:
            metrics = await client.get(f"http://127.0.0.1:{worker_port}/metrics")
            assert "conex_outbox_due" in metrics.text
        api_lines = await stop(api, api_log, last_words="Finished server process")
        worker_lines = await stop(worker, worker_log)
    finally:
        for proc in (api, worker):
            if proc.poll() is None:
                proc.kill()
    assert any(line["event"] == "worker stopped" for line in worker_lines)
    assert all(line.get("process") == "api" for line in api_lines)
