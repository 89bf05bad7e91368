"""The number.* events: each change of a number, its public JSON as data."""

from __future__ import annotations

from libs.bus import OutgoingMessage
from libs.events import envelope
from services.numbers.model import Number
from services.numbers.representation import number_json

SERVICE = "numbers"


def number_event(type_: str, number: Number) -> OutgoingMessage:
    return envelope.event(
        SERVICE,
        type_,
        tenant_id=number.tenant_id,
        subject=number.id,
        sequence=number.sequence,
        time=number.updated_at,
        data=number_json(number),
    )
