"""python -m bot            polling (TELEGRAM_API_URL may point at any Bot API server)
python -m bot --webhook  webhook server (aiohttp), verifying X-Telegram-Bot-Api-Secret-Token

With REDIS_URL set (production), both modes put every update into the durable inbox
(bot/inbox.py) first and handle it from there: nothing is lost when a process dies, and
overload means waiting in the stream. Without Redis (the demo), updates are handled in place.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hmac
import json
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiogram import Bot, Dispatcher
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramNetworkError,
    TelegramUnauthorizedError,
)
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from pydantic import ValidationError
from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.app import (
    create_bot,
    create_dispatcher,
    create_governor,
    create_redis,
    create_stores,
    create_web_bot,
)
from bot.channels import is_web
from bot.inbox import InboxConsumer, UpdateInbox
from bot.settings import MissingToken, Settings
from ops.http import add_routes
from ops.logs import configure as configure_logs

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header's name
POLL_TIMEOUT = 10  # aiogram start_polling's default
CONSUMER = web.AppKey("consumer", InboxConsumer)
CONSUMER_TASK = web.AppKey("consumer_task", asyncio.Task[None])


def build(settings: Settings) -> tuple[Bot, Dispatcher, Redis | None]:
    redis = create_redis(settings)
    governor = create_governor(settings, redis) if redis is not None else None
    bot = create_bot(settings, governor=governor)
    dp = create_dispatcher(settings, stores=create_stores(settings, redis))
    return bot, dp, redis


def workflow(dp: Dispatcher, bot: Bot, web_bot: Bot | None = None) -> dict[str, Any]:
    """What aiogram hands start-up and shut-down handlers (as in start_polling)."""
    bots = [bot] if web_bot is None else [bot, web_bot]
    return {**dp.workflow_data, "dispatcher": dp, "bots": bots, "bot": bot}


def create_inbox(settings: Settings, redis: Redis) -> UpdateInbox:
    return UpdateInbox(redis, settings.redis_prefix, shards=settings.inbox_shards)


async def poll_into(inbox: UpdateInbox, bot: Bot, stop: asyncio.Event) -> None:
    """Long-poll Telegram and put each batch into the inbox before confirming it (the next
    getUpdates offset): a crash re-reads what was not yet in the inbox."""
    offset: int | None = None
    while not stop.is_set():
        try:
            updates = await bot.get_updates(offset=offset, timeout=POLL_TIMEOUT)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("polling failed: %s; again in 1 s", type(exc).__name__)
            await asyncio.sleep(1)
            continue
        if updates:
            await inbox.put_many(
                u.model_dump(mode="json", by_alias=True, exclude_none=True) for u in updates)
            offset = updates[-1].update_id + 1


async def run_polling(settings: Settings) -> None:
    if settings.webchat_bot_token is not None:
        log.warning("the web chat needs the webhook mode (python -m bot --webhook): "
                    "WEBCHAT_BOT_TOKEN is ignored when polling")
    bot, dp, redis = build(settings)
    try:
        await bot.delete_webhook(drop_pending_updates=False)
        if redis is None:
            await dp.start_polling(bot)
            return
        inbox = create_inbox(settings, redis)
        consumer = InboxConsumer(inbox, dp, bot, concurrency=settings.inbox_concurrency)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await dp.emit_startup(**workflow(dp, bot))
        poller = asyncio.create_task(poll_into(inbox, bot, stop))
        try:
            await consumer.run(stop)
        finally:
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poller
            await dp.emit_shutdown(**workflow(dp, bot))
    finally:
        await bot.session.close()
        await dp.storage.close()
        if redis is not None:
            await redis.aclose()


def why_not_started(exc: BaseException, settings: Settings | None) -> str:
    """What an operator needs to read when the bot does not start: which service refused or
    could not be reached, never a token or a URL's secret part."""
    telegram = (settings.telegram_api_url if settings else None) or "https://api.telegram.org"
    if isinstance(exc, TelegramUnauthorizedError):
        return "Telegram refused BOT_TOKEN (401 Unauthorized): check the token from @BotFather"
    if isinstance(exc, TelegramNetworkError | aiohttp.ClientError | TimeoutError):
        return f"could not reach Telegram at {telegram} ({type(exc).__name__})"
    if isinstance(exc, TelegramAPIError):
        return f"Telegram refused a start-up call ({type(exc).__name__}: {exc.message})"
    if isinstance(exc, RedisError):
        return f"could not reach Redis (REDIS_URL; {type(exc).__name__})"
    if isinstance(exc, OSError):
        return f"could not start: {exc.strerror or type(exc).__name__}"
    return f"could not start ({type(exc).__name__})"


