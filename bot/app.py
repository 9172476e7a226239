"""Wiring only: build the Bot, the storage and the Dispatcher from Settings."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import httpx
from aiogram import Bot, Dispatcher, Router
from aiogram.client.session.base import BaseSession
from aiogram.exceptions import TelegramAPIError
from aiogram.fsm.storage.base import BaseStorage, DefaultKeyBuilder
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.utils.i18n import I18n
from redis.asyncio import Redis

from bot import voice
from bot.actions import create_action_registry
from bot.api_client import ReferralsClient
from bot.engine.core import Engine
from bot.engine.flows import FlowSet, load_flows
from bot.handlers import (
    campaign,
    commands,
    errors,
    fallback,
    flow,
    followup,
    language,
    mycontact,
    partner_group,
    relay,
)
from bot.handlers.partner_group import InPrivate
from bot.i18n import create_i18n, shipped_locales
from bot.middlewares import observe
from bot.middlewares.conversation import ConversationMiddleware
from bot.middlewares.locale import LocaleMiddleware
from bot.middlewares.signals import SignalsMiddleware
from bot.preferences import (
    LanguagePreferences,
    MemoryLanguagePreferences,
    RedisLanguagePreferences,
)
from bot.settings import MissingToken, Settings
from bot.signals import SignalBuffer
from bot.storage import PrefetchingRedisStorage
from bot.voice import VoiceShelf
from governor import Governor, wiring

log = logging.getLogger(__name__)


def create_redis(settings: Settings) -> Redis | None:
    """The process's Redis client: a pool that waits for a free connection (up to
    REDIS_POOL_TIMEOUT) instead of raising when all of them are busy (governor.wiring, shared
    with the outbox worker)."""
    return wiring.create_redis(settings.redis_url,
                               max_connections=settings.redis_max_connections,
                               pool_timeout=settings.redis_pool_timeout)


def create_governor(settings: Settings, redis: Redis) -> Governor:
    return wiring.create_governor(redis, settings.redis_prefix, bulk_rate=settings.bulk_rate,
                                  pace_replies=settings.governor_pace_replies)


def create_bot(settings: Settings, session: BaseSession | None = None, *,
               governor: Governor | None = None) -> Bot:
    """The Bot; every call it makes goes through the governor (shared pacing through Redis),
    or, without one, at least waits and retries when Telegram answers 429."""
    if settings.bot_token is None or not settings.bot_token.get_secret_value():
        raise MissingToken("BOT_TOKEN is not set: put it in the environment or in .env")
    return wiring.create_bot(settings.bot_token.get_secret_value(),
                             api_url=settings.telegram_api_url, session=session,
                             governor=governor)


def create_web_bot(settings: Settings, session: BaseSession | None = None) -> Bot | None:
    """The web chat's Bot (its own Bot API server, WEBCHAT_API_URL), or None when the web
    chat is not configured. Telegram's limits do not apply there: no governor."""
    if settings.webchat_bot_token is None or not (settings.webchat_api_url or session):
        return None
    return wiring.create_bot(settings.webchat_bot_token.get_secret_value(),
                             api_url=settings.webchat_api_url, session=session)


@dataclass
class Stores:
    storage: BaseStorage
    languages: LanguagePreferences


def create_stores(settings: Settings, redis: Redis | None = None) -> Stores:
    """RedisStorage (with TTLs) when REDIS_URL is set or a client is given, else memory."""
    if redis is None:
        redis = create_redis(settings)
    if redis is None:
        return Stores(MemoryStorage(), MemoryLanguagePreferences())
    languages = RedisLanguagePreferences(redis, settings.redis_prefix,
                                         settings.language_ttl_seconds)
    storage = PrefetchingRedisStorage(
        redis,
        key_builder=DefaultKeyBuilder(prefix=f"{settings.redis_prefix}:fsm", with_bot_id=True),
        state_ttl=settings.state_ttl_seconds,
        data_ttl=settings.state_ttl_seconds,
        extra_keys=lambda key: [languages.key(key.bot_id, key.user_id)],
    )
    return Stores(storage, languages)


