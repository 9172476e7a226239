"""The web chat server (FastAPI): the page people use at /chat and its JSON API, and the Bot
API the bot's web Bot calls. Two routers, so that the demo can serve both beside the
simulator (whose Bot API sits at the root): ``people_router`` at /chat, ``botapi_router``
at WEBCHAT's Bot API base (the root here, /webchat in the demo).

What a person's browser gets: one HTML page, one stylesheet and one script, all from this
origin (no CDN, font or analytics), a strict Content-Security-Policy, and a random session id
in an HttpOnly, SameSite=Strict cookie. What they write goes to the bot (``Deliver``) before
the server answers: a message is "sent" only once the bot's inbox has it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import ipaddress
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from typing import Any

import httpx
from aiogram.utils.i18n import I18n
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, select_autoescape
from pydantic import BaseModel, Field, ValidationError
from starlette.applications import Starlette
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.middleware.gzip import GZipMiddleware

from bot.engine.flows import load_flows
from bot.i18n import create_i18n, negotiate, shipped_locales
from bot.settings import DEFAULT_FLOWS_DIR, DEFAULT_LOCALES_DIR
from ops.http import metrics_refusal
from ops.metrics import CONTENT_TYPE_LATEST, WEBCHAT_REQUESTS, render
from referral_api.web.clientip import client_ip, trusted_networks
from webchat.botapi import WebBotAPI
from webchat.local import LocalRedis
from webchat.settings import Settings
from webchat.store import ChatStore, RedisLike
from webchat.texts import direction, labels
from webchat.wire import MAX_TEXT, request_params

log = logging.getLogger(__name__)

COOKIE = "chat_session"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header's name
START_PAYLOAD = re.compile(r"[A-Za-z0-9_-]{1,64}")  # Telegram's deep-link alphabet
LONG_POLL = 20.0
MAX_BODY = 16_384  # bytes of a page's request (a 4,096-character message is < 16 KB)
MAX_BOT_API_BODY = 2_000_000  # the bot's calls (a voice message is at most 1 MB)
CODE_FAILURES_PER_15_MINUTES = 1_000  # wrong codes from everyone: beyond, codes wait
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "media-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
       "frame-ancestors 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "geolocation=(self), camera=(), microphone=(), interest-cohort=()",
}

Deliver = Callable[[dict[str, Any]], Awaitable[None]]


class DeliveryFailed(Exception):
    """The bot did not take the update (it is not shown as sent; the page says so)."""


class WebhookDelivery:
    """Production: each update goes to the bot's web-chat webhook with the secret header,
    as Telegram delivers its own; 200 means the bot's durable inbox has it."""

    def __init__(self, url: str, secret: str, http: httpx.AsyncClient | None = None) -> None:
        self.url = url
        self.secret = secret
        self.http = http or httpx.AsyncClient(timeout=10.0)

    async def __call__(self, update: dict[str, Any]) -> None:
        try:
            response = await self.http.post(self.url, json=update,
                                             headers={SECRET_HEADER: self.secret})
        except httpx.HTTPError as exc:
            raise DeliveryFailed(type(exc).__name__) from exc
        if response.status_code != 200:
            raise DeliveryFailed(f"status {response.status_code}")

    async def aclose(self) -> None:
        await self.http.aclose()


class SendIn(BaseModel):
    text: str | None = Field(default=None, max_length=MAX_TEXT)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)


class PressIn(BaseModel):
    message_id: int = Field(ge=1, le=2**31)
    data: str = Field(min_length=1, max_length=64)


class CodeIn(BaseModel):
    code: str = Field(min_length=1, max_length=20)


