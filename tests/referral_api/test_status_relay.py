"""Counsellors' status changes and the relay between a person and their partner."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from referral_api.referrals.models import ReferralEvent, RelayMessage
from referral_api.referrals.schemas import RELAY_MAX
from tests.referral_api.factories import (
    book,
    count,
    future_slot,
    make_partner,
    outbox_rows,
    referral_row,
)

COUNSELLOR = 5001
PERSON = 987654321


@pytest.fixture(autouse=True)
async def partners(admin: httpx.AsyncClient) -> None:
    await make_partner(admin, counsellors=(COUNSELLOR,))
    await make_partner(admin, "other-desk", counsellors=(6001,), notification_chat_id=-100222)


async def set_status(client: httpx.AsyncClient, reference: str, status: str,
                     counsellor: int = COUNSELLOR) -> httpx.Response:
    return await client.post(f"/v1/referrals/{reference}/status",
                             json={"counsellor_telegram_id": counsellor, "status": status})


async def test_accepting_notifies_the_person(app: FastAPI, client: httpx.AsyncClient) -> None:
    referral = await book(client, language="fa")
    reference = referral["reference"]
    response = await set_status(client, reference, "accepted")
    assert response.status_code == 200
    assert response.json()["status"] == "accepted"

    row = await referral_row(app, reference)
    assert await count(app, ReferralEvent, ReferralEvent.referral_id == row.id,
                       ReferralEvent.status == "accepted",
                       ReferralEvent.actor == f"counsellor:{COUNSELLOR}") == 1
    [notice] = await outbox_rows(app, "person_notice")
    assert notice["chat_id"] == PERSON
    assert notice["chat_kind"] == "private"
    assert notice["payload"] == {"key": "accepted", "reference": reference,
                                 "partner_name": "Partner test-desk", "locale": "fa"}
    [update] = await outbox_rows(app, "card_update")
    assert update["chat_id"] == -1000000001
    assert f"Referral {reference}" in update["payload"]["text"]
    assert "Status: Accepted" in update["payload"]["text"]
    assert update["payload"]["buttons"]


async def test_repeating_a_status_changes_nothing(app: FastAPI,
                                                  client: httpx.AsyncClient) -> None:
    reference = (await book(client))["reference"]
    for _ in range(3):
        response = await set_status(client, reference, "accepted")
        assert response.status_code == 200
    assert await count(app, ReferralEvent, ReferralEvent.status == "accepted") == 1
    assert len(await outbox_rows(app, "person_notice")) == 1
    assert len(await outbox_rows(app, "card_update")) == 1


async def test_status_sequence(app: FastAPI, client: httpx.AsyncClient) -> None:
    reference = (await book(client, contact_mode="visit", slot_start=future_slot()))["reference"]
    for status in ("unreachable", "contacted", "closed"):
        assert (await set_status(client, reference, status)).json()["status"] == status
    events = await count(app, ReferralEvent,
                         ReferralEvent.actor == f"counsellor:{COUNSELLOR}")
    assert events == 3
    assert len(await outbox_rows(app, "person_notice")) == 3  # the person hears of each
    assert await outbox_rows(app, "reminder") == []  # closed: no reminder any more
    updates = await outbox_rows(app, "card_update")
    assert len(updates) == 3
    assert "buttons" not in updates[-1]["payload"]
    mine = await client.post("/v1/referrals/mine", json={"chat_id": PERSON})
    assert mine.json() == []


async def test_only_the_partners_counsellors_may_change_a_status(
        app: FastAPI, client: httpx.AsyncClient) -> None:
    reference = (await book(client))["reference"]
    for stranger in (6001, 7777):  # another partner's counsellor; nobody's
        response = await set_status(client, reference, "accepted", counsellor=stranger)
        assert response.status_code == 403
        assert response.json() == {"detail": {"code": "not_a_counsellor"}}
    assert await count(app, ReferralEvent) == 1
    assert await outbox_rows(app, "card_update") == []


async def test_status_errors(client: httpx.AsyncClient) -> None:
    # no such referral: the same 403 as another partner's (a guess learns nothing)
    unknown = await set_status(client, "ZZZZ-ZZZZ", "accepted")
    assert unknown.status_code == 403
    assert unknown.json() == {"detail": {"code": "not_a_counsellor"}}
    reference = (await book(client))["reference"]
    for status in ("new", "cancelled", "lost"):
        assert (await set_status(client, reference, status)).status_code == 422
    await client.post(f"/v1/referrals/{reference}/cancel", json={"chat_id": PERSON})
    response = await set_status(client, reference, "accepted")
    assert response.status_code == 409
    assert response.json() == {"detail": {"code": "referral_cancelled"}}


async def test_relay_to_partner(app: FastAPI, client: httpx.AsyncClient) -> None:
    reference = (await book(client))["reference"]
    response = await client.post("/v1/relay/to-partner", json={
        "chat_id": PERSON, "reference": reference.lower(), "text": "Can I come <tomorrow>?"})
    assert response.status_code == 202
    assert response.json() == {"status": "queued"}
    [relay] = await outbox_rows(app, "relay")
    assert relay["chat_id"] == -1000000001
    assert relay["chat_kind"] == "group"
    assert "Can I come &lt;tomorrow&gt;?" in relay["payload"]["text"]
    assert reference in relay["payload"]["text"]
    [message] = await _relay_messages(app)
    assert message == ("to_partner", "Can I come <tomorrow>?")

    stranger = await client.post("/v1/relay/to-partner", json={
        "chat_id": 1, "reference": reference, "text": "hello"})
    assert stranger.status_code == 404


async def test_relay_to_person(app: FastAPI, client: httpx.AsyncClient) -> None:
    reference = (await book(client, language="ps"))["reference"]
    response = await client.post("/v1/relay/to-person", json={
        "counsellor_telegram_id": COUNSELLOR, "reference": reference,
        "text": "We will call you on Monday."})
    assert response.status_code == 202
    [relay] = await outbox_rows(app, "relay")
    assert relay["chat_id"] == PERSON
    assert relay["chat_kind"] == "private"
    assert relay["payload"] == {"key": "relay", "reference": reference,
                                "partner_name": "Partner test-desk",
                                "text": "We will call you on Monday.", "locale": "ps"}
    assert await _relay_messages(app) == [("to_person", "We will call you on Monday.")]

    forbidden = await client.post("/v1/relay/to-person", json={
        "counsellor_telegram_id": 6001, "reference": reference, "text": "hi"})
    assert forbidden.status_code == 403


@pytest.mark.parametrize("text", ["", "   ", "x" * (RELAY_MAX + 1)])
async def test_relay_text_limits(client: httpx.AsyncClient, text: str) -> None:
    reference = (await book(client))["reference"]
    response = await client.post("/v1/relay/to-partner", json={
        "chat_id": PERSON, "reference": reference, "text": text})
    assert response.status_code == 422


async def test_relay_text_of_relay_max_characters_is_accepted(
        client: httpx.AsyncClient) -> None:
    reference = (await book(client))["reference"]
    response = await client.post("/v1/relay/to-partner", json={
        "chat_id": PERSON, "reference": reference, "text": "x" * RELAY_MAX})
    assert response.status_code == 202


async def _relay_messages(app: FastAPI) -> list[tuple[str, str]]:
    vault = app.state.context.vault
    async with app.state.context.sessionmaker() as session:
        rows = await session.scalars(select(RelayMessage).order_by(RelayMessage.id))
        return [(row.direction, vault.decrypt(row.text_enc)) for row in rows]
