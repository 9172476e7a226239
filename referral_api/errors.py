"""Domain errors raised by services; the app turns them into `{"detail": {"code": …}}`.

Services stay free of HTTP: the worker and the command line call them too.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status_code = 400
    default_code = "bad_request"

    def __init__(self, code: str | None = None, **extra: Any) -> None:
        self.code = code or self.default_code
        self.extra = extra
        super().__init__(self.code)

    def detail(self) -> dict[str, Any]:
        return {"code": self.code, **self.extra}


class NotFound(DomainError):
    status_code = 404
    default_code = "not_found"


class Forbidden(DomainError):
    status_code = 403
    default_code = "forbidden"


class Conflict(DomainError):
    status_code = 409
    default_code = "conflict"


class Invalid(DomainError):
    status_code = 422
    default_code = "invalid"


class Busy(DomainError):
    """The service is saturated for this kind of work (password checks): try again shortly."""

    status_code = 503
    default_code = "busy"


class TooMany(DomainError):
    """A per-person rate was reached (bookings a day, messages to a person)."""

    status_code = 429
    default_code = "too_many"
