"""The OpenAPI 3.1 document of the operator API, served at /admin/v1/openapi.json.

Behind the operator token like the rest of /admin/v1, and checked against
the live server by schemathesis like the public document
(tests/e2e/test_openapi.py).
"""

from __future__ import annotations

from typing import Any

from services.edge.numbers import openapi as numbers_openapi
from services.edge.openapi import HEADERS, PAGE_PARAMETERS, RESPONSES, SCHEMAS, list_of, ref
from services.edge.scopes import PRESETS, SCOPES
from services.edge.tenants import MAX_BURST, MAX_RATE

_TIME = {"type": ["string", "null"], "format": "date-time"}
_LIMIT = {
    "type": ["object", "null"],
    "additionalProperties": False,
    "required": ["per_s"],
    "properties": {
        "per_s": {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_RATE},
        "burst": {
            "type": ["integer", "null"],
            "minimum": 1,
            "maximum": MAX_BURST,
            "description": "null or absent: the rate, rounded down (at least 1)",
        },
    },
}
_TAGS = ["Operator"]


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "description": description,
        "headers": {"X-Request-Id": {"$ref": "#/components/headers/X-Request-Id"}},
        "content": {"application/json": {"schema": schema}},
    }


def _body(schema: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": ref(schema)}}}


def _path(*names: str) -> list[dict[str, Any]]:
    return [
        {"name": n, "in": "path", "required": True, "schema": {"type": "string"}} for n in names
    ]


_ERRORS = {
    "401": {"$ref": "#/components/responses/Unauthenticated"},
    "503": {"$ref": "#/components/responses/Unavailable"},
    "504": {"$ref": "#/components/responses/Timeout"},
}
_BODY_ERRORS = {
    "400": {"$ref": "#/components/responses/Malformed"},
    "413": {"$ref": "#/components/responses/TooLarge"},
    "415": {"$ref": "#/components/responses/UnsupportedMediaType"},
    "422": {"$ref": "#/components/responses/ValidationError"},
}
_NOT_FOUND = {"404": {"$ref": "#/components/responses/NotFound"}}
_INVALID = {"422": {"$ref": "#/components/responses/ValidationError"}}

ADMIN_SCHEMAS: dict[str, Any] = {
    "Tenant": {
        "type": "object",
        "required": ["id", "object", "name", "status", "rate_limit", "created_at"],
        "properties": {
            "id": {"type": "string"},
            "object": {"const": "tenant"},
            "name": {"type": "string"},
            "status": {"enum": ["active", "suspended"]},
            "rate_limit": _LIMIT,
            "created_at": _TIME,
        },
    },
    "CreatedTenant": {
        "allOf": [
            ref("Tenant"),
            {
                "type": "object",
                "required": ["api_key", "webhook_secret"],
                "properties": {
                    "api_key": {
                        "type": "object",
                        "required": ["id", "secret"],
                        "properties": {"id": {"type": "string"}, "secret": {"type": "string"}},
                    },
                    "webhook_secret": {"type": "string"},
                },
            },
        ]
    },
    "TenantCreate": {
        "type": "object",
        "additionalProperties": False,
        "required": ["name"],
        "examples": [{"name": "acme", "rate_limit": {"per_s": 50, "burst": 100}}],
        "properties": {"name": {"type": "string"}, "rate_limit": _LIMIT},
    },
    "TenantUpdate": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string"},
            "status": {"enum": ["active", "suspended"]},
            "rate_limit": _LIMIT,
        },
    },
    "ApiKey": {
        "type": "object",
        "required": ["id", "object", "tenant_id", "name", "prefix", "scopes", "rate_limit"],
        "properties": {
            "id": {"type": "string"},
            "object": {"const": "api_key"},
            "tenant_id": {"type": "string"},
            "name": {"type": "string"},
            "prefix": {"type": "string"},
            "scopes": {"type": "array", "items": {"type": "string"}},
            "rate_limit": _LIMIT,
            "created_at": _TIME,
            "revoked_at": _TIME,
            "secret": {"type": "string", "description": "og_live_...; only when issued"},
        },
    },
    "KeyCreate": {
        "type": "object",
        "additionalProperties": False,
        "examples": [{"name": "reporting", "scopes": ["read-only"]}],
        "properties": {
            "name": {"type": "string"},
            "scopes": {
                "type": "array",
                "minItems": 1,
                "items": {"enum": sorted(PRESETS | SCOPES)},
            },
            "rate_limit": _LIMIT,
        },
    },
    "NumberAssign": {
        "type": "object",
        "additionalProperties": False,
        "required": ["number"],
        "examples": [{"number": "+447700900150"}, {"number": "ACME"}],
        "properties": {
            "number": {"type": "string", "description": "E.164, or an alphanumeric sender ID"}
        },
    },
    "TenantList": list_of("Tenant"),
    "ApiKeyList": list_of("ApiKey"),
}

