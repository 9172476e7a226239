"""The embedded demo database: SQLite through the same migrations, services and routes."""

from __future__ import annotations

from pathlib import Path

import httpx

from referral_api.__main__ import seed_partners
from referral_api.app import create_app
from referral_api.db.migrate import upgrade_database
from referral_api.outbox.models import OutboxMessage
from referral_api.partners.models import SlotClaim
from referral_api.referrals.models import Referral
from referral_api.settings import DEMO_SERVICE_TOKEN, Settings
from tests.referral_api.factories import SEED_FILE, count, make_client, referral_body


async def test_booking_on_sqlite(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path}/c.db",
                        admin_token="admin")
    await upgrade_database(settings.database_url)
    assert (await seed_partners(settings, SEED_FILE)).created == 14
    app = create_app(settings)
    try:
        async with make_client(app, DEMO_SERVICE_TOKEN) as client:
            nearest = await client.post("/v1/partners/nearest", json={"postcode": "9000"})
            assert nearest.json()["partners"][0]["id"] == "fedasil-gent"
            slot = (await client.get("/v1/partners/fedasil-gent/slots")).json()["slots"][0]
            visit = referral_body("fedasil-gent", contact_mode="visit", slot_start=slot)
            first = await client.post("/v1/referrals", json=visit)
            assert first.status_code == 201
            assert first.json()["slot_start"] == slot
            second = await client.post("/v1/referrals", json={**visit, "chat_id": 1})
            assert second.status_code == 409  # the savepoint rolled back on SQLite too
            assert second.json()["detail"]["next_slots"][0] != slot
            assert await count(app, Referral) == 1
            assert await count(app, SlotClaim) == 1

            forget = await client.post("/v1/forget", json={"chat_id": visit["chat_id"]})
            assert forget.json() == {"deleted_referrals": 1, "deleted_followups": 0}
            # ON DELETE CASCADE works: SQLite enforces foreign keys here.
            assert await count(app, SlotClaim) == 0
            assert await count(app, OutboxMessage, OutboxMessage.referral_id.is_not(None)) == 0
            assert (await client.get("/readyz")).status_code == 200
    finally:
        await app.state.context.aclose()


async def test_wrong_token_on_sqlite(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path}/c.db")
    app = create_app(settings)
    try:
        async with make_client(app, "nope") as client:
            assert (await client.get("/v1/partners/cities")).status_code == 401
        assert isinstance(client, httpx.AsyncClient)
    finally:
        await app.state.context.aclose()
