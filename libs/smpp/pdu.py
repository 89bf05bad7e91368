"""SMPP 3.4 PDU codec: dataclasses per PDU, ``encode`` to bytes, ``read_pdu`` from a stream.

Only the PDUs an ESME and a small SMSC exchange are modelled (binds, unbind,
enquire_link, submit_sm, deliver_sm, generic_nack and their responses); any
optional parameter (TLV) is carried generically as ``tlvs: dict[int, bytes]``
so unknown vendor tags survive a decode/encode round trip.

Encoding and decoding use precompiled ``struct`` formats and a dispatch dict
keyed by command_id: this runs for every message on a 1,000 msg/s path, so
there is no per-call reflection over dataclass fields.

Strings are decoded as Latin-1: SMPP C-octet strings are ASCII in practice,
and Latin-1 maps every byte, so a peer's odd byte never breaks a session.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar, Final

from libs.smpp import status as st
from libs.smpp.errors import SmppConnectionError, SmppFramingError, SmppPduError

# --- command ids (section 5.1.2.1) -------------------------------------------------------

GENERIC_NACK: Final = 0x80000000
BIND_RECEIVER: Final = 0x00000001
BIND_RECEIVER_RESP: Final = 0x80000001
BIND_TRANSMITTER: Final = 0x00000002
BIND_TRANSMITTER_RESP: Final = 0x80000002
SUBMIT_SM: Final = 0x00000004
SUBMIT_SM_RESP: Final = 0x80000004
DELIVER_SM: Final = 0x00000005
DELIVER_SM_RESP: Final = 0x80000005
UNBIND: Final = 0x00000006
UNBIND_RESP: Final = 0x80000006
BIND_TRANSCEIVER: Final = 0x00000009
BIND_TRANSCEIVER_RESP: Final = 0x80000009
ENQUIRE_LINK: Final = 0x00000015
ENQUIRE_LINK_RESP: Final = 0x80000015

RESPONSE_BIT: Final = 0x80000000
HEADER_LENGTH: Final = 16
# message_payload may carry up to 64 KiB; anything much larger is a corrupt
# length prefix, and trusting it would let a peer make us buffer gigabytes.
MAX_COMMAND_LENGTH: Final = 70_000
INTERFACE_VERSION: Final = 0x34

# --- esm_class bits (section 5.2.12) ------------------------------------------------------

ESM_CLASS_MESSAGE_TYPE_MASK: Final = 0x3C
ESM_CLASS_DELIVERY_RECEIPT: Final = 0x04
ESM_CLASS_INTERMEDIATE_NOTIFICATION: Final = 0x20
ESM_CLASS_UDHI: Final = 0x40


class Tag:
    """Optional parameter tags (section 5.3.2) used by the project; others pass through."""

    SC_INTERFACE_VERSION: Final = 0x0210
    RECEIPTED_MESSAGE_ID: Final = 0x001E
    USER_MESSAGE_REFERENCE: Final = 0x0204
    SAR_MSG_REF_NUM: Final = 0x020C
    SAR_TOTAL_SEGMENTS: Final = 0x020E
    SAR_SEGMENT_SEQNUM: Final = 0x020F
    NETWORK_ERROR_CODE: Final = 0x0423
    MESSAGE_PAYLOAD: Final = 0x0424
    MESSAGE_STATE: Final = 0x0427


_HEADER = struct.Struct(">IIII")
_TLV_HEADER = struct.Struct(">HH")
_U16 = struct.Struct(">H")


# --- TLV helpers ----------------------------------------------------------------------------


def tlv_u8(value: int) -> bytes:
    return bytes((value,))


def tlv_u16(value: int) -> bytes:
    return _U16.pack(value)


def tlv_cstr(value: str) -> bytes:
    """A C-octet string TLV value (e.g. receipted_message_id) including its NUL."""
    return value.encode("latin-1") + b"\x00"


def tlv_str(tlvs: dict[int, bytes], tag: int) -> str | None:
    """A string TLV, tolerating peers that omit the terminating NUL."""
    raw = tlvs.get(tag)
    if raw is None:
        return None
    return raw.split(b"\x00", 1)[0].decode("latin-1")


def tlv_int(tlvs: dict[int, bytes], tag: int) -> int | None:
    """An integer TLV of any width, big-endian as the spec requires."""
    raw = tlvs.get(tag)
    if raw is None or not raw:
        return None
    return int.from_bytes(raw, "big")


def _encode_tlvs(tlvs: dict[int, bytes]) -> bytes:
    if not tlvs:
        return b""
    pack = _TLV_HEADER.pack
    return b"".join(pack(tag, len(value)) + value for tag, value in tlvs.items())


def _decode_tlvs(buf: bytes, offset: int, seq: int) -> dict[int, bytes]:
    tlvs: dict[int, bytes] = {}
    end = len(buf)
    unpack = _TLV_HEADER.unpack_from
    while offset < end:
        if offset + 4 > end:
            raise SmppPduError("truncated TLV header", st.ESME_RINVOPTPARSTREAM, seq)
        tag, length = unpack(buf, offset)
        offset += 4
        if offset + length > end:
            raise SmppPduError(f"TLV 0x{tag:04X} overruns the PDU", st.ESME_RINVPARLEN, seq)
        tlvs[tag] = buf[offset : offset + length]
        offset += length
    return tlvs


def _cstr(buf: bytes, offset: int) -> tuple[str, int]:
    end = buf.index(0, offset)  # ValueError when the NUL is missing; caller maps it
    return buf[offset:end].decode("latin-1"), end + 1


# --- PDU classes -----------------------------------------------------------------------------


@dataclass(slots=True, kw_only=True)
class Pdu:
    """Header fields shared by every PDU; ``command_length`` is derived when encoding."""

    command_id: ClassVar[int]
    sequence_number: int = 0
    command_status: int = st.ESME_ROK

    def encode_body(self) -> bytes:
        return b""


@dataclass(slots=True, kw_only=True)
class GenericNack(Pdu):
    command_id: ClassVar[int] = GENERIC_NACK


@dataclass(slots=True, kw_only=True)
class Unbind(Pdu):
    command_id: ClassVar[int] = UNBIND


@dataclass(slots=True, kw_only=True)
class UnbindResp(Pdu):
    command_id: ClassVar[int] = UNBIND_RESP


@dataclass(slots=True, kw_only=True)
class EnquireLink(Pdu):
    command_id: ClassVar[int] = ENQUIRE_LINK


@dataclass(slots=True, kw_only=True)
class EnquireLinkResp(Pdu):
    command_id: ClassVar[int] = ENQUIRE_LINK_RESP


@dataclass(slots=True, kw_only=True)
class _Bind(Pdu):
    system_id: str = ""
    password: str = ""
    system_type: str = ""
    interface_version: int = INTERFACE_VERSION
    addr_ton: int = 0
    addr_npi: int = 0
    address_range: str = ""

    def encode_body(self) -> bytes:
        return b"".join(
            (
                self.system_id.encode("latin-1"),
                b"\x00",
                self.password.encode("latin-1"),
                b"\x00",
                self.system_type.encode("latin-1"),
                b"\x00",
                bytes((self.interface_version, self.addr_ton, self.addr_npi)),
                self.address_range.encode("latin-1"),
                b"\x00",
            )
        )


@dataclass(slots=True, kw_only=True)
class BindTransmitter(_Bind):
    command_id: ClassVar[int] = BIND_TRANSMITTER


@dataclass(slots=True, kw_only=True)
class BindReceiver(_Bind):
    command_id: ClassVar[int] = BIND_RECEIVER


@dataclass(slots=True, kw_only=True)
class BindTransceiver(_Bind):
    command_id: ClassVar[int] = BIND_TRANSCEIVER


@dataclass(slots=True, kw_only=True)
class _BindResp(Pdu):
    system_id: str = ""
    tlvs: dict[int, bytes] = field(default_factory=dict)

    def encode_body(self) -> bytes:
        # Section 4.1.2: the body is omitted when command_status is non-zero.
        if self.command_status != st.ESME_ROK:
            return b""
        return self.system_id.encode("latin-1") + b"\x00" + _encode_tlvs(self.tlvs)


@dataclass(slots=True, kw_only=True)
class BindTransmitterResp(_BindResp):
    command_id: ClassVar[int] = BIND_TRANSMITTER_RESP


@dataclass(slots=True, kw_only=True)
class BindReceiverResp(_BindResp):
    command_id: ClassVar[int] = BIND_RECEIVER_RESP


@dataclass(slots=True, kw_only=True)
class BindTransceiverResp(_BindResp):
    command_id: ClassVar[int] = BIND_TRANSCEIVER_RESP


@dataclass(slots=True, kw_only=True)
class _ShortMessage(Pdu):
    """The body shared by submit_sm and deliver_sm (sections 4.4.1 and 4.6.1)."""

    service_type: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""
    esm_class: int = 0
    protocol_id: int = 0
    priority_flag: int = 0
    schedule_delivery_time: str = ""
    validity_period: str = ""
    registered_delivery: int = 0
    replace_if_present_flag: int = 0
    data_coding: int = 0
    sm_default_msg_id: int = 0
    short_message: bytes = b""
    tlvs: dict[int, bytes] = field(default_factory=dict)

    def encode_body(self) -> bytes:
        sm = self.short_message
        if len(sm) > 254:
            raise ValueError(
                f"short_message is {len(sm)} octets; the limit is 254 (use message_payload)"
            )
        return b"".join(
            (
                self.service_type.encode("latin-1"),
                b"\x00",
                bytes((self.source_addr_ton, self.source_addr_npi)),
                self.source_addr.encode("latin-1"),
                b"\x00",
                bytes((self.dest_addr_ton, self.dest_addr_npi)),
                self.destination_addr.encode("latin-1"),
                b"\x00",
                bytes((self.esm_class, self.protocol_id, self.priority_flag)),
                self.schedule_delivery_time.encode("latin-1"),
                b"\x00",
                self.validity_period.encode("latin-1"),
                b"\x00",
                bytes(
                    (
                        self.registered_delivery,
                        self.replace_if_present_flag,
                        self.data_coding,
                        self.sm_default_msg_id,
                        len(sm),
                    )
                ),
                sm,
                _encode_tlvs(self.tlvs),
            )
        )


@dataclass(slots=True, kw_only=True)
class SubmitSm(_ShortMessage):
    command_id: ClassVar[int] = SUBMIT_SM


@dataclass(slots=True, kw_only=True)
class DeliverSm(_ShortMessage):
    command_id: ClassVar[int] = DELIVER_SM


@dataclass(slots=True, kw_only=True)
class _MessageIdResp(Pdu):
    message_id: str = ""

    def encode_body(self) -> bytes:
        if self.command_status != st.ESME_ROK:
            return b""
        return self.message_id.encode("latin-1") + b"\x00"


@dataclass(slots=True, kw_only=True)
class SubmitSmResp(_MessageIdResp):
    command_id: ClassVar[int] = SUBMIT_SM_RESP


@dataclass(slots=True, kw_only=True)
class DeliverSmResp(_MessageIdResp):
    command_id: ClassVar[int] = DELIVER_SM_RESP


# --- encoding ------------------------------------------------------------------------------


def encode(pdu: Pdu, sequence_number: int | None = None) -> bytes:
    """The wire bytes of ``pdu``; ``sequence_number`` overrides the PDU's own.

    The override lets a client resend one SubmitSm under a fresh sequence
    number without copying or mutating the caller's object.
    """
    body = pdu.encode_body()
    seq = pdu.sequence_number if sequence_number is None else sequence_number
    return _HEADER.pack(HEADER_LENGTH + len(body), pdu.command_id, pdu.command_status, seq) + body


_RESPONSES: dict[int, Callable[..., Pdu]] = {
    BIND_TRANSMITTER: BindTransmitterResp,
    BIND_RECEIVER: BindReceiverResp,
    BIND_TRANSCEIVER: BindTransceiverResp,
    SUBMIT_SM: SubmitSmResp,
    DELIVER_SM: DeliverSmResp,
    UNBIND: UnbindResp,
    ENQUIRE_LINK: EnquireLinkResp,
}


def response_for(request: Pdu, command_status: int = st.ESME_ROK) -> Pdu:
    """The empty-bodied response to ``request`` (generic_nack for a command without one)."""
    make = _RESPONSES.get(request.command_id, GenericNack)
    return make(sequence_number=request.sequence_number, command_status=command_status)


# --- decoding ------------------------------------------------------------------------------


def _decode_empty(cls: type[Pdu]) -> Callable[[int, int, bytes], Pdu]:
    def decode(seq: int, status: int, _body: bytes) -> Pdu:
        return cls(sequence_number=seq, command_status=status)

    return decode


def _decode_bind(cls: type[_Bind]) -> Callable[[int, int, bytes], Pdu]:
    def decode(seq: int, status: int, b: bytes) -> Pdu:
        system_id, o = _cstr(b, 0)
        password, o = _cstr(b, o)
        system_type, o = _cstr(b, o)
        version, ton, npi = b[o], b[o + 1], b[o + 2]
        address_range, _ = _cstr(b, o + 3)
        return cls(
            sequence_number=seq,
            command_status=status,
            system_id=system_id,
            password=password,
            system_type=system_type,
            interface_version=version,
            addr_ton=ton,
            addr_npi=npi,
            address_range=address_range,
        )

    return decode


def _decode_bind_resp(cls: type[_BindResp]) -> Callable[[int, int, bytes], Pdu]:
    def decode(seq: int, status: int, b: bytes) -> Pdu:
        if not b:  # refused binds carry no body
            return cls(sequence_number=seq, command_status=status)
        system_id, o = _cstr(b, 0)
        tlvs = _decode_tlvs(b, o, seq)
        return cls(sequence_number=seq, command_status=status, system_id=system_id, tlvs=tlvs)

    return decode


def _decode_short_message(cls: type[_ShortMessage]) -> Callable[[int, int, bytes], Pdu]:
    def decode(seq: int, status: int, b: bytes) -> Pdu:
        service_type, o = _cstr(b, 0)
        source_addr_ton, source_addr_npi = b[o], b[o + 1]
        source_addr, o = _cstr(b, o + 2)
        dest_addr_ton, dest_addr_npi = b[o], b[o + 1]
        destination_addr, o = _cstr(b, o + 2)
        esm_class, protocol_id, priority_flag = b[o], b[o + 1], b[o + 2]
        schedule_delivery_time, o = _cstr(b, o + 3)
        validity_period, o = _cstr(b, o)
        registered, replace, data_coding, default_id, sm_length = b[o : o + 5]
        o += 5
        short_message = b[o : o + sm_length]
        if len(short_message) != sm_length:
            raise SmppPduError("sm_length exceeds the PDU", st.ESME_RINVMSGLEN, seq)
        return cls(
            sequence_number=seq,
            command_status=status,
            service_type=service_type,
            source_addr_ton=source_addr_ton,
            source_addr_npi=source_addr_npi,
            source_addr=source_addr,
            dest_addr_ton=dest_addr_ton,
            dest_addr_npi=dest_addr_npi,
            destination_addr=destination_addr,
            esm_class=esm_class,
            protocol_id=protocol_id,
            priority_flag=priority_flag,
            schedule_delivery_time=schedule_delivery_time,
            validity_period=validity_period,
            registered_delivery=registered,
            replace_if_present_flag=replace,
            data_coding=data_coding,
            sm_default_msg_id=default_id,
            short_message=short_message,
            tlvs=_decode_tlvs(b, o + sm_length, seq),
        )

    return decode


def _decode_message_id_resp(cls: type[_MessageIdResp]) -> Callable[[int, int, bytes], Pdu]:
    def decode(seq: int, status: int, b: bytes) -> Pdu:
        if not b:
            return cls(sequence_number=seq, command_status=status)
        # Some SMSCs omit the NUL of a lone message_id; accept it.
        message_id = b.split(b"\x00", 1)[0].decode("latin-1")
        return cls(sequence_number=seq, command_status=status, message_id=message_id)

    return decode


_DECODERS: dict[int, Callable[[int, int, bytes], Pdu]] = {
    GENERIC_NACK: _decode_empty(GenericNack),
    UNBIND: _decode_empty(Unbind),
    UNBIND_RESP: _decode_empty(UnbindResp),
    ENQUIRE_LINK: _decode_empty(EnquireLink),
    ENQUIRE_LINK_RESP: _decode_empty(EnquireLinkResp),
    BIND_TRANSMITTER: _decode_bind(BindTransmitter),
    BIND_RECEIVER: _decode_bind(BindReceiver),
    BIND_TRANSCEIVER: _decode_bind(BindTransceiver),
    BIND_TRANSMITTER_RESP: _decode_bind_resp(BindTransmitterResp),
    BIND_RECEIVER_RESP: _decode_bind_resp(BindReceiverResp),
    BIND_TRANSCEIVER_RESP: _decode_bind_resp(BindTransceiverResp),
    SUBMIT_SM: _decode_short_message(SubmitSm),
    DELIVER_SM: _decode_short_message(DeliverSm),
    SUBMIT_SM_RESP: _decode_message_id_resp(SubmitSmResp),
    DELIVER_SM_RESP: _decode_message_id_resp(DeliverSmResp),
}


def decode_body(command_id: int, command_status: int, sequence_number: int, body: bytes) -> Pdu:
    """Decode one PDU whose header is already parsed.

    Raises ``SmppPduError`` carrying the status to answer in a generic_nack;
    the stream itself stays usable because the framing was sound.
    """
    decoder = _DECODERS.get(command_id)
    if decoder is None:
        raise SmppPduError(
            f"unsupported command_id 0x{command_id:08X}", st.ESME_RINVCMDID, sequence_number
        )
    try:
        return decoder(sequence_number, command_status, body)
    except (ValueError, IndexError) as exc:  # missing NUL or a body cut short
        raise SmppPduError(
            f"malformed 0x{command_id:08X} body: {exc}", st.ESME_RINVCMDLEN, sequence_number
        ) from exc


def _check_length(length: int) -> None:
    if length < HEADER_LENGTH or length > MAX_COMMAND_LENGTH:
        raise SmppFramingError(
            f"command_length {length} outside {HEADER_LENGTH}..{MAX_COMMAND_LENGTH}",
            st.ESME_RINVCMDLEN,
        )


def decode(data: bytes) -> Pdu:
    """Decode one complete PDU (header included), e.g. from a capture or a test."""
    if len(data) < HEADER_LENGTH:
        raise SmppFramingError(f"{len(data)} bytes is shorter than a header", st.ESME_RINVCMDLEN)
    length, command_id, command_status, seq = _HEADER.unpack_from(data)
    _check_length(length)
    if length != len(data):
        raise SmppFramingError(
            f"command_length {length} but {len(data)} bytes given", st.ESME_RINVCMDLEN
        )
    return decode_body(command_id, command_status, seq, data[HEADER_LENGTH:])


async def read_pdu(reader: asyncio.StreamReader) -> Pdu:
    """Read exactly one PDU from ``reader``.

    Raises ``SmppConnectionError`` when the peer closes the stream,
    ``SmppFramingError`` on an impossible command_length (drop the connection:
    there is no way to find the next PDU boundary) and ``SmppPduError`` for a
    well-framed but undecodable PDU (answer generic_nack and carry on).
    """
    try:
        header = await reader.readexactly(HEADER_LENGTH)
        length, command_id, command_status, seq = _HEADER.unpack(header)
        _check_length(length)
        body = await reader.readexactly(length - HEADER_LENGTH) if length > HEADER_LENGTH else b""
    except asyncio.IncompleteReadError as exc:
        raise SmppConnectionError(
            "connection closed by peer"
            + (f" mid-PDU after {len(exc.partial)} bytes" if exc.partial else "")
        ) from exc
    return decode_body(command_id, command_status, seq, body)
