"""Booking and the person's own requests: create, mine, cancel, reschedule."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from referral_api.app import create_app
from referral_api.partners.models import SlotClaim
from referral_api.referrals.models import Referral, ReferralEvent
from referral_api.settings import Settings
from tests.referral_api.factories import (
    BRUSSELS,
    COORDINATOR_CHAT_ID,
    book,
    count,
    future_slot,
    make_client,
    make_partner,
    next_weekend_day,
    outbox_rows,
    parse_time,
    referral_body,
    referral_row,
)

REFERENCE = re.compile(r"^[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}$")
PARTNER_CHAT = -1000000001
PERSON = 987654321
OTHER_PERSON = 123123123


@pytest.fixture(autouse=True)
async def partner(admin: httpx.AsyncClient) -> dict[str, Any]:
    return await make_partner(admin)


async def test_book_a_telegram_contact(app: FastAPI, client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/referrals", json=referral_body())
    assert response.status_code == 201
    referral = response.json()
    assert REFERENCE.match(referral["reference"])
    assert {k: v for k, v in referral.items() if k not in ("reference", "created_at")} == {
        "partner_id": "test-desk", "partner_name": "Partner test-desk", "status": "new",
        "contact_mode": "telegram", "slot_start": None, "language": "ar", "interpreter": True,
        "topic": "travel_documents", "confirmation": None, "phone_hint": None,
    }
    created = datetime.fromisoformat(referral["created_at"])
    assert abs(created - datetime.now(UTC)) < timedelta(minutes=1)

    row = await referral_row(app, referral["reference"])
    assert row.consent_version == "2026-11"
    assert row.name_enc is None and row.phone_enc is None
    assert await count(app, ReferralEvent, ReferralEvent.referral_id == row.id,
                       ReferralEvent.status == "new", ReferralEvent.actor == "person") == 1

    rows = await outbox_rows(app)
    assert [r["kind"] for r in rows] == ["partner_card"]  # no alert, no reminder
    card = rows[0]
    assert card["chat_id"] == PARTNER_CHAT
    assert card["chat_kind"] == "group"
    assert card["referral_id"] == row.id
    assert card["status"] == "pending"
    text = card["payload"]["text"]
    assert f"New referral {referral['reference']}" in text
    assert "Language: Arabic (ar)" in text
    assert "Contact: Telegram message through the bot" in text
    assert "Interpreter: yes" in text
    assert "Topic: Travel documents" in text
    assert "Shared by the person: nothing" in text
    assert "Name:" not in text
    assert str(PERSON) not in text
    code = referral["reference"].replace("-", "")
    assert card["payload"]["buttons"] == [
        [{"text": "Accept", "callback_data": f"ref:{code}:accepted"},
         {"text": "Contacted", "callback_data": f"ref:{code}:contacted"}],
        [{"text": "Could not reach", "callback_data": f"ref:{code}:unreachable"},
         {"text": "Closed", "callback_data": f"ref:{code}:closed"}],
    ]
    assert all(len(b["callback_data"].encode()) <= 64
               for line in card["payload"]["buttons"] for b in line)
    assert card["payload"]["parse_mode"] == "HTML"


async def test_book_a_phone_call(app: FastAPI, client: httpx.AsyncClient) -> None:
    referral = await book(client, contact_mode="phone", phone="0470 12 34 56",
                          name="Amina <b>", interpreter=False, flags=["minor_present"])
    row = await referral_row(app, referral["reference"])
    vault = app.state.context.vault
    assert vault.decrypt(row.phone_enc) == "+32470123456"  # E.164
    assert vault.decrypt(row.name_enc) == "Amina <b>"
    text = (await outbox_rows(app, "partner_card"))[0]["payload"]["text"]
    assert "Contact: phone call to +32 470 12 34 56" in text
    assert "Name: Amina &lt;b&gt;" in text  # escaped for HTML
    assert "Interpreter: no" in text
    assert "Shared by the person: minor_present" in text


async def test_the_phone_is_shown_only_when_it_is_the_contact_mode(
        app: FastAPI, client: httpx.AsyncClient) -> None:
    await book(client, contact_mode="telegram", phone="0470 12 34 56")
    text = (await outbox_rows(app, "partner_card"))[0]["payload"]["text"]
    assert "470" not in text


@pytest.mark.parametrize("phone", ["+33 6 12 34 56 78", "+32 2 555 12 12", "02/555.12.12"])
async def test_valid_phone_numbers(client: httpx.AsyncClient, phone: str) -> None:
    response = await client.post("/v1/referrals",
                                 json=referral_body(contact_mode="phone", phone=phone))
    assert response.status_code == 201, phone


@pytest.mark.parametrize("phone", ["12345", "0470", "call me", "+999 123", "0470 12 34 56 78 9",
                                   None, ""])
async def test_invalid_phone(app: FastAPI, client: httpx.AsyncClient, phone: str | None) -> None:
    response = await client.post("/v1/referrals",
                                 json=referral_body(contact_mode="phone", phone=phone))
    assert response.status_code == 422
    assert response.json() == {"detail": {"code": "invalid_phone"}}
    assert await count(app, Referral) == 0


async def test_book_a_visit(app: FastAPI, client: httpx.AsyncClient) -> None:
    slot = future_slot(days_ahead=3)
    referral = await book(client, contact_mode="visit", slot_start=slot)
    assert referral["slot_start"] == slot  # Brussels time, as offered
    assert parse_time(referral["slot_start"]) == parse_time(slot)
    row = await referral_row(app, referral["reference"])
    assert await count(app, SlotClaim, SlotClaim.referral_id == row.id,
                       SlotClaim.slot_start == parse_time(slot), SlotClaim.seat == 0) == 1

    text = (await outbox_rows(app, "partner_card"))[0]["payload"]["text"]
    local = datetime.fromisoformat(slot)
    assert f"Contact: visit on {local:%a} {local.day} {local:%b} {local.year}, 10:00" in text

    [reminder] = await outbox_rows(app, "reminder")
    assert reminder["chat_id"] == PERSON
    assert reminder["chat_kind"] == "private"
    assert reminder["not_before"] == parse_time(slot) - timedelta(hours=24)
    payload = dict(reminder["payload"])
    assert payload.pop("lat") and payload.pop("lon")  # the place, for a map link
    assert payload == {
        "key": "reminder", "reference": referral["reference"],
        "partner_name": "Partner test-desk", "slot_start": slot, "address": None,
        "locale": "ar",
    }


async def test_a_visit_within_24_hours_gets_no_reminder(api_settings: Settings) -> None:
    slot = datetime.fromisoformat(future_slot(days_ahead=3))
    app = create_app(api_settings, clock=lambda: slot.astimezone(UTC) - timedelta(hours=3))
    try:
        async with make_client(app, "test-service-token") as client:
            await book(client, contact_mode="visit", slot_start=slot.isoformat())
        assert await outbox_rows(app, "reminder") == []
    finally:
        await app.state.context.aclose()


def _slot_cases() -> list[tuple[str, Any]]:
    day = datetime.fromisoformat(future_slot(days_ahead=3)).date()
    weekend = next_weekend_day()
    return [
        ("visit without slot", None),
        ("not on the half hour", datetime.combine(day, time(10, 15), BRUSSELS).isoformat()),
        ("lunch break", datetime.combine(day, time(12, 0), BRUSSELS).isoformat()),
        ("after hours", datetime.combine(day, time(16, 0), BRUSSELS).isoformat()),
        ("weekend", datetime.combine(weekend, time(10, 0), BRUSSELS).isoformat()),
        ("in the past", (datetime.now(BRUSSELS) - timedelta(days=7)).replace(
            hour=10, minute=0, second=0, microsecond=0).isoformat()),
        ("beyond the horizon", future_slot(days_ahead=90)),
    ]


@pytest.mark.parametrize(("case", "slot"), _slot_cases())
async def test_invalid_slot(app: FastAPI, client: httpx.AsyncClient, case: str,
                            slot: str | None) -> None:
    response = await client.post("/v1/referrals",
                                 json=referral_body(contact_mode="visit", slot_start=slot))
    assert response.status_code == 422, case
    assert response.json() == {"detail": {"code": "invalid_slot"}}, case
    assert await count(app, Referral) == 0


async def test_a_slot_is_only_for_visits(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/referrals", json=referral_body(slot_start=future_slot()))
    assert response.status_code == 422
    assert response.json() == {"detail": {"code": "invalid_slot"}}


async def test_a_slot_needs_an_offset(client: httpx.AsyncClient) -> None:
    naive = future_slot()[:19]
    response = await client.post("/v1/referrals",
                                 json=referral_body(contact_mode="visit", slot_start=naive))
    assert response.status_code == 422


async def test_a_slot_in_another_offset_is_the_same_slot(client: httpx.AsyncClient) -> None:
    slot = future_slot()
    utc = parse_time(slot).isoformat()
    referral = await book(client, contact_mode="visit", slot_start=utc)
    assert referral["slot_start"] == slot


async def test_a_full_slot_is_409_with_the_next_free_slots(app: FastAPI,
                                                           client: httpx.AsyncClient) -> None:
    slot = future_slot()
    await book(client, contact_mode="visit", slot_start=slot)
    response = await client.post("/v1/referrals", json=referral_body(
        contact_mode="visit", slot_start=slot, chat_id=OTHER_PERSON))
    assert response.status_code == 409
    detail = response.json()["detail"]
    assert detail["code"] == "slot_taken"
    assert len(detail["next_slots"]) == 12
    assert parse_time(slot) not in {parse_time(s) for s in detail["next_slots"]}
    assert all(datetime.fromisoformat(s).utcoffset() in (timedelta(hours=1), timedelta(hours=2))
               for s in detail["next_slots"])
    # Nothing of the failed booking remains.
    assert await count(app, Referral) == 1
    assert await count(app, ReferralEvent) == 1
    assert [r["kind"] for r in await outbox_rows(app)] == ["partner_card", "reminder"]


@pytest.mark.parametrize(("change", "status"), [
    ({"partner_id": "no-such-partner"}, 404),
    ({"topic": "holidays"}, 422),
    ({"contact_mode": "pigeon"}, 422),
    ({"language": "not a language"}, 422),
    ({"flags": ["Not An Id"]}, 422),
    ({"consent_version": ""}, 422),
    ({"chat_id": "me"}, 422),
    ({"name": "x" * 101}, 422),
])
async def test_bad_requests(client: httpx.AsyncClient, change: dict[str, Any],
                            status: int) -> None:
    response = await client.post("/v1/referrals", json=referral_body(**change))
    assert response.status_code == status, change


async def test_an_inactive_partner_takes_no_referrals(client: httpx.AsyncClient,
                                                      admin: httpx.AsyncClient) -> None:
    await admin.delete("/v1/admin/partners/test-desk")
    response = await client.post("/v1/referrals", json=referral_body())
    assert response.status_code == 404
    assert response.json() == {"detail": {"code": "not_found"}}


async def test_a_partner_without_chat_raises_a_coordinator_alert(
        app: FastAPI, client: httpx.AsyncClient, admin: httpx.AsyncClient) -> None:
    await make_partner(admin, "quiet-desk", notification_chat_id=None)
    referral = await book(client, partner_id="quiet-desk", name="Amina")
    [card] = await outbox_rows(app, "partner_card")
    assert card["chat_id"] is None  # resolved by the worker once the partner has a chat
    [alert] = await outbox_rows(app, "coordinator_alert")
    assert alert["chat_id"] == COORDINATOR_CHAT_ID
    assert referral["reference"] in alert["payload"]["text"]
    assert "quiet-desk" in alert["payload"]["text"]
    assert "Amina" not in alert["payload"]["text"]


async def test_mine_lists_the_persons_open_referrals(client: httpx.AsyncClient,
                                                    admin: httpx.AsyncClient) -> None:
    await make_partner(admin, "second-desk")  # one open contact per place
    cancelled = await book(client)
    await client.post(f"/v1/referrals/{cancelled['reference']}/cancel", json={"chat_id": PERSON})
    first = await book(client)
    second = await book(client, partner_id="second-desk", contact_mode="visit",
                        slot_start=future_slot())
    await book(client, chat_id=OTHER_PERSON)

    response = await client.post("/v1/referrals/mine", json={"chat_id": PERSON})
    assert response.status_code == 200
    assert [r["reference"] for r in response.json()] == [first["reference"],
                                                         second["reference"]]
    nobody = await client.post("/v1/referrals/mine", json={"chat_id": 555})
    assert nobody.json() == []


async def test_cancel_frees_the_slot(app: FastAPI, client: httpx.AsyncClient) -> None:
    slot = future_slot()
    referral = await book(client, contact_mode="visit", slot_start=slot)
    reference = referral["reference"]
    response = await client.post(f"/v1/referrals/{reference}/cancel", json={"chat_id": PERSON})
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert await count(app, SlotClaim) == 0
    assert await outbox_rows(app, "reminder") == []
    [update] = await outbox_rows(app, "card_update")
    assert "Status: Withdrawn, by the person" in update["payload"]["text"]
    assert "buttons" not in update["payload"]
    assert update["chat_id"] == PARTNER_CHAT
    assert await count(app, ReferralEvent, ReferralEvent.status == "cancelled",
                       ReferralEvent.actor == "person") == 1

    again = await client.post(f"/v1/referrals/{reference}/cancel", json={"chat_id": PERSON})
    assert again.status_code == 200  # idempotent
    assert await count(app, ReferralEvent, ReferralEvent.status == "cancelled") == 1
    assert len(await outbox_rows(app, "card_update")) == 1

    # Someone else can take the slot now.
    await book(client, contact_mode="visit", slot_start=slot, chat_id=OTHER_PERSON)


async def test_cancel_is_404_for_anyone_else(client: httpx.AsyncClient) -> None:
    referral = await book(client)
    reference = referral["reference"]
    for url, body in [(f"/v1/referrals/{reference}/cancel", {"chat_id": OTHER_PERSON}),
                      ("/v1/referrals/ZZZZ-ZZZZ/cancel", {"chat_id": PERSON}),
                      ("/v1/referrals/not-a-code/cancel", {"chat_id": PERSON})]:
        response = await client.post(url, json=body)
        assert response.status_code == 404, url
        assert response.json() == {"detail": {"code": "not_found"}}


@pytest.mark.parametrize("spelling", [str.lower, lambda r: r.replace("-", ""),
                                      lambda r: r.lower().replace("-", "")])
async def test_references_are_accepted_without_dash_in_any_case(
        client: httpx.AsyncClient, spelling: Any) -> None:
    referral = await book(client)
    response = await client.post(f"/v1/referrals/{spelling(referral['reference'])}/cancel",
                                 json={"chat_id": PERSON})
    assert response.status_code == 200
    assert response.json()["reference"] == referral["reference"]


async def test_reschedule(app: FastAPI, client: httpx.AsyncClient) -> None:
    old, new = future_slot(days_ahead=3), future_slot(days_ahead=4, at=time(14, 30))
    referral = await book(client, contact_mode="visit", slot_start=old)
    url = f"/v1/referrals/{referral['reference']}/reschedule"
    response = await client.post(url, json={"chat_id": PERSON, "slot_start": new})
    assert response.status_code == 200
    assert response.json()["slot_start"] == new
    assert await count(app, SlotClaim) == 1
    assert await count(app, SlotClaim, SlotClaim.slot_start == parse_time(new)) == 1
    [reminder] = await outbox_rows(app, "reminder")
    assert reminder["not_before"] == parse_time(new) - timedelta(hours=24)
    assert reminder["payload"]["slot_start"] == new
    [update] = await outbox_rows(app, "card_update")
    assert "14:30" in update["payload"]["text"]

    same = await client.post(url, json={"chat_id": PERSON, "slot_start": new})
    assert same.status_code == 200
    assert len(await outbox_rows(app, "card_update")) == 1  # nothing changed

    # The old slot is free again; a full one is refused and the booking keeps its slot.
    await book(client, contact_mode="visit", slot_start=old, chat_id=OTHER_PERSON)
    taken = await client.post(url, json={"chat_id": PERSON, "slot_start": old})
    assert taken.status_code == 409
    assert taken.json()["detail"]["code"] == "slot_taken"
    assert await count(app, SlotClaim, SlotClaim.slot_start == parse_time(new)) == 1
    mine = (await client.post("/v1/referrals/mine", json={"chat_id": PERSON})).json()
    assert mine[0]["slot_start"] == new


async def test_reschedule_errors(client: httpx.AsyncClient) -> None:
    slot = future_slot()
    telegram = await book(client)
    response = await client.post(f"/v1/referrals/{telegram['reference']}/reschedule",
                                 json={"chat_id": PERSON, "slot_start": slot})
    assert response.status_code == 422
    assert response.json() == {"detail": {"code": "invalid_slot"}}

    await client.post(f"/v1/referrals/{telegram['reference']}/cancel", json={"chat_id": PERSON})
    visit = await book(client, contact_mode="visit", slot_start=slot)  # one open a place
    url = f"/v1/referrals/{visit['reference']}/reschedule"
    bad = slot.replace("T10:00", "T10:10")
    assert (await client.post(url, json={"chat_id": PERSON,
                                         "slot_start": bad})).status_code == 422
    assert (await client.post(url, json={"chat_id": OTHER_PERSON,
                                         "slot_start": slot})).status_code == 404
    await client.post(f"/v1/referrals/{visit['reference']}/cancel", json={"chat_id": PERSON})
    cancelled = await client.post(url, json={"chat_id": PERSON,
                                             "slot_start": future_slot(days_ahead=5)})
    assert cancelled.status_code == 409
    assert cancelled.json() == {"detail": {"code": "referral_cancelled"}}
