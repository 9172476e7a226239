"""Fixtures of the referral API tests: a real PostgreSQL, the real app, real HTTP (in process).

The session gets its own database (`conex_test_<random>`, created at start, dropped at the end),
migrated once with Alembic. Each test starts from empty tables (DELETE), so tests commit for
real: the slot race needs two transactions that truly compete.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from alembic import command
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from referral_api.__main__ import load_seed_file
from referral_api.app import create_app, create_context
from referral_api.crypto import DataVault
from referral_api.db.migrate import alembic_config
from referral_api.partners.schemas import SeedResult
from referral_api.partners.service import PartnerService
from referral_api.settings import Settings
from tests.referral_api.databases import empty_tables, temporary_database
from tests.referral_api.factories import (
    ADMIN_TOKEN,
    CHEAP_ARGON2,
    COORDINATOR_CHAT_ID,
    DATA_KEY,
    SEED_FILE,
    SERVICE_TOKEN,
    make_client,
)


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """The session's own database, migrated to head once."""
    with temporary_database() as url:
        command.upgrade(alembic_config(url), "head")
        yield url


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "service_token": SecretStr(SERVICE_TOKEN),
        "admin_token": SecretStr(ADMIN_TOKEN),
        "data_key": SecretStr(DATA_KEY),
        "coordinator_chat_id": COORDINATOR_CHAT_ID,
        **CHEAP_ARGON2,
        **overrides,
    }
    return Settings(_env_file=None, **values)


@pytest.fixture
def api_settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture(scope="session")
def wired_app(database_url: str) -> FastAPI:
    """The FastAPI app, wired once per session (building the routes takes ~80 ms)."""
    return create_app(make_settings(database_url))


@pytest.fixture
async def app(wired_app: FastAPI, api_settings: Settings) -> AsyncIterator[FastAPI]:
    """The app with a fresh context (engine, pool, vault) for this test's event loop, on the
    session database with its tables emptied first."""
    context = create_context(api_settings)
    wired_app.state.context = context
    await empty_tables(wired_app)
    yield wired_app
    await context.aclose()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The bot's view: the service token."""
    async with make_client(app, SERVICE_TOKEN) as client:
        yield client


@pytest.fixture
async def admin(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(app, ADMIN_TOKEN) as client:
        yield client


@pytest.fixture
async def session(app: FastAPI) -> AsyncIterator[AsyncSession]:
    async with app.state.context.sessionmaker() as session:
        yield session


@pytest.fixture
def vault(app: FastAPI) -> DataVault:
    vault: DataVault = app.state.context.vault
    return vault


@pytest.fixture
async def seeded(app: FastAPI, api_settings: Settings) -> SeedResult:
    """The partners of ../shared/data/partners.yaml."""
    async with app.state.context.sessionmaker() as session:
        return await PartnerService(session, api_settings, app.state.context.clock).seed(
            load_seed_file(SEED_FILE))
