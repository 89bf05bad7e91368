"""What the sms service puts on the bus: its events and its own submit commands.

Events are envelopes (``libs.events``) of the types its proto declares,
routed ``sms.message.<status>`` on the events exchange, carrying the
message as the API shows it; submit commands go to the service's own queue
``sms.submit``, one per batch of messages accepted together. Every message
is written to the outbox in the transaction that made the change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from libs.api.sms.v1 import events_pb2
from libs.bus import OutgoingMessage, QueueSpec
from libs.events import envelope
from libs.telemetry import current_trace_headers
from services.sms import status as st
from services.sms.repository import NewMessage, Transition
from services.sms.representation import message_bytes, status_data

SERVICE = "sms"
CHANNEL = "sms"

SUBMIT_QUEUE = "sms.submit"
# The worker's command queue: retries back off over a few minutes (an SMSC
# that is down for longer keeps the bind's own reconnect waiting first).
SUBMIT_QUEUE_SPEC = QueueSpec(
    SUBMIT_QUEUE, commands=True, retry_delays_s=(1.0, 5.0, 30.0, 120.0, 600.0)
)
# Messages per SubmitMessages command at most. The worker sizes its batches
# in messages but never splits a command: below this size a batch may hold one
# command of this many, which bounds what a killed worker can resubmit.
MAX_PER_COMMAND = 64

TraceHeaders = dict[str, str]


def submit_commands(
    items: Sequence[tuple[NewMessage, TraceHeaders]], max_per_command: int = MAX_PER_COMMAND
) -> list[OutgoingMessage]:
    """The ``SubmitMessages`` commands for messages accepted together: one per tenant
    (the bus header names one tenant) and per ``max_per_command`` messages.

    Each message keeps its own trace context in the command; the command's
    headers carry its first message's, for the publish and consume spans.
    """
    by_tenant: dict[str, list[tuple[NewMessage, TraceHeaders]]] = {}
    for item in items:
        by_tenant.setdefault(item[0].tenant_id, []).append(item)
    commands = []
    for tenant_id, mine in by_tenant.items():
        for start in range(0, len(mine), max_per_command):
            chunk = mine[start : start + max_per_command]
            body = events_pb2.SubmitMessages(
                messages=[
                    events_pb2.SubmitMessage(
                        message_id=m.id,
                        tenant_id=m.tenant_id,
                        sender=m.sender,
                        recipient=m.recipient,
                        body=m.body,
                        trace_context=headers,
                    )
                    for m, headers in chunk
                ]
            )
            commands.append(
                OutgoingMessage.command(SUBMIT_QUEUE, body, tenant_id, headers=chunk[0][1])
            )
    return commands


def status_event(
    row: Mapping[str, Any], transition: Transition, trace_headers: TraceHeaders | None = None
) -> OutgoingMessage:
    """``message.<status>`` for a transition applied to ``row`` (the message after it)."""
    return envelope.event(
        SERVICE,
        "message." + st.NAMES[transition.status],
        tenant_id=row["tenant_id"],
        subject=row["id"],
        sequence=row["sequence"],
        time=transition.occurred_at,
        data=status_data(row),
        channel=CHANNEL,
        callback_url=row["status_callback"],
        headers=trace_headers or current_trace_headers(),
    )


def received_event(row: Mapping[str, Any], callback_url: str = "") -> OutgoingMessage:
    """``message.received`` for an inbound message, its body included, for ``callback_url``
    (the number's sms_url) and the endpoints that subscribed to it."""
    return envelope.event(
        SERVICE,
        "message.received",
        tenant_id=row["tenant_id"],
        subject=row["id"],
        sequence=row["sequence"],
        time=row["created_at"],
        data=message_bytes(row),
        channel=CHANNEL,
        callback_url=callback_url,
        headers=current_trace_headers(),
    )
