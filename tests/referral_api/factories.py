"""Factories and helpers of the referral API tests (fixtures are in conftest.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from bot.settings import PROJECT_DIR
from referral_api.crypto import generate_data_key
from referral_api.outbox.models import OutboxMessage
from referral_api.referrals.models import Referral

SEED_FILE = Path(PROJECT_DIR).parent / "shared" / "data" / "partners.yaml"
SERVICE_TOKEN = "test-service-token"
ADMIN_TOKEN = "test-admin-token"
DATA_KEY = generate_data_key()
COORDINATOR_CHAT_ID = -1009990001
# Staff passwords at argon2's lowest cost (~0.1 ms a hash instead of ~130 ms): tests check
# who may log in, not how hard a hash is to crack.
CHEAP_ARGON2: dict[str, int] = {"argon2_time_cost": 1, "argon2_memory_cost": 8,
                                "argon2_parallelism": 1}
BRUSSELS = ZoneInfo("Europe/Brussels")


def make_client(app: FastAPI, token: str | None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api",
                             headers=headers)


WEEKDAYS_9_TO_16 = [
    {"weekday": day, "start": start, "end": end}
    for day in range(5)
    for start, end in (("09:00", "12:00"), ("13:00", "16:00"))
]


async def make_partner(admin: httpx.AsyncClient, partner_id: str = "test-desk", *,
                       counsellors: tuple[int, ...] = (5001,),
                       availability: list[dict[str, Any]] | None = None,
                       **fields: Any) -> dict[str, Any]:
    """A partner through the admin API (postcode 9000 unless told), with counsellors and
    weekly windows (Mon–Fri 9–12, 13–16 unless told)."""
    body = {"id": partner_id, "name": f"Partner {partner_id}", "kind": "return_desk",
            "city": "Gent", "postal_code": "9000", "notification_chat_id": -1000000001,
            "services": ["general"], "languages": ["en"], **fields}
    response = await admin.post("/v1/admin/partners", json=body)
    assert response.status_code == 201, response.text
    for telegram_user_id in counsellors:
        added = await admin.post(f"/v1/admin/partners/{partner_id}/counsellors",
                                 json={"telegram_user_id": telegram_user_id})
        assert added.status_code == 201, added.text
    windows = await admin.put(f"/v1/admin/partners/{partner_id}/availability",
                              json=WEEKDAYS_9_TO_16 if availability is None else availability)
    assert windows.status_code == 200, windows.text
    partner: dict[str, Any] = response.json()
    return partner


def referral_body(partner_id: str = "test-desk", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "partner_id": partner_id, "contact_mode": "telegram", "language": "ar",
        "interpreter": True, "topic": "travel_documents", "flags": [], "chat_id": 987654321,
        "consent_version": "2026-11",
    }
    body.update(overrides)
    return body


def future_slot(days_ahead: int = 3, at: time = time(10, 0)) -> str:
    """A weekday slot (Brussels time) at least `days_ahead` days from today, ISO 8601."""
    day = datetime.now(BRUSSELS).date() + timedelta(days=days_ahead)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime.combine(day, at, tzinfo=BRUSSELS).isoformat()


def next_weekend_day() -> date:
    day = datetime.now(BRUSSELS).date() + timedelta(days=2)
    while day.weekday() < 5:
        day += timedelta(days=1)
    return day


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


async def book(client: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    response = await client.post("/v1/referrals", json=referral_body(**overrides))
    assert response.status_code == 201, response.text
    referral: dict[str, Any] = response.json()
    return referral


# --- reading the database back ------------------------------------------------------------

async def outbox_rows(app: FastAPI, kind: str | None = None) -> list[dict[str, Any]]:
    """Outbox rows, decrypted, oldest first."""
    context = app.state.context
    async with context.sessionmaker() as session:
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        if kind is not None:
            query = query.where(OutboxMessage.kind == kind)
        rows = list(await session.scalars(query))
    return [{
        "kind": row.kind,
        "referral_id": row.referral_id,
        "chat_id": None if row.chat_id_enc is None
        else context.vault.decrypt_chat_id(row.chat_id_enc),
        "chat_kind": row.chat_kind,
        "payload": context.vault.decrypt_json(row.payload_enc),
        "status": row.status,
        "not_before": row.not_before,
    } for row in rows]


async def count(app: FastAPI, model: type[Any], *criteria: Any) -> int:
    async with app.state.context.sessionmaker() as session:
        result = await session.scalar(select(func.count()).select_from(model).where(*criteria))
    return int(result or 0)


async def referral_row(app: FastAPI, reference: str) -> Any:
    async with app.state.context.sessionmaker() as session:
        return await session.scalar(
            select(Referral).where(Referral.reference == reference.replace("-", "")))
