"""Staff pages of issue 7: campaigns (link, QR code, flyer) and the signals reports.

Mounted under /staff next to referral_api.web.router, with the same session, CSRF check and
error pages. Coordinators and admins see every campaign and the whole report; a counsellor
(partner staff) sees only its organisation's campaigns and reports limited to them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from referral_api.dependencies import ContextDep, SessionDep
from referral_api.errors import Forbidden, Invalid, NotFound
from referral_api.signals.campaigns import (
    CampaignService,
    deep_link,
    qr_png,
    qr_svg,
    sees_all,
)
from referral_api.signals.catalogue import CHANNELS, PROVINCES, STAGES
from referral_api.signals.charts import bar_chart
from referral_api.signals.flyer import FlyerText, flyer_text, shipped_languages
from referral_api.signals.service import (
    DIMENSIONS,
    LANGUAGE,
    Report,
    ReportFilter,
    add_months,
    format_month,
    month_of,
    parse_month,
    report,
)
from referral_api.web.i18n import staff_gettext
from referral_api.web.pages import render
from referral_api.web.router import StaffDep, verify_csrf
from referral_api.web.security import STAFF_PREFIX

QR_KINDS: dict[str, tuple[Callable[[str], bytes | str], str]] = {
    "svg": (qr_svg, "image/svg+xml"), "png": (qr_png, "image/png")}
NOTICES = ("campaign_created", "campaign_deactivated", "campaign_reactivated")
DEFAULT_MONTHS = 3


def campaigns_of(account: StaffDep, session: SessionDep) -> CampaignService:
    return CampaignService(session, account)


CampaignsDep = Annotated[CampaignService, Depends(campaigns_of)]


def _redirect(path: str) -> RedirectResponse:
    return RedirectResponse(f"{STAFF_PREFIX}{path}", status_code=303)


async def _report_filter(campaigns: CampaignService, now: datetime, *, campaign: str,
                         since: str, until: str, language: str,
                         province: str) -> ReportFilter:
    """The report's filter from the query string, scoped to what the account may see.
    Bad input is a 422 with a code the page shows."""
    last = parse_month(until) if until else month_of(now)
    first = parse_month(since) if since else (add_months(last, -(DEFAULT_MONTHS - 1))
                                              if last else None)
    if first is None or last is None or first > last or add_months(first, 36) < last:
        raise Invalid("invalid_period")
    if language and not LANGUAGE.fullmatch(language):
        raise Invalid("invalid_language")
    if province and province not in PROVINCES:
        raise Invalid("invalid_province")
    allowed = await campaigns.codes()
    codes: tuple[str, ...] | None = allowed
    if campaign:
        codes = ((await campaigns.get(campaign)).code,)  # 404 outside the account's scope
    return ReportFilter(since=first, until=last, campaigns=codes, language=language or None,
                        province=province or None)


def value_labels(_: Callable[..., str]) -> dict[str, str]:
    """Staff-facing names of the closed lists' ids (reports show names, CSV/JSON show ids)."""
    return {
        "no_money": _("No money for the journey"), "no_documents": _("No passport or documents"),
        "debts": _("Debts"), "afraid_home": _("Afraid of what waits at home"),
        "health": _("Health"), "family_belgium": _("Family in Belgium"),
        "children_school": _("Children's school"), "no_trust": _("Does not trust the programme"),
        "stay_belgium": _("Wants to stay in Belgium"), "other": _("Something else"),
        "return_info": _("What voluntary return is"), "support": _("Help on offer"),
        "steps": _("How it works"), "tailored": _("Special situations"),
        "faq": _("Questions people ask"), "contact": _("Talk to someone"),
        "screening": _("Screening questions"),
        "minor": _("Minor"), "trafficking": _("Possible trafficking"),
        "medical": _("Medical needs"), "pregnant": _("Pregnant"),
        "children": _("With children"), "older_65": _("Aged 65 or more"),
    }


