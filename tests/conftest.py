from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from pydantic import SecretStr
from redis.asyncio import Redis

from bot.app import create_bot, create_stores
from bot.settings import PROJECT_DIR, Settings
from referral_api.settings import Settings as ApiSettings
from referral_api.staff import service as staff_service
from simulator.botapi import FakeBotAPI
from simulator.session import InProcessSession
from tests.harness import Harness, dispatcher_for, web_side
from tests.referral_api.factories import CHEAP_ARGON2

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
TEST_TOKEN = "4242:test-token"


def pytest_sessionstart(session: pytest.Session) -> None:
    """Compile the catalogues, so that `pytest` alone works as well as `make test`."""
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "compile", "-d", "locales",
         "-D", "messages"],
        cwd=PROJECT_DIR, check=True, capture_output=True,
    )


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing() -> Iterator[None]:
    """Staff accounts made or logged in during tests hash at the test settings' argon2 cost
    (CHEAP_ARGON2), wherever the app builds an AccountService without a hasher; production
    keeps argon2-cffi's defaults."""
    hasher = staff_service.password_hasher(ApiSettings(_env_file=None, **CHEAP_ARGON2))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(staff_service, "default_password_hasher", lambda: hasher)
        yield


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


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Modules marked `channels` run every test that uses the harness on both channels:
    Telegram and the web chat (issue 19: one conversation suite)."""
    chosen = any("channel" in [n.strip() for n in str(m.args[0]).split(",")]
                 for m in metafunc.definition.iter_markers("parametrize"))  # picks its own
    if ("channel" in metafunc.fixturenames and not chosen
            and metafunc.definition.get_closest_marker("channels") is not None):
        metafunc.parametrize("channel", ["telegram", "web"], indirect=True)


@pytest.fixture
def channel(request: pytest.FixtureRequest) -> str:
    """The person's channel: "telegram" unless the module is marked `channels`."""
    return str(getattr(request, "param", "telegram"))


@pytest.fixture
async def harness(settings: Settings, redis: Redis, prefix: str,
                  channel: str) -> AsyncIterator[Harness]:
    fake = FakeBotAPI()
    fake.queue_updates = False
    bot = create_bot(settings, session=InProcessSession(fake))
    dp = dispatcher_for(settings, stores=create_stores(settings, redis))
    yield Harness(fake, bot, dp, web=web_side(redis, prefix) if channel == "web" else None)
    keys = [k for match in (f"{prefix}:*", f"webchat-{prefix}:*")
            async for k in redis.scan_iter(match=match)]
    if keys:
        await redis.delete(*keys)




@pytest.fixture(scope="session")
def recording(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A short spoken Arabic sentence as OGG/Opus (what Telegram's voice messages are), made
    with espeak-ng and opusenc (Debian's packages; .ci/run installs them)."""
    for tool in ("espeak-ng", "opusenc"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is needed (apt-get install espeak-ng opus-tools)")
    folder = tmp_path_factory.mktemp("voice")
    wav, ogg = folder / "welcome.wav", folder / "welcome.ogg"
    subprocess.run(["espeak-ng", "-v", "ar", "-w", str(wav), "مرحبا. هنا معلومات مجانية."],
                   check=True, capture_output=True)
    subprocess.run(["opusenc", "--quiet", str(wav), str(ogg)], check=True, capture_output=True)
    return ogg.read_bytes()
