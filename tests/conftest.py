from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr
from redis.asyncio import Redis

from bot.app import create_bot, create_dispatcher, create_stores
from bot.settings import PROJECT_DIR, Settings
from simulator.botapi import FakeBotAPI
from simulator.session import InProcessSession
from tests.harness import Harness

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
TEST_TOKEN = "4242:test-token"


def pytest_sessionstart(session: pytest.Session) -> None:
    """Compile the catalogues, so that `pytest` alone works as well as `make test`."""
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "compile", "-d", "locales",
         "-D", "messages"],
        cwd=PROJECT_DIR, check=True, capture_output=True,
    )


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except Exception as exc:
        pytest.fail(f"Redis is required at {REDIS_URL}: {exc}")
    yield client
    await client.aclose()


@pytest.fixture
def prefix() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def settings(prefix: str) -> Settings:
    return Settings(_env_file=None, bot_token=SecretStr(TEST_TOKEN), redis_prefix=prefix,
                    redis_url=None, telegram_api_url=None)


@pytest.fixture
async def harness(settings: Settings, redis: Redis, prefix: str) -> AsyncIterator[Harness]:
    fake = FakeBotAPI()
    fake.queue_updates = False
    bot = create_bot(settings, session=InProcessSession(fake))
    dp = create_dispatcher(settings, stores=create_stores(settings, redis))
    yield Harness(fake, bot, dp)
    keys = [k async for k in redis.scan_iter(match=f"{prefix}:*")]
    if keys:
        await redis.delete(*keys)


