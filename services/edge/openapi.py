"""The OpenAPI 3.1 document of the public API, served at /v1/openapi.json.

Kept as data beside the handlers it describes, and checked against the live
server by schemathesis (tests/e2e/test_openapi.py): every documented route
answers only with documented statuses, and with bodies matching their schemas.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from services.edge import routes

STATUSES = [
    "accepted", "scheduled", "queued", "sending", "sent", "delivered", "undelivered",
    "failed", "canceled", "partially_delivered", "received",
]  # fmt: skip

_NULLABLE_STRING = {"type": ["string", "null"]}
_TIME = {"type": ["string", "null"], "format": "date-time"}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def list_of(item: str) -> dict[str, Any]:
    """The schema of a page of ``item`` (``pagination.list_body`` and ``rendered_list``)."""
    return {
        "type": "object",
        "required": ["object", "data", "next_page_token", "next_page_url"],
        "properties": {
            "object": {"const": "list"},
            "data": {"type": "array", "items": ref(item)},
            "next_page_token": _NULLABLE_STRING,
            "next_page_url": _NULLABLE_STRING,
        },
    }


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "headers": {"X-Request-Id": {"$ref": "#/components/headers/X-Request-Id"}},
        "content": {"application/problem+json": {"schema": ref("Problem")}},
    }


def json_response(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "description": description,
        "headers": {
            "X-Request-Id": {"$ref": "#/components/headers/X-Request-Id"},
            "RateLimit": {"$ref": "#/components/headers/RateLimit"},
            "RateLimit-Policy": {"$ref": "#/components/headers/RateLimit-Policy"},
        },
        "content": {"application/json": {"schema": schema}},
    }


# Errors every authenticated route may answer with.
COMMON_ERRORS: dict[str, Any] = {
    "401": {"$ref": "#/components/responses/Unauthenticated"},
    "403": {"$ref": "#/components/responses/Forbidden"},
    "429": {"$ref": "#/components/responses/RateLimited"},
    "503": {"$ref": "#/components/responses/Unavailable"},
    "504": {"$ref": "#/components/responses/Timeout"},
}
# Errors of routes that take a JSON body (409: the Idempotency-Key's first request still runs).
BODY_ERRORS: dict[str, Any] = {
    "409": {"$ref": "#/components/responses/Conflict"},
    "400": {"$ref": "#/components/responses/Malformed"},
    "413": {"$ref": "#/components/responses/TooLarge"},
    "415": {"$ref": "#/components/responses/UnsupportedMediaType"},
    "422": {"$ref": "#/components/responses/ValidationError"},
}
PAGE_PARAMETERS: list[dict[str, Any]] = [
    {
        "name": "page_size",
        "in": "query",
        "description": "How many items per page (default 50).",
        "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
    },
    {
        "name": "page_token",
        "in": "query",
        "description": "The next_page_token of the previous page.",
        "schema": {"type": "string"},
    },
]
IDEMPOTENCY_KEY: dict[str, Any] = {
    "name": "Idempotency-Key",
    "in": "header",
    "description": "Retries with the same key within 24 h get the first response;"
    " the work is done once.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]+$"},
}

SCHEMAS: dict[str, Any] = {
    "Problem": {
        "type": "object",
        "description": "RFC 9457 problem details.",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {"type": "string", "format": "uri"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "request_id": {"type": "string"},
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["field", "detail"],
                    "properties": {"field": {"type": "string"}, "detail": {"type": "string"}},
                },
            },
        },
    },
    "StatusTransition": {
        "type": "object",
        "required": ["status", "at", "sequence", "error_code", "error_message"],
        "properties": {
            "status": {"enum": STATUSES},
            "at": _TIME,
            "sequence": {"type": "integer", "minimum": 1},
            "error_code": _NULLABLE_STRING,
            "error_message": _NULLABLE_STRING,
        },
    },
    "Message": {
        "type": "object",
        "required": ["id", "object", "direction", "from", "to", "body", "status", "segments"],
        "properties": {
            "id": {"type": "string", "pattern": "^msg_[0-9a-z]{26}$"},
            "object": {"const": "message"},
            "direction": {"enum": ["outbound", "inbound"]},
            "from": {"type": "string"},
            "to": {"type": "string"},
            "body": {"type": "string"},
            "status": {"enum": STATUSES},
            "encoding": {"enum": ["GSM-7", "UCS-2", None]},
            "segments": {"type": "integer", "minimum": 0},
            "status_callback": _NULLABLE_STRING,
            "error_code": _NULLABLE_STRING,
            "error_message": _NULLABLE_STRING,
            "sequence": {"type": "integer"},
            "created_at": _TIME,
            "updated_at": _TIME,
            "status_history": {"type": "array", "items": ref("StatusTransition")},
        },
    },
    "MessageList": list_of("Message"),
    "SendMessage": {
        "type": "object",
        "additionalProperties": False,
        "required": ["to", "from", "body"],
        "examples": [
            {"to": "+447700900000", "from": "+447700900100", "body": "Your code is 123456"},
            {"to": "+447700900001", "from": "Omnigate", "body": "Hello 👋"},
        ],
        "properties": {
            "to": {
                "type": "string",
                "description": "E.164 number, e.g. +14155552671 (spaces, dashes, dots and"
                " parentheses are tolerated)",
                "pattern": "^\\+[0-9 ().-]+$",
            },
            "from": {
                "type": "string",
                "description": "E.164 number or alphanumeric sender ID (up to 11 characters)",
            },
            "body": {"type": "string", "minLength": 1, "maxLength": 1600},
            "status_callback": {"type": "string", "format": "uri", "maxLength": 2048},
        },
    },
}

RESPONSES: dict[str, Any] = {
    "Malformed": _problem("The body is not JSON, or not a JSON object."),
    "Unauthenticated": _problem("No, unknown or revoked API key."),
    "Forbidden": _problem("The API key lacks the scope this route needs."),
    "NotFound": _problem("No such resource (or another tenant's)."),
    "Conflict": _problem("The resource's state or a limit forbids this."),
    "TooLarge": _problem("The request body is too large."),
    "UnsupportedMediaType": _problem("Content-Type is not application/json."),
    "ValidationError": _problem("A field is missing, unknown or invalid."),
    "RateLimited": {
        **_problem("Too many requests; retry after Retry-After seconds."),
        "headers": {
            "Retry-After": {"schema": {"type": "integer"}},
            "X-Request-Id": {"$ref": "#/components/headers/X-Request-Id"},
        },
    },
    "Unavailable": _problem("A service behind the edge is unavailable; retry later."),
    "Timeout": _problem("A service behind the edge did not answer in time."),
}

HEADERS: dict[str, Any] = {
    "X-Request-Id": {
        "description": "Echoes the request's id, or a new one.",
        "schema": {"type": "string"},
    },
    "RateLimit": {"description": "IETF RateLimit: what is left.", "schema": {"type": "string"}},
    "RateLimit-Policy": {"description": "IETF RateLimit-Policy.", "schema": {"type": "string"}},
}

MESSAGE_PATHS: dict[str, Any] = {
    "/v1/messages": {
        "post": {
            "operationId": "sendMessage",
            "summary": "Send an SMS",
            "tags": ["Messages"],
            "parameters": [IDEMPOTENCY_KEY],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": ref("SendMessage")}},
            },
            "responses": {
                "201": json_response("The message, queued.", ref("Message"))
                | {
                    "links": {
                        "GetMessage": {
                            "operationId": "getMessage",
                            "parameters": {"id": "$response.body#/id"},
                        }
                    }
                },
                **BODY_ERRORS,
                **COMMON_ERRORS,
            },
        },
        "get": {
            "operationId": "listMessages",
            "summary": "List messages, newest first",
            "tags": ["Messages"],
            "parameters": [
                *PAGE_PARAMETERS,
                {
                    "name": "direction",
                    "in": "query",
                    "description": "Only messages received (inbound) or only those sent.",
                    "schema": {"enum": ["inbound", "outbound"]},
                },
            ],
            "responses": {
                "200": json_response("A page of messages.", ref("MessageList")),
                "422": {"$ref": "#/components/responses/ValidationError"},
                **COMMON_ERRORS,
            },
        },
    },
    "/v1/messages/{id}": {
        "get": {
            "operationId": "getMessage",
            "summary": "A message with its status history",
            "tags": ["Messages"],
            "parameters": [
                {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "responses": {
                "200": json_response("The message.", ref("Message")),
                "404": {"$ref": "#/components/responses/NotFound"},
                **COMMON_ERRORS,
            },
        }
    },
}


def document(
    extra_paths: dict[str, Any] | None = None, extra_schemas: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Omnigate API",
            "version": "1.0.0",
            "description": "Send messages on every channel through one API. Errors are RFC 9457"
            " problem details; lists are cursor-paginated; POSTs take an Idempotency-Key.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}],
        "paths": MESSAGE_PATHS | (extra_paths or {}),
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "description": "og_live_... key"}
            },
            "schemas": SCHEMAS | (extra_schemas or {}),
            "responses": RESPONSES,
            "headers": HEADERS,
        },
    }


def with_scopes(doc: dict[str, Any], scopes: dict[tuple[str, str], str]) -> dict[str, Any]:
    """``doc`` with each operation's ``security`` naming the API-key scope its route declares."""
    paths = {
        path: {
            method: op
            | (
                {"security": [{"bearerAuth": [scopes[(method.upper(), path)]]}]}
                if (method.upper(), path) in scopes
                else {}
            )
            if method != "parameters"
            else op
            for method, op in ops.items()
        }
        for path, ops in doc["paths"].items()
    }
    return doc | {"paths": paths}


def add_route(app: web.Application, doc: dict[str, Any]) -> None:
    """Serve ``doc``, with the scopes of the routes as the app has them once it runs."""
    body: list[bytes] = []

    async def serve(request: web.Request) -> web.Response:
        if not body:
            body.append(orjson.dumps(with_scopes(doc, routes.declared(request.app))))
        return web.Response(body=body[0], content_type="application/json")

    routes.add(app, "GET", "/v1/openapi.json", serve, scope=routes.PUBLIC)
