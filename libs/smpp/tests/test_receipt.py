from datetime import datetime

import pytest

from libs.smpp import pdu as p
from libs.smpp import receipt as r
from libs.smpp.gsm7 import decode_gsm7, encode_gsm7, is_gsm7

STANDARD = (
    "id:0123456789 sub:001 dlvrd:001 submit date:2401311200 done date:2401311201"
    " stat:DELIVRD err:000 text:Hello world"
)


def test_standard_receipt_text_is_parsed_into_its_fields() -> None:
    rc = r.parse_receipt_text(STANDARD)
    assert rc.message_id == "0123456789"
    assert rc.stat == r.DELIVRD
    assert rc.err == "000"
    assert rc.sub == "001"
    assert rc.dlvrd == "001"
    assert rc.submit_date == datetime(2024, 1, 31, 12, 0)
    assert rc.done_date == datetime(2024, 1, 31, 12, 1)
    assert rc.text == "Hello world"


def test_parsing_tolerates_case_order_seconds_and_spelled_out_states() -> None:
    rc = r.parse_receipt_text(
        "STAT:delivered ID:ABC err:0 Done Date:240131120159 Submit Date:bogus text:"
    )
    assert rc.message_id == "ABC"
    assert rc.stat == r.DELIVRD
    assert rc.done_date == datetime(2024, 1, 31, 12, 1, 59)
    assert rc.submit_date is None
    assert rc.text == ""


def test_text_field_keeps_everything_after_it_even_receipt_keywords() -> None:
    rc = r.parse_receipt_text("id:1 stat:UNDELIV err:001 text:see id:2 stat:DELIVRD")
    assert rc.message_id == "1"
    assert rc.stat == r.UNDELIV
    assert rc.text == "see id:2 stat:DELIVRD"


def test_text_without_id_or_stat_is_not_a_receipt() -> None:
    with pytest.raises(ValueError):
        r.parse_receipt_text("hello there")


def test_format_then_parse_round_trips() -> None:
    when = datetime(2025, 6, 1, 9, 30)
    text = r.format_receipt_text("ab12", r.EXPIRED, err="005", submit_date=when, done_date=when)
    rc = r.parse_receipt_text(text)
    assert (rc.message_id, rc.stat, rc.err, rc.dlvrd) == ("ab12", r.EXPIRED, "005", "000")
    assert rc.done_date == when


def _receipt_pdu(text: str, tlvs: dict[int, bytes] | None = None) -> p.DeliverSm:
    return p.DeliverSm(
        esm_class=p.ESM_CLASS_DELIVERY_RECEIPT, short_message=text.encode(), tlvs=tlvs or {}
    )


def test_deliver_sm_tlvs_take_precedence_over_the_text() -> None:
    pdu = _receipt_pdu(
        STANDARD,
        {
            p.Tag.RECEIPTED_MESSAGE_ID: p.tlv_cstr("75bcd15"),
            p.Tag.MESSAGE_STATE: p.tlv_u8(5),
            p.Tag.NETWORK_ERROR_CODE: b"\x03\x00\x22",
        },
    )
    rc = r.receipt_from_deliver_sm(pdu)
    assert rc is not None
    assert rc.message_id == "75bcd15"
    assert rc.stat == r.UNDELIV
    assert rc.network_error == (3, 0x22)
    assert rc.err == "000"  # the text's err is kept; the TLV's code is in network_error


def test_deliver_sm_falls_back_to_text_without_tlvs() -> None:
    rc = r.receipt_from_deliver_sm(_receipt_pdu(STANDARD))
    assert rc is not None
    assert (rc.message_id, rc.stat) == ("0123456789", r.DELIVRD)


def test_tlv_only_receipt_takes_err_from_network_error_code() -> None:
    pdu = _receipt_pdu(
        "",
        {
            p.Tag.RECEIPTED_MESSAGE_ID: b"abc",  # no NUL: some SMSCs omit it
            p.Tag.MESSAGE_STATE: p.tlv_u8(8),
            p.Tag.NETWORK_ERROR_CODE: b"\x03\x00\x02",
        },
    )
    rc = r.receipt_from_deliver_sm(pdu)
    assert rc is not None
    assert (rc.message_id, rc.stat, rc.err) == ("abc", r.REJECTD, "002")


def test_mobile_originated_deliver_sm_is_not_a_receipt() -> None:
    assert r.receipt_from_deliver_sm(p.DeliverSm(short_message=b"id:1 stat:DELIVRD")) is None


def test_unreadable_receipt_yields_none() -> None:
    assert r.receipt_from_deliver_sm(_receipt_pdu("garbage")) is None


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [("00A1F", "a1f"), ("a1f", "a1f"), (" 0042\x00", "42"), ("000", "0"), ("ABC", "abc")],
)
def test_normalize_carrier_id_strips_zeros_and_case(raw: str, canonical: str) -> None:
    assert r.normalize_carrier_id(raw) == canonical


@pytest.mark.parametrize(
    ("submit_id", "receipt_id"),
    [
        ("0000075BCD15", "123456789"),  # hex at submit, decimal in the receipt
        ("123456789", "75bcd15"),  # and the other way round
        ("00ff", "FF"),
        ("0255", "ff"),
        ("1f", "31"),
    ],
)
def test_hex_and_decimal_spellings_of_one_id_match(submit_id: str, receipt_id: str) -> None:
    assert r.carrier_ids_match(submit_id, receipt_id)
    assert r.normalize_carrier_id(submit_id) in r.carrier_id_candidates(receipt_id)


def test_different_ids_do_not_match() -> None:
    assert not r.carrier_ids_match("abc", "abd")
    assert not r.carrier_ids_match("100", "101")


def test_candidates_include_both_readings_of_a_digit_only_id() -> None:
    assert r.carrier_id_candidates("0100") == frozenset({"100", "64", "256"})


def test_gsm7_round_trips_basic_and_extension_characters() -> None:
    text = "Hello @£$ ÄÖ {x} €5 ^~|\\[]"
    encoded = encode_gsm7(text)
    assert encoded is not None
    assert encoded[:5] == b"Hello"
    assert decode_gsm7(encoded) == text
    assert is_gsm7(text)
    assert encode_gsm7("Привет") is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2401311200", datetime(2024, 1, 31, 12, 0)),
        ("240131120159", datetime(2024, 1, 31, 12, 1, 59)),
        ("6812312359", datetime(2068, 12, 31, 23, 59)),
        ("6901010000", datetime(1969, 1, 1, 0, 0)),
        ("9912312359", datetime(1999, 12, 31, 23, 59)),
        ("2402301200", None),  # 30 February
        ("2401312460", None),
        ("24013112", None),
        ("\uff12\uff14\uff10\uff11\uff13\uff11\uff11\uff12\uff10\uff10", None),  # full-width digits
        ("", None),
    ],
)
def test_receipt_dates_read_as_strptime_would(value: str, expected: datetime | None) -> None:
    rc = r.parse_receipt_text(f"id:1 stat:DELIVRD done date:{value} text:")
    assert rc.done_date == expected
    if expected is not None:
        fmt = "%y%m%d%H%M%S" if len(value) == 12 else "%y%m%d%H%M"
        assert datetime.strptime(value, fmt) == expected
