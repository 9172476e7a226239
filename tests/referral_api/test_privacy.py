"""Personal data: encrypted at rest, deleted by /forget, purged after the retention period."""

from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from referral_api.outbox.models import OutboxMessage
from referral_api.partners.models import SlotClaim
from referral_api.referrals.models import Referral, ReferralEvent, RelayMessage
from referral_api.referrals.service import purge_expired
from tests.referral_api.factories import (
    book,
    count,
    future_slot,
    make_partner,
    outbox_rows,
    referral_row,
)

PERSON = 987654321
OTHER = 555666777
PHONE = "0470 12 34 56"
SECRETS = ("987654321", "+32470123456", "470123456", "470 12 34 56", "Amina")


@pytest.fixture(autouse=True)
async def partner(admin: httpx.AsyncClient) -> None:
    await make_partner(admin, counsellors=(5001,))
    await make_partner(admin, "second-desk", counsellors=(5001,))  # one open contact a place
    await make_partner(admin, "third-desk", counsellors=(5001,))


async def raw_rows(app: FastAPI, table: str) -> list[dict[str, Any]]:
    async with app.state.context.engine.connect() as connection:
        result = await connection.execute(text(f"SELECT * FROM {table}"))
        return [dict(row._mapping) for row in result]


async def test_no_plaintext_personal_data_in_the_database(app: FastAPI,
                                                         client: httpx.AsyncClient) -> None:
    reference = (await book(client, contact_mode="phone", phone=PHONE, name="Amina",
                            chat_id=PERSON))["reference"]
    await book(client, partner_id="second-desk", contact_mode="visit", slot_start=future_slot(),
               chat_id=PERSON, name="Amina")
    await client.post("/v1/relay/to-partner", json={"chat_id": PERSON, "reference": reference,
                                                    "text": "Amina here, call +32470123456"})
    await client.post(f"/v1/referrals/{reference}/status",
                      json={"counsellor_telegram_id": 5001, "status": "accepted"})
    for table in ("referrals", "referral_events", "relay_messages", "outbox", "slot_claims"):
        rows = await raw_rows(app, table)
        assert rows, table
        dump = repr(rows)
        for secret in SECRETS:
            assert secret not in dump, (table, secret)

    [row] = [r for r in await raw_rows(app, "referrals") if r["contact_mode"] == "phone"]
    key = app.state.context.vault.chat_key(PERSON)
    assert row["chat_key"] == key
    assert len(key) == 64 and int(key, 16) >= 0
    # Not a plain hash of the chat id: it needs DATA_KEY.
    assert key != hashlib.sha256(str(PERSON).encode()).hexdigest()
    assert key != hmac.new(b"", str(PERSON).encode(), hashlib.sha256).hexdigest()
    vault = app.state.context.vault
    assert vault.decrypt_chat_id(row["chat_id_enc"]) == PERSON
    assert vault.decrypt(row["phone_enc"]) == "+32470123456"
    assert vault.decrypt(row["name_enc"]) == "Amina"


async def test_forget_deletes_everything_of_that_person_only(
        app: FastAPI, client: httpx.AsyncClient) -> None:
    mine_visit = await book(client, contact_mode="visit", slot_start=future_slot(),
                            chat_id=PERSON, name="Amina")
    mine_phone = await book(client, partner_id="second-desk", contact_mode="phone", phone=PHONE,
                            chat_id=PERSON)
    await client.post("/v1/relay/to-partner", json={
        "chat_id": PERSON, "reference": mine_phone["reference"], "text": "hello"})
    await client.post("/v1/relay/to-person", json={
        "counsellor_telegram_id": 5001, "reference": mine_phone["reference"], "text": "hi"})
    closed = await book(client, partner_id="third-desk", chat_id=PERSON)
    await client.post(f"/v1/referrals/{closed['reference']}/status",
                      json={"counsellor_telegram_id": 5001, "status": "closed"})

    theirs = await book(client, contact_mode="visit", slot_start=future_slot(days_ahead=4),
                        chat_id=OTHER)
    await client.post("/v1/relay/to-partner", json={
        "chat_id": OTHER, "reference": theirs["reference"], "text": "other"})
    other_row = await referral_row(app, theirs["reference"])
    others_before = {
        "outbox": await count(app, OutboxMessage, OutboxMessage.referral_id == other_row.id),
        "events": await count(app, ReferralEvent, ReferralEvent.referral_id == other_row.id),
    }

    response = await client.post("/v1/forget", json={"chat_id": PERSON})
    assert response.status_code == 200
    assert response.json() == {"deleted_referrals": 3, "deleted_followups": 0}

    assert await count(app, Referral) == 1
    assert await count(app, Referral, Referral.id == other_row.id) == 1
    assert await count(app, ReferralEvent) == others_before["events"]
    assert await count(app, RelayMessage) == 1
    assert await count(app, SlotClaim) == 1
    assert await count(app, SlotClaim, SlotClaim.referral_id == other_row.id) == 1
    assert await count(app, OutboxMessage, OutboxMessage.referral_id == other_row.id) \
        == others_before["outbox"]
    # What remains besides the other person's rows: a "withdrawn" notice to the partner for
    # each open referral, without personal data.
    leftovers = [r for r in await outbox_rows(app) if r["referral_id"] is None]
    assert sorted(r["payload"]["reference"] for r in leftovers) == sorted(
        [mine_visit["reference"], mine_phone["reference"]])
    for row in leftovers:
        assert row["kind"] == "card_update"
        assert row["chat_id"] == -1000000001
        assert row["payload"]["status"] == "withdrawn"
        assert "Amina" not in repr(row) and "470" not in repr(row)

    assert (await client.post("/v1/referrals/mine", json={"chat_id": PERSON})).json() == []
    assert (await client.post("/v1/referrals/mine", json={"chat_id": OTHER})).json()
    again = await client.post("/v1/forget", json={"chat_id": PERSON})
    assert again.json() == {"deleted_referrals": 0, "deleted_followups": 0}
    # The freed slot can be booked again.
    await book(client, contact_mode="visit", slot_start=mine_visit["slot_start"],
               chat_id=OTHER + 1)  # OTHER has an open contact with this place


