"""A message as the public API shows it, rendered here, by the service that owns it.

The API's responses (through ``Message.public_json``) and the service's
events (the envelope's ``data``) are both made here, so what a tenant reads
with GET and what its webhooks receive cannot drift apart. Rendered from
rows, not from protobuf messages: a status event then costs no protobuf
message built only to be turned into JSON.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from libs.api.sms.v1 import sms_pb2
from libs.timestamps import rfc3339
from services.sms import status as st

DIRECTIONS = {sms_pb2.DIRECTION_OUTBOUND: "outbound", sms_pb2.DIRECTION_INBOUND: "inbound"}
ENCODINGS = {sms_pb2.ENCODING_GSM7: "GSM-7", sms_pb2.ENCODING_UCS2: "UCS-2"}

Row = Mapping[str, Any]


def message_json(
    row: Row, history: Sequence[Row] | None = None, *, body: bool = True
) -> dict[str, Any]:
    """The message; with ``status_history`` when ``history`` is given (oldest first)."""
    out: dict[str, Any] = {
        "id": row["id"],
        "object": "message",
        "direction": DIRECTIONS.get(row["direction"], "outbound"),
        "from": row["sender"],
        "to": row["recipient"],
    }
    if body:
        out["body"] = row.get("body", "")
    out |= {
        "status": st.NAMES[row["status"]],
        "encoding": ENCODINGS.get(row["encoding"]),
        "segments": row["segments"],
        "status_callback": row["status_callback"] or None,
        "error_code": row["error_code"] or None,
        "error_message": row["error_message"] or None,
        "sequence": row["sequence"],
        "created_at": rfc3339(row["created_at"]),
        "updated_at": rfc3339(row["updated_at"]),
    }
    if history is not None:
        out["status_history"] = [transition_json(t) for t in history]
    return out


def transition_json(t: Row) -> dict[str, Any]:
    return {
        "status": st.NAMES[t["status"]],
        "at": rfc3339(t["occurred_at"]),
        "sequence": t["sequence"],
        "error_code": t["error_code"] or None,
        "error_message": t["error_message"] or None,
    }


def message_bytes(row: Row, history: Sequence[Row] | None = None) -> bytes:
    return orjson.dumps(message_json(row, history))


def status_data(row: Row) -> bytes:
    """What a status event carries: the message after the transition, without its body."""
    return orjson.dumps(message_json(row, body=False))
