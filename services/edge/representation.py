"""The JSON shape of resources, shared by API responses and webhook payloads."""

from __future__ import annotations

import functools
import time
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from libs.api.sms.v1 import sms_pb2

STATUS_NAMES = {
    v: sms_pb2.MessageStatus.Name(v).removeprefix("MESSAGE_STATUS_").lower()
    for v in sms_pb2.MessageStatus.values()
}
_DIRECTIONS = {sms_pb2.DIRECTION_OUTBOUND: "outbound", sms_pb2.DIRECTION_INBOUND: "inbound"}
_ENCODINGS = {sms_pb2.ENCODING_GSM7: "GSM-7", sms_pb2.ENCODING_UCS2: "UCS-2"}


def rfc3339(ts: Timestamp) -> str | None:
    """UTC with milliseconds (``2026-11-27T10:40:46.123Z``); None for an unset timestamp."""
    if not ts.seconds and not ts.nanos:
        return None
    return f"{_second(ts.seconds)}.{ts.nanos // 1_000_000:03d}Z"


@functools.lru_cache(maxsize=256)
def _second(seconds: int) -> str:
    # Runs three times for every response and webhook, mostly for the same few
    # seconds; time.gmtime rather than Timestamp.ToDatetime, several times slower.
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


def message_json(msg: sms_pb2.Message, *, with_history: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": msg.id,
        "object": "message",
        "direction": _DIRECTIONS.get(msg.direction, "outbound"),
        "from": msg.sender,
        "to": msg.recipient,
        "body": msg.body,
        "status": STATUS_NAMES[msg.status],
        "encoding": _ENCODINGS.get(msg.encoding),
        "segments": msg.segments,
        "status_callback": msg.status_callback or None,
        "error_code": msg.error_code or None,
        "error_message": msg.error_message or None,
        "sequence": msg.sequence,
        "created_at": rfc3339(msg.created_at),
        "updated_at": rfc3339(msg.updated_at),
    }
    if with_history:
        out["status_history"] = [transition_json(t) for t in msg.history]
    return out


def transition_json(t: sms_pb2.StatusTransition) -> dict[str, Any]:
    return {
        "status": STATUS_NAMES[t.status],
        "at": rfc3339(t.occurred_at),
        "sequence": t.sequence,
        "error_code": t.error_code or None,
        "error_message": t.error_message or None,
    }