UPDATE = web.RequestKey("conex.update", dict)  # the parsed update (well_formed_updates)


WEB_WEBHOOK = "/webhook/web"  # the web chat's updates (webchat.app.WebhookDelivery)


def from_a_web_person(update: dict[str, Any]) -> bool:
    """What the web chat may send: a message or a button press of one person in their own
    web chat (chat id = user id, in WEB_CHAT_IDS), nothing else. Whoever holds the web
    chat's secret still cannot speak as a Telegram person or in a partner group."""
    event = update.get("message") or update.get("callback_query")
    if not isinstance(event, dict) or len(update) != 2:
        return False
    sender = event.get("from")
    message = event.get("message", event) if "data" in event else event
    chat = message.get("chat") if isinstance(message, dict) else None
    return (isinstance(sender, dict) and isinstance(chat, dict)
            and chat.get("type") == "private" and sender.get("is_bot") is False
            and type(sender.get("id")) is int and sender.get("id") == chat.get("id")
            and is_web(sender["id"]))


def well_formed_updates(secret: str, web_secret: str | None = None) -> Middleware:
    """With the right secret, a webhook body that is not a JSON object with an integer
    update_id gets 400 (it used to reach aiogram and end in a 500); a good one is parsed once
    and kept in `request[UPDATE]` for the inbox handler. Without the secret the handler
    answers 401 as before. /webhook/web (the web chat) has its own secret."""
    expected = {"/webhook": secret.encode("utf-8")}
    if web_secret:
        expected[WEB_WEBHOOK] = web_secret.encode("utf-8")

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        given = request.headers.get(SECRET_HEADER, "").encode("utf-8")
        wanted = expected.get(request.path)
        if (request.method == "POST" and wanted is not None
                and hmac.compare_digest(given, wanted)):
            try:
                update = json.loads(await request.read())  # aiogram may read it again
            except (ValueError, UnicodeDecodeError):
                update = None
            if not isinstance(update, dict) or type(update.get("update_id")) is not int:
                return web.Response(status=400)
            if request.path == WEB_WEBHOOK and not from_a_web_person(update):
                return web.Response(status=400)  # not a web person's own update
            request[UPDATE] = update
        return await handler(request)

    return middleware


def add_health_routes(app: web.Application, settings: Settings, redis: Redis | None,
                      inbox: UpdateInbox | None = None) -> None:
    """GET /healthz (the process answers), GET /readyz (and Redis, which holds the inbox
    and the conversations, answers a ping: 503 otherwise), for Kubernetes' probes, and
    GET /metrics (ops.metrics: updates, handling time, the inbox, the governor, 429s)."""

    async def ping() -> None:
        if redis is not None:
            await redis.ping()

    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    add_routes(app, process="bot", ready=[ping],
               refresh=[inbox.refresh_metrics] if inbox is not None else [],
               metrics_token=token)


