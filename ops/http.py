"""The operator's endpoints of the aiohttp processes (the bot's webhook server, the outbox
worker's own small server): ``GET /healthz`` (the process answers), ``GET /readyz`` (and what
it depends on answers: 503 otherwise) and ``GET /metrics`` (Prometheus text; with
METRICS_TOKEN, only for a scrape bringing it as a bearer token; without, only from this
machine)."""

from __future__ import annotations

import hmac
import ipaddress
import logging
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web

from ops.metrics import CONTENT_TYPE_LATEST, Refresh, render

log = logging.getLogger(__name__)
Ready = Callable[[], Awaitable[None]]  # raises when a dependency does not answer


def metrics_refusal(authorization: str, peer: str | None, token: str | None) -> int | None:
    """Whether a scrape of /metrics is refused, and how: with METRICS_TOKEN, 401 unless it
    brings it as a bearer token; without, 404 to anyone but this machine. None: allowed."""
    if token:
        given = authorization.encode("utf-8")
        return None if hmac.compare_digest(given, f"Bearer {token}".encode()) else 401
    return None if is_loopback(peer) else 404


def is_loopback(host: str | None) -> bool:
    """Whether a peer is this machine (127.0.0.0/8, ::1): without METRICS_TOKEN, /metrics
    answers only there (a port the ingress reaches must not show it to the world)."""
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def add_routes(app: web.Application, *, process: str, ready: Sequence[Ready] = (),
               refresh: Sequence[Refresh] = (), metrics_token: str | None = None) -> None:
    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        for check in ready:
            try:
                await check()
            except Exception as exc:  # any failure: not ready, said without details
                log.warning("readyz: a dependency is unavailable (%s)", type(exc).__name__)
                return web.json_response({"status": "unavailable"}, status=503)
        return web.json_response({"status": "ready"})

    async def metrics(request: web.Request) -> web.Response:
        refused = metrics_refusal(request.headers.get("Authorization", ""), request.remote,
                                  metrics_token)
        if refused == 401:
            return web.json_response({"detail": {"code": "unauthorized"}}, status=401)
        if refused is not None:
            raise web.HTTPNotFound()
        body = await render(process, *refresh)
        response = web.Response(body=body)
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
