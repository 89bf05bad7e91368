"""Publishing and reading the one event envelope (``omnigate.events.v1.Event``).

``event(...)`` builds the ``OutgoingMessage`` of a tenant-visible fact for
the outbox: the envelope with CloudEvents attributes, routed on the events
exchange as ``<service>.<type>``, its id the AMQP message id (stable across
redeliveries, since the outbox row keeps it). ``read(delivery)`` decodes
one on the consuming side, or returns None for anything else on the
exchange.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from libs.api.events.v1 import events_pb2
from libs.bus import EVENTS, Delivery, OutgoingMessage
from libs.ids import new_id
from libs.timestamps import to_proto

SPEC_VERSION = "1.0"
JSON = "application/json"
ENVELOPE = events_pb2.Event.DESCRIPTOR.full_name

Event = events_pb2.Event


def event(
    service: str,
    type_: str,
    *,
    tenant_id: str,
    subject: str,
    sequence: int,
    time: datetime,
    data: bytes,
    channel: str = "",
    contact_id: str = "",
    callback_url: str = "",
    headers: Mapping[str, str] | None = None,
) -> OutgoingMessage:
    """The envelope of ``type_`` (``message.delivered``) that ``service`` (``sms``) publishes."""
    envelope = Event(
        id=new_id("evt"),
        source=f"/omnigate/{service}",
        spec_version=SPEC_VERSION,
        type=type_,
        subject=subject,
        time=to_proto(time),
        data_content_type=JSON,
        data=data,
        tenant_id=tenant_id,
        sequence=sequence,
        contact_id=contact_id,
        channel=channel,
        callback_url=callback_url,
    )
    return OutgoingMessage(
        EVENTS,
        f"{service}.{type_}",
        envelope.SerializeToString(),
        ENVELOPE,
        tenant_id,
        message_id=envelope.id,
        headers=headers or {},
    )


def read(delivery: Delivery) -> Event | None:
    """The envelope a delivery carries; None when it carries something else."""
    if delivery.type != ENVELOPE:
        return None
    event: Event = Event.FromString(delivery.body)
    return event
