"""SMPP 3.4 for Omnigate: PDU codec, delivery receipts and an asyncio ESME client.

Shared by the SMS service (as an ESME) and the development SMSC (as a server).
Modules: ``pdu`` (codec and framing), ``status`` (command_status values),
``errors`` (the error tree), ``receipt`` (delivery receipts, carrier ids),
``gsm7`` (GSM 03.38 unpacked), ``throttle`` (token bucket), ``config`` and
``client`` (``SmppClient``).
"""

from libs.smpp.client import SmppClient
from libs.smpp.config import SmppBindConfig
from libs.smpp.errors import (
    SmppBindError,
    SmppConnectionError,
    SmppError,
    SmppFramingError,
    SmppPduError,
    SmppStatusError,
    SmppTimeoutError,
)
from libs.smpp.pdu import DeliverSm, Pdu, SubmitSm, SubmitSmResp, Tag, encode, read_pdu
from libs.smpp.receipt import (
    Receipt,
    carrier_id_candidates,
    carrier_ids_match,
    normalize_carrier_id,
    parse_receipt_text,
    receipt_from_deliver_sm,
)

__all__ = [
    "DeliverSm",
    "Pdu",
    "Receipt",
    "SmppBindConfig",
    "SmppBindError",
    "SmppClient",
    "SmppConnectionError",
    "SmppError",
    "SmppFramingError",
    "SmppPduError",
    "SmppStatusError",
    "SmppTimeoutError",
    "SubmitSm",
    "SubmitSmResp",
    "Tag",
    "carrier_id_candidates",
    "carrier_ids_match",
    "encode",
    "normalize_carrier_id",
    "parse_receipt_text",
    "read_pdu",
    "receipt_from_deliver_sm",
]
