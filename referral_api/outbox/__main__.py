"""python -m referral_api.outbox: the outbox worker process (docker-compose's `worker`).

Delivers the outbox to Telegram within its limits, sharing the governor with the bot through
Redis, and runs the domains' housekeeping (referral_api.housekeeping). The entry point: it
wires; nothing imports it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

from aiohttp import web
from redis.asyncio import Redis
from sqlalchemy import text

from governor.wiring import create_bot, create_governor, create_redis
from ops.http import add_routes
from ops.logs import configure as configure_logs
from referral_api.app import create_context, database_gauges
from referral_api.dependencies import AppContext
from referral_api.housekeeping import create_worker
from referral_api.settings import Settings

log = logging.getLogger("referral_api.outbox")
GRACE = 6.0  # seconds for the chats in flight at SIGTERM: the process is gone within 10 s


async def _main(settings: Settings) -> None:
    if settings.bot_token is None or not settings.bot_token.get_secret_value():
        raise SystemExit("error: BOT_TOKEN is not set: the worker sends through the bot")
    if not settings.is_demo and not settings.redis_url:
        raise SystemExit("error: REDIS_URL is not set: the worker shares Telegram's limits "
                         "with the bot through Redis")
    # The bot's pacing (BULK_RATE, the Redis pool), with the worker's Redis and token.
    redis = create_redis(settings.redis_url, max_connections=settings.redis_max_connections,
                         pool_timeout=settings.redis_pool_timeout)
    governor = None if redis is None else create_governor(redis, settings.redis_prefix,
                                                          bulk_rate=settings.bulk_rate)
    bot = create_bot(settings.bot_token.get_secret_value(), api_url=settings.telegram_api_url,
                     governor=governor)
    web_bot = None
    if settings.webchat_bot_token is not None and settings.webchat_api_url:
        web_bot = create_bot(settings.webchat_bot_token.get_secret_value(),
                             api_url=settings.webchat_api_url)  # no Telegram limits there
    context = create_context(settings)
    worker = create_worker(settings, bot, context.sessionmaker, context.vault,
                           web_bot=web_bot)
    worker.redis = redis
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    server = await serve_operator_endpoints(settings, context, redis)
    try:
        # On SIGTERM: no new claims; the chats in flight get GRACE seconds, then their leases
        # are handed back (the rows go to the next worker at once, not after a lease).
        await worker.run(stop, retention_days=settings.retention_days, grace=GRACE)
    finally:
        if server is not None:
            await server.cleanup()
        await worker.aclose()
        await bot.session.close()
        if web_bot is not None:
            await web_bot.session.close()
        await context.aclose()
    log.info("worker stopped")


async def serve_operator_endpoints(settings: Settings, context: AppContext,
                                   redis: Redis | None) -> web.AppRunner | None:
    """/healthz, /readyz (PostgreSQL and Redis answer) and /metrics on WORKER_HTTP_PORT."""
    if not settings.worker_http_port:
        return None

    async def database() -> None:
        async with context.sessionmaker() as session:
            await session.execute(text("SELECT 1"))

    async def ping() -> None:
        if redis is not None:
            await redis.ping()

    app = web.Application()
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    add_routes(app, process="worker", ready=[database, ping],
               refresh=[database_gauges(context.sessionmaker)], metrics_token=token)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.worker_http_host, settings.worker_http_port).start()
    return runner


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(prog="python -m referral_api.outbox").parse_args(argv)
    configure_logs("worker")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(Settings()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
