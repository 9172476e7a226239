"""Alembic environment: async engines (asyncpg, aiosqlite), URL from DATABASE_URL / Settings.

The URL never comes from alembic.ini. Order: `config.attributes["database_url"]` (set by
`referral_api.db.migrate`), then `Settings().database_url` (environment, .env, default).
When `config.attributes["connection"]` holds a connection, migrations run on it.
"""

from __future__ import annotations

import asyncio
from logging.config import fileConfig

from alembic import context
from sqlalchemy.engine import Connection

from referral_api.db.all_models import metadata
from referral_api.db.engine import create_engine
from referral_api.settings import Settings

config = context.config
if config.config_file_name is not None:  # the alembic command line, not the programmatic API
    fileConfig(config.config_file_name, disable_existing_loggers=False)
target_metadata = metadata()


def _database_url() -> str:
    url = config.attributes.get("database_url")
    if isinstance(url, str) and url:
        return url
    return Settings().database_url


def _configure(connection: Connection | None = None, url: str | None = None) -> None:
    if connection is not None:
        is_sqlite = connection.dialect.name == "sqlite"
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=is_sqlite, compare_type=True)
    else:
        context.configure(url=url, target_metadata=target_metadata, literal_binds=True,
                          dialect_opts={"paramstyle": "named"},
                          render_as_batch=bool(url and url.startswith("sqlite")))


def run_migrations_offline() -> None:
    _configure(url=_database_url())
    with context.begin_transaction():
        context.run_migrations()


def _run_sync(connection: Connection) -> None:
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_engine(_database_url())
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_sync)
            await connection.commit()
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if isinstance(connection, Connection):
        _run_sync(connection)
    else:
        asyncio.run(_run_async())


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
