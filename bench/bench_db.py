"""A PostgreSQL database of its own for a benchmark run (created fresh, dropped at the end), on
the server of BENCH_PG (default: the local one, trust auth)."""

from __future__ import annotations

import os

import asyncpg

ADMIN_URL = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


async def fresh_database(name: str) -> str:
    """An empty database ``name`` (dropped first if a run left it); its libpq URL."""
    admin = await asyncpg.connect(ADMIN_URL)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}"


def sqlalchemy_url(url: str) -> str:
    """The URL as DATABASE_URL wants it (SQLAlchemy with asyncpg)."""
    return url.replace("postgresql://", "postgresql+asyncpg://", 1)


async def drop_database(name: str) -> None:
    admin = await asyncpg.connect(ADMIN_URL)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
