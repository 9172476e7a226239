"""Who is logged in, and the CSRF check: what every staff page of every domain depends on.

``staff_router(path)`` is an APIRouter under /staff whose every POST must carry the session's
CSRF token (``verify_csrf``); ``StaffDep`` is the logged-in account (reloaded on every request:
an account deactivated, logged out or given a new password loses its sessions at once), or a
redirect to the login page. A domain may add a count to the navigation of every page
(``count_in_navigation``: the referrals' Alerts).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from sqlalchemy.ext.asyncio import AsyncSession

from referral_api.dependencies import ContextDep, SessionDep
from referral_api.errors import Forbidden, NotFound
from referral_api.staff.models import StaffAccount
from referral_api.staff.service import AccountService
from referral_api.web.pages import LoginRequired, load_session
from referral_api.web.security import STAFF_PREFIX

UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")

# The count shown next to a link of the navigation, for this account (None: not shown).
NavigationCount = Callable[[AsyncSession, StaffAccount], Awaitable[int | None]]


async def verify_csrf(request: Request) -> None:
    """Every state-changing request must echo the session's CSRF token (form field
    `csrf_token`); a request without a session cookie never matches."""
    if request.method not in UNSAFE_METHODS:
        return
    session = load_session(request)
    form = await request.form()
    token = form.get("csrf_token")
    if (session.changed or not isinstance(token, str)
            or not hmac.compare_digest(token.encode(), session.csrf.encode())):
        raise Forbidden("csrf")


def staff_router(path: str = "") -> APIRouter:
    """A router of staff pages under /staff`path`: not in the OpenAPI schema, CSRF-checked."""
    return APIRouter(prefix=f"{STAFF_PREFIX}{path}", include_in_schema=False,
                     dependencies=[Depends(verify_csrf)])


def accounts(session: SessionDep, context: ContextDep) -> AccountService:
    """The account service with the process's bounded password checks (ARGON2_*)."""
    return AccountService(session, context.clock, passwords=context.passwords)


async def staff_account(request: Request, session: SessionDep,
                        context: ContextDep) -> StaffAccount:
    staff_session = load_session(request)
    if staff_session.account_id is None:
        raise LoginRequired()
    account = await accounts(session, context).active(staff_session.account_id,
                                                      staff_session.epoch)
    if account is None:
        raise LoginRequired()
    if account.role == "translator" and not request.url.path.startswith(TRANSLATOR_PAGES):
        raise NotFound("page")  # a translator sees the translations and their own account
    request.state.staff_account = account
    count: NavigationCount | None = getattr(request.app.state, "staff_navigation_count", None)
    if request.method == "GET" and count is not None:  # the count in the navigation
        shown = await count(session, account)
        if shown is not None:
            request.state.staff_alert_count = shown
    return account


StaffDep = Annotated[StaffAccount, Depends(staff_account)]
TRANSLATOR_PAGES = tuple(f"{STAFF_PREFIX}{path}" for path in (
    "/translations", "/password", "/logout", "/login"))


def count_in_navigation(app: FastAPI, count: NavigationCount) -> None:
    """Show `count` next to Alerts in the navigation of every page (GET requests)."""
    app.state.staff_navigation_count = count
