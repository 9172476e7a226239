"""Run the Alembic migrations programmatically (the demo, `python -m referral_api upgrade`).

`alembic upgrade head` with the project's alembic.ini does the same from the command line.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

from referral_api.db.engine import create_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str | None = None, connection: Connection | None = None) -> Config:
    """An Alembic Config that needs no alembic.ini: the scripts are found next to this file.
    `url` overrides DATABASE_URL; `connection` makes env.py run on that connection."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        config.attributes["database_url"] = url
    if connection is not None:
        config.attributes["connection"] = connection
    return config


async def upgrade_database(url: str, revision: str = "head") -> None:
    """Upgrade the database at `url` to `revision`. Usable from inside a running event loop."""
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(
                lambda sync: command.upgrade(alembic_config(url, sync), revision)
            )
    finally:
        await engine.dispose()
