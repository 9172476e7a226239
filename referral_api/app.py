"""`create_app(settings)`: the FastAPI application, wired from Settings. Nothing at import time.

The wiring of the API process: the only module (with the CLI and the worker's wiring,
referral_api.housekeeping) that imports every domain. Each domain contributes its bot-facing
router and its staff pages (`<domain>/web.py` on the `web` kit); what one domain lends another
without importing it is handed over here (the referrals' consent withdrawal to /stop).

`python -m referral_api` serves `app_factory` with uvicorn (factory mode).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ops.http import metrics_refusal
from ops.metrics import CONTENT_TYPE_LATEST, HTTP_REQUESTS, HTTP_SECONDS, Refresh, render
from referral_api.admin import router as admin_router
from referral_api.admin import web as admin_pages
from referral_api.campaigns import router as campaigns_router
from referral_api.campaigns import web as campaign_pages
from referral_api.clock import Clock, system_clock
from referral_api.db.engine import create_engine, create_sessionmaker, pool_options
from referral_api.dependencies import AppContext, SessionDep
from referral_api.errors import DomainError
from referral_api.followup import router as followup_router
from referral_api.followup import web as followup_pages
from referral_api.outbox.metrics import read_outbox
from referral_api.partners import router as partners_router
from referral_api.passwords import PasswordChecks
from referral_api.referrals import router as referrals_router
from referral_api.referrals import web as referral_pages
from referral_api.referrals.metrics import read_referrals
from referral_api.referrals.service import withdraw_followup_consent
from referral_api.settings import Settings
from referral_api.signals import router as signals_router
from referral_api.signals import web as signal_pages
from referral_api.staff import web as staff_pages
from referral_api.staff.service import password_hasher
from referral_api.translations import router as voice_router
from referral_api.translations import web as translation_pages
from referral_api.translations.service import Screens
from referral_api.web import openapi
from referral_api.web import router as staff_kit
from referral_api.web.ratelimit import create_login_limiter
from referral_api.web.security import StaffSecurityHeadersMiddleware, staff_error_response
from referral_api.web.strict import RejectNulMiddleware

logger = logging.getLogger("referral_api.access")
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def create_context(settings: Settings, *, clock: Clock = system_clock,
                   engine: AsyncEngine | None = None) -> AppContext:
    """What the routes need at run time: engine, sessions, vault, clock, tokens.
    Raises ConfigError when a secret is missing outside the demo."""
    vault = settings.vault()
    service_token = settings.resolved_service_token()
    if engine is None:
        engine = create_engine(settings.database_url, **pool_options(settings.database_url,
                                                                     settings.db_pool_size))
    staff_engine = engine
    if engine.dialect.name != "sqlite":  # the demo's SQLite: one file, one engine
        url = engine.url.render_as_string(hide_password=False)
        staff_engine = create_engine(url, **pool_options(url, settings.staff_db_pool_size))
    return AppContext(
        settings=settings,
        engine=engine,
        sessionmaker=create_sessionmaker(engine),
        staff_engine=staff_engine,
        staff_sessionmaker=create_sessionmaker(staff_engine),
        passwords=PasswordChecks(password_hasher(settings), limit=settings.password_checks,
                                 queue=settings.password_queue),
        vault=vault,
        clock=clock,
        service_token=service_token,
        admin_token=settings.resolved_admin_token(),
        login_limiter=create_login_limiter(settings),
    )


def create_app(settings: Settings, *, clock: Clock = system_clock,
               engine: AsyncEngine | None = None) -> FastAPI:
    """The API. `engine` defaults to one made from DATABASE_URL, disposed at shutdown.
    Routes read `app.state.context` (see create_context) on every request.
    Raises ConfigError when a secret is missing outside the demo."""
    context = create_context(settings, clock=clock, engine=engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await app.state.context.aclose()

    app = FastAPI(title="CONEX referral API", version="1", lifespan=lifespan,
                  docs_url="/docs" if settings.api_docs else None, redoc_url=None,
                  openapi_url="/openapi.json" if settings.api_docs else None)
    app.state.context = context
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.include_router(_health_router())
    if settings.api_surface in ("all", "bot"):  # the bot's API under /v1
        app.include_router(partners_router.create_router())
        app.include_router(admin_router.create_router())
        app.include_router(referrals_router.create_router())
        app.include_router(followup_router.create_router(withdraw_followup_consent))
        app.include_router(signals_router.create_router())
        app.include_router(campaigns_router.create_router())
        app.include_router(voice_router.create_router())
    if settings.api_surface in ("all", "staff"):
        # The staff web app under /staff: the kit's routes, then each domain's pages.
        staff_kit.install(app)
        campaign_pages.install(app)
        signal_pages.install(app)
        staff_pages.install(app)
        referral_pages.install(app)  # with the Alerts count in every page's navigation
        admin_pages.install(app)
        followup_pages.install(app)
        translation_pages.install(app, _gallery)  # the bot's screens, built on first use
    openapi.install(app)
    app.add_middleware(StaffSecurityHeadersMiddleware)
    app.add_middleware(RejectNulMiddleware)
    app.add_middleware(AccessLogMiddleware)
    return app


def database_gauges(sessionmaker: async_sessionmaker[AsyncSession],
                    clock: Clock = system_clock) -> Refresh:
    """The gauges /metrics reads from PostgreSQL (the API's and the worker's): referrals by
    status, the outbox's due messages by class."""
    async def refresh() -> None:
        async with sessionmaker() as session:
            await read_referrals(session)
            await read_outbox(session, clock())

    return refresh


