"""Prometheus metrics (``prometheus-client``): what an operator watches, and nothing personal.

Every process exposes ``GET /metrics`` (the bot's webhook server, the API, the worker's small
HTTP server). Label values come from closed lists only: update types, route names (handler
functions), delivery classes and kinds, failure reasons from the outbox's fixed vocabulary,
referral statuses, HTTP route *templates*. Never a chat id, a reference, a partner's group or
a person's language beyond the shipped list.

Counters and histograms live in the process's default registry. Gauges read from a shared
store (inbox depth in Redis, outbox and referrals in PostgreSQL) are set when /metrics is
scraped (``refresh`` callbacks), so every replica reports the same value: alert on ``max()``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)
from prometheus_client.exposition import generate_latest

__all__ = [
    "CONTENT_TYPE_LATEST", "DELIVERIES", "GOVERNOR_WAIT", "HTTP_REQUESTS", "HTTP_SECONDS",
    "INBOX_DEPTH", "INBOX_OLDEST", "OUTBOX_DUE", "OUTBOX_HELD", "OUTBOX_OLDEST", "REFERRALS",
    "TELEGRAM_429", "UPDATES", "UPDATE_SECONDS", "WEBCHAT_REQUESTS", "Refresh", "registry",
    "render",
]

Refresh = Callable[[], Awaitable[None]]
log = logging.getLogger(__name__)
# No `_created` series: nothing alerts on them.
disable_created_metrics()  # type: ignore[no-untyped-call]
# Each metric below belongs to no registry until a kind of process takes it (registry()).

# --- the bot -------------------------------------------------------------------------------
UPDATES = Counter("conex_updates_total", "Updates the bot handled, by type and outcome "
                  "(handled, failed, duplicate: already handled by a replica)",
                  ["update_type", "outcome"], registry=None)
UPDATE_SECONDS = Histogram("conex_update_seconds", "Time to handle one update, by type",
                           ["update_type"],
                           buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
                           registry=None)
INBOX_DEPTH = Gauge("conex_inbox_depth", "Updates in the durable inbox not yet handled",
                    registry=None)
INBOX_OLDEST = Gauge("conex_inbox_oldest_seconds",
                     "Age of the oldest update waiting in the inbox (0 when empty)", registry=None)

# --- Telegram, for every process that sends (bot and worker) --------------------------------
GOVERNOR_WAIT = Histogram("conex_governor_wait_seconds",
                          "Time a call waited at the governor (Telegram's limits), by class",
                          ["priority"],
                          buckets=(0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
                          registry=None)
TELEGRAM_429 = Counter("conex_telegram_429_total",
                       "Times Telegram answered 429 (too many requests)", registry=None)

# --- the outbox worker ------------------------------------------------------------------------
DELIVERIES = Counter("conex_outbox_deliveries_total",
                     "Outbox messages by kind and outcome (sent, retry, failed, dropped, held) "
                     "and reason (the outbox's fixed vocabulary; '' when sent)",
                     ["kind", "outcome", "reason"], registry=None)

# --- shared stores, read at scrape time -------------------------------------------------------
OUTBOX_DUE = Gauge("conex_outbox_due", "Outbox messages due and not yet sent, by class",
                   ["priority"], registry=None)
OUTBOX_OLDEST = Gauge("conex_outbox_oldest_seconds",
                      "How long the oldest due outbox message has waited, by class",
                      ["priority"], registry=None)
OUTBOX_HELD = Gauge("conex_outbox_held", "Outbox messages held for want of a target chat",
                    registry=None)
REFERRALS = Gauge("conex_referrals", "Referrals by status", ["status"], registry=None)

# --- the API ----------------------------------------------------------------------------------
HTTP_REQUESTS = Counter("conex_http_requests_total", "API requests by route template, method "
                        "and status", ["method", "route", "status"], registry=None)
HTTP_SECONDS = Histogram("conex_http_request_seconds", "API request duration by route template",
                         ["method", "route"],
                         buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
                         registry=None)


# --- the web chat -----------------------------------------------------------------------------
WEBCHAT_REQUESTS = Counter("conex_webchat_requests_total", "What pages asked the web chat, by "
                           "action (send, press, events, resume, new_code, leave, page) and "
                           "outcome (ok, limited, unsent, refused)",
                           ["action", "outcome"], registry=None)

BOT = (UPDATES, UPDATE_SECONDS, INBOX_DEPTH, INBOX_OLDEST, GOVERNOR_WAIT, TELEGRAM_429)
WORKER = (DELIVERIES, GOVERNOR_WAIT, TELEGRAM_429, OUTBOX_DUE, OUTBOX_OLDEST, OUTBOX_HELD)
API = (HTTP_REQUESTS, HTTP_SECONDS, OUTBOX_DUE, OUTBOX_OLDEST, OUTBOX_HELD, REFERRALS)
WEBCHAT = (WEBCHAT_REQUESTS,)
_REGISTRIES: dict[str, CollectorRegistry] = {}


def registry(process: str) -> CollectorRegistry:
    """The registry of one kind of process ("bot", "worker", "api"): only its own metrics
    (the API does not show an inbox it does not have). One per kind and per process."""
    if process not in _REGISTRIES:
        found = CollectorRegistry(auto_describe=True)
        for metric in {"bot": BOT, "worker": WORKER, "api": API, "webchat": WEBCHAT}[process]:
            found.register(metric)
        _REGISTRIES[process] = found
    return _REGISTRIES[process]


async def render(process: str, *refresh: Refresh) -> bytes:
    """The Prometheus text exposition, after the scrape-time gauges were read. A refresh
    that fails leaves its gauges as they were (the scrape still answers)."""
    for callback in refresh:
        try:
            await callback()
        except Exception as exc:  # a store down must not take /metrics down with it
            log.warning("metrics not refreshed: %s", type(exc).__name__)
    return bytes(generate_latest(registry(process)))
