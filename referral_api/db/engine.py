"""Async engine and session factory: PostgreSQL (asyncpg), or SQLite (aiosqlite) for the demo."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine. For SQLite: the folder of the file is created, foreign keys are
    enforced (cascading deletes rely on them) and SQLAlchemy emits BEGIN itself, so that
    SAVEPOINTs (slot claims) really nest inside the transaction. BEGIN IMMEDIATE takes the
    write lock up front: concurrent demo requests wait (busy_timeout) instead of failing when
    a reader turns writer."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        kwargs.setdefault("pool_pre_ping", True)
        return create_async_engine(url, **kwargs)

    database = parsed.database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, **kwargs)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None  # the driver must not BEGIN on its own
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def pool_options(url: str, size: int) -> dict[str, Any]:
    """A pool of `size` connections and as many more at peaks; a request waits at most 10 s
    for one (then an error page, never a request hanging): none for SQLite (no pool)."""
    if make_url(url).get_backend_name() == "sqlite":
        return {}
    return {"pool_size": size, "max_overflow": size, "pool_timeout": 10}


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
