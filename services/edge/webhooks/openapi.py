"""The OpenAPI description of /v1/webhook_endpoints (merged into /v1/openapi.json)."""

from __future__ import annotations

from typing import Any

from libs.events import catalog
from services.edge.openapi import (
    BODY_ERRORS,
    COMMON_ERRORS,
    PAGE_PARAMETERS,
    json_response,
    list_of,
    ref,
)

# The webhooks service's limits (services/webhooks/validation.py), which it enforces.
MAX_URL = 2048
MAX_DESCRIPTION = 500
MAX_GRACE_S = 7 * 86400

_TIME = {"type": ["string", "null"], "format": "date-time"}
# Every type a service's proto declares, and the wildcards of them.
_EVENT_TYPE = {"enum": sorted(catalog.event_types() | catalog.wildcards())}
_NOT_FOUND = {"404": {"$ref": "#/components/responses/NotFound"}}


def _id(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


SCHEMAS: dict[str, Any] = {
    "WebhookEndpoint": {
        "type": "object",
        "required": ["id", "object", "url", "event_types", "disabled"],
        "properties": {
            "id": {"type": "string"},
            "object": {"const": "webhook_endpoint"},
            "url": {"type": "string"},
            "description": {"type": "string"},
            "event_types": {"type": "array", "items": _EVENT_TYPE},
            "disabled": {"type": "boolean"},
            "disabled_reason": {"type": ["string", "null"]},
            "secret": {"type": "string", "description": "whsec_...; only on create and rotate"},
            "previous_secret_expires_at": _TIME,
            "created_at": _TIME,
            "updated_at": _TIME,
        },
    },
    "WebhookEndpointCreate": {
        "type": "object",
        "additionalProperties": False,
        "required": ["url", "event_types"],
        "examples": [
            {"url": "https://example.com/hooks", "event_types": ["message.delivered"]},
        ],
        "properties": {
            "url": {"type": "string", "format": "uri", "maxLength": MAX_URL},
            "event_types": {"type": "array", "minItems": 1, "items": _EVENT_TYPE},
            "description": {"type": "string", "maxLength": MAX_DESCRIPTION},
        },
    },
    "WebhookEndpointUpdate": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "url": {"type": "string", "format": "uri", "maxLength": MAX_URL},
            "event_types": {"type": "array", "minItems": 1, "items": _EVENT_TYPE},
            "description": {"type": "string", "maxLength": MAX_DESCRIPTION},
            "disabled": {"type": "boolean"},
        },
    },
    "RotateSecret": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "grace_period_s": {"type": "number", "minimum": 0, "maximum": MAX_GRACE_S},
        },
    },
    "WebhookDelivery": {
        "type": "object",
        "required": ["id", "object", "status", "attempts"],
        "properties": {
            "id": {"type": "string"},
            "object": {"const": "webhook_delivery"},
            "endpoint_id": {"type": ["string", "null"]},
            "event_id": {"type": "string"},
            "event_type": {"type": "string"},
            "status": {"enum": ["pending", "succeeded", "failed"]},
            "attempts": {"type": "integer"},
            "last_response_status_code": {"type": ["integer", "null"]},
            "last_error": {"type": ["string", "null"]},
            "next_attempt_at": _TIME,
            "created_at": _TIME,
            "updated_at": _TIME,
        },
    },
    "WebhookAttempt": {
        "type": "object",
        "required": ["id", "object", "delivery_id", "attempted_at"],
        "properties": {
            "id": {"type": "string"},
            "object": {"const": "webhook_attempt"},
            "delivery_id": {"type": "string"},
            "attempted_at": _TIME,
            "url": {"type": "string"},
            "response_status_code": {"type": ["integer", "null"]},
            "error": {"type": ["string", "null"]},
            "duration_ms": {"type": ["integer", "number", "null"]},
        },
    },
    "WebhookEndpointList": list_of("WebhookEndpoint"),
    "WebhookDeliveryList": list_of("WebhookDelivery"),
    "WebhookAttemptList": list_of("WebhookAttempt"),
}


