"""`python -m referral_api` serves the API with uvicorn; subcommands manage the database.

    python -m referral_api [--host 127.0.0.1] [--port 8000]
    python -m referral_api seed-partners FILE     idempotent upsert of partners.yaml
    python -m referral_api upgrade                 run the migrations (like `alembic upgrade head`)

Settings come from the environment and .env (referral_api.settings).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from referral_api.clock import system_clock
from referral_api.db.engine import create_engine, create_sessionmaker
from referral_api.db.migrate import upgrade_database
from referral_api.partners.schemas import SeedResult
from referral_api.partners.service import PartnerService
from referral_api.settings import Settings


def load_seed_file(path: Path) -> list[dict[str, Any]]:
    """The `partners:` list of a seed file such as ../shared/data/partners.yaml."""
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    partners = document.get("partners") if isinstance(document, dict) else None
    if not isinstance(partners, list) or not all(isinstance(p, dict) for p in partners):
        raise ValueError(f"{path}: expected a 'partners:' list of mappings")
    return partners


async def seed_partners(settings: Settings, path: Path) -> SeedResult:
    records = load_seed_file(path)
    engine = create_engine(settings.database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            return await PartnerService(session, settings, system_clock).seed(records)
    finally:
        await engine.dispose()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m referral_api",
                                     description="CONEX referral API")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    commands = parser.add_subparsers(dest="command")
    seed = commands.add_parser("seed-partners", help="upsert partners from a YAML file")
    seed.add_argument("file", type=Path)
    commands.add_parser("upgrade", help="upgrade the database to the latest migration")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = Settings()
    if args.command == "seed-partners":
        result = asyncio.run(seed_partners(settings, args.file))
        print(f"partners: {result.created} created, {result.updated} updated, "
              f"{result.unchanged} unchanged")
        return 0
    if args.command == "upgrade":
        asyncio.run(upgrade_database(settings.database_url))
        print("database upgraded")
        return 0

    import uvicorn

    uvicorn.run("referral_api.app:app_factory", factory=True, host=args.host, port=args.port,
                access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
