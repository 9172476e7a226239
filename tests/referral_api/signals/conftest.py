"""Fixtures of the signals tests: partners, staff accounts logged in, campaigns, and a way to
put anonymous journeys in the store through the bot's endpoint."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from referral_api.signals.service import month_of
from referral_api.web.ratelimit import MemoryLoginLimiter
from tests.referral_api.factories import make_partner
from tests.referral_api.staff_pages import browser, login, make_account


def person(n: int) -> str:
    """A made-up pseudonym (the bot computes real ones; the API only checks the form)."""
    return hashlib.sha256(f"person {n}".encode()).hexdigest()


def journey(n: int, events: list[str], *, month: int | None = None, campaign: str | None = None,
            language: str = "ar", province: str | None = None,
            obstacles: tuple[str, ...] = (), channel: str | None = None) -> list[dict[str, Any]]:
    """The events of person `n`, as the bot sends them (`channel` None: as a bot from
    before the web chat, which sends none)."""
    from datetime import UTC, datetime

    base: dict[str, Any] = {"month": month or month_of(datetime.now(UTC)),
                            "pseudonym": person(n), "language": language}
    if channel is not None:
        base["channel"] = channel
    out: list[dict[str, Any]] = []
    for event in events:
        item = {**base, "event": event}
        if event == "conversation_started" and campaign:
            item["campaign"] = campaign
        if event == "topic_viewed":
            item["value"] = "support"
        if event == "booking_completed":
            item["value"] = "visit"
            if province:
                item["province"] = province
        out.append(item)
    out += [{**base, "event": "obstacle_named", "value": o} for o in obstacles]
    return out


async def send(client: httpx.AsyncClient, events: list[dict[str, Any]]) -> dict[str, Any]:
    response = await client.post("/v1/signals", json={"events": events})
    assert response.status_code == 202, response.text
    result: dict[str, Any] = response.json()
    return result


@pytest.fixture(autouse=True)
async def memory_limiter(app: FastAPI) -> AsyncIterator[None]:
    context = app.state.context
    app.state.context = replace(context, login_limiter=MemoryLoginLimiter(15 * 60))
    yield
    app.state.context = context


@pytest.fixture
async def partners(memory_limiter: None, admin: httpx.AsyncClient) -> None:
    await make_partner(admin, counsellors=())
    await make_partner(admin, "other-desk", counsellors=(), notification_chat_id=-100222)


@pytest.fixture
async def coordinator(app: FastAPI, partners: None) -> AsyncIterator[httpx.AsyncClient]:
    await make_account(app, "coord@conex.example", role="coordinator")
    async with browser(app) as client:
        assert (await login(client, "coord@conex.example")).status_code == 303
        yield client


@pytest.fixture
async def counsellor(app: FastAPI, partners: None) -> AsyncIterator[httpx.AsyncClient]:
    """Counsellor Anna of test-desk (partner staff)."""
    await make_account(app, "anna@desk.example")
    async with browser(app, ip="203.0.113.8") as client:
        assert (await login(client, "anna@desk.example")).status_code == 303
        yield client
