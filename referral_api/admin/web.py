"""The admins' staff pages of partners (/staff/admin/partners, /staff/admin/new-partner) and
the audit log (/staff/admin/audit). Scoping and audit live in admin.service."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.responses import Response

from referral_api.admin.forms import (
    EXTRA_EMPTY_WINDOWS,
    AvailabilityForm,
    FormInvalid,
    PartnerFormData,
    WindowRow,
)
from referral_api.admin.service import StaffAdmin
from referral_api.dependencies import ContextDep, SessionDep
from referral_api.errors import Conflict, Invalid
from referral_api.partners.models import PARTNER_KINDS, SERVICES
from referral_api.web.auth import StaffDep, staff_router
from referral_api.web.pages import redirect, render, shown_error, shown_notice

NEW_PARTNER: dict[str, object] = {"kind": "return_desk", "services": ["general"], "active": True,
                                  "verified": False, "slot_minutes": "30",
                                  "capacity_per_slot": "1"}


def staff_admin(account: StaffDep, session: SessionDep, context: ContextDep) -> StaffAdmin:
    return StaffAdmin(session, context.settings, context.clock, account,  # 404 unless admin
                      context.vault)


StaffAdminDep = Annotated[StaffAdmin, Depends(staff_admin)]


def create_router() -> APIRouter:
    router = staff_router("/admin")

    @router.get("/partners")
    async def partners_page(request: Request, admin: StaffAdminDep) -> Response:
        return render(request, "partners.html", partners=await admin.partners())

    def partner_form(request: Request, *, status_code: int = 200,
                     values: dict[str, object] | None = None,
                     errors: dict[str, str] | None = None) -> Response:
        return render(request, "partner_new.html", status_code=status_code,
                      form=values or NEW_PARTNER, errors=errors or {}, kinds=PARTNER_KINDS,
                      services=SERVICES, error="form_invalid" if errors else None)

    @router.get("/new-partner")
    async def new_partner_page(request: Request, admin: StaffAdminDep) -> Response:
        return partner_form(request)

    @router.post("/new-partner")
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
        return redirect(f"/admin/partners/{quote(partner_id)}", done="partner_created")

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

    @router.get("/partners/{partner_id}")
    async def partner_page(request: Request, partner_id: str, admin: StaffAdminDep,
                           done: str = "", error: str = "") -> Response:
        return await partner_view(request, admin, partner_id, notice=shown_notice(done),
                                  error=shown_error(error))

    @router.post("/partners/{partner_id}")
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
        return redirect(f"/admin/partners/{quote(partner_id)}",
                        done="cards_released" if saved.released else "saved")

    @router.post("/partners/{partner_id}/availability")
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
        return redirect(f"/admin/partners/{quote(partner_id)}", done="availability_saved")

    @router.post("/partners/{partner_id}/counsellors")
    @router.post("/partners/{partner_id}/counsellors/remove")
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
            return redirect(page, error=exc.code)
        return redirect(page, done="counsellor_removed" if remove else "counsellor_added")

    @router.get("/audit")
    async def audit_page(request: Request, admin: StaffAdminDep) -> Response:
        return render(request, "audit.html", entries=await admin.audit_log())

    return router


def install(app: FastAPI) -> None:
    app.include_router(create_router())
