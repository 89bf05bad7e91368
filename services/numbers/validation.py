"""What an operator may assign and a tenant may set on a number: every problem named."""

from __future__ import annotations

from collections.abc import Sequence

from libs.addresses import InvalidNumber, normalize_sender
from libs.api.numbers.v1 import numbers_pb2 as pb
from libs.errors import FieldViolation, InvalidArgument
from libs.text import url_problem
from services.numbers.model import SETTABLE

MAX_URL = 2048
# Where a number's inbound traffic goes: an alphanumeric sender ID gets none.
_INBOUND = ("sms_url", "voice_url", "voice_fallback_url")


def address(value: str) -> tuple[str, int]:
    """(the canonical address, its NumberType): E.164 with '+', or the sender ID as given."""
    try:
        sender = normalize_sender(value)
    except InvalidNumber as exc:
        raise InvalidArgument.for_field("number", str(exc)) from None
    if sender.is_alphanumeric:
        return sender.value, pb.NUMBER_TYPE_ALPHANUMERIC_SENDER_ID
    return "+" + sender.value, pb.NUMBER_TYPE_PHONE_NUMBER


def changes(paths: Sequence[str], given: pb.NumberFields, type_: int) -> dict[str, str]:
    """The values ``given`` for ``paths``, checked; "" clears a URL."""
    problems: list[FieldViolation] = []
    out: dict[str, str] = {}
    for path in dict.fromkeys(paths):
        if path not in SETTABLE:
            problems.append(FieldViolation(path, "is not a field a number has"))
            continue
        value: str = getattr(given, path)
        if value and (problem := url_problem(value, MAX_URL)):
            problems.append(FieldViolation(path, problem))
        elif value and path in _INBOUND and type_ != pb.NUMBER_TYPE_PHONE_NUMBER:
            problems.append(
                FieldViolation(path, "cannot be set: nobody can reply to an alphanumeric sender ID")
            )
        else:
            out[path] = value
    if problems:
        raise InvalidArgument(
            "; ".join(f"{p.field}: {p.description}" for p in problems), tuple(problems)
        )
    return out
