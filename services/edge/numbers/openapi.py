"""The OpenAPI description of /v1/numbers (merged into /v1/openapi.json)."""

from __future__ import annotations

from typing import Any

from services.edge.openapi import (
    BODY_ERRORS,
    COMMON_ERRORS,
    PAGE_PARAMETERS,
    json_response,
    list_of,
    ref,
)

# The numbers service's limit (services/numbers/validation.py), which it enforces.
MAX_URL = 2048

_URL = {"type": ["string", "null"], "format": "uri", "maxLength": MAX_URL}
_TAGS = ["Numbers"]

SCHEMAS: dict[str, Any] = {
    "Number": {
        "type": "object",
        "required": ["id", "object", "number", "type", "capabilities", "status"],
        "properties": {
            "id": {"type": "string"},
            "object": {"const": "number"},
            "number": {"type": "string", "description": "E.164, or the sender ID"},
            "type": {"enum": ["phone_number", "alphanumeric_sender_id"]},
            "capabilities": {
                "type": "object",
                "properties": {
                    "sms_send": {"type": "boolean"},
                    "sms_receive": {"type": "boolean"},
                },
            },
            "status": {"enum": ["active", "released"]},
            "sms_url": {**_URL, "description": "Inbound SMS are POSTed here (message.received)"},
            "voice_url": _URL,
            "voice_fallback_url": _URL,
            "status_callback": _URL,
            "sequence": {"type": "integer"},
            "assigned_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
        },
    },
    "NumberUpdate": {
        "type": "object",
        "additionalProperties": False,
        "examples": [{"sms_url": "https://example.com/omnigate/inbound"}],
        "properties": {
            "sms_url": _URL,
            "voice_url": _URL,
            "voice_fallback_url": _URL,
            "status_callback": _URL,
        },
    },
    "NumberList": list_of("Number"),
}

_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
_NOT_FOUND = {"404": {"$ref": "#/components/responses/NotFound"}}

PATHS: dict[str, Any] = {
    "/v1/numbers": {
        "get": {
            "operationId": "listNumbers",
            "tags": _TAGS,
            "parameters": PAGE_PARAMETERS,
            "responses": {
                "200": json_response("A page of your numbers, newest first.", ref("NumberList")),
                "422": {"$ref": "#/components/responses/ValidationError"},
                **COMMON_ERRORS,
            },
        },
    },
    "/v1/numbers/{id}": {
        "parameters": [
            {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
        ],
        "get": {
            "operationId": "getNumber",
            "tags": _TAGS,
            "responses": {
                "200": json_response("The number.", ref("Number")),
                **_NOT_FOUND,
                **COMMON_ERRORS,
            },
        },
        "patch": {
            "operationId": "updateNumber",
            "tags": _TAGS,
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": ref("NumberUpdate")}},
            },
            "responses": {
                "200": json_response("The number.", ref("Number")),
                **_NOT_FOUND,
                **BODY_ERRORS,
                **COMMON_ERRORS,
            },
        },
    },
}
