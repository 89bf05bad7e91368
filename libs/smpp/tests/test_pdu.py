import asyncio

import pytest

from libs.smpp import pdu as p
from libs.smpp import status as st
from libs.smpp.errors import SmppConnectionError, SmppFramingError, SmppPduError

SM_FIELDS = dict(
    service_type="CMT",
    source_addr_ton=5,
    source_addr_npi=0,
    source_addr="Omnigate",
    dest_addr_ton=1,
    dest_addr_npi=1,
    destination_addr="447700900000",
    esm_class=0x40,
    protocol_id=0,
    priority_flag=1,
    schedule_delivery_time="",
    validity_period="000001000000000R",
    registered_delivery=1,
    replace_if_present_flag=0,
    data_coding=8,
    sm_default_msg_id=0,
    short_message=b"\x05\x00\x03\x2a\x02\x01" + "héllo".encode("utf-16-be"),
    tlvs={p.Tag.SAR_MSG_REF_NUM: p.tlv_u16(42), 0x1401: b"vendor"},
)

ALL_PDUS = [
    p.GenericNack(sequence_number=1, command_status=st.ESME_RINVCMDID),
    p.Unbind(sequence_number=2),
    p.UnbindResp(sequence_number=2),
    p.EnquireLink(sequence_number=0x7FFFFFFF),
    p.EnquireLinkResp(sequence_number=0x7FFFFFFF),
    p.BindTransmitter(sequence_number=3, system_id="sys", password="pw", system_type="t"),
    p.BindReceiver(sequence_number=4, system_id="sys", password="pw", addr_ton=1, addr_npi=1),
    p.BindTransceiver(sequence_number=5, system_id="sys", password="pw", address_range="^44"),
    p.BindTransmitterResp(sequence_number=3, system_id="smsc"),
    p.BindReceiverResp(sequence_number=4, system_id="smsc"),
    p.BindTransceiverResp(
        sequence_number=5, system_id="smsc", tlvs={p.Tag.SC_INTERFACE_VERSION: b"\x34"}
    ),
    p.SubmitSm(sequence_number=6, **SM_FIELDS),  # type: ignore[arg-type]
    p.DeliverSm(sequence_number=7, **SM_FIELDS),  # type: ignore[arg-type]
    p.SubmitSmResp(sequence_number=6, message_id="0a1b2c3d4e5f6071"),
    p.DeliverSmResp(sequence_number=7),
]


@pytest.mark.parametrize("pdu", ALL_PDUS, ids=lambda x: type(x).__name__)
def test_every_pdu_survives_an_encode_decode_round_trip(pdu: p.Pdu) -> None:
    data = p.encode(pdu)
    assert int.from_bytes(data[:4], "big") == len(data)
    assert int.from_bytes(data[4:8], "big") == pdu.command_id
    assert p.decode(data) == pdu


def test_encode_overrides_sequence_number_without_touching_the_pdu() -> None:
    sm = p.SubmitSm(destination_addr="1", sequence_number=9)
    decoded = p.decode(p.encode(sm, 1234))
    assert decoded.sequence_number == 1234
    assert sm.sequence_number == 9


def test_submit_sm_wire_format_matches_the_spec_layout() -> None:
    sm = p.SubmitSm(sequence_number=1, source_addr="A", destination_addr="B", short_message=b"hi")
    body = p.encode(sm)[16:]
    # service_type NUL, ton, npi, "A" NUL, ton, npi, "B" NUL, esm, pid, prio,
    # sched NUL, validity NUL, regd, replace, dc, default id, sm_length, sm
    assert body == b"\x00\x00\x00A\x00\x00\x00B\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02hi"


def test_error_responses_omit_the_body() -> None:
    resp = p.SubmitSmResp(sequence_number=1, command_status=st.ESME_RTHROTTLED, message_id="x")
    data = p.encode(resp)
    assert len(data) == 16
    assert p.decode(data) == p.SubmitSmResp(sequence_number=1, command_status=st.ESME_RTHROTTLED)


def test_message_id_without_nul_is_accepted() -> None:
    header = (20).to_bytes(4, "big") + p.SUBMIT_SM_RESP.to_bytes(4, "big") + bytes(4)
    decoded = p.decode(header + (1).to_bytes(4, "big") + b"abcd")
    assert isinstance(decoded, p.SubmitSmResp)
    assert decoded.message_id == "abcd"


