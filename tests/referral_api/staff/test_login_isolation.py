"""Logins cannot stall bookings (issue 17, item 1): argon2 runs in a thread, bounded, with no
database connection held; logins beyond the queue are told "busy"; the staff pages have a pool
of their own, so the bot's API answers while staff traffic holds every staff connection.
(Speed under a login flood is measured by bench/login_flood.py, not asserted here.)"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI

from referral_api.app import create_context
from referral_api.passwords import PasswordChecks
from referral_api.staff.models import StaffAccount
from tests.referral_api.conftest import make_settings
from tests.referral_api.staff_pages import browser, login


class GatedHasher(PasswordHasher):
    """argon2 that waits for the test to open a gate, noting the thread it ran on."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.gate = threading.Event()
        self.threads: set[int] = set()
        self.running = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self.threads.add(threading.get_ident())
        self.running += 1
        try:
            self.gate.wait(10)
            return super().verify(hash, password)
        finally:
            self.running -= 1


@pytest.fixture
async def gated(app: FastAPI) -> AsyncIterator[GatedHasher]:
    """Password checks through a gate: at most 2 at once, 2 more may wait."""
    hasher = GatedHasher()
    context = app.state.context
    app.state.context = replace(context, passwords=PasswordChecks(hasher, limit=2, queue=2))
    yield hasher
    hasher.gate.set()
    app.state.context = context


async def until(condition: object, limit: float = 5.0) -> None:
    for _ in range(int(limit / 0.01)):
        if condition():  # type: ignore[operator]
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met")


async def test_password_checks_run_off_the_event_loop_holding_no_connection(
        app: FastAPI, counsellor: StaffAccount, gated: GatedHasher,
        client: httpx.AsyncClient) -> None:
    staff_pool = app.state.context.staff_engine.pool
    async with browser(app) as staff:
        pending = asyncio.ensure_future(login(staff, "anna@desk.example"))
        await until(lambda: gated.running == 1)
        # the loop is free (we are running) and the login holds no database connection
        assert staff_pool.checkedout() == 0
        assert (await client.get("/v1/partners/test-desk")).status_code == 200
        gated.gate.set()
        assert (await pending).status_code == 303
    assert threading.get_ident() not in gated.threads


async def test_logins_beyond_the_queue_are_told_to_try_again(
        app: FastAPI, counsellor: StaffAccount, gated: GatedHasher) -> None:
    async with browser(app) as staff:
        waiting = [asyncio.ensure_future(login(staff, "anna@desk.example", f"guess{n}"))
                   for n in range(4)]  # 2 checking, 2 waiting
        await until(lambda: gated.running == 2)
        busy = await login(staff, "anna@desk.example")
        assert busy.status_code == 503 and busy.headers["retry-after"] == "30"
        assert "Many people are logging in right now" in busy.text
        gated.gate.set()
        assert sorted(r.status_code for r in await asyncio.gather(*waiting)) == [401] * 4


async def test_staff_traffic_cannot_take_the_bots_connections(
        database_url: str, app: FastAPI, client: httpx.AsyncClient) -> None:
    """Every staff connection taken (a pool of 1, and 1 more at peaks): the bot's API still
    answers from its own pool."""
    original = app.state.context
    context = create_context(make_settings(database_url, staff_db_pool_size=1))
    app.state.context = replace(context, login_limiter=original.login_limiter)
    held = [await context.staff_engine.connect() for _ in range(2)]
    try:
        assert context.staff_engine.pool.checkedout() == 2
        assert context.staff_engine is not context.engine
        answer = await client.get("/v1/partners/test-desk")
        assert answer.status_code == 200 and answer.json()["id"] == "test-desk"
    finally:
        for connection in held:
            await connection.close()
        app.state.context = original
        await context.aclose()
