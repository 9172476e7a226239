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
        if metrics_token:
            given = request.headers.get("Authorization", "").encode("utf-8")
            if not hmac.compare_digest(given, f"Bearer {metrics_token}".encode()):
                return web.json_response({"detail": {"code": "unauthorized"}}, status=401)
        elif not is_loopback(request.remote):
            raise web.HTTPNotFound()  # no METRICS_TOKEN: only this machine may look
        body = await render(process, *refresh)
        response = web.Response(body=body)
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
