"""A number as the public API shows it, and as the gRPC API carries it."""

from __future__ import annotations

from typing import Any

import orjson

from libs.api.numbers.v1 import numbers_pb2 as pb
from libs.timestamps import rfc3339
from services.numbers.model import Number

TYPE_NAMES: dict[int, str] = {
    pb.NUMBER_TYPE_PHONE_NUMBER: "phone_number",
    pb.NUMBER_TYPE_ALPHANUMERIC_SENDER_ID: "alphanumeric_sender_id",
}


def number_json(n: Number) -> bytes:
    receives = n.type == pb.NUMBER_TYPE_PHONE_NUMBER
    out: dict[str, Any] = {
        "id": n.id,
        "object": "number",
        "number": n.address,
        "type": TYPE_NAMES[n.type],
        # What the number can do; a handset cannot answer an alphanumeric sender.
        "capabilities": {"sms_send": True, "sms_receive": receives},
        "status": "released" if n.released_at is not None else "active",
        "sms_url": n.sms_url or None,
        "voice_url": n.voice_url or None,
        "voice_fallback_url": n.voice_fallback_url or None,
        "status_callback": n.status_callback or None,
        "sequence": n.sequence,
        "assigned_at": rfc3339(n.assigned_at),
        "updated_at": rfc3339(n.updated_at),
    }
    return orjson.dumps(out)


def to_proto(n: Number) -> pb.Number:
    return pb.Number(
        id=n.id,
        tenant_id=n.tenant_id,
        address=n.address,
        type=n.type,  # type: ignore[arg-type]
        sms_url=n.sms_url,
        voice_url=n.voice_url,
        voice_fallback_url=n.voice_fallback_url,
        status_callback=n.status_callback,
        sequence=n.sequence,
        assigned_at_unix_ms=int(n.assigned_at.timestamp() * 1000),
        released=n.released_at is not None,
        public_json=number_json(n),
    )