def test_tlv_helpers_read_what_they_write() -> None:
    tlvs = {
        p.Tag.RECEIPTED_MESSAGE_ID: p.tlv_cstr("abc"),
        p.Tag.MESSAGE_STATE: p.tlv_u8(2),
        p.Tag.SAR_MSG_REF_NUM: p.tlv_u16(0xBEEF),
    }
    dsm = p.decode(p.encode(p.DeliverSm(tlvs=tlvs)))
    assert isinstance(dsm, p.DeliverSm)
    assert p.tlv_str(dsm.tlvs, p.Tag.RECEIPTED_MESSAGE_ID) == "abc"
    assert p.tlv_int(dsm.tlvs, p.Tag.MESSAGE_STATE) == 2
    assert p.tlv_int(dsm.tlvs, p.Tag.SAR_MSG_REF_NUM) == 0xBEEF
    assert p.tlv_int(dsm.tlvs, p.Tag.NETWORK_ERROR_CODE) is None


def test_short_message_over_254_octets_is_refused_at_encode() -> None:
    with pytest.raises(ValueError, match="message_payload"):
        p.encode(p.SubmitSm(short_message=b"x" * 255))


def test_response_for_builds_the_matching_response() -> None:
    resp = p.response_for(p.EnquireLink(sequence_number=77))
    assert isinstance(resp, p.EnquireLinkResp)
    assert resp.sequence_number == 77
    nack = p.response_for(p.GenericNack(sequence_number=3), st.ESME_RINVCMDID)
    assert isinstance(nack, p.GenericNack)


@pytest.mark.parametrize("length", [0, 15, p.MAX_COMMAND_LENGTH + 1])
def test_impossible_command_length_is_a_framing_error(length: int) -> None:
    data = length.to_bytes(4, "big") + p.ENQUIRE_LINK.to_bytes(4, "big") + bytes(8)
    with pytest.raises(SmppFramingError):
        p.decode(data)


def test_unknown_command_id_is_a_pdu_error_carrying_the_nack_status() -> None:
    data = (16).to_bytes(4, "big") + (0x0103).to_bytes(4, "big") + bytes(4) + (9).to_bytes(4, "big")
    with pytest.raises(SmppPduError) as info:
        p.decode(data)
    assert info.value.command_status == st.ESME_RINVCMDID
    assert info.value.sequence_number == 9
    assert not isinstance(info.value, SmppFramingError)


def test_truncated_body_is_a_pdu_error() -> None:
    data = p.encode(p.SubmitSm(destination_addr="447700900000", short_message=b"hello"))
    cut = (len(data) - 3).to_bytes(4, "big") + data[4:-3]
    with pytest.raises(SmppPduError):
        p.decode(cut)


def test_overrunning_tlv_is_a_pdu_error() -> None:
    data = p.encode(p.BindTransceiverResp(system_id="s")) + b"\x02\x10\x00\x05\x34"
    data = len(data).to_bytes(4, "big") + data[4:]
    with pytest.raises(SmppPduError) as info:
        p.decode(data)
    assert info.value.command_status == st.ESME_RINVPARLEN


async def test_read_pdu_frames_consecutive_pdus_from_a_stream() -> None:
    reader = asyncio.StreamReader()
    reader.feed_data(b"".join(p.encode(x) for x in ALL_PDUS))
    reader.feed_eof()
    for expected in ALL_PDUS:
        assert await p.read_pdu(reader) == expected
    with pytest.raises(SmppConnectionError, match="closed"):
        await p.read_pdu(reader)


async def test_read_pdu_rejects_a_bad_length_before_reading_the_body() -> None:
    reader = asyncio.StreamReader()
    reader.feed_data((0xFFFFFFFF).to_bytes(4, "big") + bytes(12))
    with pytest.raises(SmppFramingError, match="command_length"):
        await p.read_pdu(reader)


async def test_read_pdu_reports_a_connection_cut_mid_pdu() -> None:
    reader = asyncio.StreamReader()
    reader.feed_data(p.encode(p.SubmitSmResp(message_id="abc"))[:-2])
    reader.feed_eof()
    with pytest.raises(SmppConnectionError, match="mid-PDU"):
        await p.read_pdu(reader)
