"""The staff web app's own routes under /staff: its stylesheets and the home redirect.

The pages are the domains' (`<domain>/web.py`: `staff` login and accounts, `referrals` inbox,
referral page and alerts, `admin` partners and audit log, `followup`, `signals`,
`campaigns`), each a `staff_router` (web.auth) installed by the app (referral_api.app).
Plain server-rendered forms (no JavaScript); routes stay thin: scoping and audit live in the
domains' services.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, RedirectResponse

from referral_api.errors import NotFound
from referral_api.web.auth import staff_router
from referral_api.web.pages import STATIC_DIR, LoginRequired, redirect
from referral_api.web.security import login_required

STYLESHEETS = ("staff", "signals", "translations")


def create_router() -> APIRouter:
    router = staff_router()

    @router.get("/static/{name}.css")
    async def stylesheet(name: str) -> FileResponse:
        """The staff pages' stylesheets (staff.css; signals.css for campaigns and reports)."""
        if name not in STYLESHEETS:
            raise NotFound()
        return FileResponse(STATIC_DIR / f"{name}.css", media_type="text/css")

    @router.get("")
    @router.get("/")
    async def home() -> RedirectResponse:
        return redirect("/inbox")

    return router


def install(app: FastAPI) -> None:
    """The kit's routes under /staff, and the login page for whoever is not logged in."""
    app.include_router(create_router())
    app.add_exception_handler(LoginRequired, login_required)
