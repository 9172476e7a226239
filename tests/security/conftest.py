"""The attack suite (issue 17, item 8) runs on the referral API's fixtures: a migrated
PostgreSQL database of its own, the real app, the bot's client (service token) and the admin."""

from tests.referral_api.conftest import (  # noqa: F401 - fixtures, re-exported for pytest
    admin,
    api_settings,
    app,
    client,
    database_url,
    session,
    vault,
    wired_app,
)
