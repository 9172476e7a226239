"""Settings of the web chat server (pydantic-settings; docs/webchat.md lists them)."""

from __future__ import annotations

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DAY = 24 * 3600


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_prefix="WEBCHAT_", extra="ignore",
                                      env_ignore_empty=True, populate_by_name=True)

    # The bot's second Bot calls this server with this token (the bot has it as
    # WEBCHAT_BOT_TOKEN too). "<digits>:<secret>", the digits being the web bot's id.
    bot_token: SecretStr | None = None
    # Where a person's message goes: the bot's webhook for the web chat, with this secret.
    bot_webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    redis_url: str | None = None  # None: in memory (the demo only)
    redis_prefix: str = "webchat"
    # A conversation (and its code) is deleted this long after the last message: the bot's
    # STATE_TTL_DAYS, which its privacy screen states, unless WEBCHAT_TTL_DAYS says otherwise.
    ttl_days: int = Field(default=14, ge=1, le=90,
                          validation_alias=AliasChoices("WEBCHAT_TTL_DAYS", "STATE_TTL_DAYS"))
    # The longest the bot may ask to keep a booked conversation's id and code (conexKeepChat).
    keep_days: int = Field(default=730, ge=30, le=1100)
    # GET /metrics: with it, a scrape brings it as a bearer token; without, only 127.0.0.1.
    metrics_token: SecretStr | None = None
    cookie_secure: bool = True  # False only on plain http (the demo on localhost)
    trusted_proxies: str = ""  # X-Forwarded-For counts only from these (referral_api's rule)
    host: str = "127.0.0.1"
    port: int = 8090
    # Rate limits: per session, per IP, and for new conversations and codes per IP.
    messages_per_minute: int = Field(default=20, ge=1)
    ip_messages_per_minute: int = Field(default=120, ge=1)
    opens_per_hour: int = Field(default=60, ge=1)  # a reception centre's Wi-Fi is one IP
    polls_per_minute: int = Field(default=1200, ge=10)  # per IP (a page: ~3 a minute)
    codes_per_15_minutes: int = Field(default=10, ge=1)

    @property
    def ttl_seconds(self) -> int:
        return self.ttl_days * DAY
