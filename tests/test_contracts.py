"""Contracts between the parts: the committed stubs, and what one service makes of another's."""

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import orjson

from libs.api.events.v1 import events_pb2
from services.edge.webhooks import openapi as webhooks_doc
from services.sms import events
from services.sms import status as st
from services.sms.repository import Transition
from services.webhooks import validation
from services.webhooks.sender import payload

ROOT = Path(__file__).resolve().parent.parent


def test_committed_stubs_match_a_fresh_generation() -> None:
    result = subprocess.run(
        [sys.executable, "proto/generate.py", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_a_status_event_makes_the_webhook_body_tenants_always_got() -> None:
    """From the sms service's event to the webhooks service's body, key for key."""
    at = datetime(2026, 12, 3, 10, 40, 46, 123456, tzinfo=UTC)
    row = {
        "id": "msg_1", "tenant_id": "ten_1", "direction": 1, "sender": "+447700900100",
        "recipient": "+447700900000", "status": st.DELIVERED, "encoding": 1, "segments": 1,
        "status_callback": "https://example.com/s", "error_code": "", "error_message": "",
        "sequence": 3, "created_at": at, "updated_at": at,
    }  # fmt: skip
    out = events.status_event(row, Transition("msg_1", st.DELIVERED, at))
    assert out.routing_key == "sms.message.delivered"
    body = orjson.loads(payload(events_pb2.Event.FromString(out.body)))
    assert body == {
        "type": "message.delivered",
        "timestamp": "2026-12-03T10:40:46.123Z",
        "data": {
            "id": "msg_1", "object": "message", "direction": "outbound",
            "from": "+447700900100", "to": "+447700900000", "status": "delivered",
            "encoding": "GSM-7", "segments": 1, "status_callback": "https://example.com/s",
            "error_code": None, "error_message": None, "sequence": 3,
            "created_at": "2026-12-03T10:40:46.123Z", "updated_at": "2026-12-03T10:40:46.123Z",
        },
    }  # fmt: skip


def test_the_edge_documents_the_limits_the_webhooks_service_enforces() -> None:
    assert (webhooks_doc.MAX_URL, webhooks_doc.MAX_DESCRIPTION, webhooks_doc.MAX_GRACE_S) == (
        validation.MAX_URL,
        validation.MAX_DESCRIPTION,
        validation.MAX_GRACE_S,
    )
