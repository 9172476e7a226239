"""It starts as written (issue 16, item 1): every service of docker-compose.yml gets exactly the
environment compose would give it from .env.example (its empty values included, with only the
secrets a deployer must set filled in), and its settings load, in a process of its own with no
.env file: the migration runs on a fresh database, the API app and the outbox worker are built,
and the bot's dispatcher is made. `COORDINATOR_CHAT_ID=` (empty) used to stop every one of them
(`int_parsing`)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.fernet import Fernet

from tests.referral_api.databases import temporary_database

PROJECT = Path(__file__).resolve().parents[2]
SECRETS = {  # what .env.example leaves for the deployer to fill in (compose: ${VAR:?})
    "POSTGRES_PASSWORD": "pw", "SERVICE_TOKEN": "s" * 32, "ADMIN_TOKEN": "a" * 32,
    "DATA_KEY": Fernet.generate_key().decode(), "BOT_TOKEN": "123456:ABCDEFGH",
    "WEBHOOK_URL": "https://bot.example/webhook", "WEBHOOK_SECRET": "w" * 32,
    "PSEUDONYM_KEY": "p" * 32, "WEBCHAT_BOT_TOKEN": "2000001:" + "x" * 32,
    "WEBCHAT_WEBHOOK_SECRET": "y" * 32, "TRUSTED_PROXIES": "10.0.0.0/8",
}
VARIABLE = re.compile(r"\$\{(\w+)(?::([-?])([^}]*))?\}")


def env_example() -> dict[str, str]:
    values: dict[str, str] = {}
    for line in (PROJECT / ".env.example").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def interpolate(text: str, variables: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?message} (unset or empty: the default, or
    an error)."""
    def one(match: re.Match[str]) -> str:
        name, kind, rest = match.group(1), match.group(2), match.group(3)
        value = variables.get(name, "")
        if value:
            return value
        if kind == "?":
            raise AssertionError(f"compose would refuse to start: {name} ({rest})")
        return rest if kind == "-" else ""
    return VARIABLE.sub(one, text)


def service_environments() -> dict[str, dict[str, str]]:
    compose = yaml.safe_load((PROJECT / "docker-compose.yml").read_text(encoding="utf-8"))
    variables = {**env_example(), **SECRETS}
    out = {}
    for name, service in compose["services"].items():
        if name in ("postgres", "redis"):
            continue
        environment: dict[str, Any] = service.get("environment") or {}
        out[name] = {key: interpolate(str(value), variables)
                     for key, value in environment.items()}
    return out


STARTS = {  # what each service does first, in a process with only that environment
    "migrate": "from referral_api.db.migrate import upgrade_database;"
               "from referral_api.settings import Settings;"
               "import asyncio; asyncio.run(upgrade_database(Settings().database_url))",
    "api": "from referral_api.app import app_factory; app_factory()",
    "staff": "from referral_api.app import app_factory; app_factory()",
    "worker": "from referral_api.settings import Settings;"
              "from referral_api.housekeeping import create_worker;"
              "from referral_api.app import create_context;"
              "from aiogram import Bot; s = Settings(); c = create_context(s);"
              "create_worker(s, Bot(token=s.bot_token.get_secret_value()),"
              " c.sessionmaker, c.vault)",
    "bot": "from bot.settings import Settings; from bot.app import create_dispatcher,"
           " create_web_bot; s = Settings(); assert s.webhook_secret and s.bot_token;"
           " assert s.webchat_webhook_secret and create_web_bot(s); create_dispatcher(s)",
    "webchat": "from webchat.__main__ import app_factory; app_factory()",
}


@pytest.fixture(scope="module")
def database_url() -> Any:
    with temporary_database() as url:
        yield url


@pytest.mark.parametrize("service", sorted(STARTS))
def test_each_service_starts_with_the_environment_compose_gives_it(
        service: str, database_url: str, tmp_path: Path) -> None:
    environment = service_environments()[service]
    assert environment.get("COORDINATOR_CHAT_ID", "") == ""  # the case that broke it
    local = {**environment, "DATABASE_URL": database_url,  # compose's hosts are not here
             "REDIS_URL": os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
             "PATH": os.environ["PATH"], "PYTHONPATH": str(PROJECT)}
    started = subprocess.run([sys.executable, "-c", STARTS[service]], env=local, cwd=tmp_path,
                             capture_output=True, text=True, timeout=120, check=False)
    assert started.returncode == 0, started.stderr[-2000:]
