"""Fair use of slots (issue 17, item 3): at most one open referral per person per partner, even
when the bookings arrive at the same instant, and at most BOOKINGS_PER_DAY bookings a person a
day; the bot shows the existing contact instead of a second one."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.referral_api.factories import book, future_slot, make_partner, referral_body

PERSON = 555000111


@pytest.fixture(autouse=True)
async def partners(admin: httpx.AsyncClient) -> None:
    await make_partner(admin)
    await make_partner(admin, "other-desk", counsellors=(5002,))


async def test_a_second_open_contact_with_the_same_place_is_refused_with_the_first(
        client: httpx.AsyncClient) -> None:
    first = await book(client, chat_id=PERSON)
    again = await client.post("/v1/referrals", json=referral_body(chat_id=PERSON))
    assert again.status_code == 409
    assert again.json()["detail"] == {"code": "already_booked",
                                      "reference": first["reference"]}
    elsewhere = await client.post("/v1/referrals",
                                  json=referral_body("other-desk", chat_id=PERSON))
    assert elsewhere.status_code == 201  # another place is another contact
    cancelled = await client.post(f"/v1/referrals/{first['reference']}/cancel",
                                  json={"chat_id": PERSON})
    assert cancelled.status_code == 200
    assert (await client.post("/v1/referrals", json=referral_body(chat_id=PERSON))
            ).status_code == 201  # once cancelled, a new one may be booked


async def test_twelve_visits_at_once_give_one_person_one_slot(
        client: httpx.AsyncClient) -> None:
    bodies: list[dict[str, Any]] = [
        referral_body(chat_id=PERSON, contact_mode="visit",
                      slot_start=future_slot(3 + day // 4, at=__import__("datetime").time(
                          9 + day % 3)))
        for day in range(12)]
    answers = await asyncio.gather(*(client.post("/v1/referrals", json=b) for b in bodies))
    statuses = sorted(a.status_code for a in answers)
    assert statuses.count(201) == 1, [a.text for a in answers if a.status_code != 409]
    assert set(statuses) == {201, 409}


async def test_a_person_books_at_most_five_times_a_day(client: httpx.AsyncClient) -> None:
    for _ in range(5):  # book and cancel, again and again
        referral = await book(client, chat_id=PERSON)
        await client.post(f"/v1/referrals/{referral['reference']}/cancel",
                          json={"chat_id": PERSON})
    sixth = await client.post("/v1/referrals", json=referral_body(chat_id=PERSON))
    assert sixth.status_code == 429
    assert sixth.json()["detail"] == {"code": "too_many_bookings"}
    assert (await client.post("/v1/referrals", json=referral_body(chat_id=PERSON + 1))
            ).status_code == 201  # someone else is not held back
