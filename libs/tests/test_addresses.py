from __future__ import annotations

import pytest

from libs.addresses import (
    NPI_ISDN,
    NPI_UNKNOWN,
    TON_ALPHANUMERIC,
    TON_INTERNATIONAL,
    InvalidNumber,
    Sender,
    destination_address,
    normalize_phone,
    normalize_sender,
)


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+14155552671", "+14155552671"),
        ("+1 (415) 555-2671", "+14155552671"),
        ("+1.415.555.2671", "+14155552671"),
        ("  +44 20 7946 0958 ", "+442079460958"),
        ("+44 (0)20 7946 0958", "+442079460958"),  # UK trunk 0 in brackets is dropped
        ("+33 6 12 34 56 78", "+33612345678"),
        ("+86 138 0013 8000", "+8613800138000"),
    ],
)
def test_human_separators_are_stripped_to_canonical_e164(raw: str, e164: str) -> None:
    assert normalize_phone(raw) == e164


@pytest.mark.parametrize("raw", ["+447700900000", "+447700900123", "+44 7700 900999"])
def test_uk_drama_range_is_accepted_for_the_dev_smsc(raw: str) -> None:
    assert normalize_phone(raw) == raw.replace(" ", "")


@pytest.mark.parametrize("raw", ["+44770090000", "+4477009000000"])
def test_drama_prefix_with_wrong_length_is_not_special(raw: str) -> None:
    with pytest.raises(InvalidNumber):
        normalize_phone(raw)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "must not be empty"),
        ("   ", "must not be empty"),
        ("4155552671", "must be in E.164 format with a leading '+' and country code"),
        ("(415) 555-2671", "e.g. +14155552671"),
        ("0014155552671", "instead of the 00 international prefix"),
        ("+1 415 555 2671 ext 2", "contains 'e'"),
        ("+1\t4155552671", "contains '\\t'"),
        ("+1/415/5552671", "contains '/'"),
        ("+1415+5552671", "contains '+'"),
        ("+\uff11\uff14\uff11\uff15", "contains '\uff11'"),  # fullwidth digits are not ASCII digits
        ("+", "has no digits"),
        ("+ - ()", "has no digits"),
        ("+1234567890123456", "at most 15 digits"),
        ("+9991234567", "known country code"),
        ("+4412", "too short for region GB, GG, IM or JE (country code +44)"),
        ("+1415555267", "too short for country code +1"),
        ("+15555551234", "not a valid number for country code +1"),
        ("+44200000000", "not a valid number for region GB, GG, IM or JE"),
    ],
)
def test_invalid_numbers_say_what_is_wrong(raw: str, message: str) -> None:
    with pytest.raises(InvalidNumber) as exc:
        normalize_phone(raw)
    assert message in str(exc.value)


def test_invalid_number_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        normalize_phone("nope")


@pytest.mark.parametrize(
    ("raw", "sender"),
    [
        ("+1 415 555 2671", Sender("14155552671", TON_INTERNATIONAL, NPI_ISDN)),
        ("+447700900123", Sender("447700900123", TON_INTERNATIONAL, NPI_ISDN)),
        ("Omnigate", Sender("Omnigate", TON_ALPHANUMERIC, NPI_UNKNOWN)),
        ("A", Sender("A", TON_ALPHANUMERIC, NPI_UNKNOWN)),
        ("Acme Bank 1", Sender("Acme Bank 1", TON_ALPHANUMERIC, NPI_UNKNOWN)),
        ("2FA", Sender("2FA", TON_ALPHANUMERIC, NPI_UNKNOWN)),
    ],
)
def test_sender_is_e164_number_or_alphanumeric_id(raw: str, sender: Sender) -> None:
    assert normalize_sender(raw) == sender


def test_alphanumeric_flag() -> None:
    assert normalize_sender("Acme").is_alphanumeric
    assert not normalize_sender("+14155552671").is_alphanumeric


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "must not be empty"),
        ("TwelveChars1", "at most 11"),
        ("12345", "looks like a phone number"),
        ("415-555-2671", "looks like a phone number"),
        ("   ", "has no letters"),
        ("Acme-Bank", "contains '-'"),
        ("Café", "contains 'é'"),
        (" Acme", "must not start or end with a space"),
        ("Acme ", "must not start or end with a space"),
        ("+1 415 555", "too short"),
    ],
)
def test_invalid_senders_say_what_is_wrong(raw: str, message: str) -> None:
    with pytest.raises(InvalidNumber) as exc:
        normalize_sender(raw)
    assert message in str(exc.value)


def test_destination_address_is_international_isdn_without_plus() -> None:
    assert destination_address("+447700900123") == ("447700900123", 1, 1)


@pytest.mark.parametrize("raw", ["447700900123", "+", "+44 7700", "+44a"])
def test_destination_address_refuses_unnormalised_values(raw: str) -> None:
    with pytest.raises(InvalidNumber):
        destination_address(raw)
