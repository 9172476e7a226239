"""FastAPI dependencies shared by the routers, as `Annotated` aliases.

`AppContext` is built once by `create_app(settings)` and kept in `app.state.context`.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from referral_api.clock import Clock
from referral_api.crypto import DataVault
from referral_api.passwords import PasswordChecks
from referral_api.settings import Settings
from referral_api.web.ratelimit import LoginLimiter


@dataclass(frozen=True, slots=True)
class AppContext:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    vault: DataVault
    clock: Clock
    service_token: str
    admin_token: str | None
    login_limiter: LoginLimiter  # staff logins: failures per account and per IP
    passwords: PasswordChecks  # argon2 off the event loop, bounded (one per process)
    # The staff pages' own pool (the bot's /v1 keeps `engine`); the same engine on SQLite.
    staff_engine: AsyncEngine
    staff_sessionmaker: async_sessionmaker[AsyncSession]

    async def aclose(self) -> None:
        await self.login_limiter.aclose()
        if self.staff_engine is not self.engine:
            await self.staff_engine.dispose()
        await self.engine.dispose()


def get_context(request: Request) -> AppContext:
    context: AppContext = request.app.state.context
    return context


ContextDep = Annotated[AppContext, Depends(get_context)]


async def get_session(request: Request, context: ContextDep) -> AsyncIterator[AsyncSession]:
    """A session from the bot's pool, or from the staff pool for the staff pages."""
    staff = request.url.path.startswith("/staff")
    async with (context.staff_sessionmaker if staff else context.sessionmaker)() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    return token.strip()


def _unauthorized() -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail={"code": "unauthorized"},
                         headers={"WWW-Authenticate": "Bearer"})


def _matches(given: str | None, expected: str | None) -> bool:
    if given is None or expected is None:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


# Declares the bearer token in the OpenAPI schema; the check itself is ours (below), so that
# every refusal is the same 401 with `WWW-Authenticate: Bearer`.
BEARER = HTTPBearer(auto_error=False, description="SERVICE_TOKEN (the bot) or ADMIN_TOKEN")
DeclaredBearer = Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)]


def require_service(request: Request, context: ContextDep,
                    _declared: DeclaredBearer) -> None:
    """`Authorization: Bearer <SERVICE_TOKEN>` (the bot), else 401."""
    if not _matches(_bearer(request), context.service_token):
        raise _unauthorized()


def require_admin(request: Request, context: ContextDep,
                  _declared: DeclaredBearer) -> str:
    """`Authorization: Bearer <ADMIN_TOKEN>`, else 401 (always 401 when ADMIN_TOKEN is unset).
    Returns the actor name for audit."""
    if not _matches(_bearer(request), context.admin_token):
        raise _unauthorized()
    return "admin"


AdminDep = Annotated[str, Depends(require_admin)]