def _gallery() -> Screens:
    from bot.gallery import Gallery  # the bot's engine, loaded only when a page needs it

    return Gallery()


def app_factory() -> FastAPI:
    """For uvicorn's factory mode: Settings from the environment and .env."""
    return create_app(Settings())


async def _domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    if request.url.path.startswith("/staff"):
        return staff_error_response(request, exc)
    return JSONResponse(status_code=exc.status_code, content={"detail": exc.detail()})


HTTP_CODES = {400: "malformed_body", 404: "not_found", 405: "method_not_allowed",
              413: "too_large"}


async def _http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (a body that is not JSON, an unknown path, a method the path
    does not take) in the API's one shape, `{"detail": {"code": …}}`; a 405 lists every method
    of the path in `Allow` (Starlette names only the first route's). The staff pages keep
    FastAPI's handling."""
    assert isinstance(exc, StarletteHTTPException)
    if request.url.path.startswith("/staff"):
        return await http_exception_handler(request, exc)
    detail = exc.detail if isinstance(exc.detail, dict) else {
        "code": HTTP_CODES.get(exc.status_code, "error")}
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        methods = {method for route in request.app.routes if isinstance(route, APIRoute)
                   and route.path_regex.match(request.url.path) for method in route.methods or ()}
        headers["Allow"] = ", ".join(sorted(methods))
    return JSONResponse(status_code=exc.status_code, content={"detail": detail},
                        headers=headers or None)


def _health_router() -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        """Prometheus text: counters of this process, and the referrals and the outbox as
        PostgreSQL has them (every replica reports the same: alert on max())."""
        context: AppContext = request.app.state.context
        token = context.settings.metrics_token
        refused = metrics_refusal(request.headers.get("authorization", ""),
                                  request.client.host if request.client else None,
                                  token.get_secret_value() if token is not None else None)
        if refused == 401:
            return JSONResponse(status_code=401, content={"detail": {"code": "unauthorized"}})
        if refused is not None:
            raise StarletteHTTPException(404)
        body = await render("api", database_gauges(context.sessionmaker, context.clock))
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    @router.get("/readyz")
    async def readyz(session: SessionDep) -> JSONResponse:
        try:
            await session.execute(text("SELECT 1"))
        except Exception as exc:
            logging.getLogger(__name__).warning("readyz: database unavailable (%s)",
                                                type(exc).__name__)
            return JSONResponse(status_code=503, content={"status": "unavailable"})
        return JSONResponse({"status": "ok"})

    return router


class AccessLogMiddleware:
    """One log line per request: method, the route *template* (never the concrete path nor
    the query string, which may hold a location), status and duration. Uvicorn's own access
    log is switched off by `python -m referral_api`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status_code = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route: Any = scope.get("route")
            path = getattr(route, "path", None) or "<unmatched>"
            took = time.perf_counter() - started
            method = scope["method"] if scope["method"] in METHODS else "other"  # closed list
            HTTP_REQUESTS.labels(method, path, str(status_code)).inc()
            HTTP_SECONDS.labels(method, path).observe(took)
            logger.info("%s %s %d %.1fms", method, path, status_code, took * 1000,
                        extra={"method": method, "route": path, "status": status_code,
                               "duration_ms": round(took * 1000, 1)})