@dataclass
class WebChat:
    """Everything the routes need, built once."""

    settings: Settings
    store: ChatStore
    api: WebBotAPI
    deliver: Deliver
    i18n: I18n
    locales: list[str]
    ip_key: bytes
    freephone: str = ""  # the programme's free number (flows/facts.yaml), for <noscript>

    async def locale_of(self, request: Request, chat_id: int | None) -> str:
        """The page's language: its conversation's, else the browser's (``locale_for``)."""
        return self.locale_for(request, await self.store.lang(chat_id) if chat_id else None)

    def words(self, locale: str) -> dict[str, Any]:
        return labels(self.i18n, locale, self.settings.ttl_days, self.freephone)

    def locale_for(self, request: Request, chosen: str | None) -> str:
        """The chat's language, else the browser's first shipped one, else English."""
        if chosen in self.locales:
            return chosen
        for part in request.headers.get("accept-language", "").split(",")[:8]:
            tag = part.split(";")[0].strip()
            found = negotiate(None, tag, self.locales, "")
            if found:
                return found
        return "en"

    def who(self, request: Request) -> str:
        """A keyed hash of the client's address; IPv6 by its /64 (one subscriber's block:
        rotating addresses inside it is free)."""
        ip = client_ip(request, trusted_networks(self.settings.trusted_proxies))
        with contextlib.suppress(ValueError):
            address = ipaddress.ip_address(ip)
            if address.version == 6:
                ip = str(ipaddress.ip_network(f"{address}/64", strict=False))
        return hmac.new(self.ip_key, ip.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


def _json(status: int, **body: Any) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


def people_router(chat: WebChat) -> APIRouter:
    router = APIRouter()
    templates = Environment(loader=PackageLoader("webchat", "templates"),
                            autoescape=select_autoescape(["html"]))
    page = templates.get_template("chat.html")
    settings, store = chat.settings, chat.store

    def session_of(request: Request) -> str | None:
        return request.cookies.get(COOKIE)

    def keep_cookie(response: Response, session: str) -> None:
        response.set_cookie(COOKIE, session, max_age=settings.ttl_seconds, path="/chat",
                            httponly=True, secure=settings.cookie_secure, samesite="strict")

    def cross_site(request: Request) -> bool:
        """Not our page: another site's form or script (Sec-Fetch-Site, sent by every current
        browser), or a body that is not JSON (a form can post text/plain that parses as
        JSON; only a script may send application/json, and another origin's script needs
        a CORS preflight this server never grants)."""
        if request.method == "POST" and not request.headers.get(
                "content-type", "").startswith("application/json"):
            return True
        return request.headers.get("sec-fetch-site", "same-origin") not in (
            "same-origin", "none")

    @router.get("/chat", response_class=HTMLResponse)
    async def chat_page(request: Request, start: str | None = None) -> Response:
        chat_id = await store.chat_of(session_of(request))
        locale = await chat.locale_of(request, chat_id)
        words = chat.words(locale)
        body = page.render(lang=locale.replace("_", "-"), dir=direction(locale), t=words,
                           page={"labels": words, "lang": locale, "dir": direction(locale),
                                 "start": start if start and START_PAYLOAD.fullmatch(start)
                                 else None, "session": chat_id is not None})
        return HTMLResponse(body, headers={"Cache-Control": "no-store"})

    async def limited(request: Request, session: str | None) -> bool:
        if not await store.allow("ip", chat.who(request), settings.ip_messages_per_minute, 60):
            return True
        return session is not None and not await store.allow(
            "session", store.session_hash(session),
            settings.messages_per_minute, 60)

    async def deliver(chat_id: int, update: dict[str, Any]) -> Response | None:
        try:
            await chat.deliver(update)
        except Exception as exc:  # the bot did not take it: say so, the page offers again
            log.warning("webchat: update not delivered: %s", type(exc).__name__)
            await store.add_event(chat_id, "unsent")
            return _json(503, error="unsent")
        return None

    def too_big(request: Request, limit: int = MAX_BODY) -> bool:
        length = request.headers.get("content-length")
        return length is None or not length.isdigit() or int(length) > limit

    def refused(request: Request) -> Response | None:
        """Every POST of a page: from our page only, and small."""
        if cross_site(request):
            return _json(403, error="cross_site")
        if too_big(request):
            return _json(413, error="too_long")
        return None

    @router.post("/chat/api/send")
    async def send(request: Request) -> Response:
        if (refusal := refused(request)) is not None:
            return refusal
        try:
            body = SendIn.model_validate_json(await request.body())
        except ValidationError as exc:
            too_long = any(e["type"] == "string_too_long" for e in exc.errors())
            return _json(413 if too_long else 422, error="too_long" if too_long else "invalid")
        text = (body.text or "").strip()
        located = body.latitude is not None and body.longitude is not None
        if not text and not located:
            return _json(422, error="invalid")
        session = session_of(request)
        if await limited(request, session):
            return _json(429, error="slow_down")
        chat_id = await store.chat_of(session)
        response = _json(200, ok=True)
        if chat_id is not None and session is not None:
            keep_cookie(response, session)  # the cookie lives on with the activity
        if chat_id is None:
            if not await store.allow("open", chat.who(request), settings.opens_per_hour, 3600):
                return _json(429, error="slow_new")
            opened = await store.open(chat.locale_for(request, None))
            chat_id = opened.chat_id
            keep_cookie(response, opened.session)
        if located:
            update = await chat.api.person_message(
                chat_id, location={"latitude": float(body.latitude or 0),
                                   "longitude": float(body.longitude or 0)}, shown="📍")
        else:
            update = await chat.api.person_message(chat_id, text=text)
        failed = await deliver(chat_id, update)
        if failed is not None:
            if "set-cookie" in response.headers:
                failed.headers.append("set-cookie", response.headers["set-cookie"])
            return failed
        return response

    @router.post("/chat/api/press")
    async def press(request: Request) -> Response:
        if (refusal := refused(request)) is not None:
            return refusal
        try:
            body = PressIn.model_validate_json(await request.body())
        except ValidationError:
            return _json(422, error="invalid")
        session = session_of(request)
        chat_id = await store.chat_of(session)
        if chat_id is None:
            return _json(401, error="no_conversation")
        if await limited(request, session):
            return _json(429, error="slow_down")
        update = await chat.api.person_press(chat_id, body.message_id, body.data)
        if update is None:
            return _json(409, error="gone")
        return await deliver(chat_id, update) or _json(200, ok=True)

    @router.get("/chat/api/events")
    async def events(request: Request, after: int = 0, wait: float = LONG_POLL,
                     lang: str | None = None) -> Response:
        if not await store.allow("poll", chat.who(request), settings.polls_per_minute, 60):
            return _json(429, error="slow_down")  # the page waits and asks again
        chat_id = await store.chat_of(session_of(request))
        if chat_id is None:
            return _json(200, events=[], session=False)
        found, reset = await store.wait_events(chat_id, max(after, 0),
                                               max(0.0, min(wait, LONG_POLL)))
        locale = await chat.locale_of(request, chat_id)
        answer: dict[str, Any] = {"events": found, "session": True, "reset": reset,
                                  "lang": locale, "dir": direction(locale)}
        if lang != locale:
            answer["labels"] = chat.words(locale)
            answer["commands"] = await store.commands(locale)
        return _json(200, **answer)

    @router.get("/chat/api/commands")
    async def commands(request: Request) -> Response:
        locale = await chat.locale_of(request, await store.chat_of(session_of(request)))
        return _json(200, commands=await store.commands(locale))

    @router.post("/chat/api/resume")
    async def resume(request: Request) -> Response:
        if (refusal := refused(request)) is not None:
            return refusal
        if not await store.allow("code", chat.who(request), settings.codes_per_15_minutes,
                                 15 * 60):
            return _json(429, error="slow_codes")
        try:
            body = CodeIn.model_validate_json(await request.body())
        except ValidationError:
            return _json(404, error="bad_code")
        session = await store.resume(body.code)
        if session is None:
            if not await store.allow("code_failures", "all", CODE_FAILURES_PER_15_MINUTES,
                                     15 * 60):
                log.warning("webchat: more than %d wrong codes in 15 minutes: someone may be "
                            "guessing; codes wait", CODE_FAILURES_PER_15_MINUTES)
                return _json(429, error="slow_codes")
            return _json(404, error="bad_code")
        await store.leave(session_of(request))
        response = _json(200, ok=True)
        keep_cookie(response, session)
        return response

    @router.post("/chat/api/new-code")
    async def new_code(request: Request) -> Response:
        """Someone else may have the code: a new one; other browsers are signed out."""
        if (refusal := refused(request)) is not None:
            return refusal
        session = session_of(request)
        chat_id = await store.chat_of(session)
        if chat_id is None or session is None:
            return _json(401, error="no_conversation")
        if not await store.allow("new_code", str(chat_id), 5, 3600):
            return _json(429, error="slow_codes")
        await store.new_code(chat_id, session)
        return _json(200, ok=True)

    @router.post("/chat/api/leave")
    async def leave(request: Request) -> Response:
        if (refusal := refused(request)) is not None:
            return refusal
        await store.leave(session_of(request))
        response = _json(200, ok=True)
        response.delete_cookie(COOKIE, path="/chat", httponly=True,
                               secure=settings.cookie_secure, samesite="strict")
        # And whatever else this browser holds of the site (the page's cache included).
        response.headers["Clear-Site-Data"] = '"cache", "cookies", "storage"'
        return response

    @router.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:  # none: no request for it should fail in the console
        return Response(status_code=204, headers={"Cache-Control": "max-age=86400"})

    @router.get("/chat/api/voice/{file_id}")
    async def voice(file_id: str) -> Response:
        data = await store.file(file_id)
        if data is None:
            return Response(status_code=404)
        return Response(data, media_type="audio/ogg",
                        headers={"Cache-Control": "private, max-age=3600"})

    return router


def botapi_router(chat: WebChat) -> APIRouter:
    router = APIRouter()

    @router.api_route("/bot{token}/{method}", methods=["GET", "POST"],
                      include_in_schema=False)
    async def bot_api(token: str, method: str, request: Request) -> JSONResponse:
        # The token first, and a size limit, before anything is read.
        if not chat.api.is_token(token):
            return JSONResponse({"ok": False, "error_code": 401,
                                 "description": "Unauthorized"}, 401)
        length = request.headers.get("content-length", "0")
        if not length.isdigit() or int(length) > MAX_BOT_API_BODY:
            return JSONResponse({"ok": False, "error_code": 413,
                                 "description": "Request Entity Too Large"}, 413)
        try:
            params = await request_params(request)
        except ValueError:
            return JSONResponse({"ok": False, "error_code": 400,
                                 "description": "Bad Request: invalid JSON"}, 400)
        status, body = await chat.api.call(token, method, params)
        return JSONResponse(body, status_code=status)

    return router


ACTIONS = frozenset({"send", "press", "events", "resume", "new-code", "leave"})


def outcome_of(status: int) -> str:
    return {200: "ok", 429: "limited", 503: "unsent"}.get(status, "refused")


class SecurityHeaders(BaseHTTPMiddleware):
    """The page's security headers, and what pages asked counted (ops.metrics: closed lists
    of actions and outcomes, nothing about anyone)."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        path = request.url.path
        if path.startswith("/chat"):
            for name, value in SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
            action = path.removeprefix("/chat/api/")
            if path == "/chat":
                action = "page"
            if action == "page" or action in ACTIONS:
                WEBCHAT_REQUESTS.labels(action.replace("-", "_"),
                                        outcome_of(response.status_code)).inc()
        return response


def create_webchat(settings: Settings, *, redis: RedisLike | None = None,
                   deliver: Deliver | None = None, i18n: I18n | None = None) -> WebChat:
    if settings.bot_token is None:
        raise SystemExit("error: WEBCHAT_BOT_TOKEN is not set (the web bot's token)")
    token = settings.bot_token.get_secret_value()
    if redis is None:
        if settings.redis_url:
            from redis.asyncio import Redis
            redis = Redis.from_url(settings.redis_url)
        else:
            redis = LocalRedis()
    store = ChatStore(redis, settings.redis_prefix, ttl_seconds=settings.ttl_seconds)
    if deliver is None:
        if not settings.bot_webhook_url or settings.webhook_secret is None:
            raise SystemExit("error: WEBCHAT_BOT_WEBHOOK_URL and WEBCHAT_WEBHOOK_SECRET are "
                             "needed: where a person's messages go")
        deliver = WebhookDelivery(settings.bot_webhook_url,
                                  settings.webhook_secret.get_secret_value())
    i18n = i18n or create_i18n(DEFAULT_LOCALES_DIR)
    locales = [c for c in shipped_locales(DEFAULT_LOCALES_DIR)
               if c == "en" or c in i18n.available_locales]
    facts = load_flows(DEFAULT_FLOWS_DIR).facts
    return WebChat(settings, store, WebBotAPI(store, token, keep_days=settings.keep_days),
                   deliver, i18n, locales, freephone=str(facts.facts["freephone"].value),
                   ip_key=hashlib.sha256(b"webchat ip\n" + token.encode()).digest())


def static_files() -> Starlette:
    """The page's script and stylesheet, gzipped (a third of the bytes on a slow line).
    Only these: the JSON answers carry the conversation's code and are never compressed
    (BREACH)."""
    static = Starlette()
    static.add_middleware(GZipMiddleware, minimum_size=500)
    static.mount("/", StaticFiles(directory=str(resources.files("webchat").joinpath("static"))))
    return static


def mount(app: FastAPI, chat: WebChat, *, botapi_prefix: str = "") -> None:
    """The page, its API and its static files on ``app``; the Bot API at ``botapi_prefix``."""
    app.include_router(people_router(chat))
    app.include_router(botapi_router(chat), prefix=botapi_prefix)
    app.mount("/chat/static", static_files(), name="chat-static")
    app.add_middleware(SecurityHeaders)


def create_app(settings: Settings | None = None, *, chat: WebChat | None = None) -> FastAPI:
    """The web chat server on its own (python -m webchat; docker-compose's `webchat`)."""
    settings = settings or Settings()
    chat = chat or create_webchat(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        listener = None
        if hasattr(chat.store.redis, "pubsub"):  # replicas wake each other's long polls
            listener = asyncio.create_task(chat.store.listen())
        yield
        if listener is not None:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await listener
        closing = getattr(chat.deliver, "aclose", None)
        if closing is not None:
            await closing()
        redis_close = getattr(chat.store.redis, "aclose", None)
        if redis_close is not None:
            await redis_close()

    app = FastAPI(title="CONEX web chat", docs_url=None, redoc_url=None, openapi_url=None,
                  lifespan=lifespan)
    app.state.webchat = chat
    mount(app, chat)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> Response:
        try:
            await asyncio.wait_for(chat.store.redis.exists("readyz"), timeout=2)
        except Exception as exc:
            return JSONResponse({"status": "redis unavailable", "error": type(exc).__name__},
                                503)
        return JSONResponse({"status": "ok"})

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        token = settings.metrics_token
        refused = metrics_refusal(request.headers.get("authorization", ""),
                                  request.client.host if request.client else None,
                                  token.get_secret_value() if token is not None else None)
        if refused is not None:
            return Response(status_code=refused)
        return Response(await render("webchat"), media_type=CONTENT_TYPE_LATEST)

    @app.get("/", include_in_schema=False)
    async def root() -> Response:
        return Response(status_code=307, headers={"Location": "/chat"})

    return app
