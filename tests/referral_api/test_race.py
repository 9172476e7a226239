"""The last seat of a slot, claimed by concurrent requests on PostgreSQL: exactly one wins."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import time

import httpx
import pytest
from fastapi import FastAPI

from referral_api.app import create_app
from referral_api.partners.models import SlotClaim
from referral_api.referrals.models import Referral
from referral_api.settings import Settings
from tests.referral_api.factories import (
    SERVICE_TOKEN,
    count,
    future_slot,
    make_client,
    make_partner,
    parse_time,
    referral_body,
)


@pytest.fixture
async def second_app(api_settings: Settings) -> AsyncIterator[FastAPI]:
    """A second app instance (its own engine and connection pool) on the same database,
    like a second API replica."""
    app = create_app(api_settings)
    yield app
    await app.state.context.aclose()


async def race(apps: list[FastAPI], slot: str, people: list[int]) -> list[httpx.Response]:
    clients = [make_client(apps[i % len(apps)], SERVICE_TOKEN) for i in range(len(people))]
    try:
        return list(await asyncio.gather(*(
            client.post("/v1/referrals", json=referral_body(
                contact_mode="visit", slot_start=slot, chat_id=person))
            for client, person in zip(clients, people, strict=True)
        )))
    finally:
        for client in clients:
            await client.aclose()


async def test_two_racers_for_the_last_seat(app: FastAPI, second_app: FastAPI,
                                            admin: httpx.AsyncClient) -> None:
    await make_partner(admin, capacity_per_slot=1)
    for round_, hour in enumerate((9, 10, 11, 13, 14)):  # several rounds: real overlap
        slot = future_slot(days_ahead=3, at=time(hour, 0))
        responses = await race([app, second_app], slot, [1000 + round_, 2000 + round_])
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [201, 409], [r.text for r in responses]
        loser = next(r for r in responses if r.status_code == 409).json()["detail"]
        assert loser["code"] == "slot_taken"
        assert loser["next_slots"]
        assert parse_time(slot) not in {parse_time(s) for s in loser["next_slots"]}
        assert await count(app, SlotClaim, SlotClaim.slot_start == parse_time(slot)) == 1
    assert await count(app, Referral) == 5


async def test_racers_fill_every_seat_and_no_more(app: FastAPI, second_app: FastAPI,
                                                  admin: httpx.AsyncClient) -> None:
    await make_partner(admin, capacity_per_slot=2)
    slot = future_slot(days_ahead=3)
    responses = await race([app, second_app], slot, [3001, 3002, 3003, 3004])
    assert sorted(r.status_code for r in responses) == [201, 201, 409, 409]
    assert await count(app, SlotClaim, SlotClaim.seat == 0) == 1
    assert await count(app, SlotClaim, SlotClaim.seat == 1) == 1
    assert await count(app, Referral) == 2
