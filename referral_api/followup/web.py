"""The coordinators' follow-up page under /staff/followup (coordinators and admins only):
exact counts and charts; a CSV of the results table, exact or for publication. (Its demo form,
"send the next wave now", posts to referrals.web: it starts from a referral.)"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from markupsafe import Markup

from referral_api.dependencies import ContextDep, SessionDep
from referral_api.errors import Forbidden, NotFound
from referral_api.followup import charts as chart_module
from referral_api.followup.report import (
    DECISION_LABELS,
    DIMENSION_LABELS,
    INFO_LABELS,
    Report,
    build,
    country_name,
    load_rows,
    render_csv,
)
from referral_api.staff.models import StaffAccount
from referral_api.web.auth import StaffDep, staff_router
from referral_api.web.i18n import staff_gettext
from referral_api.web.pages import environment, render
from referral_api.web.security import STAFF_PREFIX

REPORT_ROLES = ("coordinator", "admin")
DEMO_RESULTS = ("wave_1", "wave_2", "wave_3", "wave_4", "wave_5", "wave_6", "no_wave")


def template_values(report: Report, chart_link: Callable[[str, str], str]) -> dict[str, Any]:
    return {
        "report": report, "country_name": country_name, "info_labels": INFO_LABELS,
        "decision_labels": DECISION_LABELS, "dimension_labels": DIMENSION_LABELS,
        "svgs": {c.slug: Markup(chart_module.svg(c))  # noqa: S704 - our own escaped SVG
                 for c in chart_module.charts(report)},
        "chart_link": chart_link,
    }


def standalone_html(report: Report, chart_folder: str = "charts") -> str:
    """`followup report --format html`: one page, charts inline, links to the chart files."""
    return environment().get_template("followup_report_standalone.html").render(
        _=staff_gettext("en").gettext,
        **template_values(report, lambda slug, ext: f"{chart_folder}/{slug}.{ext}"))


def require_reporter(account: StaffAccount) -> None:
    if account.role not in REPORT_ROLES:
        raise Forbidden("forbidden")


async def _report(session: SessionDep, publication: str) -> Report:
    return build(await load_rows(session), publication=publication in ("1", "true", "yes"))


def create_router() -> APIRouter:
    router = staff_router("/followup")

    def link(publication: bool) -> Callable[[str, str], str]:
        suffix = "?publication=1" if publication else ""
        return lambda slug, ext: f"{STAFF_PREFIX}/followup/charts/{slug}.{ext}{suffix}"

    @router.get("")
    async def page(request: Request, account: StaffDep, session: SessionDep,
                   context: ContextDep, publication: str = "", demo: str = "") -> Response:
        require_reporter(account)
        report = await _report(session, publication)
        return render(request, "followup_report.html", is_demo=context.settings.is_demo,
                      demo_result=demo if demo in DEMO_RESULTS else None,
                      **template_values(report, link(report.publication)))

    @router.get("/report.csv")
    async def table_csv(account: StaffDep, session: SessionDep,
                        publication: str = "") -> Response:
        require_reporter(account)
        report = await _report(session, publication)
        name = "followup_publication.csv" if report.publication else "followup_exact.csv"
        return Response(render_csv(report), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"',
                                 "Cache-Control": "no-store"})

    @router.get("/charts/{slug}.{ext}")
    async def chart(slug: str, ext: str, account: StaffDep, session: SessionDep,
                    publication: str = "") -> Response:
        require_reporter(account)
        if ext not in ("svg", "png"):
            raise NotFound()
        report = await _report(session, publication)
        for item in chart_module.charts(report):
            if item.slug == slug:
                if ext == "svg":
                    return Response(chart_module.svg(item), media_type="image/svg+xml",
                                    headers={"Cache-Control": "no-store"})
                return Response(chart_module.png(item), media_type="image/png",
                                headers={"Cache-Control": "no-store"})
        raise NotFound()

    return router


def install(app: FastAPI) -> None:
    app.include_router(create_router())
