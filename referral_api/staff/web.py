"""Staff pages of the accounts: log in and out, one's own password, and the admins' account
pages (/staff/admin/accounts). Scoping and audit live in staff.service."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import Response

from referral_api.dependencies import ContextDep, SessionDep
from referral_api.errors import Busy, Conflict, Forbidden, Invalid
from referral_api.staff.languages import parse_languages, shipped_catalogues
from referral_api.staff.models import LOCALES, ROLES
from referral_api.staff.service import normalize_email, require_admin
from referral_api.web.auth import StaffDep, accounts, staff_router
from referral_api.web.clientip import client_ip, trusted_networks
from referral_api.web.pages import (
    StaffSession,
    redirect,
    render,
    replace_session,
    shown_error,
    shown_notice,
    write_session,
)
from referral_api.web.ratelimit import Budget, limiter_key, login_budgets, succeeded

LOCALE_NAMES = {"nl": "Nederlands", "fr": "Français", "en": "English"}  # each in itself
ACCOUNT_FIELD_OF = {  # which field of the new-account form an error code is about
    "invalid_email": "email", "email_taken": "email", "weak_password": "password",
    "invalid_role": "role", "partner_required": "partner_id", "unknown_partner": "partner_id",
    "invalid_locale": "locale", "invalid_languages": "languages",
    "languages_required": "languages",
}


def create_router() -> APIRouter:
    router = staff_router()

    @router.get("/login")
    async def login_page(request: Request, done: str = "") -> Response:
        return render(request, "login.html", email="", login_error=None,
                      notice=shown_notice(done))

    @router.post("/login")
    async def login(request: Request, session: SessionDep, context: ContextDep,
                    email: Annotated[str, Form(max_length=254)] = "",
                    password: Annotated[str, Form(max_length=1024)] = "") -> Response:
        budgets = login_budgets(context.settings, normalize_email(email), client_ip(
            request, trusted_networks(context.settings.trusted_proxies)))
        wait = await context.login_limiter.attempt(budgets)  # counted before any check
        if wait is not None:
            return render(request, "login.html", status_code=429, email=email,
                          login_error="too_many",
                          headers={"Retry-After": str(max(1, math.ceil(wait)))})
        try:
            account = await accounts(session, context).authenticate(email, password)
        except Busy:
            return render(request, "login.html", status_code=503, email=email,
                          login_error="busy", headers={"Retry-After": "30"})
        if account is None:
            return render(request, "login.html", status_code=401, email=email,
                          login_error="login_failed")
        await succeeded(context.login_limiter, budgets)
        replace_session(request, StaffSession.new(account))  # new CSRF token at login
        response = redirect({"admin": "/admin/accounts", "translator": "/translations"}
                            .get(account.role, "/inbox"))
        write_session(request, response)
        return response

    @router.post("/logout")
    async def logout(request: Request, account: StaffDep, session: SessionDep,
                     context: ContextDep) -> Response:
        await accounts(session, context).logout(account)
        replace_session(request, StaffSession.new())
        response = redirect("/login")
        write_session(request, response)
        return response

    @router.get("/admin/accounts")
    async def accounts_page(request: Request, account: StaffDep, session: SessionDep,
                            context: ContextDep, done: str = "",
                            error: str = "") -> Response:
        service = accounts(session, context)
        return render(request, "accounts.html", accounts=await service.all_accounts(account),
                      partners=await service.partner_ids(), roles=ROLES, locales=LOCALES,
                      notice=shown_notice(done), error=shown_error(error), errors={}, form={})

    @router.post("/admin/accounts")
    async def create_account(request: Request, account: StaffDep, session: SessionDep,
                             context: ContextDep,
                             email: Annotated[str, Form(max_length=254)],
                             password: Annotated[str, Form(max_length=1024)],
                             role: Annotated[str, Form(max_length=16)],
                             locale: Annotated[str, Form(max_length=2)] = "nl",
                             partner_id: Annotated[str, Form(max_length=64)] = "",
                             languages: Annotated[str, Form(max_length=200)] = "") -> Response:
        require_admin(account)
        try:
            await accounts(session, context).create(
                email=email, password=password, role=role, partner_id=partner_id or None,
                locale=locale, by=account,
                languages=parse_languages(languages, shipped_catalogues()))
        except (Invalid, Conflict) as exc:  # the form again, the error next to its field
            service = accounts(session, context)
            return render(
                request, "accounts.html", status_code=422,
                accounts=await service.all_accounts(account),
                partners=await service.partner_ids(), roles=ROLES, locales=LOCALES,
                notice=None, error=None,
                errors={ACCOUNT_FIELD_OF.get(exc.code, "email"): exc.code},
                form={"email": email, "role": role, "partner_id": partner_id, "locale": locale,
                      "languages": languages})
        return redirect("/admin/accounts", done="created_ok")

    @router.get("/admin/accounts/{account_id}")
    async def account_page(request: Request, account_id: int, account: StaffDep,
                           session: SessionDep, context: ContextDep, done: str = "",
                           error: str = "") -> Response:
        target = await accounts(session, context).get_for_admin(account_id, account)
        return render(request, "account.html", target=target, locale_names=LOCALE_NAMES,
                      roles=ROLES, locales=LOCALES,
                      partners=await accounts(session, context).partner_ids(),
                      notice=shown_notice(done), error=shown_error(error))

    @router.post("/admin/accounts/{account_id}")
    async def update_account(account_id: int, account: StaffDep, session: SessionDep,
                             context: ContextDep,
                             role: Annotated[str, Form(max_length=16)] = "",
                             locale: Annotated[str, Form(max_length=2)] = "",
                             partner_id: Annotated[str, Form(max_length=64)] = "",
                             languages: Annotated[str, Form(max_length=200)] = "") -> Response:
        require_admin(account)  # before anything in the form is looked at
        page = f"/admin/accounts/{account_id}"
        try:
            await accounts(session, context).update(
                account_id, role=role, partner_id=partner_id or None, locale=locale, by=account,
                languages=parse_languages(languages, shipped_catalogues()))
        except (Invalid, Forbidden) as exc:
            return redirect(page, error=exc.code)
        return redirect(page, done="account_updated")

    @router.get("/password")
    async def password_page(request: Request, account: StaffDep, error: str = "") -> Response:
        return render(request, "password.html", error=shown_error(error))

    @router.post("/password")
    async def change_password(account: StaffDep, session: SessionDep, context: ContextDep,
                              current: Annotated[str, Form(max_length=1024)] = "",
                              new: Annotated[str, Form(max_length=1024)] = "") -> Response:
        # Guessing the current password (a session left open) is limited like a login.
        budget = Budget(limiter_key("password", str(account.id)),
                        context.settings.staff_login_max_failures, 15 * 60,
                        cleared_by_success=True)
        if await context.login_limiter.attempt([budget]) is not None:
            return redirect("/password", error="too_many")
        try:
            await accounts(session, context).change_own_password(account, current, new)
        except Busy:
            return redirect("/password", error="busy")
        except Invalid as exc:
            return redirect("/password", error=exc.code)
        await succeeded(context.login_limiter, [budget])
        return redirect("/login", done="password_changed")

    @router.post("/admin/accounts/{account_id}/deactivate")
    @router.post("/admin/accounts/{account_id}/reactivate")
    async def set_account_active(request: Request, account_id: int, account: StaffDep,
                                 session: SessionDep, context: ContextDep) -> Response:
        active = request.url.path.endswith("/reactivate")
        page = f"/admin/accounts/{account_id}"
        try:
            await accounts(session, context).set_active(account_id, active, by=account)
        except Forbidden as exc:
            return redirect(page, error=exc.code)
        return redirect(page, done="reactivated" if active else "deactivated")

    @router.post("/admin/accounts/{account_id}/password")
    async def reset_password(account_id: int, account: StaffDep, session: SessionDep,
                             context: ContextDep,
                             password: Annotated[str, Form(max_length=1024)] = "") -> Response:
        page = f"/admin/accounts/{account_id}"
        try:
            await accounts(session, context).reset_password(account_id, password, by=account)
        except Invalid as exc:
            return redirect(page, error=exc.code)
        if account_id == account.id:  # their own sessions ended too, this one included
            return redirect("/login")
        return redirect(page, done="password_reset")

    return router


def install(app: FastAPI) -> None:
    app.include_router(create_router())