def _body(schema: str, required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": ref(schema)}}}


_TAGS = ["Webhook endpoints"]
_BASE = "/v1/webhook_endpoints"

PATHS: dict[str, Any] = {
    _BASE: {
        "post": {
            "operationId": "createWebhookEndpoint",
            "tags": _TAGS,
            "requestBody": _body("WebhookEndpointCreate"),
            "responses": {
                "201": json_response("The endpoint, with its secret.", ref("WebhookEndpoint")),
                **BODY_ERRORS,
                **COMMON_ERRORS,
            },
        },
        "get": {
            "operationId": "listWebhookEndpoints",
            "tags": _TAGS,
            "parameters": PAGE_PARAMETERS,
            "responses": {
                "200": json_response("A page of endpoints.", ref("WebhookEndpointList")),
                "422": {"$ref": "#/components/responses/ValidationError"},
                **COMMON_ERRORS,
            },
        },
    },
    _BASE + "/{id}": {
        "parameters": [_id("id")],
        "get": {
            "operationId": "getWebhookEndpoint",
            "tags": _TAGS,
            "responses": {
                "200": json_response("The endpoint.", ref("WebhookEndpoint")),
                **_NOT_FOUND,
                **COMMON_ERRORS,
            },
        },
        "patch": {
            "operationId": "updateWebhookEndpoint",
            "tags": _TAGS,
            "requestBody": _body("WebhookEndpointUpdate"),
            "responses": {
                "200": json_response("The endpoint.", ref("WebhookEndpoint")),
                **_NOT_FOUND,
                **BODY_ERRORS,
                **COMMON_ERRORS,
            },
        },
        "delete": {
            "operationId": "deleteWebhookEndpoint",
            "tags": _TAGS,
            "responses": {"204": {"description": "Deleted."}, **_NOT_FOUND, **COMMON_ERRORS},
        },
    },
    _BASE + "/{id}/rotate_secret": {
        "parameters": [_id("id")],
        "post": {
            "operationId": "rotateWebhookSecret",
            "tags": _TAGS,
            "requestBody": _body("RotateSecret", required=False),
            "responses": {
                "200": json_response("The endpoint with its new secret.", ref("WebhookEndpoint")),
                **_NOT_FOUND,
                **BODY_ERRORS,
                **COMMON_ERRORS,
            },
        },
    },
    _BASE + "/{id}/deliveries": {
        "parameters": [_id("id")],
        "get": {
            "operationId": "listWebhookDeliveries",
            "tags": _TAGS,
            "parameters": PAGE_PARAMETERS,
            "responses": {
                "200": json_response("A page of deliveries.", ref("WebhookDeliveryList")),
                "422": {"$ref": "#/components/responses/ValidationError"},
                **_NOT_FOUND,
                **COMMON_ERRORS,
            },
        },
    },
    _BASE + "/{id}/deliveries/{delivery_id}/attempts": {
        "parameters": [_id("id"), _id("delivery_id")],
        "get": {
            "operationId": "listWebhookAttempts",
            "tags": _TAGS,
            "parameters": PAGE_PARAMETERS,
            "responses": {
                "200": json_response("A page of attempts.", ref("WebhookAttemptList")),
                "422": {"$ref": "#/components/responses/ValidationError"},
                **_NOT_FOUND,
                **COMMON_ERRORS,
            },
        },
    },
    _BASE + "/{id}/deliveries/{delivery_id}/resend": {
        "parameters": [_id("id"), _id("delivery_id")],
        "post": {
            "operationId": "resendWebhookDelivery",
            "tags": _TAGS,
            "responses": {
                "202": json_response("The delivery, due now.", ref("WebhookDelivery")),
                "409": {"$ref": "#/components/responses/Conflict"},
                **_NOT_FOUND,
                **COMMON_ERRORS,
            },
        },
    },
}
