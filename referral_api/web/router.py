"""The staff web app under /staff: login, inbox, referral page, admin accounts and partners.

Plain server-rendered forms (no JavaScript). Every POST carries the session's CSRF token
(`verify_csrf`, a dependency of the whole router). Routes stay thin: scoping and audit live in
referral_api.staff.service.
"""

from __future__ import annotations

import hmac
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from referral_api.dependencies import ContextDep, SessionDep
from referral_api.errors import Conflict, Forbidden, Invalid, NotFound
from referral_api.partners.models import PARTNER_KINDS, SERVICES
from referral_api.referrals.models import COUNSELLOR_STATUSES, REINTEGRATION_PARTNERS
from referral_api.staff.alerts import StaffAlerts, count_waiting, sees_alerts
from referral_api.staff.countries import country_choices
from referral_api.staff.models import LOCALES, ROLES, StaffAccount
from referral_api.staff.partner_forms import (
    EXTRA_EMPTY_WINDOWS,
    AvailabilityForm,
    FormInvalid,
    PartnerFormData,
    WindowRow,
)
from referral_api.staff.ratelimit import limiter_key
from referral_api.staff.service import (
    TABS,
    AccountService,
    StaffAdmin,
    StaffReferrals,
    normalize_email,
    password_hasher,
    require_admin,
)
from referral_api.web.pages import (
    STATIC_DIR,
    LoginRequired,
    StaffSession,
    load_session,
    render,
    replace_session,
    write_session,
)
from referral_api.web.security import STAFF_PREFIX, login_required
from referral_api.web.texts import ERROR, NOTICE

UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
STYLESHEETS = ("staff", "signals")
LOCALE_NAMES = {"nl": "Nederlands", "fr": "Français", "en": "English"}  # each in itself
NEW_PARTNER: dict[str, object] = {"kind": "return_desk", "services": ["general"], "active": True,
                                  "verified": False, "slot_minutes": "30",
                                  "capacity_per_slot": "1"}


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


async def staff_account(request: Request, session: SessionDep,
                        context: ContextDep) -> StaffAccount:
    staff_session = load_session(request)
    if staff_session.account_id is None:
        raise LoginRequired()
    account = await accounts(session, context).active(staff_session.account_id,
                                                                  staff_session.epoch)
    if account is None:
        raise LoginRequired()
    request.state.staff_account = account
    if request.method == "GET" and sees_alerts(account):  # the count in the navigation
        request.state.staff_alert_count = await count_waiting(session)
    return account


StaffDep = Annotated[StaffAccount, Depends(staff_account)]


def accounts(session: SessionDep, context: ContextDep) -> AccountService:
    """The account service with the password hasher of the settings (ARGON2_*)."""
    return AccountService(session, context.clock, hasher=password_hasher(context.settings))


def staff_referrals(account: StaffDep, session: SessionDep,
                    context: ContextDep) -> StaffReferrals:
    return StaffReferrals(session, context.vault, context.settings, context.clock, account)


StaffReferralsDep = Annotated[StaffReferrals, Depends(staff_referrals)]


def staff_admin(account: StaffDep, session: SessionDep, context: ContextDep) -> StaffAdmin:
    return StaffAdmin(session, context.settings, context.clock, account,  # 404 unless admin
                      context.vault)


StaffAdminDep = Annotated[StaffAdmin, Depends(staff_admin)]


def _redirect(path: str, **query: str) -> RedirectResponse:
    suffix = "&".join(f"{key}={quote(value)}" for key, value in query.items())
    return RedirectResponse(f"{STAFF_PREFIX}{path}" + (f"?{suffix}" if suffix else ""),
                            status_code=303)


ACCOUNT_FIELD_OF = {  # which field of the new-account form an error code is about
    "invalid_email": "email", "email_taken": "email", "weak_password": "password",
    "invalid_role": "role", "partner_required": "partner_id", "unknown_partner": "partner_id",
    "invalid_locale": "locale",
}


def _notice(code: str) -> str | None:
    """A notice named in the query string, if it is one of ours (no text from the URL)."""
    return code if code in NOTICE else None


