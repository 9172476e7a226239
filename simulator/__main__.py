"""make demo: the simulator's web chat and Bot API, and the real bot polling it, in one process.

The bot reaches the simulator over HTTP through TELEGRAM_API_URL, exactly as it would reach
Telegram. With BOT_TOKEN set, the same Dispatcher also polls real Telegram. The web chat for
people (webchat/, /chat) is served beside it: its Bot API at /webchat, which the same
Dispatcher's second Bot calls over HTTP; a person's update is handled in place (no Redis).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from aiogram import Bot, Dispatcher
from pydantic import SecretStr

from bot.api_client import ReferralsClient
from bot.app import create_bot, create_dispatcher, create_web_bot
from bot.handlers.commands import register_commands
from bot.settings import Settings
from ops.logs import configure as configure_logs
from referral_api.housekeeping import create_worker
from referral_api.settings import Settings as ApiSettings
from simulator.demo import create_demo_accounts, prepare_api
from simulator.server import DemoGroup, create_app
from webchat.app import create_webchat
from webchat.app import mount as mount_webchat
from webchat.settings import Settings as WebSettings

DEMO_TOKEN = "1000001:simulator-demo-token"  # noqa: S105 - only the local simulator
DEMO_WEB_TOKEN = "1000002:webchat-demo-token"  # noqa: S105 - only the local web chat
WEBCHAT_API = "/webchat"  # the web chat's Bot API in the demo (the simulator's is at /)
DEMO_PSEUDONYM_KEY = "demo pseudonym key, not for production"


async def serve(host: str, port: int) -> None:
    settings = Settings()
    if settings.resolved_pseudonym_key() is None:  # the demo records signals too
        settings = settings.model_copy(update={"pseudonym_key": SecretStr(DEMO_PSEUDONYM_KEY)})
    group = DemoGroup()
    api_settings = ApiSettings()
    if api_settings.is_demo:  # plain http on localhost: the staff cookie cannot be Secure
        api_settings = api_settings.model_copy(update={"staff_cookie_secure": False,
                                                       "api_docs": True})
    api = await prepare_api(api_settings, group)
    accounts = await create_demo_accounts(api_settings) if api_settings.is_demo else []
    app = create_app(group=group)
    web_settings = WebSettings()
    web_settings = web_settings.model_copy(update={
        "bot_token": web_settings.bot_token or SecretStr(DEMO_WEB_TOKEN),
        "cookie_secure": False})  # plain http on localhost
    deliver = InPlace()  # its bot and Dispatcher are made once the server listens
    webchat = create_webchat(web_settings, deliver=deliver)
    mount_webchat(app, webchat, botapi_prefix=WEBCHAT_API)
    app.mount("/", api)  # after the simulator's routes: /docs, /v1/..., /staff/...
    # Stopping is ours (below): the bot's long poll must not hold the server for 20 s.
    server = _Server(uvicorn.Config(app, host=host, port=port, log_level="warning",
                                    timeout_graceful_shutdown=1))
    server_task = asyncio.create_task(server.serve())
    while not server.started:
        if server_task.done():
            server_task.result()
            return
        await asyncio.sleep(0.05)
    url = f"http://{host}:{port}"
    sim_settings = settings.model_copy(update={"bot_token": SecretStr(DEMO_TOKEN),
                                               "telegram_api_url": url})
    bots = [create_bot(sim_settings)]
    if settings.bot_token is not None and settings.bot_token.get_secret_value():
        bots.append(create_bot(settings.model_copy(update={"telegram_api_url": None})))
    assert web_settings.bot_token is not None
    web_bot = create_web_bot(settings.model_copy(update={
        "webchat_bot_token": web_settings.bot_token, "webchat_api_url": url + WEBCHAT_API}))
    assert web_bot is not None
    deliver.bot = web_bot
    context = api.state.context
    referrals = ReferralsClient(
        httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://api"),
        context.service_token)
    dp = create_dispatcher(settings, referrals=referrals)
    deliver.dp = dp
    await register_commands(web_bot, dp["i18n"], dp["available_locales"])  # not polled
    worker = create_worker(api_settings, bots[0], context.sessionmaker, context.vault,
                           web_bot=web_bot)
    stop = asyncio.Event()
    worker_task = asyncio.create_task(worker.run(stop, interval=1.0,
                                                 retention_days=api_settings.retention_days))
    print(f"\n  Simulator ready: {url}/simulator\n"
          f"  Web chat (for people without Telegram): {url}/chat\n"
          f"  Referral API docs: {url}/docs\n"
          f"  Staff web app: {url}/staff/login — demo accounts:\n"
          + "".join(f"    {email} / {password} ({role})\n" for email, password, role in accounts) +
          "  The \"Partner group\" tab shows the counsellors' side (every demo partner's cards).\n"
          f"  {'Also serving real Telegram (BOT_TOKEN is set).' if len(bots) > 1 else ''}\n"
          "  Press Ctrl+C to stop.\n", flush=True)
    quit_ = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, quit_.set)
    polling = asyncio.create_task(dp.start_polling(*bots, handle_signals=False,
                                                   polling_timeout=20))
    quitting = asyncio.create_task(quit_.wait())
    try:
        await asyncio.wait([polling, quitting, server_task], return_when=asyncio.FIRST_COMPLETED)
    finally:
        quitting.cancel()
        if not polling.done():
            with contextlib.suppress(RuntimeError):  # not started yet
                await dp.stop_polling()
            polling.cancel()
        await asyncio.gather(polling, return_exceptions=True)
        stop.set()
        await worker_task
        await worker.aclose()
        await referrals.close()
        for bot in [*bots, web_bot]:
            await bot.session.close()
        await context.aclose()
        app.state.fake.new_update.set()  # a long poll still open answers now (no updates)
        server.should_exit = True
        await server_task


@dataclass
class InPlace:
    """The demo's delivery of a web chat person's update: handled by the Dispatcher before
    the page's POST ends (no Redis, no inbox)."""

    dp: Dispatcher | None = None
    bot: Bot | None = None

    async def __call__(self, update: dict[str, Any]) -> None:
        assert self.dp is not None and self.bot is not None, "the bot is not ready yet"
        await self.dp.feed_raw_update(self.bot, update)


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        """SIGINT and SIGTERM are handled by `serve` (polling, worker, then the server)."""
        yield


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    configure_logs("simulator")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
