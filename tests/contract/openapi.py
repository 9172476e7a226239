"""The referral API's OpenAPI document, and a small validator for the part of JSON Schema that
FastAPI and pydantic produce ($ref, anyOf, enum, type, required, properties, items, lengths,
patterns, bounds). `jsonschema` is not a dependency of the project; this is enough to check
the bodies the bot sends, with messages that name the field and the allowed values."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import SecretStr

from referral_api.app import create_app
from referral_api.settings import Settings
from tests.referral_api.factories import DATA_KEY, SERVICE_TOKEN

Schema = dict[str, Any]
TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,),
    "array": (list,), "object": (dict,), "null": (type(None),),
}


def api_openapi() -> Schema:
    """The real app's OpenAPI document (no database is touched: the engine never connects)."""
    settings = Settings(_env_file=None, database_url="sqlite+aiosqlite:///:memory:",
                        service_token=SecretStr(SERVICE_TOKEN), data_key=SecretStr(DATA_KEY),
                        redis_url=None)
    return create_app(settings).openapi()


def resolve(spec: Schema, schema: Schema) -> Schema:
    while "$ref" in schema:
        name = schema["$ref"].removeprefix("#/components/schemas/")
        schema = spec["components"]["schemas"][name]
    return schema


def component_names(spec: Schema, schema: Schema) -> set[str]:
    """The component models a response schema refers to (through arrays and anyOf)."""
    if "$ref" in schema:
        name = schema["$ref"].removeprefix("#/components/schemas/")
        return {name.removesuffix("-Output").removesuffix("-Input")}
    names: set[str] = set()
    for option in schema.get("anyOf", []):
        names |= component_names(spec, option)
    if "items" in schema:
        names |= component_names(spec, schema["items"])
    return names


def enum_of(spec: Schema, schema: Schema) -> list[Any] | None:
    """The enum of a (possibly optional) parameter's schema, or None."""
    schema = resolve(spec, schema)
    if "enum" in schema:
        return list(schema["enum"])
    for option in schema.get("anyOf", []):
        found = enum_of(spec, option)
        if found is not None:
            return found
    return None


def operation(spec: Schema, method: str, path: str) -> tuple[str, Schema]:
    """The OpenAPI operation serving a concrete path ("/v1/referrals/ABCD1234/cancel"):
    (its template, the operation). Templates without parameters win ("/v1/referrals/mine")."""
    candidates = []
    for template, operations in spec["paths"].items():
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        if method.lower() in operations and re.fullmatch(pattern, path):
            candidates.append(template)
    if not candidates:
        raise LookupError(f"{method.upper()} {path}: no such operation in the API's OpenAPI")
    template = min(candidates, key=lambda t: t.count("{"))
    return template, spec["paths"][template][method.lower()]


def request_schema(op: Schema) -> Schema:
    return dict(op["requestBody"]["content"]["application/json"]["schema"])


def success_schema(op: Schema) -> Schema:
    for code, response in op["responses"].items():
        if code.startswith("2"):
            return dict(response.get("content", {}).get("application/json", {})
                        .get("schema", {}))
    raise LookupError(f"{op['operationId']}: no success response")


def errors(spec: Schema, schema: Schema, value: Any, at: str = "body") -> list[str]:
    """Why `value` does not fit `schema` ([] when it fits)."""
    schema = resolve(spec, schema)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            found = [errors(spec, option, value, at) for option in schema[key]]
            if any(not e for e in found):
                return []
            return [e for option in found for e in option]
    problems = [e for part in schema.get("allOf", []) for e in errors(spec, part, value, at)]
    if "const" in schema and value != schema["const"]:
        problems.append(f"{at}: {value!r} is not {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{at}: {value!r} is not one of the API's values {schema['enum']}")
    wanted = schema.get("type")
    if wanted is not None:
        kinds = wanted if isinstance(wanted, list) else [wanted]
        if not any(isinstance(value, TYPES[k]) and not (isinstance(value, bool)
                                                         and k in ("integer", "number"))
                   for k in kinds):
            return [*problems, f"{at}: {value!r} is not of type {wanted}"]
    if isinstance(value, str):
        problems += _string(schema, value, at)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            problems.append(f"{at}: {value!r} is below {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            problems.append(f"{at}: {value!r} is above {schema['maximum']}")
    elif isinstance(value, list):
        if len(value) > schema.get("maxItems", len(value)):
            problems.append(f"{at}: more than {schema['maxItems']} items")
        if len(value) < schema.get("minItems", 0):
            problems.append(f"{at}: fewer than {schema['minItems']} items")
        for i, item in enumerate(value):
            problems += errors(spec, schema.get("items", {}), item, f"{at}[{i}]")
    elif isinstance(value, dict):
        problems += _object(spec, schema, value, at)
    return problems


def _string(schema: Schema, value: str, at: str) -> list[str]:
    problems = []
    if len(value) > schema.get("maxLength", len(value)):
        problems.append(f"{at}: longer than {schema['maxLength']} characters")
    if len(value) < schema.get("minLength", 0):
        problems.append(f"{at}: shorter than {schema['minLength']} characters")
    if "pattern" in schema and not re.search(schema["pattern"], value):
        problems.append(f"{at}: {value!r} does not match {schema['pattern']}")
    if schema.get("format") == "date-time":
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            problems.append(f"{at}: {value!r} is not a date-time")
    return problems


def _object(spec: Schema, schema: Schema, value: dict[str, Any], at: str) -> list[str]:
    properties: dict[str, Schema] = schema.get("properties", {})
    problems = [f"{at}: {name!r} is required" for name in schema.get("required", ())
                if name not in value]
    if len(value) > schema.get("maxProperties", len(value)):
        problems.append(f"{at}: more than {schema['maxProperties']} entries")
    extra = schema.get("additionalProperties", True)
    for key, item in value.items():
        if "propertyNames" in schema:
            problems += errors(spec, schema["propertyNames"], key, f"{at} key")
        if key in properties:
            problems += errors(spec, properties[key], item, f"{at}.{key}")
        elif extra is False:
            problems.append(f"{at}: {key!r} is not a field the API knows "
                            f"(it knows {sorted(properties)})")
        elif isinstance(extra, dict):
            problems += errors(spec, extra, item, f"{at}.{key}")
    return problems