def _error(code: str) -> str | None:
    return (code if code in ERROR else "error") if code else None


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def create_router() -> APIRouter:
    router = APIRouter(prefix=STAFF_PREFIX, include_in_schema=False,
                       dependencies=[Depends(verify_csrf)])

    @router.get("/static/{name}.css")
    async def stylesheet(name: str) -> FileResponse:
        """The staff pages' stylesheets (staff.css; signals.css for campaigns and reports)."""
        if name not in STYLESHEETS:
            raise NotFound()
        return FileResponse(STATIC_DIR / f"{name}.css", media_type="text/css")

    @router.get("")
    @router.get("/")
    async def home() -> RedirectResponse:
        return _redirect("/inbox")

    @router.get("/login")
    async def login_page(request: Request, done: str = "") -> Response:
        return render(request, "login.html", email="", login_error=None,
                      notice=_notice(done))

    @router.post("/login")
    async def login(request: Request, session: SessionDep, context: ContextDep,
                    email: Annotated[str, Form(max_length=254)] = "",
                    password: Annotated[str, Form(max_length=1024)] = "") -> Response:
        limiter = context.login_limiter
        account_key = limiter_key("account", normalize_email(email))
        keys = [account_key, limiter_key("ip", _client_ip(request))]
        if await limiter.blocked(keys):
            return render(request, "login.html", status_code=429, email=email,
                          login_error="too_many")
        account = await accounts(session, context).authenticate(email, password)
        if account is None:
            await limiter.failed(keys)
            return render(request, "login.html", status_code=401, email=email,
                          login_error="login_failed")
        await limiter.reset(account_key)
        replace_session(request, StaffSession.new(account))  # new CSRF token at login
        response = _redirect("/admin/accounts" if account.role == "admin" else "/inbox")
        write_session(request, response)
        return response

    @router.post("/logout")
    async def logout(request: Request, account: StaffDep, session: SessionDep,
                     context: ContextDep) -> Response:
        await accounts(session, context).logout(account)
        replace_session(request, StaffSession.new())
        response = _redirect("/login")
        write_session(request, response)
        return response

    @router.get("/inbox")
    async def inbox(request: Request, referrals: StaffReferralsDep,
                    tab: str = "new") -> Response:
        items = await referrals.inbox(tab)
        return render(request, "inbox.html", tab=tab, tabs=list(TABS), items=items,
                      personal=referrals.sees_personal)

    @router.get("/alerts")
    async def alerts_page(request: Request, account: StaffDep,
                          session: SessionDep) -> Response:
        """New referrals whose partner was not told in Telegram (coordinators, admins)."""
        waiting = await StaffAlerts(session, account).waiting()
        return render(request, "alerts.html", waiting=waiting)

    @router.get("/referrals/{reference}")
    async def referral_page(request: Request, reference: str, referrals: StaffReferralsDep,
                            done: str = "", error: str = "") -> Response:
        view = await referrals.view(reference)
        locale = referrals.account.locale
        return render(request, "referral.html", view=view, actions=COUNSELLOR_STATUSES,
                      countries=country_choices(locale) if view.can_act else (),
                      country_names=dict(country_choices(locale)),
                      reintegration_partners=REINTEGRATION_PARTNERS,
                      max_return_date=referrals.max_return_date().isoformat(),
                      notice=_notice(done),
                      error=_error(error))

    @router.post("/referrals/{reference}/returned")
    async def set_returned(reference: str, referrals: StaffReferralsDep,
                           country: Annotated[str, Form(max_length=8)] = "",
                           return_date: Annotated[str, Form(max_length=16)] = "",
                           reintegration_partner: Annotated[str, Form(max_length=16)] = "",
                           ) -> Response:
        try:
            result = await referrals.set_returned(
                reference, country=country, return_date=return_date,
                reintegration_partner=reintegration_partner)
        except (Invalid, Conflict) as exc:
            return _redirect(f"/referrals/{quote(reference)}", error=exc.code)
        return _redirect(f"/referrals/{result.reference}", done="saved")

    @router.post("/referrals/{reference}/status")
    async def change_status(reference: str, referrals: StaffReferralsDep,
                            status: Annotated[str, Form(max_length=16)]) -> Response:
        try:
            result = await referrals.set_status(reference, status)
        except (Invalid, Conflict) as exc:
            return _redirect(f"/referrals/{quote(reference)}", error=exc.code)
        return _redirect(f"/referrals/{result.reference}", done="saved")

    @router.post("/referrals/{reference}/messages")
    async def send_message(reference: str, referrals: StaffReferralsDep,
                           text: Annotated[str, Form(max_length=4000)] = "") -> Response:
        try:
            await referrals.send_message(reference, text)
        except (Invalid, Conflict) as exc:
            return _redirect(f"/referrals/{quote(reference)}", error=exc.code)
        return _redirect(f"/referrals/{quote(reference)}", done="sent")

    @router.get("/admin/accounts")
    async def accounts_page(request: Request, account: StaffDep, session: SessionDep,
                            context: ContextDep, done: str = "",
                            error: str = "") -> Response:
        service = accounts(session, context)
        return render(request, "accounts.html", accounts=await service.all_accounts(account),
                      partners=await service.partner_ids(), roles=ROLES, locales=LOCALES,
                      notice=_notice(done), error=_error(error), errors={}, form={})

    @router.post("/admin/accounts")
    async def create_account(request: Request, account: StaffDep, session: SessionDep,
                             context: ContextDep,
                             email: Annotated[str, Form(max_length=254)],
                             password: Annotated[str, Form(max_length=1024)],
                             role: Annotated[str, Form(max_length=16)],
                             locale: Annotated[str, Form(max_length=2)] = "nl",
                             partner_id: Annotated[str, Form(max_length=64)] = "") -> Response:
        require_admin(account)
        try:
            await accounts(session, context).create(
                email=email, password=password, role=role, partner_id=partner_id or None,
                locale=locale, by=account)
        except (Invalid, Conflict) as exc:  # the form again, the error next to its field
            service = accounts(session, context)
            return render(
                request, "accounts.html", status_code=422,
                accounts=await service.all_accounts(account),
                partners=await service.partner_ids(), roles=ROLES, locales=LOCALES,
                notice=None, error=None,
                errors={ACCOUNT_FIELD_OF.get(exc.code, "email"): exc.code},
                form={"email": email, "role": role, "partner_id": partner_id, "locale": locale})
        return _redirect("/admin/accounts", done="created_ok")

    @router.get("/admin/accounts/{account_id}")
    async def account_page(request: Request, account_id: int, account: StaffDep,
                           session: SessionDep, context: ContextDep, done: str = "",
                           error: str = "") -> Response:
        target = await accounts(session, context).get_for_admin(account_id, account)
        return render(request, "account.html", target=target, locale_names=LOCALE_NAMES,
                      roles=ROLES, locales=LOCALES,
                      partners=await accounts(session, context).partner_ids(),
                      notice=_notice(done), error=_error(error))

    @router.post("/admin/accounts/{account_id}")
    async def update_account(account_id: int, account: StaffDep, session: SessionDep,
                             context: ContextDep,
                             role: Annotated[str, Form(max_length=16)] = "",
                             locale: Annotated[str, Form(max_length=2)] = "",
                             partner_id: Annotated[str, Form(max_length=64)] = "") -> Response:
        page = f"/admin/accounts/{account_id}"
        try:
            await accounts(session, context).update(
                account_id, role=role, partner_id=partner_id or None, locale=locale, by=account)
        except (Invalid, Forbidden) as exc:
            return _redirect(page, error=exc.code)
        return _redirect(page, done="account_updated")

    @router.get("/password")
    async def password_page(request: Request, account: StaffDep, error: str = "") -> Response:
        return render(request, "password.html", error=_error(error))

    @router.post("/password")
    async def change_password(account: StaffDep, session: SessionDep, context: ContextDep,
                              current: Annotated[str, Form(max_length=1024)] = "",
                              new: Annotated[str, Form(max_length=1024)] = "") -> Response:
        try:
            await accounts(session, context).change_own_password(account, current,
                                                                              new)
        except Invalid as exc:
            return _redirect("/password", error=exc.code)
        return _redirect("/login", done="password_changed")

    @router.post("/admin/accounts/{account_id}/deactivate")
    @router.post("/admin/accounts/{account_id}/reactivate")
    async def set_account_active(request: Request, account_id: int, account: StaffDep,
                                 session: SessionDep, context: ContextDep) -> Response:
        active = request.url.path.endswith("/reactivate")
        page = f"/admin/accounts/{account_id}"
        try:
            await accounts(session, context).set_active(account_id, active,
                                                                    by=account)
        except Forbidden as exc:
            return _redirect(page, error=exc.code)
        return _redirect(page, done="reactivated" if active else "deactivated")

    @router.post("/admin/accounts/{account_id}/password")
    async def reset_password(account_id: int, account: StaffDep, session: SessionDep,
                             context: ContextDep,
                             password: Annotated[str, Form(max_length=1024)] = "") -> Response:
        page = f"/admin/accounts/{account_id}"
        try:
            await accounts(session, context).reset_password(account_id, password,
                                                                        by=account)
        except Invalid as exc:
            return _redirect(page, error=exc.code)
        if account_id == account.id:  # their own sessions ended too, this one included
            return _redirect("/login")
        return _redirect(page, done="password_reset")

    @router.get("/admin/partners")
    async def partners_page(request: Request, admin: StaffAdminDep) -> Response:
        return render(request, "partners.html", partners=await admin.partners())

    def partner_form(request: Request, *, status_code: int = 200,
                     values: dict[str, object] | None = None,
                     errors: dict[str, str] | None = None) -> Response:
        return render(request, "partner_new.html", status_code=status_code,
                      form=values or NEW_PARTNER, errors=errors or {}, kinds=PARTNER_KINDS,
                      services=SERVICES, error="form_invalid" if errors else None)

    @router.get("/admin/new-partner")
    async def new_partner_page(request: Request, admin: StaffAdminDep) -> Response:
        return partner_form(request)

    @router.post("/admin/new-partner")
    async def create_partner(request: Request, admin: StaffAdminDep) -> Response:
        form = await request.form()
        data = PartnerFormData.from_form(
            {k: v for k, v in form.items() if isinstance(v, str)},
            [s for s in form.getlist("services") if isinstance(s, str)])
        try:
            partner_id = await admin.create_partner(data)
        except FormInvalid as exc:
            return partner_form(request, status_code=422, values=dict(exc.values),
                                errors=exc.errors)
        return _redirect(f"/admin/partners/{quote(partner_id)}", done="partner_created")

    async def partner_view(request: Request, admin: StaffAdmin, partner_id: str, *,
                           status_code: int = 200, notice: str | None = None,
                           error: str | None = None, form: dict[str, object] | None = None,
                           errors: dict[str, str] | None = None,
                           windows: list[WindowRow] | None = None) -> Response:
        partner = await admin.partner(partner_id)
        rows = windows if windows is not None else partner.windows + [
            WindowRow("0", "", "") for _ in range(EXTRA_EMPTY_WINDOWS)]
        return render(request, "partner.html", status_code=status_code, partner=partner,
                      form=form if form is not None else partner.form, errors=errors or {},
                      windows=rows, kinds=PARTNER_KINDS, services=SERVICES,
                      weekdays=[str(day) for day in range(7)], notice=notice, error=error)

    @router.get("/admin/partners/{partner_id}")
    async def partner_page(request: Request, partner_id: str, admin: StaffAdminDep,
                           done: str = "", error: str = "") -> Response:
        return await partner_view(request, admin, partner_id, notice=_notice(done),
                                  error=_error(error))

    @router.post("/admin/partners/{partner_id}")
    async def update_partner(request: Request, partner_id: str,
                             admin: StaffAdminDep) -> Response:
        form = await request.form()
        data = PartnerFormData.from_form(
            {k: v for k, v in form.items() if isinstance(v, str)},
            [s for s in form.getlist("services") if isinstance(s, str)])
        try:
            saved = await admin.update_partner(partner_id, data)
        except FormInvalid as exc:
            return await partner_view(request, admin, partner_id, status_code=422,
                                      error="form_invalid", form=dict(exc.values),
                                      errors=exc.errors)
        return _redirect(f"/admin/partners/{quote(partner_id)}",
                         done="cards_released" if saved.released else "saved")

    @router.post("/admin/partners/{partner_id}/availability")
    async def set_availability(request: Request, partner_id: str,
                               admin: StaffAdminDep) -> Response:
        form = await request.form()
        rows = AvailabilityForm.from_form(
            *([v for v in form.getlist(name) if isinstance(v, str)]
              for name in ("weekday", "start", "end")))
        try:
            await admin.set_availability(partner_id, rows)
        except FormInvalid:
            return await partner_view(request, admin, partner_id, status_code=422,
                                      error="form_invalid", windows=rows.rows)
        return _redirect(f"/admin/partners/{quote(partner_id)}", done="availability_saved")

    @router.post("/admin/partners/{partner_id}/counsellors")
    @router.post("/admin/partners/{partner_id}/counsellors/remove")
    async def change_counsellors(request: Request, partner_id: str, admin: StaffAdminDep,
                                 telegram_user_id: Annotated[str, Form(max_length=32)] = "",
                                 ) -> Response:
        remove = request.url.path.endswith("/remove")
        page = f"/admin/partners/{quote(partner_id)}"
        try:
            if remove:
                await admin.remove_counsellor(partner_id, telegram_user_id)
            else:
                await admin.add_counsellor(partner_id, telegram_user_id)
        except (Invalid, Conflict) as exc:
            return _redirect(page, error=exc.code)
        return _redirect(page, done="counsellor_removed" if remove else "counsellor_added")

    @router.get("/admin/audit")
    async def audit_page(request: Request, admin: StaffAdminDep) -> Response:
        return render(request, "audit.html", entries=await admin.audit_log())

    return router


def install(app: FastAPI) -> None:
    """Mount the staff pages under /staff."""
    app.include_router(create_router())
    app.add_exception_handler(LoginRequired, login_required)
