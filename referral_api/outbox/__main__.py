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
import sys

from governor.wiring import create_bot, create_governor, create_redis
from referral_api.app import create_context
from referral_api.housekeeping import create_worker
from referral_api.settings import Settings


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
    context = create_context(settings)
    worker = create_worker(settings, bot, context.sessionmaker, context.vault)
    worker.redis = redis
    stop = asyncio.Event()
    try:
        await worker.run(stop, retention_days=settings.retention_days)
    finally:
        await worker.aclose()
        await bot.session.close()
        await context.aclose()


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(prog="python -m referral_api.outbox").parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(Settings()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
