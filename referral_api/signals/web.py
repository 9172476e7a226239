"""The signals report under /staff/signals (issue 7): funnel, obstacles, topics, flags, with
CSV and JSON. Coordinators and admins see the whole report; a counsellor (partner staff) sees
reports limited to its organisation's campaigns (campaigns.service scopes them).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from referral_api.campaigns.service import CampaignService
from referral_api.campaigns.web import CampaignsDep
from referral_api.dependencies import ContextDep
from referral_api.errors import Invalid
from referral_api.signals.catalogue import PROVINCES, STAGES
from referral_api.signals.charts import bar_chart
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
from referral_api.web.auth import staff_router
from referral_api.web.i18n import staff_gettext
from referral_api.web.pages import render

DEFAULT_MONTHS = 3


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
    router = staff_router()

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


def install(app: FastAPI) -> None:
    app.include_router(create_router())
