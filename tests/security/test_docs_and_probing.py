"""Smaller findings (issue 17, item 7): the API's docs and schema are served only when enabled,
and the schema declares the bearer token the /v1 routes need."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from referral_api.app import create_app
from tests.referral_api.conftest import make_settings


async def test_docs_and_schema_are_not_public_by_default(client: httpx.AsyncClient) -> None:
    for path in ("/docs", "/openapi.json", "/redoc"):
        assert (await client.get(path)).status_code == 404, path


async def test_when_enabled_the_schema_declares_the_bearer_token(database_url: str) -> None:
    app: FastAPI = create_app(make_settings(database_url, api_docs=True))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://api") as http:
        schema = (await http.get("/openapi.json")).json()
        assert (await http.get("/docs")).status_code == 200
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    booking = schema["paths"]["/v1/referrals"]["post"]
    assert booking["security"] == [{"HTTPBearer": []}]
