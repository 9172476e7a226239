"""Health endpoints and authentication of service and admin endpoints."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from referral_api.app import create_app
from referral_api.settings import ConfigError, Settings
from tests.referral_api.factories import SERVICE_TOKEN, make_client


async def test_healthz_and_readyz(app: FastAPI) -> None:
    async with make_client(app, None) as anonymous:
        assert (await anonymous.get("/healthz")).json() == {"status": "ok"}
        ready = await anonymous.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok"}


async def test_readyz_is_503_when_the_database_does_not_answer() -> None:
    settings = Settings(_env_file=None, database_url="postgresql+asyncpg://nobody@127.0.0.1:1/x",
                        service_token=SERVICE_TOKEN, data_key="A" * 43 + "=")
    app = create_app(settings)
    try:
        async with make_client(app, None) as anonymous:
            response = await anonymous.get("/readyz")
    finally:
        await app.state.context.aclose()
    assert response.status_code == 503


SERVICE_CALLS = [
    ("POST", "/v1/partners/nearest", {"postcode": "9000"}),
    ("GET", "/v1/partners/cities", None),
    ("GET", "/v1/partners/fedasil-gent", None),
    ("GET", "/v1/partners/fedasil-gent/slots", None),
    ("POST", "/v1/referrals", {}),
    ("POST", "/v1/referrals/mine", {"chat_id": 1}),
    ("POST", "/v1/referrals/ABCD-EFGH/cancel", {"chat_id": 1}),
    ("POST", "/v1/referrals/ABCD-EFGH/reschedule", {}),
    ("POST", "/v1/referrals/ABCD-EFGH/status", {}),
    ("POST", "/v1/relay/to-partner", {}),
    ("POST", "/v1/relay/to-person", {}),
    ("POST", "/v1/forget", {"chat_id": 1}),
]
ADMIN_CALLS = [
    ("POST", "/v1/admin/partners", {}),
    ("PUT", "/v1/admin/partners/x", {}),
    ("DELETE", "/v1/admin/partners/x", None),
    ("POST", "/v1/admin/partners/x/counsellors", {"telegram_user_id": 1}),
    ("DELETE", "/v1/admin/partners/x/counsellors/1", None),
    ("PUT", "/v1/admin/partners/x/availability", []),
]


@pytest.mark.parametrize("token", [None, "wrong-token", "test-admin-token"])
async def test_service_endpoints_need_the_service_token(app: FastAPI, token: str | None) -> None:
    async with make_client(app, token) as client:
        for method, url, body in SERVICE_CALLS:
            response = await client.request(method, url, json=body)
            assert response.status_code == 401, (method, url)
            assert response.json() == {"detail": {"code": "unauthorized"}}
            assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("token", [None, "wrong-token", SERVICE_TOKEN])
async def test_admin_endpoints_need_the_admin_token(app: FastAPI, token: str | None) -> None:
    async with make_client(app, token) as client:
        for method, url, body in ADMIN_CALLS:
            response = await client.request(method, url, json=body)
            assert response.status_code == 401, (method, url)


async def test_a_malformed_authorization_header_is_401(app: FastAPI) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api",
                                 headers={"Authorization": SERVICE_TOKEN}) as client:
        assert (await client.get("/v1/partners/cities")).status_code == 401


async def test_admin_endpoints_are_closed_without_admin_token(api_settings: Settings) -> None:
    app = create_app(api_settings.model_copy(update={"admin_token": None}))
    try:
        async with make_client(app, "") as client:
            response = await client.post("/v1/admin/partners", json={})
        assert response.status_code == 401
    finally:
        await app.state.context.aclose()


def test_production_refuses_to_start_without_secrets() -> None:
    postgres = "postgresql+asyncpg://postgres@127.0.0.1/x"
    with pytest.raises(ConfigError, match="SERVICE_TOKEN"):
        create_app(Settings(_env_file=None, database_url=postgres, data_key="A" * 43 + "="))
    with pytest.raises(ConfigError, match="DATA_KEY"):
        create_app(Settings(_env_file=None, database_url=postgres, service_token="t"))


async def test_demo_defaults_are_used_with_a_warning(
        caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    with caplog.at_level(logging.WARNING, logger="referral_api.settings"):
        app = create_app(Settings(_env_file=None,
                                  database_url=f"sqlite+aiosqlite:///{tmp_path}/demo.db"))
    try:
        assert app.state.context.service_token == "dev-service-token"
        messages = " ".join(record.getMessage() for record in caplog.records)
        assert "SERVICE_TOKEN is not set" in messages
        assert "DATA_KEY is not set" in messages
    finally:
        await app.state.context.aclose()
