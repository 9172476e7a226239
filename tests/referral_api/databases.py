"""Throw-away PostgreSQL databases for the tests (TEST_DATABASE_URL names the server)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg
import pytest
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from referral_api.db.all_models import metadata

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL",
                                   "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _server_execute(sql: str) -> None:
    connection = await asyncpg.connect(_asyncpg_dsn(TEST_DATABASE_URL))
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@contextmanager
def temporary_database() -> Iterator[str]:
    """A new, empty database for the duration of the block; yields its SQLAlchemy URL.
    Called outside any running event loop (session fixtures, synchronous tests)."""
    name = f"conex_test_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_server_execute(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(f"PostgreSQL is required at {TEST_DATABASE_URL}: {exc}")
    try:
        yield make_url(TEST_DATABASE_URL).set(database=name).render_as_string(
            hide_password=False)
    finally:
        asyncio.run(_server_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def empty_tables(app: FastAPI) -> None:
    """DELETE every row, children first (much faster than TRUNCATE on tables this small)."""
    async with app.state.context.engine.begin() as connection:
        for table in reversed(metadata().sorted_tables):
            await connection.execute(table.delete())
