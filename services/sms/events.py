"""What the sms service puts on the bus: status events and its own submit command.

Routing keys are ``sms.message.<status>`` on the events exchange; the submit
command goes to the service's own queue ``sms.submit``. Every message is
written to the outbox in the transaction that made the change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import asyncpg
from opentelemetry import propagate

from libs.api.sms.v1 import events_pb2, sms_pb2
from libs.bus import OutboxRelay, OutgoingMessage, QueueSpec, add_to_outbox
from libs.telemetry import tracing_on
from services.sms import status as st
from services.sms.convert import message_from_row, timestamp
from services.sms.repository import NewMessage, Transition

SUBMIT_QUEUE = "sms.submit"
# The worker's command queue: retries back off over a few minutes (an SMSC
# that is down for longer keeps the bind's own reconnect waiting first).
SUBMIT_QUEUE_SPEC = QueueSpec(
    SUBMIT_QUEUE, commands=True, retry_delays_s=(1.0, 5.0, 30.0, 120.0, 600.0)
)
ROUTING_PREFIX = "sms.message."

TraceHeaders = dict[str, str]


class OutboxWriter(Protocol):
    async def add(self, conn: asyncpg.Connection, messages: Sequence[OutgoingMessage]) -> None: ...

    def wake(self) -> None: ...


class RelayOutbox:
    """Writes to the outbox table and nudges this process's relay after the commit."""

    def __init__(self, relay: OutboxRelay) -> None:
        self._relay = relay

    async def add(self, conn: asyncpg.Connection, messages: Sequence[OutgoingMessage]) -> None:
        await add_to_outbox(conn, messages, notify=False)

    def wake(self) -> None:
        self._relay.wake()


def current_trace_headers() -> TraceHeaders:
    carrier: TraceHeaders = {}
    if tracing_on():
        propagate.inject(carrier)
    return carrier


def submit_command(message: NewMessage, trace_headers: TraceHeaders) -> OutgoingMessage:
    body = events_pb2.SubmitMessage(
        message_id=message.id,
        tenant_id=message.tenant_id,
        sender=message.sender,
        recipient=message.recipient,
        body=message.body,
    )
    return OutgoingMessage.command(SUBMIT_QUEUE, body, message.tenant_id, headers=trace_headers)


def status_event(
    row: Mapping[str, Any], transition: Transition, trace_headers: TraceHeaders | None = None
) -> OutgoingMessage:
    event = events_pb2.MessageStatusChanged(
        message=message_from_row(row, with_body=False),
        transition=sms_pb2.StatusTransition(
            status=transition.status,  # type: ignore[arg-type]  # stored as its number
            occurred_at=timestamp(transition.occurred_at),
            sequence=row["sequence"],
            error_code=transition.error_code,
            error_message=transition.error_message,
        ),
    )
    return OutgoingMessage.event(
        ROUTING_PREFIX + st.NAMES[transition.status],
        event,
        row["tenant_id"],
        headers=trace_headers or current_trace_headers(),
    )


def received_event(row: Mapping[str, Any]) -> OutgoingMessage:
    event = events_pb2.MessageReceived(
        message=message_from_row(row), received_at=timestamp(row["created_at"])
    )
    return OutgoingMessage.event(
        ROUTING_PREFIX + "received", event, row["tenant_id"], headers=current_trace_headers()
    )