def _dimension(by: str) -> str:
    if by not in DIMENSIONS:
        raise Invalid("invalid_breakdown")
    return by


def create_router() -> APIRouter:
    router = APIRouter(prefix=STAFF_PREFIX, include_in_schema=False,
                       dependencies=[Depends(verify_csrf)])

    # --- campaigns ---------------------------------------------------------------------

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
            text = flyer_text(code, bot, campaign.code)
            if not text.translated:
                missing.append(text.name)
            if text.translated or all(t.locale != text.locale for t in texts):
                texts.append(text)  # an untranslated language shows English, once
        return render(request, "campaign_flyer.html", campaign=campaign, bot=bot,
                      link=deep_link(bot, campaign.code), texts=texts, missing=missing)

    # --- reports -----------------------------------------------------------------------

    async def _report(campaigns: CampaignService, context: ContextDep, *, campaign: str,
                      since: str, until: str, language: str, province: str,
                      by: str) -> Report:
        flt = await _report_filter(campaigns, context.clock(), campaign=campaign, since=since,
                                   until=until, language=language, province=province)
        return await report(campaigns.session, flt, _dimension(by))

    @router.get("/signals")
    async def report_page(request: Request, campaigns: CampaignsDep, context: ContextDep,
                          campaign: str = "", since: str = "", until: str = "",
                          language: str = "", province: str = "",
                          by: str = "week") -> Response:
        _ = staff_gettext(campaigns.account.locale).gettext
        error = None
        try:
            result: Report | None = await _report(
                campaigns, context, campaign=campaign, since=since, until=until,
                language=language, province=province, by=by)
        except Invalid as exc:
            result, error = None, exc.code
        labels = {"started": _("Started"), "informed": _("Read information"),
                  "booking_started": _("Started booking"), "booked": _("Booked a contact"),
                  "contacted": _("Contacted by a counsellor")}
        names = value_labels(_)
        charts = {}
        if result is not None:
            charts = {
                "funnel": bar_chart(_("Funnel: people per stage"),
                                    [(labels[s], c) for s, c in zip(STAGES, result.funnel,
                                                                    strict=True)]),
                "obstacles": bar_chart(_("What makes it hard to decide"),
                                       [(names[r.value], r.count)
                                        for r in result.obstacles]),
                "topics": bar_chart(_("Topics read"),
                                    [(names[r.value], r.count) for r in result.topics]),
            }
        query = "&".join(f"{k}={quote(v)}" for k, v in (
            ("campaign", campaign), ("since", since), ("until", until),
            ("language", language), ("province", province), ("by", by)) if v)
        return render(request, "signals_report.html", report=result, charts=charts,
                      stage_labels=labels, value_labels=names,
                      campaigns=await campaigns.all(),
                      campaign=campaign.upper(), by=by, dimensions=DIMENSIONS,
                      provinces=PROVINCES, language=language, province=province,
                      since=format_month(result.filter.since) if result else since,
                      until=format_month(result.filter.until) if result else until,
                      query=query, error=error,
                      status_code=422 if error else 200)

    @router.get("/signals/report.json")
    async def report_json(campaigns: CampaignsDep, context: ContextDep, campaign: str = "",
                          since: str = "", until: str = "", language: str = "",
                          province: str = "", by: str = "week") -> JSONResponse:
        result = await _report(campaigns, context, campaign=campaign, since=since, until=until,
                               language=language, province=province, by=by)
        return JSONResponse(result.json())

    @router.get("/signals/report.csv")
    async def report_csv(campaigns: CampaignsDep, context: ContextDep, campaign: str = "",
                         since: str = "", until: str = "", language: str = "",
                         province: str = "", by: str = "week") -> Response:
        result = await _report(campaigns, context, campaign=campaign, since=since, until=until,
                               language=language, province=province, by=by)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerows(result.csv_rows())
        stamp = datetime.now(UTC).strftime("%Y%m%d")
        return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers={
            "content-disposition": f'attachment; filename="signals-{stamp}.csv"'})

    return router
