"""What travels on the bus: the outgoing envelope, the incoming delivery, and their headers.

Bodies are serialized protobuf bytes chosen by the caller; the envelope adds
what every consumer needs without decoding the body: the event id (AMQP
``message_id``), the payload's full proto name (AMQP ``type``), the tenant
(``tenant-id`` header) and the W3C trace context (``traceparent``/``tracestate``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from opentelemetry.context import Context

from libs.ids import new_id

# Logical exchange names; the client prefixes them (``<prefix>.events``), so
# callers and outbox rows never carry a deployment-specific name.
EVENTS = "events"
COMMANDS = "commands"

CONTENT_TYPE = "application/protobuf"
TENANT_HEADER = "tenant-id"
# Set when a failed message is re-published to a delay queue: it then comes
# back through the default exchange, so the original route is kept here.
ATTEMPT_HEADER = "x-omnigate-attempt"
ROUTING_KEY_HEADER = "x-omnigate-routing-key"
EXCHANGE_HEADER = "x-omnigate-exchange"
ERROR_HEADER = "x-omnigate-last-error"
# Set by an outbox relay on a row it swept that another relay, or itself, may
# have published already (its relay died, or a publish failed, before the
# row's delete): consumers that skip the look-up for first deliveries check it.
REPUBLISHED_HEADER = "x-omnigate-republished"


class ProtoMessage(Protocol):
    """The part of ``google.protobuf.message.Message`` the envelope needs."""

    @property
    def DESCRIPTOR(self) -> Any: ...  # noqa: N802 - protobuf's own name

    def SerializeToString(self) -> bytes: ...  # noqa: N802 - protobuf's own name


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """One message to publish: an event (topic exchange) or a command (a service's queue).

    ``exchange`` is logical: ``EVENTS`` routes by ``routing_key``
    (``<service>.<resource>.<event>``) to every subscribed queue; ``COMMANDS``
    routes to the one queue named ``routing_key`` and is an error when no such
    queue exists. ``headers`` are extra application headers (strings).
    """

    exchange: str
    routing_key: str
    body: bytes
    type: str
    tenant_id: str
    message_id: str = field(default_factory=lambda: new_id("evt"))
    headers: Mapping[str, str] = field(default_factory=dict)
    timestamp: datetime | None = None

    def __post_init__(self) -> None:
        if self.exchange not in (EVENTS, COMMANDS):
            raise ValueError(f"exchange must be {EVENTS!r} or {COMMANDS!r}, got {self.exchange!r}")
        if not self.routing_key:
            raise ValueError("routing_key must not be empty")
        if not self.type:
            raise ValueError("type must name the payload's proto message")
        if not self.message_id:
            raise ValueError("message_id must not be empty")

    @classmethod
    def event(
        cls, routing_key: str, payload: ProtoMessage, tenant_id: str, **kw: Any
    ) -> OutgoingMessage:
        """An event carrying ``payload`` (a protobuf message)."""
        return cls(
            EVENTS,
            routing_key,
            payload.SerializeToString(),
            payload.DESCRIPTOR.full_name,
            tenant_id,
            **kw,
        )

    @classmethod
    def command(
        cls, queue: str, payload: ProtoMessage, tenant_id: str, **kw: Any
    ) -> OutgoingMessage:
        """A command for the queue with logical name ``queue`` (e.g. ``sms.send``)."""
        return cls(
            COMMANDS,
            queue,
            payload.SerializeToString(),
            payload.DESCRIPTOR.full_name,
            tenant_id,
            **kw,
        )

    @property
    def mandatory(self) -> bool:
        # An event nobody subscribes to is normal; a command nobody receives is a bug.
        return self.exchange == COMMANDS


@dataclass(eq=False, slots=True)
class Delivery:
    """One received message as a handler sees it (compared by identity).

    ``routing_key`` and ``exchange`` are the original route even after a
    retry; ``attempt`` is how many times it was retried after a failure
    (0 on first delivery); ``redelivered`` is the broker's flag (a previous
    consumer died or the channel closed before settling it); ``republished``
    that an outbox relay may have published it before. ``trace_context``
    is the publisher's span context, for a batch handler that wants a span per
    message (a single-message handler already runs inside a child span).
    """

    body: bytes
    type: str
    message_id: str
    tenant_id: str
    headers: Mapping[str, Any]
    redelivered: bool
    routing_key: str
    exchange: str
    attempt: int
    timestamp: datetime | None
    trace_context: Context | None = None
    republished: bool = False

    @property
    def maybe_seen(self) -> bool:
        """Whether a consumer may have had this message before (else it surely has not)."""
        return self.redelivered or self.attempt > 0 or self.republished
