"""The envelope: CloudEvents attributes, routed by service and type, exported as a CloudEvent."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from cloudevents.core.formats.json import JSONFormat

from libs.api.events.v1 import events_pb2
from libs.bus import EVENTS, Delivery, OutgoingMessage
from libs.events import catalog, envelope
from libs.events.cloudevents import to_structured

AT = datetime(2026, 12, 3, 10, 40, 46, 123456, tzinfo=UTC)


def _message() -> OutgoingMessage:
    return envelope.event(
        "sms",
        "message.delivered",
        tenant_id="ten_1",
        subject="msg_1",
        sequence=3,
        time=AT,
        data=b'{"id":"msg_1","status":"delivered"}',
        channel="sms",
        callback_url="https://example.com/status",
    )


def _delivery(body: bytes, type_: str) -> Delivery:
    key = "sms.message.delivered"
    return Delivery(body, type_, "evt_1", "ten_1", {}, False, key, EVENTS, 0, None)


def test_an_event_is_routed_by_service_and_type_and_keeps_its_id() -> None:
    out = _message()
    assert (out.exchange, out.routing_key, out.type) == (
        EVENTS,
        "sms.message.delivered",
        "omnigate.events.v1.Event",
    )
    event = events_pb2.Event.FromString(out.body)
    assert event.id == out.message_id and event.id.startswith("evt_")
    assert (event.source, event.spec_version, event.subject, event.sequence) == (
        "/omnigate/sms",
        "1.0",
        "msg_1",
        3,
    )
    assert event.time.ToDatetime(UTC) == AT


def test_read_decodes_the_envelope_and_nothing_else() -> None:
    out = _message()
    assert envelope.read(_delivery(out.body, out.type)) == events_pb2.Event.FromString(out.body)
    assert envelope.read(_delivery(b"", "omnigate.sms.v1.SubmitMessages")) is None


def test_the_envelope_exports_as_a_valid_cloudevent() -> None:
    event = events_pb2.Event.FromString(_message().body)
    exported = JSONFormat().read(None, orjson.dumps(to_structured(event)))
    assert exported.get_id() == event.id
    assert exported.get_type() == "message.delivered"
    assert exported.get_source() == "/omnigate/sms"
    assert exported.get_subject() == "msg_1"
    assert exported.get_time() == AT.replace(microsecond=123000)
    assert exported.get_extension("tenantid") == "ten_1"
    assert exported.get_extension("sequence") == "00000000000000000003"
    assert exported.get_extension("callbackurl") == "https://example.com/status"
    assert exported.get_data() == {"id": "msg_1", "status": "delivered"}


def test_the_catalogue_holds_every_type_a_service_declares_in_its_proto() -> None:
    types = catalog.event_types()
    assert {"message.sent", "message.delivered", "message.received", "number.assigned"} <= types
    assert all(t.count(".") == 1 for t in types)
    assert catalog.wildcards() == {"*", "message.*", "number.*"}


def test_a_subscription_matches_its_types_and_wildcards() -> None:
    assert catalog.matches(["message.*"], "message.sent")
    assert catalog.matches(["*"], "call.completed")
    assert catalog.matches(["message.delivered"], "message.delivered")
    assert not catalog.matches(["message.delivered"], "message.failed")
    assert not catalog.matches(["message.*"], "messages.sent")
