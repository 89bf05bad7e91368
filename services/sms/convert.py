"""Database rows -> protobuf messages (with their public rendering)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from libs.api.sms.v1 import sms_pb2
from libs.smpp.encoding import Encoding
from libs.timestamps import to_proto
from services.sms.representation import message_bytes

ENCODING_NUMBERS = {Encoding.GSM7: sms_pb2.ENCODING_GSM7, Encoding.UCS2: sms_pb2.ENCODING_UCS2}


def message_from_row(
    row: Mapping[str, Any], history: Sequence[Mapping[str, Any]] | None = None
) -> sms_pb2.Message:
    """The message with ``history`` (None: a list's view, without it)."""
    return sms_pb2.Message(
        id=row["id"],
        tenant_id=row["tenant_id"],
        direction=row["direction"],
        sender=row["sender"],
        recipient=row["recipient"],
        body=row.get("body", ""),
        status=row["status"],
        encoding=row["encoding"],
        segments=row["segments"],
        status_callback=row["status_callback"],
        error_code=row["error_code"],
        error_message=row["error_message"],
        sequence=row["sequence"],
        created_at=to_proto(row["created_at"]),
        updated_at=to_proto(row["updated_at"]),
        history=[
            sms_pb2.StatusTransition(
                status=h["status"],
                occurred_at=to_proto(h["occurred_at"]),
                sequence=h["sequence"],
                error_code=h["error_code"],
                error_message=h["error_message"],
            )
            for h in history or ()
        ],
        public_json=message_bytes(row, history),
    )
