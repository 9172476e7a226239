"""Rendering of the staff pages (Jinja2, autoescaped) and the signed session cookie.

The templates of every domain's pages live in `web/templates` (one Jinja2 environment, one
`base.html`, one extraction for the `staff` catalogue); `redirect`, `shown_notice` and
`shown_error` are what the pages' handlers share.

The session is a cookie signed with itsdangerous (HttpOnly, SameSite=Lax, Secure unless
STAFF_COOKIE_SECURE=false, path /staff): `{"a": account id or null, "e": the account's session
epoch, "c": CSRF token}`. The CSRF token is per session and renewed at login; every POST must
send it back. The account is reloaded on every request and its `session_epoch` must equal the
cookie's: logout, deactivation and a new password bump it, so older cookies stop working at once.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from referral_api.settings import Settings
from referral_api.staff.models import StaffAccount
from referral_api.web.i18n import brussels_time, language_label, negotiate, staff_gettext
from referral_api.web.texts import ERROR, NOTICE

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent / "static"
COOKIE_NAME = "conex_staff"
STAFF_PREFIX = "/staff"  # every staff page (web.security adds its headers there)
COOKIE_PATH = STAFF_PREFIX


class LoginRequired(Exception):
    """No valid staff session: the browser goes to the login page."""


@lru_cache(maxsize=1)
def environment() -> Environment:
    return Environment(loader=FileSystemLoader(TEMPLATES_DIR), autoescape=True,
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


@dataclass(slots=True)
class StaffSession:
    csrf: str
    account_id: int | None
    epoch: int | None = None
    changed: bool = False

    @classmethod
    def new(cls, account: StaffAccount | None = None) -> StaffSession:
        return cls(csrf=secrets.token_urlsafe(32),
                   account_id=account.id if account is not None else None,
                   epoch=account.session_epoch if account is not None else None, changed=True)


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.context.settings
    return settings


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.resolved_staff_session_secret(),
                                  salt="conex.staff.session")


def load_session(request: Request) -> StaffSession:
    """This request's session (a new anonymous one when the cookie is absent or invalid)."""
    cached = getattr(request.state, "staff_session", None)
    if isinstance(cached, StaffSession):
        return cached
    settings = _settings(request)
    session = StaffSession.new()
    raw = request.cookies.get(COOKIE_NAME)
    if raw:
        try:
            data = _serializer(settings).loads(raw, max_age=settings.staff_session_hours * 3600)
        except BadSignature:
            data = None
        if isinstance(data, dict) and isinstance(data.get("c"), str) and len(data["c"]) >= 32:
            account_id, epoch = data.get("a"), data.get("e")
            session = StaffSession(csrf=data["c"],
                                   account_id=account_id if isinstance(account_id, int) else None,
                                   epoch=epoch if isinstance(epoch, int) else None)
    request.state.staff_session = session
    return session


def replace_session(request: Request, session: StaffSession) -> None:
    request.state.staff_session = session


def write_session(request: Request, response: Response) -> None:
    session = load_session(request)
    if not session.changed:
        return
    settings = _settings(request)
    response.set_cookie(
        COOKIE_NAME, _serializer(settings).dumps({"a": session.account_id, "e": session.epoch,
                                                  "c": session.csrf}),
        max_age=settings.staff_session_hours * 3600, path=COOKIE_PATH, httponly=True,
        samesite="lax", secure=settings.staff_cookie_secure,
    )


def current_account(request: Request) -> StaffAccount | None:
    account = getattr(request.state, "staff_account", None)
    return account if isinstance(account, StaffAccount) else None


def render(request: Request, template: str, *, status_code: int = 200,
           headers: dict[str, str] | None = None, **values: Any) -> HTMLResponse:
    account = current_account(request)
    locale = account.locale if account else negotiate(request.headers.get("accept-language"))
    session = load_session(request)
    texts = staff_gettext(locale)
    html = environment().get_template(template).render(
        _=texts.gettext, pgettext=texts.pgettext, label=texts.label, locale=texts.locale,
        when=lambda moment, short=False: brussels_time(moment, texts.locale, short=short),
        language_name=lambda code: language_label(code, texts.locale),
        account=account, csrf_token=session.csrf,
        alert_count=getattr(request.state, "staff_alert_count", None), **values)
    response = HTMLResponse(html, status_code=status_code, headers=headers)
    write_session(request, response)
    return response


def render_error(request: Request, status_code: int, code: str) -> HTMLResponse:
    key = {404: "not_found", 403: "forbidden"}.get(status_code, "error")
    return render(request, "error.html", status_code=status_code, message_code=key, code=code)


def redirect(path: str, **query: str) -> RedirectResponse:
    """303 to the staff page `path` (under /staff), with a query string."""
    suffix = "&".join(f"{key}={quote(value)}" for key, value in query.items())
    return RedirectResponse(f"{STAFF_PREFIX}{path}" + (f"?{suffix}" if suffix else ""),
                            status_code=303)


def shown_notice(code: str) -> str | None:
    """A notice named in the query string, if it is one of ours (no text from the URL)."""
    return code if code in NOTICE else None


def shown_error(code: str) -> str | None:
    """An error named in the query string: one of ours, else the generic one."""
    return (code if code in ERROR else "error") if code else None
