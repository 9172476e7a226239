"""Helpers of the staff web app tests: accounts, a browser-like client, form posts."""

from __future__ import annotations

import re

import httpx
from fastapi import FastAPI

from referral_api.staff.models import StaffAccount
from referral_api.staff.service import AccountService

PASSWORD = "a long staff password"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def make_account(app: FastAPI, email: str, role: str = "counsellor",
                       partner_id: str | None = "test-desk", locale: str = "en",
                       languages: str | None = None) -> StaffAccount:
    context = app.state.context
    async with context.sessionmaker() as session:
        return await AccountService(session, context.clock).create(
            email=email, password=PASSWORD, role=role,
            partner_id=partner_id if role == "counsellor" else None, locale=locale,
            languages=languages)


def browser(app: FastAPI, ip: str = "203.0.113.7") -> httpx.AsyncClient:
    """A cookie-keeping client over https (the session cookie is Secure)."""
    transport = httpx.ASGITransport(app=app, client=(ip, 50000))
    return httpx.AsyncClient(transport=transport, base_url="https://staff.test")


def csrf_of(page: httpx.Response) -> str:
    match = CSRF.search(page.text)
    assert match, "no CSRF token in the page"
    return match.group(1)


async def token(client: httpx.AsyncClient) -> str:
    """The session's CSRF token, read from a page (every logged-in page has the logout form)."""
    return csrf_of(await client.get("/staff/inbox"))


async def login(client: httpx.AsyncClient, email: str,
                password: str = PASSWORD) -> httpx.Response:
    page = await client.get("/staff/login")
    return await client.post("/staff/login", data={"email": email, "password": password,
                                                   "csrf_token": csrf_of(page)})
