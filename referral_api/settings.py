"""Settings of the referral API, read from the environment and .env (pydantic-settings).

Passed into factories (`create_app(settings)`); never imported as a global instance.

"Demo" means the embedded default: a SQLite database. Only then may SERVICE_TOKEN and DATA_KEY be
left unset (a development token and a derived key are used, with a warning). With PostgreSQL both
must be set, or the app refuses to start.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from pathlib import Path
from typing import Literal

import argon2
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from referral_api.crypto import (
    DataVault,
    decode_lookup_key,
    derive_lookup_secret,
    parse_data_keys,
)

logger = logging.getLogger(__name__)

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./var/conex.db"
DEMO_SERVICE_TOKEN = "dev-service-token"  # noqa: S105 - the documented demo default
SLOT_TIMEZONE = "Europe/Brussels"
# The gettext catalogues (the bot's `messages`, with which the worker renders person notices,
# and the staff app's `staff`).
LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"


class ConfigError(Exception):
    """The settings cannot run the API (a secret is missing outside the demo)."""


class Settings(BaseSettings):
    # An empty value (`COORDINATOR_CHAT_ID=` in .env or docker-compose) means "not set".
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", env_nested_delimiter="__",
                                      env_ignore_empty=True)

    database_url: str = DEFAULT_DATABASE_URL
    service_token: SecretStr | None = None  # bot ↔ API
    admin_token: SecretStr | None = None  # admin endpoints until staff accounts exist; None = off
    # Fernet keys (urlsafe base64 of 32 bytes), comma-separated, newest first: written with
    # the first, read with any (rotation: docs/operations.md).
    data_key: SecretStr | None = None
    # The secret of the chat lookup keys (`chat_key`), as printed by
    # `python -m referral_api lookup-key`; unset: derived from DATA_KEY's last key.
    lookup_key: SecretStr | None = None
    bot_token: SecretStr | None = None  # worker
    telegram_api_url: str | None = None  # worker
    # worker: the web chat's bot (docs/webchat.md), for messages to web chats; unset: none
    webchat_bot_token: SecretStr | None = None
    webchat_api_url: str | None = None
    coordinator_chat_id: int | None = None  # alerts (partner without a notification chat, …)
    retention_days: int = Field(default=90, ge=1, le=3650)

    # Booking rules.
    bookings_per_day: int = Field(default=5, ge=1, le=100)  # a person's bookings in 24 hours
    relay_per_hour: int = Field(default=60, ge=1, le=1000)  # messages a referral, both ways
    counsellor_actions: int = Field(default=120, ge=1, le=10_000)  # group actions in 15 min
    slot_lead_hours: int = Field(default=2, ge=0, le=72)  # earliest bookable slot: now + this
    slot_list_limit: int = Field(default=12, ge=1, le=100)  # at most this many slots per list
    booking_horizon_days: int = Field(default=60, ge=1, le=365)  # latest bookable slot
    reminder_hours: int = Field(default=24, ge=1, le=168)  # reminder before a visit

    # Staff web app (/staff).
    # Login rate limits and the outbound governor (shared with the bot: the same REDIS_PREFIX)
    # go through Redis when set; the worker requires it outside the SQLite demo.
    redis_url: str | None = None
    redis_prefix: str = "conex"
    # The worker's Redis pool and its share of the outbound governor: the bot's settings of the
    # same names (bot/settings.py), with the same defaults.
    redis_max_connections: int = Field(default=64, ge=4, le=10_000)
    redis_pool_timeout: float = Field(default=10.0, gt=0, le=120)
    bulk_rate: float = Field(default=28.0, gt=0, le=30)  # bulk messages a second, all processes
    staff_cookie_secure: bool = True  # STAFF_COOKIE_SECURE=false only for http://localhost
    staff_session_secret: SecretStr | None = None  # signs the session cookie; derived if unset
    staff_session_hours: int = Field(default=8, ge=1, le=72)
    staff_login_max_failures: int = Field(default=5, ge=1, le=100)
    # Reverse proxies whose X-Forwarded-For is believed (comma-separated addresses or CIDR
    # networks, e.g. "10.0.0.0/8"); empty: none, the peer's address is the client's.
    trusted_proxies: str = Field(default="", max_length=2000)
    # Password checks (argon2) at once per API process, and how many may wait behind them
    # before a login is told "busy, try again" (issue 17: logins must not stall bookings).
    password_checks: int = Field(default=2, ge=1, le=64)
    password_queue: int = Field(default=16, ge=0, le=1000)
    # Database connections: the bot's API (/v1) and the staff pages (/staff) have pools of
    # their own, so that staff traffic can never take the bot's connections.
    db_pool_size: int = Field(default=10, ge=1, le=200)
    # What this process serves: the bot's API (/v1), the staff web app (/staff), or both (the
    # demo, a small site). In production the bot's API runs apart from the staff app, so that
    # no staff traffic (a login flood) can take its CPU (docs/operations.md).
    api_surface: Literal["all", "bot", "staff"] = "all"
    # /docs and /openapi.json: off unless asked for (the demo turns them on); the schema
    # declares the bearer token every /v1 route needs.
    api_docs: bool = False
    # GET /metrics (Prometheus): when set, a scrape must bring it as a bearer token; unset, it
    # answers only this machine (127.0.0.1): set it wherever Prometheus scrapes.
    metrics_token: SecretStr | None = None
    # The outbox worker's own small HTTP server: /healthz, /readyz, /metrics (0: none).
    worker_http_host: str = "127.0.0.1"
    worker_http_port: int = Field(default=8082, ge=0, le=65535)
    staff_db_pool_size: int = Field(default=5, ge=1, le=200)
    staff_login_window_minutes: int = Field(default=15, ge=1, le=1440)
    # Staff password hashing (argon2id). The defaults are argon2-cffi's (RFC 9106, low memory:
    # 3 passes over 64 MiB, 4 lanes); only tests lower them.
    argon2_time_cost: int = Field(default=argon2.DEFAULT_TIME_COST, ge=1, le=100)
    argon2_memory_cost: int = Field(default=argon2.DEFAULT_MEMORY_COST, ge=8,
                                    le=4 * 1024 * 1024)  # KiB
    argon2_parallelism: int = Field(default=argon2.DEFAULT_PARALLELISM, ge=1, le=64)

    # Follow-up after return (issue 8; docs/followup.md).
    followup_wave_months: list[int] = Field(default_factory=lambda: [3, 6, 12],
                                            min_length=1, max_length=6)  # FOLLOWUP_WAVE_MONTHS
    followup_window_start_hour: int = Field(default=10, ge=0, le=23)  # local, country of return
    followup_window_end_hour: int = Field(default=19, ge=1, le=24)  # exclusive
    followup_reminders: int = Field(default=2, ge=0, le=2)  # at most two reminders per wave
    followup_reminder_days: int = Field(default=7, ge=1, le=60)  # between two sends of a wave
    # Outbox worker (docs/decisions.md, "An outbox that repeats at most what was in flight").
    outbox_lease_seconds: int = Field(default=60, ge=10, le=3600)  # a claim's lease
    outbox_chats_in_flight: int = Field(default=200, ge=1, le=10_000)  # chats sent to at once
    # Outreach campaigns (issue 7): the bot's @username for deep links t.me/<bot>?start=<code>.
    bot_username: str = Field(default="conex_return_bot", pattern=r"^[A-Za-z][A-Za-z0-9_]{3,31}$")
    # The printed flyer's own wording (English; translated where the catalogue has the same
    # text, else the flyer stays English and says so). Empty: the built-in texts.
    flyer_title: str | None = Field(default=None, max_length=120)
    flyer_body: str | None = Field(default=None, max_length=400)

    @model_validator(mode="after")
    def _proxies_readable(self) -> Settings:
        from referral_api.web.clientip import trusted_networks

        try:
            trusted_networks(self.trusted_proxies)
        except ValueError as exc:
            raise ValueError(f"TRUSTED_PROXIES: {exc}") from None
        return self

    @model_validator(mode="after")
    def _argon2_memory_for_lanes(self) -> Settings:
        if self.argon2_memory_cost < 8 * self.argon2_parallelism:
            raise ValueError("ARGON2_MEMORY_COST must be at least 8 KiB per lane "
                             "(8 × ARGON2_PARALLELISM)")
        return self

    @property
    def is_demo(self) -> bool:
        return self.database_url.startswith("sqlite")

    def resolved_service_token(self) -> str:
        if self.service_token is not None and self.service_token.get_secret_value():
            return self.service_token.get_secret_value()
        if not self.is_demo:
            raise ConfigError("SERVICE_TOKEN must be set (it may be left unset only in the demo)")
        logger.warning("SERVICE_TOKEN is not set: using the demo token %r", DEMO_SERVICE_TOKEN)
        return DEMO_SERVICE_TOKEN

    def resolved_admin_token(self) -> str | None:
        if self.admin_token is None or not self.admin_token.get_secret_value():
            return None
        return self.admin_token.get_secret_value()

    def resolved_data_key(self) -> bytes:
        if self.data_key is not None and self.data_key.get_secret_value():
            return self.data_key.get_secret_value().encode("ascii")
        if not self.is_demo:
            raise ConfigError("DATA_KEY must be set (it may be left unset only in the demo)")
        logger.warning("DATA_KEY is not set: personal data is encrypted with a derived demo key")
        return demo_data_key()

    def vault(self) -> DataVault:
        """The vault of DATA_KEY and LOOKUP_KEY. Raises ConfigError (a key missing outside
        the demo, or malformed: its position is named, never its value)."""
        return DataVault(self.resolved_data_keys(), lookup_secret=self.resolved_lookup_secret())

    def resolved_data_keys(self) -> list[bytes]:
        """The keys of DATA_KEY, newest first. Raises ConfigError when one is malformed (its
        position is named, never its value) or when DATA_KEY is missing outside the demo."""
        try:
            return parse_data_keys(self.resolved_data_key())
        except ValueError as exc:
            raise ConfigError(str(exc)) from None

    def resolved_lookup_secret(self) -> bytes:
        """The secret of the chat lookup keys: LOOKUP_KEY, else derived from DATA_KEY's one
        key (as before keys could rotate). With several keys LOOKUP_KEY must be set: the
        order of the keys changes during a rotation, the lookup keys must not."""
        keys = self.resolved_data_keys()  # a malformed key is named first
        if self.lookup_key is not None and self.lookup_key.get_secret_value():
            try:
                return decode_lookup_key(self.lookup_key.get_secret_value())
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
        if len(keys) > 1:
            raise ConfigError("DATA_KEY holds several keys: set LOOKUP_KEY first (python -m "
                              "referral_api lookup-key, with the one key you had; "
                              "docs/operations.md, Rotating DATA_KEY)")
        return derive_lookup_secret(keys[0])

    def resolved_staff_session_secret(self) -> bytes:
        """STAFF_SESSION_SECRET, or a secret derived from the lookup secret (never a key): it
        stays the same while DATA_KEY rotates and once LOOKUP_KEY is pinned."""
        if self.staff_session_secret is not None and self.staff_session_secret.get_secret_value():
            return self.staff_session_secret.get_secret_value().encode("utf-8")
        return hmac.new(self.resolved_lookup_secret(), b"conex staff session/v2",
                        hashlib.sha256).digest()


def demo_data_key() -> bytes:
    """A fixed, public key for the demo only: demo data stays readable across restarts."""
    return base64.urlsafe_b64encode(hashlib.sha256(b"conex demo data key").digest())