def create_webhook_app(settings: Settings, bot: Bot, dp: Dispatcher,
                       redis: Redis | None = None, *, consume: bool = True,
                       web_bot: Bot | None = None) -> web.Application:
    """aiohttp app: POST /webhook, refused (401) without the right secret header, and, with
    ``web_bot``, POST /webhook/web for the web chat's updates (WEBCHAT_WEBHOOK_SECRET).

    With Redis: each update is put into the inbox and answered 200 at once (503 if Redis cannot
    take it: Telegram sends it again); ``consume`` runs an inbox consumer in this process.
    Without Redis: each update is handled before answering, so that a failure is retried."""
    if settings.webhook_secret is None:
        raise SystemExit("webhook mode needs WEBHOOK_SECRET")
    secret = settings.webhook_secret.get_secret_value()
    web_secret = None
    if web_bot is not None:
        if settings.webchat_webhook_secret is None:
            raise SystemExit("the web chat needs WEBCHAT_WEBHOOK_SECRET")
        web_secret = settings.webchat_webhook_secret.get_secret_value()
    app = web.Application(middlewares=[well_formed_updates(secret, web_secret)])
    if redis is None and settings.redis_url:
        redis = create_redis(settings)
    inbox = create_inbox(settings, redis) if redis is not None else None
    add_health_routes(app, settings, redis, inbox)
    if redis is None or inbox is None:
        SimpleRequestHandler(dispatcher=dp, bot=bot, secret_token=secret,
                             handle_in_background=False).register(app, "/webhook")
        if web_bot is not None and web_secret is not None:
            SimpleRequestHandler(dispatcher=dp, bot=web_bot, secret_token=web_secret,
                                 handle_in_background=False).register(app, WEB_WEBHOOK)
        setup_application(app, dp, bot=bot)
        return app

    def receiver(bot_id: int | None) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def receive(request: web.Request) -> web.Response:
            update: dict[str, Any] | None = request.get(UPDATE)
            if update is None:  # the middleware parses only what came with the right secret
                return web.Response(status=401)
            try:
                await inbox.put(update, bot_id)
            except Exception as exc:  # Telegram (or the web chat) sends it again
                log.error("inbox unavailable: %s", type(exc).__name__)
                return web.Response(status=503)
            return web.json_response({})
        return receive

    app.router.add_post("/webhook", receiver(None))
    if web_bot is not None:
        app.router.add_post(WEB_WEBHOOK, receiver(web_bot.id))
    stop = asyncio.Event()
    consumer = InboxConsumer(inbox, dp, bot, others=[web_bot] if web_bot else [],
                             concurrency=settings.inbox_concurrency)
    app[CONSUMER] = consumer

    async def start(_: web.Application) -> None:
        try:
            await dp.emit_startup(**workflow(dp, bot, web_bot))
        except BaseException:  # not started (main says why): close what is open, quietly
            await bot.session.close()
            if web_bot is not None:
                await web_bot.session.close()
            await redis.aclose()
            raise
        if consume:
            app[CONSUMER_TASK] = asyncio.create_task(consumer.run(stop))

    async def finish(_: web.Application) -> None:
        stop.set()
        task = app.get(CONSUMER_TASK)
        if task is not None:
            await task
        await dp.emit_shutdown(**workflow(dp, bot, web_bot))
        await bot.session.close()
        if web_bot is not None:
            await web_bot.session.close()
        await redis.aclose()

    app.on_startup.append(start)
    app.on_cleanup.append(finish)
    return app


def run_webhook(settings: Settings) -> None:
    if settings.webhook_url is None:
        raise SystemExit("webhook mode needs WEBHOOK_URL (the public https address)")
    web_bot = create_web_bot(settings)
    if settings.webchat_bot_token is not None and web_bot is None:
        raise SystemExit("the web chat needs WEBCHAT_API_URL too (WEBCHAT_BOT_TOKEN is set)")
    bot, dp, redis = build(settings)
    app = create_webhook_app(settings, bot, dp, redis, web_bot=web_bot)
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else ""

    @dp.startup()
    async def set_webhook() -> None:
        await bot.set_webhook(f"{settings.webhook_url}/webhook", secret_token=secret)
        log.info("webhook registered")

    # Stop: the webhook answers what is in flight (a put into the inbox: milliseconds) for at
    # most 2 s, then the consumer finishes or hands back what it holds (InboxConsumer.grace).
    web.run_app(app, host=settings.webhook_host, port=settings.webhook_port,
                shutdown_timeout=2.0, access_log=None, print=None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot")
    parser.add_argument("--webhook", action="store_true", help="serve a webhook instead")
    args = parser.parse_args(argv)
    configure_logs("bot")
    settings: Settings | None = None
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
    except Exception as exc:  # start-up failed: say why in one line, exit 2
        log.error("start-up failed: %s", type(exc).__name__, exc_info=exc)
        print(f"error: {why_not_started(exc, settings)}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
