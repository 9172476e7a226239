"""The embedded demo's referral API: SQLite, seeded partners, and one demo partner group
where a demo counsellor receives every card, so a person sees both sides in the simulator."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy import select, update

from bot.settings import PROJECT_DIR
from referral_api.__main__ import seed_partners
from referral_api.app import create_app
from referral_api.db.migrate import upgrade_database
from referral_api.partners.models import Partner, PartnerCounsellor
from referral_api.settings import Settings as ApiSettings
from simulator.server import DemoGroup

log = logging.getLogger(__name__)

SEED_FILE = PROJECT_DIR.parent / "shared" / "data" / "partners.yaml"


async def prepare_api(settings: ApiSettings, group: DemoGroup,
                      seed_file: Path = SEED_FILE) -> FastAPI:
    """Migrate, seed, route every partner's cards to the demo group, register the demo
    counsellor; return the API app (the bot reaches it in-process)."""
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
    return app
