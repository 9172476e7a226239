"""Staff pages of referrals: the inbox, a referral's page and its actions (status, returned,
a message to the person), the coordinators' Alerts, and the demo's "send the next follow-up
wave now" (a returned referral's person). Scoping and audit live in referrals.staff and
referrals.alerts."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from referral_api.countries import country_choices
from referral_api.dependencies import ContextDep, SessionDep
from referral_api.errors import Conflict, Invalid, NotFound
from referral_api.followup.models import REINTEGRATION_PARTNERS
from referral_api.followup.service import FollowupService
from referral_api.followup.web import require_reporter
from referral_api.referrals import cards
from referral_api.referrals.alerts import StaffAlerts, navigation_count
from referral_api.referrals.models import COUNSELLOR_STATUSES, Referral
from referral_api.referrals.reference import normalize_reference
from referral_api.referrals.staff import TABS, StaffReferrals
from referral_api.staff.service import audit
from referral_api.web.auth import StaffDep, count_in_navigation, staff_router
from referral_api.web.i18n import staff_gettext
from referral_api.web.pages import redirect, render, shown_error, shown_notice
from referral_api.web.security import STAFF_PREFIX


def staff_referrals(account: StaffDep, session: SessionDep,
                    context: ContextDep) -> StaffReferrals:
    return StaffReferrals(session, context.vault, context.settings, context.clock, account)


StaffReferralsDep = Annotated[StaffReferrals, Depends(staff_referrals)]


def create_router() -> APIRouter:
    router = staff_router()

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
        shared = (cards.shared_phrases(view.flags, staff_gettext(locale)) if view.personal
                  else [])
        return render(request, "referral.html", view=view, actions=COUNSELLOR_STATUSES,
                      shared=shared,
                      phone_text=cards.phone_text(view.phone) if view.phone else None,
                      countries=country_choices(locale) if view.can_act else (),
                      country_names=dict(country_choices(locale)),
                      reintegration_partners=REINTEGRATION_PARTNERS,
                      max_return_date=referrals.max_return_date().isoformat(),
                      notice=shown_notice(done),
                      error=shown_error(error))

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
            return redirect(f"/referrals/{quote(reference)}", error=exc.code)
        return redirect(f"/referrals/{result.reference}", done="saved")

    @router.post("/referrals/{reference}/status")
    async def change_status(reference: str, referrals: StaffReferralsDep,
                            status: Annotated[str, Form(max_length=16)]) -> Response:
        try:
            result = await referrals.set_status(reference, status)
        except (Invalid, Conflict) as exc:
            return redirect(f"/referrals/{quote(reference)}", error=exc.code)
        return redirect(f"/referrals/{result.reference}", done="saved")

    @router.post("/referrals/{reference}/messages")
    async def send_message(reference: str, referrals: StaffReferralsDep,
                           text: Annotated[str, Form(max_length=4000)] = "") -> Response:
        try:
            await referrals.send_message(reference, text)
        except (Invalid, Conflict) as exc:
            return redirect(f"/referrals/{quote(reference)}", error=exc.code)
        return redirect(f"/referrals/{quote(reference)}", done="sent")

    @router.post("/followup/demo-wave")
    async def demo_wave(account: StaffDep, session: SessionDep, context: ContextDep,
                        reference: Annotated[str, Form(max_length=16)] = "") -> Response:
        """The demo only (SQLite), from the follow-up page: queue the next follow-up wave of a
        returned referral now, whatever its date, so that a returnee can answer it in the
        simulator. (Here, not in followup/, because it starts from a referral.)"""
        require_reporter(account)
        if not context.settings.is_demo:
            raise NotFound()
        code = normalize_reference(reference)
        referral = None if code is None else await session.scalar(
            select(Referral).where(Referral.reference == code))
        wave = None
        if referral is not None and referral.chat_id_enc is not None:
            # Audited (committed with the queued wave; nothing queued, nothing recorded): the
            # referral and the wave, no personal data.
            audit(session, account, "demo_wave", referral_id=referral.id,
                  now=context.clock())
            wave = await FollowupService(session, context.vault, context.settings,
                                         context.clock).send_next_wave_now(
                context.vault.decrypt_chat_id(referral.chat_id_enc))
        done = f"wave_{wave}" if wave else "no_wave"
        return RedirectResponse(f"{STAFF_PREFIX}/followup?demo={done}", status_code=303)

    return router


def install(app: FastAPI) -> None:
    """The pages, and the number of waiting referrals next to Alerts in every page's
    navigation (coordinators and admins)."""
    app.include_router(create_router())
    count_in_navigation(app, navigation_count)