_TENANT = "/admin/v1/tenants/{tenant_id}"

ADMIN_PATHS: dict[str, Any] = {
    "/admin/v1/tenants": {
        "post": {
            "operationId": "createTenant",
            "tags": _TAGS,
            "requestBody": _body("TenantCreate"),
            "responses": {
                "201": _json("The tenant, its first API key and its secret.", ref("CreatedTenant")),
                **_BODY_ERRORS,
                **_ERRORS,
            },
        },
        "get": {
            "operationId": "listTenants",
            "tags": _TAGS,
            "parameters": PAGE_PARAMETERS,
            "responses": {
                "200": _json("A page of tenants.", ref("TenantList")),
                **_INVALID,
                **_ERRORS,
            },
        },
    },
    _TENANT: {
        "parameters": _path("tenant_id"),
        "get": {
            "operationId": "getTenant",
            "tags": _TAGS,
            "responses": {"200": _json("The tenant.", ref("Tenant")), **_NOT_FOUND, **_ERRORS},
        },
        "patch": {
            "operationId": "updateTenant",
            "tags": _TAGS,
            "requestBody": _body("TenantUpdate"),
            "responses": {
                "200": _json("The tenant.", ref("Tenant")),
                **_NOT_FOUND,
                **_BODY_ERRORS,
                **_ERRORS,
            },
        },
    },
    _TENANT + "/keys": {
        "parameters": _path("tenant_id"),
        "post": {
            "operationId": "createKey",
            "tags": _TAGS,
            "requestBody": {**_body("KeyCreate"), "required": False},
            "responses": {
                "201": _json("The key, with its secret (shown once).", ref("ApiKey")),
                **_NOT_FOUND,
                **_BODY_ERRORS,
                **_ERRORS,
            },
        },
        "get": {
            "operationId": "listKeys",
            "tags": _TAGS,
            "responses": {
                "200": _json("The tenant's keys (prefixes only).", ref("ApiKeyList")),
                **_NOT_FOUND,
                **_ERRORS,
            },
        },
    },
    _TENANT + "/keys/{key_id}": {
        "parameters": _path("tenant_id", "key_id"),
        "delete": {
            "operationId": "revokeKey",
            "tags": _TAGS,
            "responses": {"200": _json("The revoked key.", ref("ApiKey")), **_NOT_FOUND, **_ERRORS},
        },
    },
    _TENANT + "/numbers": {
        "parameters": _path("tenant_id"),
        "post": {
            "operationId": "assignNumber",
            "tags": _TAGS,
            "requestBody": _body("NumberAssign"),
            "responses": {
                "201": _json("The number, now the tenant's.", ref("Number")),
                "409": {"$ref": "#/components/responses/Conflict"},
                **_NOT_FOUND,
                **_BODY_ERRORS,
                **_ERRORS,
            },
        },
        "get": {
            "operationId": "listTenantNumbers",
            "tags": _TAGS,
            "parameters": PAGE_PARAMETERS,
            "responses": {
                "200": _json("A page of the tenant's numbers.", ref("NumberList")),
                **_NOT_FOUND,
                **_INVALID,
                **_ERRORS,
            },
        },
    },
    _TENANT + "/numbers/{number_id}": {
        "parameters": _path("tenant_id", "number_id"),
        "delete": {
            "operationId": "releaseNumber",
            "tags": _TAGS,
            "responses": {
                "200": _json("The released number.", ref("Number")),
                **_NOT_FOUND,
                **_ERRORS,
            },
        },
    },
}


_UNAUTHENTICATED = RESPONSES["Unauthenticated"] | {"description": "No or a wrong operator token."}


def admin_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Omnigate operator API",
            "version": "1.0.0",
            "description": "Tenants, their API keys and numbers. Every call carries the"
            " operator token (OMNIGATE_EDGE_ADMIN_TOKEN); errors are RFC 9457 problems.",
        },
        "servers": [{"url": "/"}],
        "security": [{"operatorToken": []}],
        "paths": ADMIN_PATHS,
        "components": {
            "securitySchemes": {
                "operatorToken": {"type": "http", "scheme": "bearer", "description": "opr_..."}
            },
            "schemas": {
                "Problem": SCHEMAS["Problem"],
                "Number": numbers_openapi.SCHEMAS["Number"],
                "NumberList": numbers_openapi.SCHEMAS["NumberList"],
                **ADMIN_SCHEMAS,
            },
            "responses": RESPONSES | {"Unauthenticated": _UNAUTHENTICATED},
            "headers": {"X-Request-Id": HEADERS["X-Request-Id"]},
        },
    }
