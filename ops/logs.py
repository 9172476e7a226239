"""Logs as data: one JSON object per line, with no personal data in it.

Every process (the bot, the API, the outbox worker, the simulator) calls :func:`configure` at
start. The standard library's ``logging`` does it (no structlog): every module already logs
through it, and so do aiogram, uvicorn, SQLAlchemy and httpx, whose lines must come out in the
same shape; a formatter and a filter are all it takes.

A line carries ``ts``, ``level``, ``logger``, ``event`` (the message) and the structured fields
a call gives in ``extra`` when they are in :data:`FIELDS` (``update_id``, ``route``,
``duration_ms`` …). Anything else a library attaches is left out.

What keeps personal data out, in this order:
1. the code logs outcomes, kinds, counts and exception types, never a chat id, phone, reference,
   location or message text (the rule of every module);
2. no HTTP client or server logs URLs: httpx/httpcore below WARNING, uvicorn's and aiohttp's
   access logs off (the API logs route *templates*: ``referral_api.app.AccessLogMiddleware``);
3. :func:`scrub` masks, in the message and in tracebacks, what looks like coordinates, phone
   numbers, Telegram ids, reference codes and tokens — the net under a mistake, not the rule.

``LOG_FORMAT=text`` gives the old human-readable lines (a developer's terminal); JSON is the
default.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
import traceback
from typing import Any

__all__ = ["FIELDS", "JsonFormatter", "configure", "scrub"]

# The structured fields a line may carry (from `extra=`); nothing else is written.
FIELDS = frozenset({
    "update_id", "update_type", "route", "duration_ms", "outcome", "method", "path", "status",
    "kind", "reason", "shard", "count", "scope", "retry_after",
})

# Libraries that would log URLs (a location in a query string, a reference in a path) or
# every request: kept at WARNING.
QUIET = ("httpx", "httpcore", "aiohttp.access", "uvicorn.access", "aiogram.event",
         "hpack", "asyncio")

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # coordinates: a decimal number with four or more decimals (51.054321)
    (re.compile(r"-?\b\d{1,3}\.\d{4,}\b"), "<number>"),
    # phone numbers: + or 0 then 8 or more digits, spaces, dots, dashes, brackets between
    (re.compile(r"(?<![\w.])(?:\+|00?)\d[\d ().\-/]{6,}\d\b"), "<phone>"),
    # Telegram chat and user ids, and any other long number: six digits or more
    (re.compile(r"(?<![\w.])-?\d{6,}\b"), "<id>"),
    # reference codes: 8 letters and digits (ABCD2345, ABCD-2345) with a digit among them
    (re.compile(r"\b(?=[A-Z]*\d)(?=\d*[A-Z])[A-Z0-9]{4}-?[A-Z0-9]{4}\b"), "<ref>"),
    # tokens: 20 or more URL-safe characters with letters and digits mixed
    (re.compile(r"(?<![\w/.-])(?=[\w-]*\d)(?=[\w-]*[A-Za-z])[\w-]{20,}"), "<token>"),
]


def scrub(text: str) -> str:
    """What looks like personal data in free text, masked."""
    for pattern, mask in _PATTERNS:
        text = pattern.sub(mask, text)
    return text


class JsonFormatter(logging.Formatter):
    """One JSON object per line (see the module's docstring)."""

    def __init__(self, process: str | None = None) -> None:
        super().__init__()
        self.process = process

    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": scrub(record.getMessage()),
        }
        if self.process:
            event["process"] = self.process
        for key in FIELDS.intersection(record.__dict__):
            value = record.__dict__[key]
            event[key] = value if isinstance(value, int | float | bool) or value is None \
                else scrub(str(value))
        if record.exc_info and record.exc_info[0] is not None:
            event["error"] = record.exc_info[0].__name__
            # The frames, not the exception's message: a message may quote input or SQL values.
            event["trace"] = scrub("".join(traceback.format_tb(record.exc_info[2])))
        return json.dumps(event, ensure_ascii=False, default=str)


class ScrubbingTextFormatter(logging.Formatter):
    """The human-readable shape, scrubbed the same way (LOG_FORMAT=text)."""

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


def configure(process: str, *, level: int | str | None = None,
              fmt: str | None = None) -> None:
    """The process's logging: one handler on stderr, JSON lines (or text with
    LOG_FORMAT=text), LOG_LEVEL (INFO by default); URL-logging libraries kept quiet."""
    fmt = (fmt or os.environ.get("LOG_FORMAT") or "json").lower()
    level = level or os.environ.get("LOG_LEVEL", "INFO").upper()
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "text":
        handler.setFormatter(ScrubbingTextFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s"))
    else:
        handler.setFormatter(JsonFormatter(process))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    quiet()


def quiet() -> None:
    """Libraries that log URLs or every request: WARNING and above only."""
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