async def test_purge_after_the_retention_period(app: FastAPI, client: httpx.AsyncClient) -> None:
    closed = await book(client, contact_mode="phone", phone=PHONE, name="Amina")
    await client.post("/v1/relay/to-partner", json={
        "chat_id": PERSON, "reference": closed["reference"], "text": "hello"})
    await client.post(f"/v1/referrals/{closed['reference']}/status",
                      json={"counsellor_telegram_id": 5001, "status": "closed"})
    cancelled = await book(client, chat_id=OTHER)
    await client.post(f"/v1/referrals/{cancelled['reference']}/cancel", json={"chat_id": OTHER})
    open_one = await book(client, chat_id=OTHER, name="Open")

    now = datetime.now(UTC)
    async with app.state.context.sessionmaker() as session:
        assert await purge_expired(session, now + timedelta(days=89), retention_days=90) == 0
        assert await purge_expired(session, now + timedelta(days=91), retention_days=90) == 2
        assert await purge_expired(session, now + timedelta(days=92), retention_days=90) == 0

    for reference in (closed["reference"], cancelled["reference"]):
        row = await referral_row(app, reference)
        assert row.purged_at is not None
        assert (row.name_enc, row.phone_enc, row.chat_id_enc, row.chat_key) == (None,) * 4
        assert row.topic and row.language and row.partner_id  # kept for statistics
        assert await count(app, ReferralEvent, ReferralEvent.referral_id == row.id) >= 2
        assert await count(app, RelayMessage, RelayMessage.referral_id == row.id) == 0
        assert await count(app, OutboxMessage, OutboxMessage.referral_id == row.id) == 0
    kept = await referral_row(app, open_one["reference"])
    assert kept.purged_at is None and kept.name_enc is not None

    # A purged referral is no one's any more, and counsellors cannot write to it.
    assert (await client.post(f"/v1/referrals/{closed['reference']}/cancel",
                              json={"chat_id": PERSON})).status_code == 404
    relay = await client.post("/v1/relay/to-person", json={
        "counsellor_telegram_id": 5001, "reference": closed["reference"], "text": "hi"})
    assert relay.status_code == 409
    assert relay.json() == {"detail": {"code": "referral_purged"}}


async def test_logs_carry_no_personal_data_nor_location(
        client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await client.post("/v1/partners/nearest", json={"lat": 51.0412, "lon": 3.7233})
    referral = await book(client, contact_mode="phone", phone=PHONE, name="Amina",
                          chat_id=PERSON)
    await client.post(f"/v1/referrals/{referral['reference']}/cancel", json={"chat_id": PERSON})
    await client.post("/v1/forget", json={"chat_id": PERSON})
    # Everything the server side logs (httpx's lines are the test client's own).
    messages = "\n".join(record.getMessage() for record in caplog.records
                         if not record.name.startswith("httpx"))
    for secret in (*SECRETS, "51.0412", "3.7233"):
        assert secret not in messages
    # One access line per request, with the route's template rather than the concrete path.
    assert "POST /v1/partners/nearest 200" in messages
    assert "POST /v1/referrals/{reference}/cancel 200" in messages
