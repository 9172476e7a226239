"""Nothing reaches a person who left (issue 17, items 4 and 7): once a referral is cancelled or
closed a counsellor cannot write to the person (409, in the group and in the staff app), the
phone number disappears from the staff page, messages per referral are rate-limited, and a
reference that does not exist answers like another partner's (no probing)."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from tests.referral_api.factories import book, make_partner

PERSON = 555000222
COUNSELLOR = 5001


@pytest.fixture(autouse=True)
async def partner(admin: httpx.AsyncClient) -> None:
    await make_partner(admin, counsellors=(COUNSELLOR,))


async def write(client: httpx.AsyncClient, reference: str, text: str = "Hello") -> httpx.Response:
    return await client.post("/v1/relay/to-person", json={
        "reference": reference, "counsellor_telegram_id": COUNSELLOR, "text": text})


@pytest.mark.parametrize("ending", ["cancel", "close"])
async def test_no_message_after_cancel_or_close(client: httpx.AsyncClient, ending: str) -> None:
    reference = (await book(client, chat_id=PERSON))["reference"]
    assert (await write(client, reference)).status_code == 202
    if ending == "cancel":
        done = await client.post(f"/v1/referrals/{reference}/cancel", json={"chat_id": PERSON})
    else:
        done = await client.post(f"/v1/referrals/{reference}/status", json={
            "status": "closed", "counsellor_telegram_id": COUNSELLOR})
    assert done.status_code == 200, done.text
    refused = await write(client, reference)
    assert refused.status_code == 409
    code = "referral_cancelled" if ending == "cancel" else "referral_closed"
    assert refused.json()["detail"]["code"] == code
    by_person = await client.post("/v1/relay/to-partner", json={
        "reference": reference, "chat_id": PERSON, "text": "still there?"})
    assert by_person.status_code == 409


async def test_messages_per_referral_are_limited(app: FastAPI,
                                                 client: httpx.AsyncClient) -> None:
    reference = (await book(client, chat_id=PERSON))["reference"]
    limit = app.state.context.settings.relay_per_hour
    for n in range(limit):
        assert (await write(client, reference, f"message {n}")).status_code == 202
    flooded = await write(client, reference, "one too many")
    assert flooded.status_code == 429
    assert flooded.json()["detail"]["code"] == "too_many_messages"


async def test_a_made_up_reference_answers_like_someone_elses(
        client: httpx.AsyncClient) -> None:
    made_up = await write(client, "ZZZZ-ZZZZ")
    reference = (await book(client, chat_id=PERSON))["reference"]
    not_mine = await client.post("/v1/relay/to-person", json={
        "reference": reference, "counsellor_telegram_id": 999, "text": "Hello"})
    assert made_up.status_code == not_mine.status_code == 403
    assert made_up.json() == not_mine.json()


async def test_one_counsellor_cannot_probe_references_by_the_hundred(
        app: FastAPI, client: httpx.AsyncClient) -> None:
    limit = app.state.context.settings.counsellor_actions
    answers = [(await client.post("/v1/referrals/ABCD-2345/status", json={
        "counsellor_telegram_id": COUNSELLOR, "status": "accepted"})).status_code
        for _ in range(limit + 10)]
    assert set(answers[:limit]) == {403} and set(answers[limit:]) == {429}
    other = await client.post("/v1/referrals/ABCD-2345/status", json={
        "counsellor_telegram_id": COUNSELLOR + 1, "status": "accepted"})
    assert other.status_code == 403  # someone else is not slowed down
