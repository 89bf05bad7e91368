"""Endpoints, deliveries and attempts as the public API shows them, rendered by their owner.

The edge answers with these bytes as they are (``Rendered.public_json``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from libs.timestamps import rfc3339
from services.webhooks.endpoints import Endpoint


def endpoint_json(ep: Endpoint, *, with_secret: bool = False) -> bytes:
    """An endpoint; its ``secret`` only when it was just made or rotated."""
    out: dict[str, Any] = {
        "id": ep.id,
        "object": "webhook_endpoint",
        "url": ep.url,
        "description": ep.description,
        "event_types": list(ep.event_types),
        "disabled": ep.disabled,
        "disabled_reason": ep.disabled_reason,
        "previous_secret_expires_at": _time(ep.previous_secret_expires_at),
        "created_at": _time(ep.created_at),
        "updated_at": _time(ep.updated_at),
    }
    if with_secret:
        out["secret"] = ep.secret
    return orjson.dumps(out)


def delivery_json(row: Mapping[str, Any]) -> bytes:
    return orjson.dumps(
        {
            "id": row["id"],
            "object": "webhook_delivery",
            "endpoint_id": row["endpoint_id"],
            "event_id": row["event_id"],
            "event_type": row["event_type"],
            "status": row["status"],
            "attempts": row["attempts"],
            "last_response_status_code": row["last_status_code"],
            "last_error": row["last_error"],
            "next_attempt_at": _time(row["next_attempt_at"])
            if row["status"] == "pending"
            else None,
            "created_at": _time(row["created_at"]),
            "updated_at": _time(row["updated_at"]),
        }
    )


def attempt_json(row: Mapping[str, Any]) -> bytes:
    return orjson.dumps(
        {
            "id": row["id"],
            "object": "webhook_attempt",
            "delivery_id": row["delivery_id"],
            "attempted_at": _time(row["attempted_at"]),
            "url": row["url"],
            "response_status_code": row["status_code"],
            "error": row["error"],
            "duration_ms": row["duration_ms"],
        }
    )


def _time(value: Any) -> str | None:
    return None if value is None else rfc3339(value)
