"""`python -m referral_api` serves the API with uvicorn; subcommands manage the database.

    python -m referral_api [--host 127.0.0.1] [--port 8000]
    python -m referral_api seed-partners FILE     idempotent upsert of partners.yaml
    python -m referral_api upgrade                 run the migrations (like `alembic upgrade head`)
    python -m referral_api create-admin --email E [--password P]   the first staff account
    python -m referral_api create-account --email E --role R [--partner ID] [--locale nl]
                                                   (the password is asked when not given)
    python -m referral_api followup import FILE.csv   pilot-format responses (idempotent)
    python -m referral_api followup report [--format text|csv|html] [--publication] [--out DIR]
    python -m referral_api followup send-next-wave --chat-id N   (demo: queue the next wave now)
    python -m referral_api lookup-key              the LOOKUP_KEY value to pin (key rotation)
    python -m referral_api rotate-keys [--batch-size 500]   re-encrypt with DATA_KEY's newest key

Settings come from the environment and .env (referral_api.settings).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from ops.logs import configure as configure_logs
from referral_api.admin.service import seed_partners as seed_partner_records
from referral_api.clock import system_clock
from referral_api.db.engine import create_engine, create_sessionmaker
from referral_api.db.migrate import upgrade_database
from referral_api.errors import DomainError
from referral_api.followup.importer import ImportFailed, ImportResult, import_responses
from referral_api.followup.report import Report, load_rows, render_csv, render_text
from referral_api.followup.report import build as build_report
from referral_api.partners.schemas import SeedResult
from referral_api.settings import LOCALES_DIR, ConfigError, Settings
from referral_api.staff.languages import parse_languages, shipped_catalogues
from referral_api.staff.models import LOCALES, ROLES
from referral_api.staff.service import AccountService, password_hasher
from referral_api.translations.catalogues import Imported, import_reviews

# The structured reading of the seed file's free text (hours, address remarks), by partner id.
SEED_STRUCTURE = Path(__file__).parent / "partners" / "seed_structure.yaml"


def load_seed_file(path: Path) -> list[dict[str, Any]]:
    """The `partners:` list of a seed file such as ../shared/data/partners.yaml, each record
    with its structured reading laid over it (partners/seed_structure.yaml)."""
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    partners = document.get("partners") if isinstance(document, dict) else None
    if not isinstance(partners, list) or not all(isinstance(p, dict) for p in partners):
        raise ValueError(f"{path}: expected a 'partners:' list of mappings")
    structure = yaml.safe_load(SEED_STRUCTURE.read_text(encoding="utf-8")) or {}
    return [{**record, **structure.get(record.get("id"), {})} for record in partners]


async def seed_partners(settings: Settings, path: Path) -> SeedResult:
    records = load_seed_file(path)
    engine = create_engine(settings.database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            return await seed_partner_records(session, settings, system_clock, records)
    finally:
        await engine.dispose()


async def create_account(settings: Settings, *, email: str, password: str, role: str,
                         partner_id: str | None, locale: str,
                         languages: str | None = None) -> int:
    """A staff account; returns its id. Raises DomainError (invalid data, e-mail taken)."""
    engine = create_engine(settings.database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            account = await AccountService(session, system_clock,
                                           hasher=password_hasher(settings)).create(
                email=email, password=password, role=role, partner_id=partner_id,
                locale=locale, languages=languages)
            return account.id
    finally:
        await engine.dispose()


async def translations_import(settings: Settings, locales_dir: Path) -> dict[str, Imported]:
    engine = create_engine(settings.database_url)
    try:
        return await import_reviews(create_sessionmaker(engine), locales_dir)
    finally:
        await engine.dispose()


async def followup_import(settings: Settings, text: str) -> ImportResult:
    engine = create_engine(settings.database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            return await import_responses(session, text, system_clock)
    finally:
        await engine.dispose()


async def followup_report(settings: Settings, *, publication: bool) -> Report:
    engine = create_engine(settings.database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            return build_report(await load_rows(session), publication=publication)
    finally:
        await engine.dispose()


async def followup_send_next_wave(settings: Settings, chat_id: int) -> int | None:
    from referral_api.followup.service import FollowupService

    engine = create_engine(settings.database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            service = FollowupService(session, settings.vault(), settings,
                                      system_clock)
            return await service.send_next_wave_now(chat_id)
    finally:
        await engine.dispose()


async def rotate_keys(settings: Settings, batch_size: int) -> bool:
    """Every encrypted column re-encrypted with the newest key of DATA_KEY, a line of counts
    per table printed; False when something is left to do (docs/operations.md)."""
    from referral_api.key_rotation import rotate_keys as rotate_all

    vault = settings.vault()
    engine = create_engine(settings.database_url)
    try:
        results = await rotate_all(create_sessionmaker(engine), vault, batch_size=batch_size,
                                   report=lambda result: print(result.summary(), flush=True))
    finally:
        await engine.dispose()
    return all(result.complete for result in results)


def _followup(settings: Settings, args: argparse.Namespace) -> int:
    if args.followup_command == "import":
        try:
            text = args.file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            print(f"{args.file}: cannot read the file ({type(exc).__name__})", file=sys.stderr)
            return 1
        try:
            result = asyncio.run(followup_import(settings, text))
        except ImportFailed as exc:
            print(f"{args.file}: {exc}; nothing was imported", file=sys.stderr)
            return 1
        print(f"follow-up responses: {result.created} created, {result.updated} updated, "
              f"{result.unchanged} unchanged")
        return 0
    if args.followup_command == "report":
        report = asyncio.run(followup_report(settings, publication=args.publication))
        if args.format == "csv":
            sys.stdout.write(render_csv(report))
        elif args.format == "html":
            from referral_api.followup.web import standalone_html

            sys.stdout.write(standalone_html(report))
        else:
            sys.stdout.write(render_text(report))
        if args.out is not None:
            from referral_api.followup.charts import write_charts

            written = write_charts(report, args.out)
            print(f"{len(written)} chart files written to {args.out}", file=sys.stderr)
        return 0
    if args.followup_command == "send-next-wave":
        wave = asyncio.run(followup_send_next_wave(settings, args.chat_id))
        if wave is None:
            print("no active follow-up enrolment with an open wave for this chat",
                  file=sys.stderr)
            return 1
        print(f"wave {wave} queued; the worker sends it")
        return 0
    print("usage: python -m referral_api followup {import,report,send-next-wave}",
          file=sys.stderr)
    return 2


def _password(given: str | None) -> str:
    if given:
        return given
    first = getpass.getpass("Password: ")
    if getpass.getpass("Password again: ") != first:
        raise SystemExit("the passwords differ")
    return first


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m referral_api",
                                     description="CONEX referral API")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    commands = parser.add_subparsers(dest="command")
    seed = commands.add_parser("seed-partners", help="upsert partners from a YAML file")
    seed.add_argument("file", type=Path)
    commands.add_parser("upgrade", help="upgrade the database to the latest migration")
    admin = commands.add_parser("create-admin", help="create a staff admin account")
    admin.add_argument("--email", required=True)
    admin.add_argument("--password", help="asked for when not given (safer: not in history)")
    admin.add_argument("--locale", choices=LOCALES, default="en")
    account = commands.add_parser("create-account", help="create a staff account")
    account.add_argument("--email", required=True)
    account.add_argument("--password", help="asked for when not given (safer: not in history)")
    account.add_argument("--role", choices=ROLES, required=True)
    account.add_argument("--partner", help="partner id (required for counsellors)")
    account.add_argument("--languages", help="translators: the language codes they review "
                                             "(comma-separated: ar,fa_AF)")
    account.add_argument("--locale", choices=LOCALES, default="nl")
    followup = commands.add_parser("followup", help="follow-up after return: import, report")
    followup_commands = followup.add_subparsers(dest="followup_command")
    importing = followup_commands.add_parser("import", help="import pilot-format responses")
    importing.add_argument("file", type=Path)
    report = followup_commands.add_parser("report", help="the analysis (exact counts)")
    report.add_argument("--format", choices=("text", "csv", "html"), default="text")
    report.add_argument("--publication", action="store_true",
                        help="apply the small-cell suppression rules (for publication)")
    report.add_argument("--out", type=Path, help="write the charts (SVG and PNG) here")
    wave = followup_commands.add_parser("send-next-wave",
                                        help="demo: queue a person's next wave now")
    wave.add_argument("--chat-id", type=int, required=True)
    translations = commands.add_parser(
        "translations", help="write the reviews of the staff app into the catalogues")
    translations.add_argument("action", choices=["import"])
    translations.add_argument("--locales", type=Path, default=LOCALES_DIR,
                              help="the catalogues' directory (default: the project's locales)")
    commands.add_parser("lookup-key", help="print the LOOKUP_KEY value that keeps every "
                        "chat lookup key (pin it before removing DATA_KEY's oldest key)")
    rotate = commands.add_parser("rotate-keys", help="re-encrypt every personal field with "
                                 "the newest key of DATA_KEY")
    rotate.add_argument("--batch-size", type=int, default=500,
                        help="rows per transaction (default 500)")
    return parser


GRACE = 7  # seconds for requests in flight at SIGTERM: the process is gone within 10 s


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    configure_logs("api")
    settings = Settings()
    if args.command == "seed-partners":
        result = asyncio.run(seed_partners(settings, args.file))
        print(f"partners: {result.created} created, {result.updated} updated, "
              f"{result.unchanged} unchanged")
        return 0
    if args.command in ("create-admin", "create-account"):
        role = "admin" if args.command == "create-admin" else args.role
        try:
            account_id = asyncio.run(create_account(
                settings, email=args.email, password=_password(args.password), role=role,
                partner_id=getattr(args, "partner", None), locale=args.locale,
                languages=parse_languages(getattr(args, "languages", None) or "",
                                          shipped_catalogues())))
        except DomainError as exc:
            print(f"could not create the account: {exc.code}", file=sys.stderr)
            return 1
        print(f"{role} account {account_id} created for {args.email.strip().lower()}")
        return 0
    if args.command == "followup":
        logging.getLogger().setLevel(logging.WARNING)  # the report goes to stdout
        return _followup(settings, args)
    if args.command == "translations":
        results = asyncio.run(translations_import(settings, args.locales))
        for locale, found in sorted(results.items()):
            print(f"{locale}: {found.updated} updated, {found.unchanged} unchanged, "
                  f"{found.unknown} no longer in the catalogue, {found.stale} approvals of a "
                  "text changed since (left as the catalogue has it)")
        print("now compile (make i18n-compile) and commit the catalogues")
        return 0
    if args.command == "lookup-key":
        from referral_api.crypto import encode_lookup_key

        try:
            print(encode_lookup_key(settings.resolved_lookup_secret()))
        except ConfigError as exc:
            print(exc, file=sys.stderr)
            return 2
        return 0
    if args.command == "rotate-keys":
        if args.batch_size < 1:
            print("--batch-size must be at least 1", file=sys.stderr)
            return 2
        try:
            finished = asyncio.run(rotate_keys(settings, args.batch_size))
        except ConfigError as exc:
            print(exc, file=sys.stderr)
            return 2
        if not finished:
            print("not finished: see the counts above (docs/operations.md, "
                  "\"Rotating DATA_KEY\"); keep every key in DATA_KEY", file=sys.stderr)
            return 1
        print("every encrypted value is readable with the newest key of DATA_KEY alone")
        return 0
    if args.command == "upgrade":
        asyncio.run(upgrade_database(settings.database_url))
        print("database upgraded")
        return 0

    import uvicorn

    # proxy_headers=False: X-Forwarded-For is read only from TRUSTED_PROXIES (web/clientip.py)
    uvicorn.run("referral_api.app:app_factory", factory=True, host=args.host, port=args.port,
                access_log=False, proxy_headers=False, timeout_graceful_shutdown=GRACE,
                log_config=None)  # ops.logs' JSON lines, not uvicorn's own format
    return 0


if __name__ == "__main__":
    sys.exit(main())
