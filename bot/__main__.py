"""python -m bot            polling (TELEGRAM_API_URL may point at any Bot API server)
python -m bot --webhook  webhook server (aiohttp), verifying X-Telegram-Bot-Api-Secret-Token"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from aiogram import Bot, Dispatcher
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web
from pydantic import ValidationError
from redis.asyncio import Redis

from bot.app import create_bot, create_dispatcher
from bot.middlewares.dedup import UpdateDedupMiddleware
from bot.settings import MissingToken, Settings


async def run_polling(settings: Settings) -> None:
    bot = create_bot(settings)
    dp = create_dispatcher(settings)
    try:
        await bot.delete_webhook(drop_pending_updates=False)
        await dp.start_polling(bot)
    finally:
        await bot.session.close()
        await dp.storage.close()


def create_webhook_app(settings: Settings, bot: Bot, dp: Dispatcher) -> web.Application:
    """aiohttp app: POST /webhook, refused (401) without the right secret header; each
    update_id handled once when Redis is configured."""
    if settings.webhook_secret is None:
        raise SystemExit("webhook mode needs WEBHOOK_SECRET")
    secret = settings.webhook_secret.get_secret_value()
    app = web.Application()
    if settings.redis_url:
        redis = Redis.from_url(settings.redis_url)
        dp.update.outer_middleware(UpdateDedupMiddleware(redis, settings.redis_prefix))

        async def close_redis(_: web.Application) -> None:
            await redis.aclose()

        app.on_cleanup.append(close_redis)
    SimpleRequestHandler(dispatcher=dp, bot=bot, secret_token=secret).register(app, "/webhook")
    setup_application(app, dp, bot=bot)
    return app


def run_webhook(settings: Settings) -> None:
    if settings.webhook_url is None:
        raise SystemExit("webhook mode needs WEBHOOK_URL (the public https address)")
    bot = create_bot(settings)
    dp = create_dispatcher(settings)
    app = create_webhook_app(settings, bot, dp)
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else ""

    @dp.startup()
    async def set_webhook() -> None:
        await bot.set_webhook(f"{settings.webhook_url}/webhook", secret_token=secret)

    web.run_app(app, host=settings.webhook_host, port=settings.webhook_port)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot")
    parser.add_argument("--webhook", action="store_true", help="serve a webhook instead")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = Settings()
        if args.webhook:
            run_webhook(settings)
        else:
            asyncio.run(run_polling(settings))
    except MissingToken as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:
        print(f"error: invalid settings: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
