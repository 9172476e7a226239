"""Settings of the bot, read from the environment and .env (pydantic-settings).

Passed into factories; never imported as a global instance.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEFAULT_FLOWS_DIR = PROJECT_DIR / "flows"
DEFAULT_LOCALES_DIR = PROJECT_DIR / "locales"
DEFAULT_DOMAIN_DIR = PROJECT_DIR.parent / "shared" / "domain"

DAY = 24 * 3600


class Settings(BaseSettings):
    # An empty value (`COORDINATOR_CHAT_ID=` in .env or docker-compose) means "not set".
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", env_nested_delimiter="__",
                                      env_ignore_empty=True)

    bot_token: SecretStr | None = None
    telegram_api_url: str | None = None  # any Bot API-compatible server; None = Telegram
    redis_url: str | None = None  # None = in-memory storage (demo)
    redis_prefix: str = "conex"
    # One pool per process that waits (up to the timeout) for a free connection instead of
    # failing when every connection is busy.
    redis_max_connections: int = Field(default=64, ge=4, le=10_000)
    redis_pool_timeout: float = Field(default=10.0, gt=0, le=120)
    # The durable update inbox (bot/inbox.py): streams by chat, updates in hand per process.
    inbox_shards: int = Field(default=8, ge=1, le=256)
    inbox_concurrency: int = Field(default=32, ge=1, le=1000)
    # The outbound governor (governor/): bulk messages a second, all processes together.
    bulk_rate: float = Field(default=28.0, gt=0, le=30)
    # Replies paced by the shared bucket too (governor.Limits.pace_replies): no 429 even where
    # Telegram counts replies against the 30 a second, at the cost of slower answers at peaks.
    governor_pace_replies: bool = False
    webhook_secret: SecretStr | None = None
    webhook_url: str | None = None
    webhook_host: str = "127.0.0.1"
    webhook_port: int = 8081
    # GET /metrics on the webhook server: when set, a scrape must bring it as a bearer token;
    # unset, it answers only this machine (the ingress reaches this port)
    metrics_token: SecretStr | None = None
    # The web chat (webchat/, docs/webchat.md): a second Bot on our own Bot API server. Its
    # updates come to POST /webhook/web with WEBCHAT_WEBHOOK_SECRET. Unset: Telegram only.
    webchat_bot_token: SecretStr | None = None
    webchat_api_url: str | None = None
    webchat_webhook_secret: SecretStr | None = None
    # How long the web chat keeps a booked conversation's id and code (its privacy screen
    # states it): the counsellor's answers and the follow-up questions wait there.
    webchat_keep_days: int = Field(default=730, ge=30, le=1100)
    referral_api_url: str | None = None
    service_token: SecretStr | None = None
    # Anonymous signals (docs/signals.md): the secret behind the monthly pseudonyms. Unset =
    # no signals are recorded (the bot works as before).
    pseudonym_key: SecretStr | None = None
    signals_interval_seconds: float = Field(default=1.0, gt=0, le=60)
    signals_batch_size: int = Field(default=50, ge=1, le=500)

    default_locale: str = "en"
    flows_dir: Path = DEFAULT_FLOWS_DIR
    locales_dir: Path = DEFAULT_LOCALES_DIR
    # Retention of what Redis holds about a conversation (see /privacy).
    state_ttl_days: int = Field(default=14, ge=1, le=90)
    language_ttl_days: int = Field(default=90, ge=1, le=365)
    # Must match the API's RETENTION_DAYS: the consent screen states it.
    referral_retention_days: int = Field(default=90, ge=1, le=3650)

    def resolved_pseudonym_key(self) -> bytes | None:
        if self.pseudonym_key is None or not self.pseudonym_key.get_secret_value():
            return None
        return self.pseudonym_key.get_secret_value().encode("utf-8")

    @property
    def state_ttl_seconds(self) -> int:
        return self.state_ttl_days * DAY

    @property
    def language_ttl_seconds(self) -> int:
        return self.language_ttl_days * DAY


class MissingToken(Exception):
    """BOT_TOKEN is not set."""
