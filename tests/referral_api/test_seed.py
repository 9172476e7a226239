"""`seed-partners`: an idempotent upsert of ../shared/data/partners.yaml."""

from __future__ import annotations

import asyncio
from datetime import time
from pathlib import Path

import httpx
import pytest
import yaml
from fastapi import FastAPI
from sqlalchemy import select

from referral_api.__main__ import load_seed_file, main
from referral_api.app import create_app
from referral_api.errors import Invalid
from referral_api.partners.models import Partner, PartnerAvailability
from referral_api.partners.schemas import SeedResult
from referral_api.partners.service import PartnerService
from referral_api.settings import Settings
from tests.referral_api.databases import empty_tables
from tests.referral_api.factories import SEED_FILE, count

SEEDED = len(load_seed_file(SEED_FILE))


async def seed(app: FastAPI, records: list[dict[str, object]]) -> SeedResult:
    context = app.state.context
    async with context.sessionmaker() as session:
        return await PartnerService(session, context.settings, context.clock).seed(records)


async def test_seeding_twice_changes_nothing(app: FastAPI) -> None:
    assert SEEDED == 14
    records = load_seed_file(SEED_FILE)
    first = await seed(app, records)
    assert first == SeedResult(created=SEEDED, updated=0, unchanged=0)
    second = await seed(app, records)
    assert second == SeedResult(created=0, updated=0, unchanged=SEEDED)
    assert await count(app, Partner) == SEEDED
    assert await count(app, PartnerAvailability) == SEEDED * 10  # Mon–Fri, two windows


async def test_seeded_values(app: FastAPI) -> None:
    await seed(app, load_seed_file(SEED_FILE))
    async with app.state.context.sessionmaker() as session:
        gent = await session.get(Partner, "fedasil-gent")
        assert gent is not None
        assert (gent.province, gent.kind, gent.city, gent.postal_code) == (
            "VOV", "return_desk", "Gent", "9000")
        assert gent.languages == []  # absent in the file: unknown
        assert gent.services == ["general", "medical", "families", "minors"]
        assert gent.verified is False and gent.active is True
        assert gent.notification_chat_id is None
        assert gent.source and gent.source.startswith("https://")
        windows = list(await session.scalars(
            select(PartnerAvailability).where(PartnerAvailability.partner_id == "fedasil-gent")
            .order_by(PartnerAvailability.weekday, PartnerAvailability.start)))
        assert [(w.weekday, w.start, w.end) for w in windows[:2]] == [
            (0, time(9), time(12)), (0, time(13), time(16))]
        assert {w.weekday for w in windows} == {0, 1, 2, 3, 4}
        provinces = dict((await session.execute(select(Partner.id, Partner.province))).all())
    assert provinces["fedasil-brussels"] == "BRU"
    assert provinces["fedasil-antwerpen"] == "VAN"
    assert provinces["fedasil-liege"] == "WLG"
    assert provinces["oostende-stad"] == "VWV"
    assert provinces["caw-limburg"] == "VLI"
    assert provinces["fedasil-charleroi"] == "WHT"


async def test_reseeding_updates_and_keeps_what_the_file_does_not_say(
        app: FastAPI, admin: httpx.AsyncClient) -> None:
    records = load_seed_file(SEED_FILE)
    await seed(app, records)
    await admin.put("/v1/admin/partners/fedasil-gent", json={"notification_chat_id": -100555,
                                                             "capacity_per_slot": 2})
    await admin.put("/v1/admin/partners/fedasil-gent/availability",
                    json=[{"weekday": 0, "start": "10:00", "end": "11:00"}])
    changed = [dict(r) for r in records]
    changed[2] = {**changed[2], "name": "Fedasil Gent (renamed)", "colour": "blue",
                  "languages": ["nl", "en"]}
    assert changed[2]["id"] == "fedasil-gent"
    result = await seed(app, changed)
    assert result == SeedResult(created=0, updated=1, unchanged=SEEDED - 1)
    async with app.state.context.sessionmaker() as session:
        gent = await session.get(Partner, "fedasil-gent")
        assert gent is not None
        assert gent.name == "Fedasil Gent (renamed)"
        assert gent.languages == ["nl", "en"]
        assert gent.notification_chat_id == -100555  # set by an admin, not in the file
        assert gent.capacity_per_slot == 2
    assert await count(app, PartnerAvailability,
                       PartnerAvailability.partner_id == "fedasil-gent") == 1


async def test_a_bad_record_seeds_nothing(app: FastAPI) -> None:
    records = load_seed_file(SEED_FILE)
    broken = [*records, {**records[0], "id": "nowhere", "postal_code": "9999",
                         "lat": None, "lon": None}]
    with pytest.raises(Invalid, match="unknown_postcode"):
        await seed(app, broken)
    assert await count(app, Partner) == 0


def test_load_seed_file_rejects_other_documents(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"people": []}))
    with pytest.raises(ValueError, match="partners"):
        load_seed_file(path)


def test_command_line_prints_the_counts(database_url: str, api_settings: Settings,
                                        monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    async def empty() -> None:
        app = create_app(api_settings)
        await empty_tables(app)
        await app.state.context.aclose()

    asyncio.run(empty())
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert main(["seed-partners", str(SEED_FILE)]) == 0
    assert main(["seed-partners", str(SEED_FILE)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"partners: {SEEDED} created, 0 updated, 0 unchanged",
                     f"partners: 0 created, 0 updated, {SEEDED} unchanged"]
    asyncio.run(empty())