def create_referrals_client(settings: Settings) -> ReferralsClient:
    """HTTP client of the referral API; without REFERRAL_API_URL, one that answers
    "unavailable" to every call."""
    if not settings.referral_api_url:
        return ReferralsClient.unconfigured()
    token = settings.service_token.get_secret_value() if settings.service_token else ""
    http = httpx.AsyncClient(base_url=settings.referral_api_url, timeout=10.0)
    return ReferralsClient(http, token)


def create_signal_buffer(settings: Settings,
                         referrals: ReferralsClient) -> SignalBuffer | None:
    """The background sender of anonymous signals; None without the API or PSEUDONYM_KEY."""
    if not referrals.configured or settings.resolved_pseudonym_key() is None:
        return None
    return SignalBuffer(referrals.record_signals, max_batch=settings.signals_batch_size,
                        interval=settings.signals_interval_seconds)


def create_dispatcher(
    settings: Settings,
    stores: Stores | None = None,
    flows: FlowSet | None = None,
    referrals: ReferralsClient | None = None,
    *,
    i18n: I18n | None = None,
    **deps: Any,
) -> Dispatcher:
    stores = stores or create_stores(settings)
    flows = flows or load_flows(settings.flows_dir)
    if i18n is None:
        i18n = create_i18n(settings.locales_dir, settings.default_locale)
    available = [c for c in shipped_locales(settings.locales_dir)
                 if c == "en" or c in i18n.available_locales]
    engine = Engine(flows, create_action_registry(), lambda m, loc: i18n.gettext(m, locale=loc))
    referrals = referrals or create_referrals_client(settings)
    signal_buffer = create_signal_buffer(settings, referrals)
    dp = Dispatcher(
        storage=stores.storage,
        settings=settings,
        engine=engine,
        i18n=i18n,
        available_locales=available,
        language_preferences=stores.languages,
        referrals=referrals,
        signal_buffer=signal_buffer,
        voices=VoiceShelf(referrals),
        **deps,
    )
    observe.install(dp)  # first: its timing and outcome cover everything below
    dp.update.outer_middleware(
        LocaleMiddleware(i18n, stores.languages, available, settings.default_locale)
    )
    dp.update.outer_middleware(
        SignalsMiddleware(signal_buffer, settings.resolved_pseudonym_key())
    )
    private = Router(name="private")
    private.message.filter(InPrivate())
    private.callback_query.filter(InPrivate())
    # One conversation context per update, for the handlers and their filters.
    private.message.outer_middleware(ConversationMiddleware())
    private.callback_query.outer_middleware(ConversationMiddleware())
    private.include_routers(
        relay.create_router(),  # a reply to the counsellor wins over any screen's input
        flow.create_router(),  # most updates are flow buttons (NodeCb, no other router)
        commands.create_router(),
        language.create_router(),
        campaign.create_router(),
        mycontact.create_router(),
        voice.create_router(),
        followup.create_router(),
        fallback.create_router(),  # last: takes whatever the others did not
    )
    dp.include_routers(errors.create_router(), partner_group.create_router(), private)

    @dp.startup()
    async def on_startup(bot: Bot, bots: list[Bot] | None = None) -> None:
        await commands.register_commands(bot, i18n, available)
        for other in (bots or [bot])[1:]:  # the web chat's menu: its server may start later
            try:
                await commands.register_commands(other, i18n, available)
            except (TelegramAPIError, OSError) as exc:
                log.warning("web chat menu not set now (%s); the page shows none until the "
                            "bot restarts", type(exc).__name__)

    @dp.shutdown()
    async def on_shutdown() -> None:
        if signal_buffer is not None:
            await signal_buffer.close()  # the last signals go out before we stop

    return dp
