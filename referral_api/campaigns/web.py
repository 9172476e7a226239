"""Staff pages of campaigns (issue 7): the list, a new campaign, its link, QR code and
printable flyer, stopping and restarting it.

Coordinators and admins see every campaign; a counsellor (partner staff) sees only its
organisation's (campaigns.service scopes, and audits every change).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from referral_api.campaigns.flyer import FlyerText, flyer_text, shipped_languages
from referral_api.campaigns.models import CHANNELS
from referral_api.campaigns.service import (
    CampaignService,
    deep_link,
    qr_png,
    qr_svg,
    sees_all,
)
from referral_api.dependencies import ContextDep, SessionDep
from referral_api.errors import Forbidden, Invalid, NotFound
from referral_api.web.auth import StaffDep, staff_router
from referral_api.web.pages import render
from referral_api.web.security import STAFF_PREFIX

QR_KINDS: dict[str, tuple[Callable[[str], bytes | str], str]] = {
    "svg": (qr_svg, "image/svg+xml"), "png": (qr_png, "image/png")}
NOTICES = ("campaign_created", "campaign_deactivated", "campaign_reactivated")


def campaigns_of(account: StaffDep, session: SessionDep) -> CampaignService:
    return CampaignService(session, account)


CampaignsDep = Annotated[CampaignService, Depends(campaigns_of)]


def _redirect(path: str) -> RedirectResponse:
    return RedirectResponse(f"{STAFF_PREFIX}{path}", status_code=303)


def create_router() -> APIRouter:
    router = staff_router()

    @router.get("/campaigns")
    async def campaigns_page(request: Request, campaigns: CampaignsDep, context: ContextDep,
                             error: str = "") -> Response:
        return render(request, "campaigns.html", campaigns=await campaigns.all(),
                      partners=await campaigns.partner_choices(), channels=CHANNELS,
                      choose_partner=sees_all(campaigns.account),
                      bot=context.settings.bot_username,
                      error=error if error.isidentifier() else None)

    @router.post("/campaigns")
    async def create_campaign(campaigns: CampaignsDep, context: ContextDep,
                              city: Annotated[str, Form(max_length=200)] = "",
                              channel: Annotated[str, Form(max_length=24)] = "",
                              label: Annotated[str, Form(max_length=200)] = "",
                              partner_id: Annotated[str, Form(max_length=64)] = "",
                              ) -> Response:
        try:
            created = await campaigns.create(partner_id=partner_id or None, city=city,
                                             channel=channel, label=label,
                                             now=context.clock())
        except (Invalid, Forbidden) as exc:
            return _redirect(f"/campaigns?error={quote(exc.code)}")
        return _redirect(f"/campaigns/{created.code}?done=campaign_created")

    @router.get("/campaigns/{code}")
    async def campaign_page(request: Request, code: str, campaigns: CampaignsDep,
                            context: ContextDep, done: str = "") -> Response:
        campaign = await campaigns.get(code)
        return render(request, "campaign.html", campaign=campaign,
                      link=deep_link(context.settings.bot_username, campaign.code),
                      bot=context.settings.bot_username,
                      languages=[(code, flyer_text(code, "", "").name)
                                 for code in shipped_languages()],
                      notice=done if done in NOTICES else None)

    @router.post("/campaigns/{code}/active")
    async def set_campaign_active(code: str, campaigns: CampaignsDep, context: ContextDep,
                                  active: Annotated[str, Form(max_length=1)] = "") -> Response:
        if active not in ("0", "1"):
            raise Invalid("invalid_request")
        campaign = await campaigns.set_active(code, active == "1", context.clock())
        done = "campaign_reactivated" if campaign.active else "campaign_deactivated"
        return _redirect(f"/campaigns/{campaign.code}?done={done}")

    @router.get("/campaigns/{code}/qr.{kind}")
    async def campaign_qr(code: str, kind: str, campaigns: CampaignsDep,
                          context: ContextDep) -> Response:
        """The QR code of the campaign's deep link, as SVG (print, flyer) or PNG."""
        if kind not in QR_KINDS:
            raise NotFound("campaign")
        campaign = await campaigns.get(code)
        render_qr, media_type = QR_KINDS[kind]
        return Response(render_qr(deep_link(context.settings.bot_username, campaign.code)),
                        media_type=media_type, headers={
                            "content-disposition": f'inline; filename="{campaign.code}.{kind}"'})

    @router.get("/campaigns/{code}/flyer")
    async def flyer(request: Request, code: str, campaigns: CampaignsDep, context: ContextDep,
                    lang: Annotated[list[str] | None, Query(max_length=6)] = None) -> Response:
        campaign = await campaigns.get(code)
        shipped = shipped_languages()
        chosen = [code for code in (lang or ["en"]) if code in shipped][:4] or ["en"]
        bot = context.settings.bot_username
        texts: list[FlyerText] = []
        missing: list[str] = []
        for code in chosen:
            text = flyer_text(code, bot, campaign.code, title=context.settings.flyer_title,
                              body=context.settings.flyer_body)
            if not text.translated:
                missing.append(text.name)
            if text.translated or all(t.locale != text.locale for t in texts):
                texts.append(text)  # an untranslated language shows English, once
        return render(request, "campaign_flyer.html", campaign=campaign, bot=bot,
                      link=deep_link(bot, campaign.code), texts=texts, missing=missing)

    return router


def install(app: FastAPI) -> None:
    app.include_router(create_router())
