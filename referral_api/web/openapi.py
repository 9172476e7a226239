"""The API's OpenAPI document, made true to what the API answers (issue 17, item 8): every /v1
operation declares the refusals it can give, in the one shape they have (`{"detail": {"code":
…}}`: referral_api.errors), beside FastAPI's own validation errors. Checked by schemathesis
(`make fuzz`) and by tests/security/test_docs_and_probing.py."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

ERROR_BODY = {
    "title": "Refusal",
    "type": "object",
    "required": ["detail"],
    "properties": {"detail": {
        "type": "object", "required": ["code"], "additionalProperties": True,
        "properties": {"code": {"type": "string"}},
    }},
}
REFUSALS = {
    "400": "Malformed request body",
    "401": "No or wrong bearer token",
    "403": "Not allowed (not a counsellor of this partner)",
    "404": "Not found (or not yours)",
    "409": "Conflict with the current state (already booked, cancelled, taken)",
    "413": "Request body too large",
    "422": "Invalid input",
    "429": "Too many (bookings a day, messages an hour)",
}


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        schemas["Refusal"] = ERROR_BODY
        refusal = {"$ref": "#/components/schemas/Refusal"}
        for path, operations in schema.get("paths", {}).items():
            if not path.startswith("/v1/"):
                continue
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                for status, description in REFUSALS.items():
                    declared = responses.get(status, {}).get("content", {}).get(
                        "application/json", {}).get("schema")
                    body = {"anyOf": [declared, refusal]} if declared else refusal
                    responses[status] = {"description": responses.get(status, {}).get(
                        "description", description),
                        "content": {"application/json": {"schema": body}}}
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
