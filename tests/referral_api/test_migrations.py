"""Alembic migrations: up, down and up again on PostgreSQL; the models match the migrations;
the same migrations build a working SQLite database for the demo."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text

from referral_api.db.all_models import metadata
from referral_api.db.engine import create_engine
from referral_api.db.migrate import alembic_config, upgrade_database
from tests.referral_api.databases import temporary_database

TABLES = {"partners", "partner_availability", "partner_counsellors", "referrals", "slot_claims",
          "referral_events", "relay_messages", "outbox", "staff_accounts", "audit_log",
          "followup_enrolments", "followup_waves", "followup_responses",
          "campaigns", "signal_events", "signal_journeys", "translation_reviews",
          "voice_recordings"}


def _state(connection: Connection) -> tuple[set[str], str | None, list[object]]:
    tables = set(inspect(connection).get_table_names()) - {"alembic_version"}
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return tables, context.get_current_revision(), compare_metadata(context, metadata())


async def _inspect(url: str) -> tuple[set[str], str | None, list[object]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_state)
    finally:
        await engine.dispose()


def test_upgrade_downgrade_upgrade_on_postgresql() -> None:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head == "0012_signal_channel"
    with temporary_database() as url:
        config = alembic_config(url)
        command.upgrade(config, "head")
        tables, revision, diff = asyncio.run(_inspect(url))
        assert tables == TABLES
        assert revision == head
        assert diff == []  # the models and the migrations describe the same schema

        command.downgrade(config, "base")
        tables, revision, _ = asyncio.run(_inspect(url))
        assert tables == set()
        assert revision is None

        command.upgrade(config, "head")
        tables, revision, diff = asyncio.run(_inspect(url))
        assert tables == TABLES
        assert revision == head
        assert diff == []


async def test_upgrade_database_builds_sqlite_for_the_demo(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'var' / 'demo.db'}"
    await upgrade_database(url)  # also creates the folder; callable inside an event loop
    await upgrade_database(url)  # already at head: nothing to do
    tables, revision, diff = await _inspect(url)
    assert tables == TABLES
    assert revision == "0012_signal_channel"
    assert diff == []
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            assert (await connection.execute(text("PRAGMA foreign_keys"))).scalar() == 1
    finally:
        await engine.dispose()
