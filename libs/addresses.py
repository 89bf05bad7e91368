"""Phone numbers and sender IDs: E.164 validation, alphanumeric sender IDs, SMPP address fields.

The API takes E.164 only: without a country code, "07700 900123" could be a
number in any of several countries, and guessing a default region sends
messages to strangers. Separators a person may type (space, dash, dot,
parentheses) are stripped; anything else is an error so that typos such as
letters or a stray "/" are reported rather than silently dropped.

``InvalidNumber`` messages are written to follow the field name in an API
problem ``detail``, e.g. ``f"'to' {exc}"``.
"""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers
from phonenumbers import NumberParseException, ValidationResult

__all__ = [
    "NPI_ISDN",
    "NPI_UNKNOWN",
    "TON_ALPHANUMERIC",
    "TON_INTERNATIONAL",
    "InvalidNumber",
    "Sender",
    "destination_address",
    "normalize_phone",
    "normalize_sender",
]

# SMPP v3.4 5.2.5 / 5.2.6.
TON_INTERNATIONAL = 1
TON_ALPHANUMERIC = 5
NPI_UNKNOWN = 0
NPI_ISDN = 1

_EXAMPLE = "+14155552671"
_E164_HINT = f"must be in E.164 format with a leading '+' and country code, e.g. {_EXAMPLE}"
_SEPARATORS = str.maketrans("", "", " -.()")
_DIGITS = frozenset("0123456789")
_ALNUM_SENDER_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 ")
_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_MAX_ALNUM_SENDER = 11
_MAX_E164_DIGITS = 15
_MAX_REGIONS_LISTED = 4

# Ofcom reserves +44 7700 900000-900999 for TV and radio drama, so the numbers
# can never reach a real subscriber; the dev SMSC documents them as its test
# numbers. libphonenumber's metadata marks them invalid (they are not assigned
# mobile numbers), so they are accepted here explicitly.
_DRAMA_PREFIX = "+447700900"
_DRAMA_LENGTH = len(_DRAMA_PREFIX) + 3


class InvalidNumber(ValueError):
    """A phone number or sender the API cannot accept; the message says why."""


@dataclass(frozen=True, slots=True)
class Sender:
    """A validated source address, ready for submit_sm's source_addr fields.

    ``value`` is the digits without '+' for a number, or the sender ID as given.
    """

    value: str
    ton: int
    npi: int

    @property
    def is_alphanumeric(self) -> bool:
        return self.ton == TON_ALPHANUMERIC


def _region_phrase(country_code: int) -> str:
    regions = [
        r
        for r in phonenumbers.region_codes_for_country_code(country_code)
        if r != phonenumbers.UNKNOWN_REGION
    ]
    # Naming the regions helps when a country code is shared by a few (+44 is
    # GB, GG, IM, JE); listing all 25 of NANP's +1 would only be noise.
    if not regions or len(regions) > _MAX_REGIONS_LISTED:
        return f"country code +{country_code}"
    if len(regions) == 1:
        return f"region {regions[0]} (country code +{country_code})"
    names = ", ".join(regions[:-1]) + f" or {regions[-1]}"
    return f"region {names} (country code +{country_code})"


