"""The bot's booking tests use the real referral API on PostgreSQL (fixtures shared with
tests/referral_api)."""

from tests.bot.booking_world import booking  # noqa: F401 - pytest fixture
from tests.referral_api.conftest import (  # noqa: F401 - pytest fixtures
    admin,
    api_settings,
    app,
    client,
    database_url,
    seeded,
    wired_app,
)
