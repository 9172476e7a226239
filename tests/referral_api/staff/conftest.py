"""Fixtures of the staff web app tests: two partners (test-desk, other-desk), counsellor Anna of
test-desk logged in, and a fresh in-memory login limiter per test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest
from fastapi import FastAPI

from referral_api.staff.models import StaffAccount
from referral_api.web.ratelimit import MemoryLoginLimiter
from tests.referral_api.factories import make_partner
from tests.referral_api.staff_pages import browser, login, make_account


@pytest.fixture(autouse=True)
async def memory_limiter(app: FastAPI) -> AsyncIterator[None]:
    """Rate-limit counts start at zero in every test, even when REDIS_URL is set (the Redis
    limiter is tested on its own below, with a private key prefix)."""
    context = app.state.context
    app.state.context = replace(context, login_limiter=MemoryLoginLimiter(15 * 60))
    yield
    app.state.context = context


@pytest.fixture(autouse=True)
async def partners(memory_limiter: None, admin: httpx.AsyncClient) -> None:
    await make_partner(admin, counsellors=())
    await make_partner(admin, "other-desk", counsellors=(), notification_chat_id=-100222)


@pytest.fixture
async def counsellor(app: FastAPI) -> StaffAccount:
    return await make_account(app, "Anna@Desk.example")


@pytest.fixture
async def anna(app: FastAPI, counsellor: StaffAccount) -> AsyncIterator[httpx.AsyncClient]:
    """Counsellor Anna of test-desk, logged in."""
    async with browser(app) as client:
        response = await login(client, "anna@desk.example")
        assert response.status_code == 303, response.text
        yield client
