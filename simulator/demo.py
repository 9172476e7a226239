"""The embedded demo's referral API: SQLite, seeded partners, and one demo partner group
where a demo counsellor receives every card, so a person sees both sides in the simulator."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy import select, update

from bot.settings import PROJECT_DIR
from referral_api.__main__ import create_account, seed_partners
from referral_api.app import create_app
from referral_api.db.migrate import upgrade_database
from referral_api.errors import DomainError
from referral_api.followup.importer import import_responses
from referral_api.partners.models import Partner, PartnerCounsellor
from referral_api.settings import Settings as ApiSettings
from simulator.server import DemoGroup

log = logging.getLogger(__name__)

SEED_FILE = PROJECT_DIR.parent / "shared" / "data" / "partners.yaml"
PILOT_FILE = PROJECT_DIR.parent / "shared" / "data" / "followup_pilot_responses.csv"


DEMO_ACCOUNTS = (  # printed at start; demo only (SQLite), never in production
    ("admin@demo.local", "demo-admin-pass", "admin", None),
    ("coordinator@demo.local", "demo-coordinator-pass", "coordinator", None),
    ("gent@demo.local", "demo-counsellor-pass", "counsellor", "fedasil-gent"),
    ("brussels@demo.local", "demo-counsellor-pass", "counsellor", "fedasil-brussels"),
    ("mediator@demo.local", "demo-translator-pass", "translator", None),
)
TRANSLATOR_LANGUAGES = "ar,fa_AF"  # the demo mediator reviews Arabic and Dari


async def create_demo_accounts(settings: ApiSettings) -> list[tuple[str, str, str]]:
    """The demo's staff accounts (created once; an existing e-mail is left as it is)."""
    made = []
    for email, password, role, partner in DEMO_ACCOUNTS:
        with contextlib.suppress(DomainError):
            await create_account(settings, email=email, password=password, role=role,
                                 partner_id=partner, locale="en",
                                 languages=TRANSLATOR_LANGUAGES if role == "translator" else None)
        shown = f"{role}, {partner}" if partner else (
            f"{role}, {TRANSLATOR_LANGUAGES}" if role == "translator" else role)
        made.append((email, password, shown))
    return made


async def prepare_api(settings: ApiSettings, group: DemoGroup,
                      seed_file: Path = SEED_FILE) -> FastAPI:
    """Migrate, seed, route every partner's cards to the demo group, register the demo
    counsellor, import the follow-up pilot's responses (idempotent); return the API app (the
    bot reaches it in-process)."""
    if settings.database_url.startswith("sqlite"):
        (PROJECT_DIR / "var").mkdir(exist_ok=True)
    await upgrade_database(settings.database_url)
    if await asyncio.to_thread(seed_file.exists):
        result = await seed_partners(settings, seed_file)
        log.info("demo partners: %s created, %s updated", result.created, result.updated)
    app = create_app(settings)
    async with app.state.context.sessionmaker() as session:
        await session.execute(update(Partner).values(notification_chat_id=group.chat_id))
        known = set((await session.scalars(
            select(PartnerCounsellor.partner_id).where(
                PartnerCounsellor.telegram_user_id == group.counsellor_id))).all())
        for partner_id in (await session.scalars(select(Partner.id))).all():
            if partner_id not in known:
                session.add(PartnerCounsellor(partner_id=partner_id,
                                              telegram_user_id=group.counsellor_id))
        await session.commit()
        if await asyncio.to_thread(PILOT_FILE.exists):  # the coordinators' follow-up report
            text = await asyncio.to_thread(PILOT_FILE.read_text, encoding="utf-8")
            imported = await import_responses(session, text, app.state.context.clock)
            log.info("demo follow-up pilot responses: %s imported", imported.created)
    return app
