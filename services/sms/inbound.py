"""Inbound SMS: a deliver_sm that is not a receipt becomes its owner's message.

1. The part is read as the SMSC sent it: short_message or message_payload,
   with a UDH concatenation element or the SAR optional parameters.
2. Whoever owns the destination number owns the message (``owners``); an
   SMS to a number nobody owns reaches no tenant: it is counted, logged
   and answered (the SMSC must not send it again).
3. A part of a longer text waits in ``inbound_parts`` until every part is
   in, in any order and on any bind; the last one completes the message.
4. The message (``direction: inbound``, ``status: received``) and its
   ``message.received`` event, addressed to the number's ``sms_url``, are
   stored in one transaction; the SMSC gets its deliver_sm_resp after it.

A part sent again within ``REASSEMBLY_WINDOW_S`` of its message's
completion is a repeat and changes nothing. A single-part SMS sent again
is a second message: SMPP gives it nothing to tell the two apart by.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
from prometheus_client import Counter

from libs.addresses import InvalidNumber, normalize_phone
from libs.api.sms.v1 import sms_pb2
from libs.bus import OutboxWriter, Written
from libs.faults import Waiting, outlast
from libs.ids import new_id
from libs.smpp.encoding import (
    Concatenation,
    InvalidShortMessage,
    count_segments,
    decode_short_message,
)
from libs.smpp.pdu import ESM_CLASS_UDHI, DeliverSm, Tag, tlv_int
from services.sms import events, repository
from services.sms import status as st
from services.sms.convert import ENCODING_NUMBERS
from services.sms.owners import Owners

log = logging.getLogger("omnigate.sms.inbound")

UNOWNED = Counter(
    "omnigate_sms_inbound_unowned_total", "Inbound SMS parts to a number no tenant owns"
)
DROPPED = Counter(
    "omnigate_sms_inbound_unreadable_total", "Inbound SMS parts that could not be read"
)

# How long a completed message's parts are remembered, to know a part sent again.
REASSEMBLY_WINDOW_S = 600.0
_TON_INTERNATIONAL = 1


@dataclass(frozen=True, slots=True)
class Received:
    """One inbound part as read: who sent it, to which number, and where it belongs."""

    sender: str
    recipient: str
    text: str
    concatenation: Concatenation | None


def read_part(pdu: DeliverSm) -> Received:
    """The part ``pdu`` carries; ``InvalidShortMessage``/``InvalidNumber`` if unreadable."""
    payload = pdu.short_message or pdu.tlvs.get(Tag.MESSAGE_PAYLOAD, b"")
    decoded = decode_short_message(pdu.data_coding, payload, bool(pdu.esm_class & ESM_CLASS_UDHI))
    recipient = normalize_phone("+" + pdu.destination_addr.lstrip("+"))
    sender = pdu.source_addr
    if pdu.source_addr_ton == _TON_INTERNATIONAL:
        sender = "+" + sender.lstrip("+")
    # PostgreSQL's text cannot hold NUL, which Latin-1 and UCS-2 payloads can carry.
    text = decoded.text.replace("\x00", "\ufffd")
    return Received(sender, recipient, text, decoded.concatenation or _sar(pdu))


def _sar(pdu: DeliverSm) -> Concatenation | None:
    reference = tlv_int(pdu.tlvs, Tag.SAR_MSG_REF_NUM)
    total = tlv_int(pdu.tlvs, Tag.SAR_TOTAL_SEGMENTS)
    seq = tlv_int(pdu.tlvs, Tag.SAR_SEGMENT_SEQNUM)
    if reference is None or not total or not seq or seq > total:
        return None
    return Concatenation(reference, total, seq)


class Inbound:
    def __init__(self, pool: asyncpg.Pool, outbox: OutboxWriter, owners: Owners) -> None:
        self._pool = pool
        self._outbox = outbox
        self._owners = owners
        self._waiting = Waiting("sms worker: storing inbound SMS")

    async def receive(self, pdu: DeliverSm) -> None:
        """Store the part ``pdu`` carries; returning lets the SMSC have its deliver_sm_resp."""
        try:
            part = read_part(pdu)
        except (InvalidShortMessage, InvalidNumber) as exc:
            DROPPED.inc()
            log.warning("inbound message dropped: %s", exc)
            return
        now = datetime.now(UTC)
        # The SMSC waits for its deliver_sm_resp while the database or the
        # numbers service is away, and gets it once the message is stored.
        written = await outlast(lambda: self._store(part, now), self._waiting)
        if written is not None:
            self._outbox.committed(written)

    async def _store(self, part: Received, now: datetime) -> Written | None:
        async with self._pool.acquire() as conn:
            owner = (await self._owners.of(conn, [part.recipient])).get(part.recipient)
            if owner is None:
                UNOWNED.inc()
                log.warning("inbound message to %s, which no tenant owns, dropped", part.recipient)
                return None
            async with conn.transaction():
                text: str | None = part.text
                concat = part.concatenation
                if concat is not None and concat.total > 1:
                    text = await repository.add_inbound_part(
                        conn,
                        repository.InboundPart(
                            part.recipient,
                            part.sender,
                            concat.reference,
                            concat.total,
                            concat.sequence,
                            part.text,
                        ),
                        now,
                        REASSEMBLY_WINDOW_S,
                    )
                if text is None:
                    return None  # parts still missing, or a part had before
                counted = count_segments(text)
                message = repository.NewMessage(
                    id=new_id("msg"),
                    tenant_id=owner.tenant_id,
                    direction=sms_pb2.DIRECTION_INBOUND,
                    sender=part.sender,
                    recipient=part.recipient,
                    body=text,
                    encoding=ENCODING_NUMBERS[counted.encoding],
                    segments=concat.total if concat is not None else counted.segments,
                    status=st.RECEIVED,
                    status_callback="",
                    created_at=now,
                )
                await repository.insert_messages(conn, [message])
                event = events.received_event(message.as_row(), callback_url=owner.sms_url)
                written = await self._outbox.add(conn, [event])
        return written