def normalize_phone(value: str) -> str:
    """The canonical E.164 form of ``value``, or ``InvalidNumber`` saying what is wrong."""
    if not value or not value.strip():
        raise InvalidNumber(f"must not be empty; it {_E164_HINT}")
    compact = value.translate(_SEPARATORS)
    if not compact.startswith("+"):
        if compact.startswith("00") and _DIGITS.issuperset(compact):
            raise InvalidNumber(f"{_E164_HINT}; use '+' instead of the 00 international prefix")
        bad = _first_invalid(compact, _DIGITS)
        if bad is not None:
            raise InvalidNumber(f"contains {bad!r}; it {_E164_HINT}")
        raise InvalidNumber(_E164_HINT)
    digits = compact[1:]
    bad = _first_invalid(digits, _DIGITS)
    if bad is not None:
        raise InvalidNumber(f"contains {bad!r}; it {_E164_HINT}")
    if not digits:
        raise InvalidNumber(f"has no digits; it {_E164_HINT}")
    if len(digits) > _MAX_E164_DIGITS:
        raise InvalidNumber(
            f"is too long: E.164 numbers have at most {_MAX_E164_DIGITS} digits "
            f"after the '+', got {len(digits)}"
        )
    if len(compact) == _DRAMA_LENGTH and compact.startswith(_DRAMA_PREFIX):
        return compact
    try:
        parsed = phonenumbers.parse(compact, None)
    except NumberParseException as exc:
        if exc.error_type == NumberParseException.INVALID_COUNTRY_CODE:
            raise InvalidNumber(
                f"does not start with a known country code; it {_E164_HINT}"
            ) from None
        raise InvalidNumber(f"is not a phone number; it {_E164_HINT}") from None
    country_code = parsed.country_code or 0
    reason = phonenumbers.is_possible_number_with_reason(parsed)
    if reason == ValidationResult.INVALID_COUNTRY_CODE:
        raise InvalidNumber(f"does not start with a known country code; it {_E164_HINT}")
    if reason == ValidationResult.TOO_SHORT:
        raise InvalidNumber(f"is too short for {_region_phrase(country_code)}")
    if reason == ValidationResult.TOO_LONG:
        raise InvalidNumber(f"is too long for {_region_phrase(country_code)}")
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidNumber(f"is not a valid number for {_region_phrase(country_code)}")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _first_invalid(text: str, allowed: frozenset[str]) -> str | None:
    if allowed.issuperset(text):
        return None
    return next(ch for ch in text if ch not in allowed)


def normalize_sender(value: str) -> Sender:
    """The "from" field: an E.164 number or an alphanumeric sender ID.

    A value starting with '+' is a number and is normalised as in
    ``normalize_phone``. Otherwise it must be 1-11 of A-Z, a-z, 0-9 and space
    with at least one letter (an all-digit ID would be read by handsets and
    networks as a number). Leading or trailing spaces are rejected rather than
    trimmed: the sender ID is shown verbatim, so the caller should see the
    value that will be displayed.
    """
    if value.lstrip().startswith("+"):
        e164 = normalize_phone(value)
        return Sender(e164[1:], TON_INTERNATIONAL, NPI_ISDN)
    if not value:
        raise InvalidNumber(
            f"must not be empty; use an E.164 number (e.g. {_EXAMPLE}) or an "
            f"alphanumeric sender ID of 1-{_MAX_ALNUM_SENDER} letters, digits and spaces"
        )
    if _DIGITS.issuperset(value.translate(_SEPARATORS)) and _DIGITS.intersection(value):
        raise InvalidNumber(f"looks like a phone number; it {_E164_HINT}")
    if not _ALNUM_SENDER_CHARS.issuperset(value):
        bad = _first_invalid(value, _ALNUM_SENDER_CHARS)
        raise InvalidNumber(
            f"contains {bad!r}; an alphanumeric sender ID may only use A-Z, a-z, 0-9 and space"
        )
    if _LETTERS.isdisjoint(value):
        raise InvalidNumber(
            f"has no letters; an alphanumeric sender ID needs at least one letter, "
            f"and a number {_E164_HINT}"
        )
    if len(value) > _MAX_ALNUM_SENDER:
        raise InvalidNumber(
            f"is {len(value)} characters; an alphanumeric sender ID has at most {_MAX_ALNUM_SENDER}"
        )
    if value != value.strip(" "):
        raise InvalidNumber("must not start or end with a space")
    return Sender(value, TON_ALPHANUMERIC, NPI_UNKNOWN)


def destination_address(e164: str) -> tuple[str, int, int]:
    """(destination_addr, dest_addr_ton, dest_addr_npi) for an E.164 number.

    Expects the output of ``normalize_phone``; only the shape is rechecked, as a
    guard against passing an unnormalised value to the SMSC.
    """
    digits = e164[1:]
    if not e164.startswith("+") or not digits or not _DIGITS.issuperset(digits):
        raise InvalidNumber(f"is not a normalised E.164 number: {e164!r}")
    return digits, TON_INTERNATIONAL, NPI_ISDN
